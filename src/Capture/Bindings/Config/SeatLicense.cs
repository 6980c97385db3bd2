using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;

namespace Capture.Bindings.Config;

/// <summary>
/// A seat license (DESIGN section 2, "Seats"): at most <paramref name="Seats"/> users, from
/// <paramref name="ValidFrom"/> (when given) to <paramref name="ValidUntil"/>, both days included. The file is
/// JSON: <c>{"customer": "...", "seats": 50, "validFrom": "2026-01-01", "validUntil": "2027-12-31"}</c>;
/// comments and trailing commas are allowed and other properties ignored (a later format may add some).
/// </summary>
public sealed record SeatLicense(string Customer, int Seats, DateOnly? ValidFrom, DateOnly ValidUntil)
{
    private const string DateFormat = "yyyy-MM-dd";

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false,
    };

    /// <summary>Reads the license at <paramref name="path"/> and checks it is in force on <paramref name="today"/>.</summary>
    /// <returns>False, with <paramref name="license"/> null and a sentence in <paramref name="problem"/>, when the
    /// file is missing, unreadable or malformed, the seats are negative, or the license has expired or has
    /// not started yet; otherwise true and <paramref name="problem"/> empty.</returns>
    public static bool TryRead(string path, DateOnly today, [NotNullWhen(true)] out SeatLicense? license, out string problem)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Fail($"license file '{path}' does not exist.", out license, out problem);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Fail($"license file '{path}' cannot be read: {ex.Message}", out license, out problem);
        }

        if (!TryParse(json, out license, out problem))
        {
            return Fail($"license file '{path}': {problem}", out license, out problem);
        }

        if (!license.IsInForce(today, out problem))
        {
            return Fail($"license file '{path}': {problem}", out license, out problem);
        }

        return true;
    }

    /// <summary>Whether the license applies on <paramref name="today"/>; if not, <paramref name="problem"/> says why.</summary>
    public bool IsInForce(DateOnly today, out string problem)
    {
        if (ValidFrom is { } from && today < from)
        {
            problem = $"the license for '{Customer}' is not valid until {Show(from)} (today is {Show(today)}).";
            return false;
        }

        if (today > ValidUntil)
        {
            problem = $"the license for '{Customer}' expired after {Show(ValidUntil)} (today is {Show(today)}).";
            return false;
        }

        problem = "";
        return true;
    }

    /// <summary>Reads a license from JSON text, without looking at the dates; <paramref name="problem"/> lists what is wrong.</summary>
    public static bool TryParse(string json, [NotNullWhen(true)] out SeatLicense? license, out string problem)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, s_documentOptions);
        }
        catch (JsonException ex)
        {
            // A repeated property (refused: which one counts would be a guess) comes without a position.
            string where = ex.LineNumber is null ? "" : string.Create(CultureInfo.InvariantCulture, $" at line {ex.LineNumber + 1}, position {ex.BytePositionInLine + 1}");
            return Fail($"malformed JSON{where}: {ConfigJson.Reason(ex)}", out license, out problem);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Fail("the license must be a JSON object.", out license, out problem);
            }

            var problems = new List<string>();
            string? customer = ReadCustomer(root, problems);
            int? seats = ReadSeats(root, problems);
            DateOnly? from = ReadDate(root, "validFrom", required: false, problems);
            DateOnly? until = ReadDate(root, "validUntil", required: true, problems);
            if (from > until)
            {
                problems.Add($"validFrom {Show(from.Value)} is after validUntil {Show(until.Value)}.");
            }

            if (problems.Count > 0)
            {
                return Fail(string.Join(" ", problems), out license, out problem);
            }

            license = new SeatLicense(customer!, seats!.Value, from, until!.Value);
            problem = "";
            return true;
        }
    }

    private static string? ReadCustomer(JsonElement root, List<string> problems)
    {
        if (!root.TryGetProperty("customer", out JsonElement value))
        {
            problems.Add("customer is missing.");
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
        {
            problems.Add("customer must be a non-empty string.");
            return null;
        }

        return value.GetString();
    }

    private static int? ReadSeats(JsonElement root, List<string> problems)
    {
        if (!root.TryGetProperty("seats", out JsonElement value))
        {
            problems.Add("seats is missing.");
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int seats))
        {
            problems.Add($"seats must be a whole number, not {value.GetRawText()}.");
            return null;
        }

        if (seats < 0)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"seats is {seats}; it must be 0 or more."));
            return null;
        }

        return seats;
    }

    private static DateOnly? ReadDate(JsonElement root, string name, bool required, List<string> problems)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || (!required && value.ValueKind == JsonValueKind.Null))
        {
            if (required)
            {
                problems.Add($"{name} is missing.");
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String
            || !DateOnly.TryParseExact(value.GetString(), DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly date))
        {
            problems.Add($"{name} must be a date as \"{DateFormat}\", not {value.GetRawText()}.");
            return null;
        }

        return date;
    }

    private static string Show(DateOnly date) => date.ToString(DateFormat, CultureInfo.InvariantCulture);

    private static bool Fail(string why, out SeatLicense? license, out string problem)
    {
        license = null;
        problem = why;
        return false;
    }
}
