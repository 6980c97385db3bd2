using System.Security.Cryptography;
using System.Text;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

public sealed partial class BindingDirectory
{
    private DateTimeOffset? _lastScheduleCheck;

    // ---- Configuration ----------------------------------------------------------------------------------------

    /// <summary>
    /// Applies a configuration (devices, users, profiles, groups, schedules, policies). A configuration that breaks a
    /// rule of DESIGN section 2 is refused as a whole with every problem listed, and the directory is left unchanged.
    /// </summary>
    public DirectoryOutcome ApplyConfig(DirectoryConfig config, DateTimeOffset now)
    {
        IReadOnlyList<string> problems = config.Validate();
        if (problems.Count > 0)
        {
            return DirectoryOutcome.Invalid(string.Join(Environment.NewLine, problems));
        }

        using (new Change(this))
        {
            _settings.Apply(config, now);

            var configured = config.Devices.ToDictionary(d => d.Id, StringComparer.Ordinal);
            foreach (DeviceState d in _devices.All)
            {
                if (d.Config is not null && !configured.ContainsKey(d.Id))
                {
                    d.Config = null;
                    Recompute(d, now);
                    if (d.Lines.Count == 0 && d.LastSeen is null && d.Login is null)
                    {
                        _devices.Remove(d);
                    }
                }
            }

            foreach (DeviceConfig cfg in config.Devices)
            {
                Recompute(_devices.Configure(cfg), now);
            }

            _devices.IndexConfiguredMacs(config.Devices);

            _servers.AddConfigured(config.Servers);

            // Logins whose user or profile the configuration no longer has end now.
            foreach (DeviceState d in _devices.All)
            {
                if (d.Login is { } login && (!_settings.HasUser(login.User) || (login.Profile is not null && !_settings.HasProfile(login.Profile))))
                {
                    EndLogin(d, LogoutReasons.Reconfigured, now);
                }
            }

            return DirectoryOutcome.Success;
        }
    }

    public UserConfig? GetUser(string id)
    {
        lock (_gate)
        {
            return _settings.User(id);
        }
    }

    public ProfileConfig? GetProfile(string id)
    {
        lock (_gate)
        {
            return _settings.Profile(id);
        }
    }

    public LicenseMonitor? License => _settings.License;

    // ---- Explicit hot desking ---------------------------------------------------------------------------------

    /// <summary>Logs <paramref name="user"/> in at <paramref name="device"/> (replacing whoever was there, and leaving wherever the user was).</summary>
    public DirectoryOutcome Login(string user, string device, string? pin, DateTimeOffset now)
    {
        using (new Change(this))
        {
            if (_settings.User(user) is not { } u)
            {
                return DirectoryOutcome.NotFound($"No user '{user}'.");
            }

            DeviceState? d = Resolve(device);
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

            if (_openByUser.TryGetValue(user, out LoginEntry? elsewhere) && Resolve(elsewhere.HostDevice) is { } other)
            {
                EndLogin(other, LogoutReasons.Moved, now);
            }

            StartLogin(d, user, null, LoginKind.Explicit, d.PublishedSet.Length > 0 ? [.. d.EffectiveLines().Select(l => l.Extension)] : [], now);
            MarkDirty(d);
            return DirectoryOutcome.Success;
        }
    }

