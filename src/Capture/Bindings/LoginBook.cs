using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Capture.Bindings.Config;

namespace Capture.Bindings;

/// <summary>
/// Who is logged in where, and who was (DESIGN section 2): logins by extension-mobility detection, cross-cluster
/// phantoms and explicit hot desking; logouts by the API, schedules and idle time; the full history, by device and by
/// user; locating an extension or a user. Every transition is an event. Used under the directory's lock; the history is
/// kept in the store.
/// </summary>
internal sealed class LoginBook(DeviceRegistry devices, LineIndex lines, DirectorySettings settings, PendingEvents events)
{
    private const string StorePrefix = "h/";

    private readonly List<LoginEntry> _history = [];
    private readonly Dictionary<long, int> _historyIndex = [];
    private readonly Dictionary<string, List<int>> _historyByDevice = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _historyByUser = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoginEntry> _openByUser = new(StringComparer.Ordinal);
    private readonly HashSet<long> _unsaved = [];
    private long _nextLoginSeq = 1;
    private DateTimeOffset? _lastScheduleCheck;

    /// <summary>
    /// In a cluster, the site this appliance records: idle logout then ends only logins at devices of this site (or of
    /// none), whose calls it sees; another site's appliance ends the others. Null: every device (a single box).
    /// </summary>
    public string? LocalSite { get; set; }

    /// <summary>Changed logins are remembered for the store (set while the directory has one).</summary>
    public bool TrackChanges { get; set; }

    public int LoggedInCount => _openByUser.Count;

    // ---- Extension mobility -----------------------------------------------------------------------------------

    /// <summary>
    /// DESIGN section 2, login/logout detection: the profile whose set equals the device's new set is logged in there
    /// (replacing whoever was); no match while a profile was logged in is a logout. Explicit logins are left alone
    /// unless a profile takes the device.
    /// </summary>
    public void DetectLogin(DeviceState d, string[] set, DateTimeOffset now, string noMatchReason)
    {
        ProfileConfig? match = settings.ProfileWithSet(set);
        if (match is null)
        {
            if (d.Login is { Kind: LoginKind.Mobility or LoginKind.CrossCluster })
            {
                EndLogin(d, noMatchReason, now);
            }

            return;
        }

        if (d.Login?.Profile == match.Id)
        {
            return;
        }

        if (d.Login is not null)
        {
            EndLogin(d, LogoutReasons.Replaced, now);
        }

        if (_openByUser.TryGetValue(match.User, out LoginEntry? elsewhere) && devices.Resolve(elsewhere.HostDevice) is { } other)
        {
            EndLogin(other, LogoutReasons.Moved, now);
        }

        LoginKind kind = d.Config is null && match.CrossCluster ? LoginKind.CrossCluster : LoginKind.Mobility;
        if (kind == LoginKind.CrossCluster)
        {
            d.Phantom = true;
        }

        StartLogin(d, match.User, match.Id, kind, match.Extensions, now);
    }

    private void StartLogin(DeviceState d, string user, string? profile, LoginKind kind, IReadOnlyList<string> guest, DateTimeOffset now)
    {
        var entry = new LoginEntry(_nextLoginSeq++, d.Id, user, profile, kind, [.. guest], now);
        int index = _history.Count;
        _history.Add(entry);
        _historyIndex[entry.Seq] = index;
        AddIndex(_historyByDevice, d.Id, index);
        AddIndex(_historyByUser, user, index);
        _openByUser[user] = entry;
        d.Login = entry;
        d.LastActivity = now;
        MarkUnsaved(entry.Seq);
        events.Add(events.New(DirectoryEventKind.LoginEstablished, now, profile ?? d.Id) with
        {
            HostDevice = d.Id,
            User = user,
            Profile = profile,
            Guest = entry.Guest,
            Ip = d.PrimaryIp(),
            LoginSeq = entry.Seq,
            Detail = kind.ToString(),
        });
        devices.Publish(d);
    }

    /// <summary>Ends whoever is logged in at <paramref name="d"/>, if anyone.</summary>
    public void EndLogin(DeviceState d, string reason, DateTimeOffset now)
    {
        if (d.Login is not { } open)
        {
            return;
        }

        LoginEntry closed = open with { Until = now, EndReason = reason };
        _history[_historyIndex[open.Seq]] = closed;
        if (_openByUser.TryGetValue(open.User, out LoginEntry? current) && current.Seq == open.Seq)
        {
            _openByUser.Remove(open.User);
        }

        d.Login = null;
        MarkUnsaved(open.Seq);
        events.Add(events.New(DirectoryEventKind.LoginCancelled, now, open.Profile ?? d.Id) with
        {
            HostDevice = d.Id,
            User = open.User,
            Profile = open.Profile,
            Guest = open.Guest,
            Ip = d.PrimaryIp(),
            LoginSeq = open.Seq,
            Detail = reason,
        });
        devices.Publish(d);
    }

