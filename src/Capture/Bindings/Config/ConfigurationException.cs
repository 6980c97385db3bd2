namespace Capture.Bindings.Config;

/// <summary>A configuration that cannot be used. <see cref="Problems"/> lists every problem found, each starting
/// with its JSON location (<c>profiles[2].extensions[0]: ...</c>); the message names the source and joins them.</summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException() : this("The configuration is invalid.") { }

    public ConfigurationException(string message) : base(message) => Problems = [message];

    public ConfigurationException(string message, Exception innerException) : base(message, innerException) => Problems = [message];

    public ConfigurationException(string sourceName, IReadOnlyList<string> problems)
        : base(Describe(sourceName, problems)) => Problems = problems;

    public ConfigurationException(string sourceName, IReadOnlyList<string> problems, Exception? innerException)
        : base(Describe(sourceName, problems), innerException) => Problems = problems;

    public IReadOnlyList<string> Problems { get; }

    private static string Describe(string sourceName, IReadOnlyList<string> problems) => problems.Count == 1
        ? $"{sourceName}: {problems[0]}"
        : $"{sourceName}: {problems.Count} problems:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems);
}
