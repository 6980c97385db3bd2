using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Appliance.Endpoints;

/// <summary>Checks on the values a request carries in its path and query: bounded, and parsed with a clear 400 when wrong.</summary>
internal static class ApiArgs
{
    /// <summary>Longest id or query text accepted (device ids such as a SIP instance URN fit easily).</summary>
    public const int MaxText = 256;

    /// <summary>A query value (a search may look for wire text, controls and all): 1-<see cref="MaxText"/> characters.</summary>
    public static bool Text(string name, string? value, out IResult? problem)
    {
        problem = value is { Length: > MaxText }
            ? ApiProblems.Invalid(name, $"at most {MaxText} characters (this is {value.Length}).")
            : value is { Length: 0 } ? ApiProblems.Invalid(name, "must not be empty.") : null;
        return problem is null;
    }

    /// <summary>
    /// An id in a path: as <see cref="Text"/>, and without control characters (C0, DEL, C1: nothing a URL can carry into
    /// the configuration, a log line or a terminal). A device learned from the wire with one is still listed by GET /api/devices.
    /// </summary>
    public static bool Id(string name, string value, out IResult? problem)
    {
        if (!Text(name, value, out problem))
        {
            return false;
        }

        problem = HasControl(value) ? ApiProblems.Invalid(name, "must not contain control characters.") : null;
        return problem is null;
    }

    public static bool HasControl(ReadOnlySpan<char> value) =>
        value.ContainsAnyInRange('\u0000', '\u001f') || value.ContainsAnyInRange('\u007f', '\u009f');

    public static bool Time(string name, string? value, out DateTimeOffset? time, out IResult? problem)
    {
        time = null;
        problem = null;
        if (value is null)
        {
            return true;
        }

        if (value.Length <= 64 && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
        {
            time = parsed;
            return true;
        }

        problem = ApiProblems.Invalid(name, $"'{Shorten(value)}' is not a time (ISO 8601, e.g. 2026-11-21T10:32:00Z).");
        return false;
    }

    /// <summary>One of a fixed set of words (a sort field, a direction), exactly as listed.</summary>
    public static bool Word<T>(string name, string? value, IReadOnlyDictionary<string, T> words, out T? chosen, out IResult? problem)
        where T : struct
    {
        chosen = null;
        problem = null;
        if (value is null)
        {
            return true;
        }

        if (words.TryGetValue(value, out T found))
        {
            chosen = found;
            return true;
        }

        problem = ApiProblems.Invalid(name, $"'{Shorten(value)}' is not one of {string.Join(", ", words.Keys)}.");
        return false;
    }

    /// <summary>A duration in seconds: a number from 0 to a year.</summary>
    public static bool Seconds(string name, string? value, out double? seconds, out IResult? problem)
    {
        seconds = null;
        problem = null;
        if (value is null)
        {
            return true;
        }

        if (value.Length <= 32 && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed)
            && parsed is >= 0 and <= 366 * 86400)
        {
            seconds = parsed;
            return true;
        }

        problem = ApiProblems.Invalid(name, $"'{Shorten(value)}' is not a number of seconds (0 to a year).");
        return false;
    }

    public static bool Limit(int? value, int fallback, int max, out int limit, out IResult? problem)
    {
        limit = value ?? fallback;
        problem = limit is < 1 || limit > max ? ApiProblems.Invalid("limit", $"must be 1-{max}, not {limit}.") : null;
        return problem is null;
    }

    /// <summary>A recording id: a UUID (what the recorder generates), in its canonical lower-case form.</summary>
    public static bool RecordingId(string value, out Guid id, [NotNullWhen(false)] out IResult? problem)
    {
        problem = Guid.TryParseExact(value, "D", out id) ? null : ApiProblems.Invalid("id", $"'{Shorten(value)}' is not a recording id (a UUID such as 01a1fd0e-d84d-7c92-9fea-2af51f84b964).");
        return problem is null;
    }

    private static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "...";
}
