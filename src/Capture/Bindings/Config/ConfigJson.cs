using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Capture.Bindings.Config;

/// <summary>The configuration's JSON shape: camelCase, enums as lower-case words, comments and trailing commas
/// allowed, unknown properties refused.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    Converters = [
        typeof(KeywordEnumConverter<LogoutPolicy>),
        typeof(KeywordEnumConverter<UserScope>),
        typeof(KeywordEnumConverter<DeviceProtocol>),
        typeof(WeekdayJsonConverter),
        typeof(ClockTimeJsonConverter)])]
[JsonSerializable(typeof(DirectoryConfig))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext
{
    public static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };
}

/// <summary>Turns JSON failures into the configuration's problem sentences.</summary>
internal static class ConfigJson
{
    /// <summary>Parses <paramref name="json"/> into a document, or throws a <see cref="ConfigurationException"/>
    /// naming the line and position where the JSON breaks.</summary>
    public static JsonDocument ParseDocument(string json, string sourceName)
    {
        try
        {
            return JsonDocument.Parse(json, ConfigJsonContext.DocumentOptions);
        }
        catch (JsonException ex)
        {
            // The reader stops at the offending byte: 0-based, shown 1-based.
            throw new ConfigurationException(sourceName, [$"malformed JSON at {LineAndPosition(ex, 1)}: {Reason(ex)}"], ex);
        }
    }

    /// <summary>One problem sentence for a value the deserializer refused: "devices[0].record: ... (line 7, position 23)".</summary>
    public static string Describe(JsonException ex)
    {
        string where = Location(ex.Path);
        // The deserializer reports the byte after the value (0-based), which shown 1-based is the value's last character.
        string position = ex.LineNumber is null ? "" : $" ({LineAndPosition(ex, 0)})";
        return $"{where}: {Reason(ex)}{position}";
    }

    /// <summary>
    /// Reports, everywhere in <paramref name="element"/>: properties <paramref name="info"/>'s type does not have
    /// (listing the ones it has, so a typo is easy to fix), properties given twice, required ones missing, and
    /// values of the wrong kind (a string where a list belongs). The deserializer stops at the first of these;
    /// this finds them all. Values read by a converter (enums, times, days) are left to the converter's message.
    /// </summary>
    public static void CheckShape(JsonElement element, JsonTypeInfo info, string location, List<string> problems)
    {
        if (Expected(info) is { } expected && !expected.Accepts(element.ValueKind))
        {
            problems.Add($"{Where(location)}: expected {expected.Description}, not {Shown(element)}.");
            return;
        }

        if (info.Kind == JsonTypeInfoKind.Object && element.ValueKind == JsonValueKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in element.EnumerateObject())
            {
                string at = location.Length == 0 ? property.Name : $"{location}.{property.Name}";
                JsonPropertyInfo? known = Find(info, property.Name);
                if (known is null)
                {
                    string names = string.Join(", ", info.Properties.Select(p => p.Name));
                    problems.Add($"{at}: unknown property '{property.Name}' (the properties here are: {names}).");
                }
                else if (!seen.Add(property.Name))
                {
                    problems.Add($"{at}: the property is given more than once.");
                }
                else if (known.CustomConverter is null && info.Options.TryGetTypeInfo(known.PropertyType, out JsonTypeInfo? inner))
                {
                    CheckShape(property.Value, inner, at, problems);
                }
            }

            foreach (JsonPropertyInfo property in info.Properties)
            {
                if (property.IsRequired && !seen.Contains(property.Name))
                {
                    problems.Add($"{Where(location)}: the required property '{property.Name}' is missing.");
                }
            }
        }
        else if (info.Kind == JsonTypeInfoKind.Enumerable
            && element.ValueKind == JsonValueKind.Array
            && info.ElementType is { } elementType
            && info.Options.TryGetTypeInfo(elementType, out JsonTypeInfo? elementInfo))
        {
            int i = 0;
            foreach (JsonElement item in element.EnumerateArray())
            {
                CheckShape(item, elementInfo, $"{location}[{i++}]", problems);
            }
        }
    }

    /// <summary>The current token as a converter's error shows it: <c>'text'</c>, <c>the number 3</c>, <c>a list</c>.</summary>
    public static string Shown(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => $"'{reader.GetString()}'",
        JsonTokenType.Number => $"the number {System.Text.Encoding.UTF8.GetString(reader.ValueSpan)}",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "a list",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        _ => "null",
    };

    private static string Shown(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => $"'{element.GetString()}'",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => "null",
    };

    // The JSON kinds a type is read from, for the types read without a converter of ours.
    private static ExpectedKind? Expected(JsonTypeInfo info)
    {
        Type? underlying = Nullable.GetUnderlyingType(info.Type);
        bool nullable = !info.Type.IsValueType || underlying is not null;
        Type type = underlying ?? info.Type;
        return info.Kind switch
        {
            JsonTypeInfoKind.Object => new(JsonValueKind.Object, nullable, "an object"),
            JsonTypeInfoKind.Enumerable => new(JsonValueKind.Array, nullable, "a list"),
            _ when type == typeof(string) => new(JsonValueKind.String, nullable, "a string"),
            _ when type == typeof(bool) => new(JsonValueKind.True, nullable, "true or false"),
            _ when type == typeof(int) || type == typeof(long) || type == typeof(double) => new(JsonValueKind.Number, nullable, "a number"),
            _ => null,
        };
    }

    private static string Where(string location) => location.Length == 0 ? "(top level)" : location;

    private static JsonPropertyInfo? Find(JsonTypeInfo info, string name)
    {
        foreach (JsonPropertyInfo property in info.Properties)
        {
            if (property.Name == name)
            {
                return property;
            }
        }

        return null;
    }

    // "$.profiles[2].extensions[0]" is shown as "profiles[2].extensions[0]".
    private static string Location(string? path) => path switch
    {
        null or "$" => "(top level)",
        _ when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        _ => path.TrimStart('$'),
    };

    // Positions count UTF-8 bytes, as System.Text.Json does: the same as characters on ASCII lines.
    private static string LineAndPosition(JsonException ex, int positionOffset) =>
        string.Create(CultureInfo.InvariantCulture, $"line {ex.LineNumber + 1}, position {ex.BytePositionInLine + positionOffset}");

    /// <summary>The exception's message without the " Path: ... | LineNumber: ... | BytePositionInLine: ..." (or
    /// " LineNumber: ...") System.Text.Json appends: the location is reported our way instead.</summary>
    internal static string Reason(JsonException ex)
    {
        string message = ex.Message;
        foreach (string tail in (ReadOnlySpan<string>)[" Path: ", " LineNumber: "])
        {
            int at = message.IndexOf(tail, StringComparison.Ordinal);
            if (at >= 0)
            {
                message = message[..at];
            }
        }

        return message;
    }
}