    private static bool PinMatches(string expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));

    /// <summary>Logs out whoever is logged in at <paramref name="device"/>.</summary>
    public DirectoryOutcome Logout(string device, DateTimeOffset now)
    {
        using (new Change(this))
        {
            DeviceState? d = Resolve(device);
            if (d is null)
            {
                return DirectoryOutcome.NotFound($"No device '{device}'.");
            }

            if (d.Login is null)
            {
                return DirectoryOutcome.NotFound($"Nobody is logged in at device '{device}'.");
            }

            EndLogin(d, LogoutReasons.Logout, now);
            MarkDirty(d);
            return DirectoryOutcome.Success;
        }
    }

    /// <summary>Remote logout: logs <paramref name="user"/> out wherever they are.</summary>
    public DirectoryOutcome LogoutUser(string user, DateTimeOffset now)
    {
        using (new Change(this))
        {
            if (!_openByUser.TryGetValue(user, out LoginEntry? open) || Resolve(open.HostDevice) is not { } d)
            {
                return _settings.HasUser(user)
                    ? DirectoryOutcome.NotFound($"User '{user}' is not logged in.")
                    : DirectoryOutcome.NotFound($"No user '{user}'.");
            }

            EndLogin(d, LogoutReasons.RemoteLogout, now);
            MarkDirty(d);
            return DirectoryOutcome.Success;
        }
    }

    /// <summary>Logs out every explicit (hot-desk) login of users in <paramref name="scope"/>; returns how many.</summary>
    public int LogoutAll(UserScope scope, DateTimeOffset now, string reason = LogoutReasons.Scheduled)
    {
        using (new Change(this))
        {
            return LogoutAllLocked(scope, now, reason);
        }
    }

    private int LogoutAllLocked(UserScope scope, DateTimeOffset now, string reason)
    {
        int count = 0;
        foreach (LoginEntry login in _openByUser.Values.ToList())
        {
            bool external = _settings.User(login.User) is { External: true };
            bool inScope = scope == UserScope.All || (scope == UserScope.External) == external;
            if (login.Kind == LoginKind.Explicit && inScope && Resolve(login.HostDevice) is { } d)
            {
                EndLogin(d, reason, now);
                MarkDirty(d);
                count++;
            }
        }

        return count;
    }

    /// <summary>A call started on the device (idle auto-logout counts from the last call).</summary>
    public void NoteCallStarted(string device, DateTimeOffset now)
    {
        using (new Change(this))
        {
            if (Resolve(device) is { } d)
            {
                d.ActiveCalls++;
                d.LastActivity = now;
            }
        }
    }

    public void NoteCallEnded(string device, DateTimeOffset now)
    {
        using (new Change(this))
        {
            if (Resolve(device) is { } d)
            {
                d.ActiveCalls = Math.Max(0, d.ActiveCalls - 1);
                d.LastActivity = now;
            }
        }
    }

    // ---- Time -------------------------------------------------------------------------------------------------

    /// <summary>
    /// Housekeeping at <paramref name="now"/> (capture time in a replay, wall clock live): registration expiry,
    /// scheduled and idle logouts, the licence sync. Cheap when nothing is due; call it about once a second.
    /// </summary>
    public void Tick(DateTimeOffset now)
    {
        using (new Change(this))
        {
            ExpireRegistrations(now);
            RunSchedules(now);
            if (_settings.Config.IdleLogout is { } idle)
            {
                foreach (LoginEntry login in _openByUser.Values.ToList())
                {
                    if (login.Kind == LoginKind.Explicit && Resolve(login.HostDevice) is { ActiveCalls: 0 } d
                        && now - Max(login.Since, d.LastActivity) >= idle)
                    {
                        EndLogin(d, LogoutReasons.Idle, now);
                        MarkDirty(d);
                    }
                }
            }

            _settings.SyncLicense(now);
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private void RunSchedules(DateTimeOffset now)
    {
        DateTimeOffset? last = _lastScheduleCheck;
        _lastScheduleCheck = now;
        if (last is not { } from || _settings.Config.LogoutSchedules.Count == 0 || now <= from)
        {
            return;
        }

        // Every occurrence in (from, now], in the schedules' time zone; a long gap fires each schedule once.
        DateTime localFrom = TimeZoneInfo.ConvertTime(from, _settings.TimeZone).DateTime;
        DateTime localNow = TimeZoneInfo.ConvertTime(now, _settings.TimeZone).DateTime;
        foreach (LogoutSchedule schedule in _settings.Config.LogoutSchedules)
        {
            for (DateOnly day = DateOnly.FromDateTime(localFrom); day <= DateOnly.FromDateTime(localNow); day = day.AddDays(1))
            {
                DateTime at = day.ToDateTime(schedule.At);
                if (at > localFrom && at <= localNow && (schedule.Days.Count == 0 || schedule.Days.Contains(day.DayOfWeek)))
                {
                    LogoutAllLocked(schedule.Users, now, LogoutReasons.Scheduled);
                    break;
                }
            }
        }
    }

    // ---- Locate, history, attribution -------------------------------------------------------------------------

    /// <summary>Where is this extension: on which device (line-1 holder first), who is logged in there, since when.</summary>
    public Location LocateExtension(string extension)
    {
        lock (_gate)
        {
            if (!_lines.TryGetEntry(extension, out LineIndex.ExtensionEntry? entry))
            {
                // A logged-in profile's extension is found through the login even when no line carries it.
                foreach (LoginEntry open in _openByUser.Values)
                {
                    if (open.Guest.Contains(extension) && Resolve(open.HostDevice) is { } host)
                    {
                        return LocationOf(host, extension);
                    }
                }

                return new Location(false, false) { Extension = extension };
            }

            string id = entry.Line1Owner ?? entry.Devices[0];
            return Resolve(id) is { } d ? LocationOf(d, extension) : new Location(false, false) { Extension = extension };
        }
    }

    /// <summary>Where is this user logged in, if anywhere.</summary>
    public Location LocateUser(string user)
    {
        lock (_gate)
        {
            if (_openByUser.TryGetValue(user, out LoginEntry? open) && Resolve(open.HostDevice) is { } d)
            {
                return LocationOf(d, null);
            }

            return new Location(_settings.HasUser(user), false) { User = user };
        }
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

    /// <summary>Who was logged in at <paramref name="device"/> at <paramref name="at"/> ("who sat at this phone at 10:32 yesterday?").</summary>
    public LoginEntry? WhoWasAt(string device, DateTimeOffset at)
    {
        lock (_gate)
        {
            string id = Resolve(device)?.Id ?? device;
            return WhoWasAtLocked(id, at);
        }
    }

    private LoginEntry? WhoWasAtLocked(string device, DateTimeOffset at)
    {
        if (!_historyByDevice.TryGetValue(device, out List<int>? indices))
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
    public IReadOnlyList<LoginEntry> History(string? device = null, string? user = null, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        lock (_gate)
        {
            IEnumerable<LoginEntry> entries = device is not null
                ? (_historyByDevice.GetValueOrDefault(Resolve(device)?.Id ?? device) ?? []).Select(i => _history[i])
                : user is not null ? (_historyByUser.GetValueOrDefault(user) ?? []).Select(i => _history[i])
                : _history;
            return [.. entries.Where(e => (user is null || e.User == user)
                && (from is null || e.Until is null || e.Until > from)
                && (to is null || e.Since < to))];
        }
    }

    /// <summary>
    /// Who a call's party is: the device carrying <paramref name="extension"/> (the one at <paramref name="ip"/> when the
    /// line is shared, else the line-1 holder), else the device at <paramref name="ip"/>; and the user logged in there at
    /// <paramref name="at"/> (from the history), else the device's hoteling agent. Null when the party is not local.
    /// </summary>
    public PartyBinding? Attribute(string? extension, IpAddress16 ip, DateTimeOffset at)
    {
        lock (_gate)
        {
            DeviceState? d = null;
            if (extension is not null && _lines.TryGetEntry(extension, out LineIndex.ExtensionEntry? entry))
            {
                foreach (string id in entry.Devices)
                {
                    if (ip != default && Resolve(id) is { } candidate && candidate.HasIp(ip))
                    {
                        d = candidate;
                        break;
                    }
                }

                d ??= Resolve(entry.Line1Owner ?? entry.Devices[0]);
            }

            if (d is null && ip != default && !_servers.IsServerAddress(ip) && _devices.TryGetAtIp(ip, out DeviceState? atIp))
            {
                d = atIp;
            }

            if (d is null && extension is not null)
            {
                // A logged-in profile's extension that no line shows (the phone's REGISTER not seen yet).
                foreach (LoginEntry open in _openByUser.Values)
                {
                    if (open.Guest.Contains(extension))
                    {
                        d = Resolve(open.HostDevice);
                        break;
                    }
                }
            }

            return d is null ? null : PartyOf(d, at);
        }
    }

    private PartyBinding PartyOf(DeviceState d, DateTimeOffset at)
    {
        LoginEntry? login = WhoWasAtLocked(d.Id, at) ?? (d.Login?.Since <= at ? d.Login : null);
        string? user = login?.User;
        bool hoteling = false;
        if (user is null && d.Config?.HotelingAgent is { } agent)
        {
            user = agent;
            hoteling = true;
        }

        ProfileConfig? profile = login?.Profile is { } pid ? _settings.Profile(pid) : null;
        UserConfig? u = user is null ? null : _settings.User(user);

        // DESIGN section 2: recorded when the device's or the logged-in profile's group records; no group: the default.
        string?[] groups = [profile?.RecordingGroup, d.Config?.RecordingGroup, u?.RecordingGroup];
        bool anyGroup = false, record = false;
        string? group = null;
        foreach (string? g in groups)
        {
            if (g is not null && _settings.TryGetGroup(g, out RecordingGroupConfig? rg))
            {
                anyGroup = true;
                group ??= g;
                record |= rg.Record;
            }
        }

        return new PartyBinding(profile?.Id ?? d.Id, d.Id)
        {
            User = user,
            Profile = profile?.Id,
            LoginSeq = login?.Seq,
            LoginKind = login?.Kind switch
            {
                LoginKind.Mobility => "mobility",
                LoginKind.CrossCluster => "cross-cluster",
                LoginKind.Explicit => "explicit",
                _ => null,
            },
            HotelingAgent = hoteling,
            RecordingGroup = group,
            Record = anyGroup ? record : _settings.Config.RecordByDefault,
        };
    }

    /// <summary>Whether calls with no local party are recorded (configurable; default yes).</summary>
    public bool RecordByDefault => _settings.Config.RecordByDefault;

    public LogoutPolicy LogoutDuringCall => _settings.Config.LogoutDuringCall;
}
