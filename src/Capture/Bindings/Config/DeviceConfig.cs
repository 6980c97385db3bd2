namespace Capture.Bindings.Config;

/// <summary>
/// A configured phone. <paramref name="Id"/> is its identity: the Skinny device name (<c>SEP...</c>), the SIP
/// instance URN, or any name the administrator chooses (e.g. for a static device whose signalling is not seen).
/// </summary>
public sealed record DeviceConfig(string Id)
{
    private readonly string? _mac;
    private readonly IReadOnlyList<string> _ips = EquatableList<string>.Empty;
    private readonly IReadOnlyList<string> _extensions = EquatableList<string>.Empty;

    public DeviceProtocol Protocol { get; init; }

    public string? Name { get; init; }

    /// <summary>12 upper-case hex digits; any of the usual written forms is normalised to that (a value that is
    /// not a MAC is kept as written, for <see cref="DirectoryConfig.Validate"/> to report).</summary>
    public string? Mac
    {
        get => _mac;
        init => _mac = ConfigValues.NormalizeMac(value) ?? value;
    }

    /// <summary>Static IPs in canonical text (IPv4 dotted quad, IPv6 compressed lower case); invalid ones kept as written.</summary>
    public IReadOnlyList<string> Ips
    {
        get => _ips;
        init => _ips = EquatableList<string>.From(value?.Select(ip => ConfigValues.NormalizeIp(ip) ?? ip));
    }

    /// <summary>The configured (home) line set in line order: index 0 is line 1. Exact strings, any number.</summary>
    public IReadOnlyList<string> Extensions
    {
        get => _extensions;
        init => _extensions = EquatableList<string>.From(value);
    }

    public string? Site { get; init; }

    /// <summary>The id of a <see cref="RecordingGroupConfig"/>.</summary>
    public string? RecordingGroup { get; init; }

    /// <summary>The id of the user calls are attributed to while nobody is logged in here.</summary>
    public string? HotelingAgent { get; init; }
}