/// <summary>The JSON kind a value must have (<see cref="JsonValueKind.True"/> stands for true or false).</summary>
internal readonly record struct ExpectedKind(JsonValueKind Kind, bool Nullable, string Description)
{
    public bool Accepts(JsonValueKind kind) =>
        kind == Kind || (Nullable && kind == JsonValueKind.Null) || (Kind == JsonValueKind.True && kind == JsonValueKind.False);
}

/// <summary>An enum as the camelCase of its member names (<c>"continue"</c>, <c>"skinny"</c>); numbers refused.</summary>
internal sealed class KeywordEnumConverter<T> : JsonConverter<T>
    where T : struct, Enum
{
    private static readonly T[] s_values = Enum.GetValues<T>();
    private static readonly string[] s_names = [.. Enum.GetNames<T>().Select(JsonNamingPolicy.CamelCase.ConvertName)];

    public static string Choices => string.Join(", ", s_names.Select(n => $"\"{n}\""));

    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        int index = Array.IndexOf(s_names, text);
        return index >= 0
            ? s_values[index]
            : throw new JsonException($"{ConfigJson.Shown(ref reader)} is not one of {Choices}.");
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        int index = Array.IndexOf(s_values, value);
        writer.WriteStringValue(index >= 0 ? s_names[index] : throw new JsonException($"{value} is not a defined {typeof(T).Name}."));
    }
}

/// <summary>A day as <c>"mon"</c> to <c>"sun"</c>.</summary>
internal sealed class WeekdayJsonConverter : JsonConverter<DayOfWeek>
{
    // Indexed by DayOfWeek: Sunday is 0.
    private static readonly string[] s_names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    public static string Name(DayOfWeek day) => (uint)day < (uint)s_names.Length ? s_names[(int)day] : ((int)day).ToString(CultureInfo.InvariantCulture);

    public override DayOfWeek Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        int index = Array.IndexOf(s_names, text);
        return index >= 0
            ? (DayOfWeek)index
            : throw new JsonException($"{ConfigJson.Shown(ref reader)} is not a day (\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\" or \"sun\").");
    }

    public override void Write(Utf8JsonWriter writer, DayOfWeek value, JsonSerializerOptions options) => writer.WriteStringValue(Name(value));
}

/// <summary>A time of day as <c>"19:00"</c> or <c>"19:00:30"</c>.</summary>
internal sealed class ClockTimeJsonConverter : JsonConverter<TimeOnly>
{
    private static readonly string[] s_formats = ["HH:mm", "HH:mm:ss"];

    public override TimeOnly Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return TimeOnly.TryParseExact(text, s_formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out TimeOnly time)
            ? time
            : throw new JsonException($"{ConfigJson.Shown(ref reader)} is not a time of day (\"HH:mm\" or \"HH:mm:ss\", 24-hour, e.g. \"19:00\").");
    }

    public override void Write(Utf8JsonWriter writer, TimeOnly value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString(value.Second == 0 ? "HH:mm" : "HH:mm:ss", CultureInfo.InvariantCulture));
}

/// <summary>A duration as a JSON number of minutes.</summary>
internal sealed class MinutesJsonConverter : JsonConverter<TimeSpan?>
{
    public override TimeSpan? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out double minutes)
            || !double.IsFinite(minutes) || Math.Abs(minutes) > TimeSpan.MaxValue.TotalMinutes)
        {
            throw new JsonException($"{ConfigJson.Shown(ref reader)} is not a number of minutes.");
        }

        return TimeSpan.FromMinutes(minutes);
    }

    public override void Write(Utf8JsonWriter writer, TimeSpan? value, JsonSerializerOptions options)
    {
        if (value is { } span)
        {
            writer.WriteNumberValue(span.TotalMinutes);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
