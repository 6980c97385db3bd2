using System.Text.Json;

namespace Capture.Bindings.Config;

public sealed partial record DirectoryConfig
{
    /// <summary>Reads and validates the configuration file at <paramref name="path"/>; a relative
    /// <see cref="LicenseFile"/> is resolved against the file's folder.</summary>
    /// <exception cref="ConfigurationException">The file is missing, unreadable, not JSON of this shape, or
    /// <see cref="Validate"/> finds problems; every problem found is listed.</exception>
    public static DirectoryConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigurationException(path, [$"the configuration file does not exist (looked for {Path.GetFullPath(path)})."], ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException(path, [$"the configuration file cannot be read: {ex.Message}"], ex);
        }

        DirectoryConfig config = Parse(json, path);
        if (config.LicenseFile is { } license && !Path.IsPathFullyQualified(license))
        {
            string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            config = config with { LicenseFile = Path.GetFullPath(license, folder) };
        }

        return config;
    }

    /// <summary>Reads and validates a configuration from JSON text; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="ConfigurationException">Malformed JSON (with line and position), unknown or repeated
    /// properties, values of the wrong kind, or problems <see cref="Validate"/> finds.</exception>
    public static DirectoryConfig Parse(string json, string sourceName = "config")
    {
        ArgumentNullException.ThrowIfNull(json);
        var problems = new List<string>();
        using (JsonDocument document = ConfigJson.ParseDocument(json, sourceName))
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigurationException(sourceName, [$"the configuration must be a JSON object ({{ ... }}), not {root.ValueKind.ToString().ToLowerInvariant()}."]);
            }

            ConfigJson.CheckShape(root, ConfigJsonContext.Default.DirectoryConfig, "", problems);
        }

        if (problems.Count > 0)
        {
            throw new ConfigurationException(sourceName, problems);
        }

        DirectoryConfig config;
        try
        {
            config = JsonSerializer.Deserialize(json, ConfigJsonContext.Default.DirectoryConfig)!;
        }
        catch (JsonException ex)
        {
            throw new ConfigurationException(sourceName, [ConfigJson.Describe(ex)], ex);
        }

        IReadOnlyList<string> invalid = config.Validate();
        return invalid.Count == 0 ? config : throw new ConfigurationException(sourceName, invalid);
    }

    /// <summary>The configuration as the JSON <see cref="Parse"/> reads (indented, nulls left out).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ConfigJsonContext.Default.DirectoryConfig);
}
