namespace Capture.Bindings.Config;

/// <summary>
/// The administrator's view of the directory: recording groups, configured devices, users and their
/// extension-mobility profiles, logout schedules and policies (DESIGN section 2). Immutable and compared by
/// value; <see cref="Load"/> and <see cref="Parse"/> return only a configuration that <see cref="Validate"/> accepts.
/// </summary>
public sealed partial record DirectoryConfig
{
    private readonly IReadOnlyList<RecordingGroupConfig> _recordingGroups = EquatableList<RecordingGroupConfig>.Empty;
    private readonly IReadOnlyList<DeviceConfig> _devices = EquatableList<DeviceConfig>.Empty;
    private readonly IReadOnlyList<UserConfig> _users = EquatableList<UserConfig>.Empty;
    private readonly IReadOnlyList<ProfileConfig> _profiles = EquatableList<ProfileConfig>.Empty;
    private readonly IReadOnlyList<LogoutSchedule> _logoutSchedules = EquatableList<LogoutSchedule>.Empty;
    private readonly IReadOnlyList<string> _servers = EquatableList<string>.Empty;

    public DirectoryConfig()
    {
    }

    // The JSON source generator sets every init-only property it reads through an object initializer, passing
    // default(T) for the ones the JSON leaves out, which would override a non-default initializer. So a property
    // whose default is not default(T) takes its default from a constructor parameter here instead.
    [System.Text.Json.Serialization.JsonConstructor]
    internal DirectoryConfig(bool recordByDefault = true) => RecordByDefault = recordByDefault;

    /// <summary>No devices, users or profiles; record everything.</summary>
    public static DirectoryConfig Empty { get; } = new();

    public IReadOnlyList<RecordingGroupConfig> RecordingGroups
    {
        get => _recordingGroups;
        init => _recordingGroups = EquatableList<RecordingGroupConfig>.From(value);
    }

    public IReadOnlyList<DeviceConfig> Devices
    {
        get => _devices;
        init => _devices = EquatableList<DeviceConfig>.From(value);
    }

    public IReadOnlyList<UserConfig> Users
    {
        get => _users;
        init => _users = EquatableList<UserConfig>.From(value);
    }

    public IReadOnlyList<ProfileConfig> Profiles
    {
        get => _profiles;
        init => _profiles = EquatableList<ProfileConfig>.From(value);
    }

    public IReadOnlyList<LogoutSchedule> LogoutSchedules
    {
        get => _logoutSchedules;
        init => _logoutSchedules = EquatableList<LogoutSchedule>.From(value);
    }

    /// <summary>IPs of PBXs, proxies and registrars (canonical text): their signalling never binds them as phones.</summary>
    public IReadOnlyList<string> Servers
    {
        get => _servers;
        init => _servers = EquatableList<string>.From(value?.Select(ip => ConfigValues.NormalizeIp(ip) ?? ip));
    }

    /// <summary>Whether a call is recorded when its local party is in no recording group.</summary>
    public bool RecordByDefault { get; init; } = true;

    public LogoutPolicy LogoutDuringCall { get; init; } = LogoutPolicy.Continue;

    /// <summary>Log a user out after this long without activity; null is off. JSON <c>"idleLogoutMinutes"</c>.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("idleLogoutMinutes")]
    [System.Text.Json.Serialization.JsonConverter(typeof(MinutesJsonConverter))]
    public TimeSpan? IdleLogout { get; init; }

    /// <summary>IANA time zone id (<c>Europe/London</c>) of <see cref="LogoutSchedules"/>; null is UTC.</summary>
    public string? TimeZone { get; init; }

    /// <summary>Path of the seat license file (<see cref="SeatLicense"/>); null is no seat limit. <see cref="Load"/>
    /// resolves a relative path against the configuration file's folder.</summary>
    public string? LicenseFile { get; init; }

    /// <summary>The zone <see cref="LogoutSchedules"/> are in: <see cref="TimeZone"/>, or UTC when it is null.</summary>
    /// <exception cref="TimeZoneNotFoundException">The id is unknown (<see cref="Validate"/> reports that).</exception>
    public TimeZoneInfo GetScheduleTimeZone() => TimeZone is null ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(TimeZone);
}