    /// <summary>Logins whose user or profile the configuration no longer has end now.</summary>
    public void EndUnconfigured(DateTimeOffset now)
    {
        foreach (DeviceState d in devices.All)
        {
            if (d.Login is { } login && (!settings.HasUser(login.User) || (login.Profile is not null && !settings.HasProfile(login.Profile))))
            {
                EndLogin(d, LogoutReasons.Reconfigured, now);
            }
        }
    }

    // ---- Explicit hot desking ---------------------------------------------------------------------------------

    /// <summary>Logs <paramref name="user"/> in at <paramref name="device"/> (replacing whoever was there, and leaving wherever the user was).</summary>
    public DirectoryOutcome Login(string user, string device, string? pin, DateTimeOffset now)
    {
        if (settings.User(user) is not { } u)
        {
            return DirectoryOutcome.NotFound($"No user '{user}'.");
        }

        DeviceState? d = devices.Resolve(device);
        if (d is null)
        {
            return DirectoryOutcome.NotFound($"No device '{device}'.");
        }

        if (u.Pin is not null && !PinMatches(u.Pin, pin))
        {
            return DirectoryOutcome.Forbidden($"Wrong or missing PIN for user '{user}'.");
        }

        if (d.Login is { } current && current.User == user)
        {
            return DirectoryOutcome.Success;
        }

        if (d.Login is not null)
        {
            EndLogin(d, LogoutReasons.Replaced, now);
        }

        if (_openByUser.TryGetValue(user, out LoginEntry? elsewhere) && devices.Resolve(elsewhere.HostDevice) is { } other)
        {
            EndLogin(other, LogoutReasons.Moved, now);
        }

        StartLogin(d, user, null, LoginKind.Explicit, d.PublishedSet.Length > 0 ? [.. d.EffectiveLines().Select(l => l.Extension)] : [], now);
        devices.MarkUnsaved(d);
        return DirectoryOutcome.Success;
    }

    // ---- Logins made at another appliance (a shared directory) ----------------------------------------------------

    /// <summary>
    /// A login another appliance made at <paramref name="at"/> (its event time): applied here as if made here, without a
    /// PIN (checked where it was made). Stale (a login at the device or of the user here is newer): nothing changes.
    /// A device this appliance does not know: the user's login here, if older, ends as moved. True when the login started here.
    /// </summary>
    public bool ApplyShared(string user, string device, string? profile, LoginKind kind, IReadOnlyList<string> guest, DateTimeOffset at)
    {
        if (!settings.HasUser(user))
        {
            return false;
        }

        if (_historyByUser.TryGetValue(user, out List<int>? mine) && mine.Count > 0 && (_history[mine[^1]].Until ?? _history[mine[^1]].Since) >= at)
        {
            return false; // the user's last login or logout here is as late or later: stale (a logout is never undone)
        }

        _openByUser.TryGetValue(user, out LoginEntry? elsewhere);
        DeviceState? d = devices.Resolve(device);
        if (d is null)
        {
            if (elsewhere is not null && elsewhere.Since < at && devices.Resolve(elsewhere.HostDevice) is { } left)
            {
                EndLogin(left, LogoutReasons.Moved, at);
                devices.MarkUnsaved(left);
            }

            return false;
        }

        if (d.Login is { } current && (current.User == user || current.Since > at))
        {
            return false; // already, or a newer login here wins
        }

        if (elsewhere is not null && elsewhere.Since > at)
        {
            return false; // the user logged in somewhere later: the remote login is stale
        }

        if (d.Login is not null)
        {
            EndLogin(d, LogoutReasons.Replaced, at);
        }

        if (elsewhere is not null && devices.Resolve(elsewhere.HostDevice) is { } other)
        {
            EndLogin(other, LogoutReasons.Moved, at);
            devices.MarkUnsaved(other);
        }

        StartLogin(d, user, profile, kind, guest.Count > 0 ? guest : [.. d.EffectiveLines().Select(l => l.Extension)], at);
        devices.MarkUnsaved(d);
        return true;
    }

    /// <summary>A logout another appliance saw at <paramref name="at"/>: the user's login here ends when it began before.</summary>
    public bool EndShared(string user, DateTimeOffset at, string reason)
    {
        if (!_openByUser.TryGetValue(user, out LoginEntry? open) || open.Since > at || devices.Resolve(open.HostDevice) is not { } d)
        {
            return false;
        }

        EndLogin(d, reason, at);
        devices.MarkUnsaved(d);
        return true;
    }

