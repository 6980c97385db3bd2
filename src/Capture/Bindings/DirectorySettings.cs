using System.Diagnostics.CodeAnalysis;
using Capture.Bindings.Config;

namespace Capture.Bindings;

/// <summary>
/// The configuration in force (DESIGN section 2): users, created while licence seats allow (the rest wait for a
/// licence), their profiles (found by extension set for login detection), recording groups, the schedules' time zone,
/// and the licence, synchronised on its interval. Used under the directory's lock.
/// </summary>
internal sealed class DirectorySettings(TimeSpan licenseSyncInterval)
{
    private Dictionary<string, UserConfig> _users = new(StringComparer.Ordinal);
    private Dictionary<string, ProfileConfig> _profiles = new(StringComparer.Ordinal);
    private Dictionary<string, RecordingGroupConfig> _groups = new(StringComparer.Ordinal);
    private Dictionary<string, ProfileConfig> _profilesBySet = new(StringComparer.Ordinal);
    private readonly List<UserConfig> _usersWaitingForSeats = [];
    private LicenseMonitor? _license;
    private DateTimeOffset _nextLicenseSync;

    public DirectoryConfig Config { get; private set; } = DirectoryConfig.Empty;

    /// <summary>The time zone of the logout schedules.</summary>
    public TimeZoneInfo TimeZone { get; private set; } = TimeZoneInfo.Utc;

    /// <summary>Takes a configuration that passed validation: licence, time zone, groups, users (seats permitting), profiles.</summary>
    public void Apply(DirectoryConfig config, DateTimeOffset now)
    {
        if (config.LicenseFile != Config.LicenseFile || (_license is null && config.LicenseFile is not null))
        {
            _license = config.LicenseFile is null ? null : new LicenseMonitor(config.LicenseFile, now);
            _nextLicenseSync = now + licenseSyncInterval;
        }

        Config = config;
        TimeZone = config.TimeZone is null ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(config.TimeZone);
        _groups = config.RecordingGroups.ToDictionary(g => g.Id, StringComparer.Ordinal);
        CreateUsers(config.Users);
        RebuildProfiles();
    }

    /// <summary>Synchronises the licence when due; users waiting for seats are created when it allows more.</summary>
    public void SyncLicense(DateTimeOffset now)
    {
        if (_license is null || now < _nextLicenseSync)
        {
            return;
        }

        _nextLicenseSync = now + licenseSyncInterval;
        bool couldCreate = _license.CanCreateUsers;
        int? seats = _license.Seats;
        _license.Sync(now);
        if ((_license.CanCreateUsers && !couldCreate) || _license.Seats != seats)
        {
            if (_usersWaitingForSeats.Count > 0)
            {
                CreateUsers(Config.Users);
                RebuildProfiles();
            }
        }
    }

    /// <summary>Users are created while licence seats allow; the rest wait for a licence (DESIGN section 2, seats).</summary>
    private void CreateUsers(IReadOnlyList<UserConfig> users)
    {
        var next = new Dictionary<string, UserConfig>(StringComparer.Ordinal);
        foreach (UserConfig u in users)
        {
            if (_users.ContainsKey(u.Id))
            {
                next[u.Id] = u; // an existing user keeps its seat (and takes the new settings)
            }
        }

        _usersWaitingForSeats.Clear();
        foreach (UserConfig u in users)
        {
            if (next.ContainsKey(u.Id))
            {
                continue;
            }

            if (_license is null || _license.CanAddUser(next.Count))
            {
                next[u.Id] = u;
            }
            else
            {
                _usersWaitingForSeats.Add(u);
            }
        }

        _users = next;
    }

    private void RebuildProfiles()
    {
        _profiles = Config.Profiles.Where(p => _users.ContainsKey(p.User)).ToDictionary(p => p.Id, StringComparer.Ordinal);
        _profilesBySet = _profiles.Values.ToDictionary(p => SetKey(p.Extensions), StringComparer.Ordinal);
    }

    /// <summary>Users refused for want of licence seats.</summary>
    public IReadOnlyList<string> UsersWaitingForSeats() => [.. _usersWaitingForSeats.Select(u => u.Id)];

    public UserConfig? User(string id) => _users.GetValueOrDefault(id);

    public bool HasUser(string id) => _users.ContainsKey(id);

    public ProfileConfig? Profile(string id) => _profiles.GetValueOrDefault(id);

    public bool HasProfile(string id) => _profiles.ContainsKey(id);

    /// <summary>The profile whose extension set is exactly <paramref name="set"/> (sorted, distinct), if any.</summary>
    public ProfileConfig? ProfileWithSet(string[] set) =>
        set.Length > 0 && _profilesBySet.TryGetValue(SetKey(set), out ProfileConfig? p) ? p : null;

    public bool TryGetGroup(string id, [MaybeNullWhen(false)] out RecordingGroupConfig group) => _groups.TryGetValue(id, out group);

    /// <summary>The key of an extension set: sorted, distinct, exact strings.</summary>
    private static string SetKey(IEnumerable<string> extensions) =>
        string.Join('\u001f', extensions.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
}