    private static bool PinMatches(string expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));

    /// <summary>Logs out whoever is logged in at <paramref name="device"/>.</summary>
    public DirectoryOutcome Logout(string device, DateTimeOffset now)
    {
        DeviceState? d = devices.Resolve(device);
        if (d is null)
        {
            return DirectoryOutcome.NotFound($"No device '{device}'.");
        }

        if (d.Login is null)
        {
            return DirectoryOutcome.NotFound($"Nobody is logged in at device '{device}'.");
        }

        EndLogin(d, LogoutReasons.Logout, now);
        devices.MarkUnsaved(d);
        return DirectoryOutcome.Success;
    }

    /// <summary>Remote logout: logs <paramref name="user"/> out wherever they are.</summary>
    public DirectoryOutcome LogoutUser(string user, DateTimeOffset now)
    {
        if (!_openByUser.TryGetValue(user, out LoginEntry? open) || devices.Resolve(open.HostDevice) is not { } d)
        {
            return settings.HasUser(user)
                ? DirectoryOutcome.NotFound($"User '{user}' is not logged in.")
                : DirectoryOutcome.NotFound($"No user '{user}'.");
        }

        EndLogin(d, LogoutReasons.RemoteLogout, now);
        devices.MarkUnsaved(d);
        return DirectoryOutcome.Success;
    }

    /// <summary>Logs out every explicit (hot-desk) login of users in <paramref name="scope"/>; returns how many.</summary>
    public int LogoutAll(UserScope scope, DateTimeOffset now, string reason)
    {
        int count = 0;
        foreach (LoginEntry login in _openByUser.Values.ToList())
        {
            bool external = settings.User(login.User) is { External: true };
            bool inScope = scope == UserScope.All || (scope == UserScope.External) == external;
            if (login.Kind == LoginKind.Explicit && inScope && devices.Resolve(login.HostDevice) is { } d)
            {
                EndLogin(d, reason, now);
                devices.MarkUnsaved(d);
                count++;
            }
        }

        return count;
    }

    /// <summary>Explicit logins idle (no call started or ended) for the configured time end, unless a call is in progress.</summary>
    public void LogoutIdle(DateTimeOffset now)
    {
        if (settings.Config.IdleLogout is not { } idle)
        {
            return;
        }

        foreach (LoginEntry login in _openByUser.Values.ToList())
        {
            if (login.Kind == LoginKind.Explicit && devices.Resolve(login.HostDevice) is { ActiveCalls: 0 } d
                && (LocalSite is null || d.Config?.Site is null || d.Config.Site == LocalSite)
                && now - Max(login.Since, d.LastActivity) >= idle)
            {
                EndLogin(d, LogoutReasons.Idle, now);
                devices.MarkUnsaved(d);
            }
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>Runs the logout schedules that fell due since the last call.</summary>
    public void RunSchedules(DateTimeOffset now)
    {
        DateTimeOffset? last = _lastScheduleCheck;
        _lastScheduleCheck = now;
        if (last is not { } from || settings.Config.LogoutSchedules.Count == 0 || now <= from)
        {
            return;
        }

        // Every occurrence in (from, now], in the schedules' time zone; a long gap fires each schedule once.
        DateTime localFrom = TimeZoneInfo.ConvertTime(from, settings.TimeZone).DateTime;
        DateTime localNow = TimeZoneInfo.ConvertTime(now, settings.TimeZone).DateTime;
        foreach (LogoutSchedule schedule in settings.Config.LogoutSchedules)
        {
            for (DateOnly day = DateOnly.FromDateTime(localFrom); day <= DateOnly.FromDateTime(localNow); day = day.AddDays(1))
            {
                DateTime at = day.ToDateTime(schedule.At);
                if (at > localFrom && at <= localNow && (schedule.Days.Count == 0 || schedule.Days.Contains(day.DayOfWeek)))
                {
                    LogoutAll(schedule.Users, now, LogoutReasons.Scheduled);
                    break;
                }
            }
        }
    }

    // ---- Locate and history -----------------------------------------------------------------------------------

    /// <summary>Where is this extension: on which device (line-1 holder first), who is logged in there, since when.</summary>
    public Location LocateExtension(string extension)
    {
        if (!lines.TryGetEntry(extension, out LineIndex.ExtensionEntry? entry))
        {
            // A logged-in profile's extension is found through the login even when no line carries it.
            foreach (LoginEntry open in _openByUser.Values)
            {
                if (open.Guest.Contains(extension) && devices.Resolve(open.HostDevice) is { } host)
                {
                    return LocationOf(host, extension);
                }
            }

            return new Location(false, false) { Extension = extension };
        }

        string id = entry.Line1Owner ?? entry.Devices[0];
        return devices.Resolve(id) is { } d ? LocationOf(d, extension) : new Location(false, false) { Extension = extension };
    }

    /// <summary>Where is this user logged in, if anywhere.</summary>
    public Location LocateUser(string user)
    {
        if (_openByUser.TryGetValue(user, out LoginEntry? open) && devices.Resolve(open.HostDevice) is { } d)
        {
            return LocationOf(d, null);
        }

        return new Location(settings.HasUser(user), false) { User = user };
    }

    private static Location LocationOf(DeviceState d, string? extension) => new(true, d.Login is not null)
    {
        Extension = extension,
        User = d.Login?.User,
        Profile = d.Login?.Profile,
        HostDevice = d.Id,
        Guest = d.Login?.Guest ?? [],
        Ips = [.. d.Ips.Select(ip => ip.ToString())],
        Since = d.Login?.Since,
        Kind = d.Login?.Kind,
    };

    /// <summary>The first open login that brought <paramref name="extension"/> (a guest extension no line may show yet).</summary>
    public LoginEntry? FirstOpenWithGuest(string extension)
    {
        foreach (LoginEntry open in _openByUser.Values)
        {
            if (open.Guest.Contains(extension))
            {
                return open;
            }
        }

        return null;
    }

    /// <summary>Who was logged in at the device with this id at <paramref name="at"/> ("who sat at this phone at 10:32 yesterday?").</summary>
    public LoginEntry? WhoWasAt(string deviceId, DateTimeOffset at)
    {
        if (!_historyByDevice.TryGetValue(deviceId, out List<int>? indices))
        {
            return null;
        }

        for (int i = indices.Count - 1; i >= 0; i--)
        {
            LoginEntry e = _history[indices[i]];
            if (e.Covers(at))
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>The login history, oldest first, optionally for one device or user and a time range (logins overlapping it).</summary>
    public IReadOnlyList<LoginEntry> History(string? device, string? user, DateTimeOffset? from, DateTimeOffset? to)
    {
        IEnumerable<LoginEntry> entries = device is not null
            ? (_historyByDevice.GetValueOrDefault(devices.Resolve(device)?.Id ?? device) ?? []).Select(i => _history[i])
            : user is not null ? (_historyByUser.GetValueOrDefault(user) ?? []).Select(i => _history[i])
            : _history;
        return [.. entries.Where(e => (user is null || e.User == user)
            && (from is null || e.Until is null || e.Until > from)
            && (to is null || e.Since < to))];
    }

    private static void AddIndex(Dictionary<string, List<int>> index, string key, int value)
    {
        if (!index.TryGetValue(key, out List<int>? list))
        {
            index[key] = list = [];
        }

        list.Add(value);
    }

    // ---- Store ------------------------------------------------------------------------------------------------

    private void MarkUnsaved(long seq)
    {
        if (TrackChanges)
        {
            _unsaved.Add(seq);
        }
    }

    public bool WriteChanges(DirectoryStore store)
    {
        foreach (long seq in _unsaved)
        {
            LoginEntry entry = _history[_historyIndex[seq]];
            store.Put(StorePrefix + seq.ToString("D12", CultureInfo.InvariantCulture), JsonSerializer.SerializeToUtf8Bytes(entry, DirectoryJsonContext.Default.LoginEntry));
        }

        return _unsaved.Count > 0;
    }

    public void ChangesWritten() => _unsaved.Clear();

    /// <summary>Recovers the history (after the devices): open logins are attached to their hosts again.</summary>
    public void Load(DirectoryStore store)
    {
        List<LoginEntry> logins = [];
        foreach (KeyValuePair<string, byte[]> kv in store.ReadAll(StorePrefix))
        {
            if (JsonSerializer.Deserialize(kv.Value, DirectoryJsonContext.Default.LoginEntry) is { } e)
            {
                logins.Add(e);
            }
        }

        foreach (LoginEntry e in logins.OrderBy(e => e.Seq))
        {
            int index = _history.Count;
            _history.Add(e);
            _historyIndex[e.Seq] = index;
            AddIndex(_historyByDevice, e.HostDevice, index);
            AddIndex(_historyByUser, e.User, index);
            if (e.IsOpen && devices.TryGet(e.HostDevice, out DeviceState? host))
            {
                host.Login = e;
                _openByUser[e.User] = e;
            }

            _nextLoginSeq = Math.Max(_nextLoginSeq, e.Seq + 1);
        }
    }
}
