using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

public sealed partial class BindingDirectory
{
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

            _logins.EndUnconfigured(now);

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
            return _logins.Login(user, device, pin, now);
        }
    }

    /// <summary>Logs out whoever is logged in at <paramref name="device"/>.</summary>
    public DirectoryOutcome Logout(string device, DateTimeOffset now)
    {
        using (new Change(this))
        {
            return _logins.Logout(device, now);
        }
    }

    /// <summary>Remote logout: logs <paramref name="user"/> out wherever they are.</summary>
    public DirectoryOutcome LogoutUser(string user, DateTimeOffset now)
    {
        using (new Change(this))
        {
            return _logins.LogoutUser(user, now);
        }
    }

    /// <summary>Logs out every explicit (hot-desk) login of users in <paramref name="scope"/>; returns how many.</summary>
    public int LogoutAll(UserScope scope, DateTimeOffset now, string reason = LogoutReasons.Scheduled)
    {
        using (new Change(this))
        {
            return _logins.LogoutAll(scope, now, reason);
        }
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
            _logins.RunSchedules(now);
            _logins.LogoutIdle(now);
            _settings.SyncLicense(now);
        }
    }

    // ---- Locate, history, attribution -------------------------------------------------------------------------

    /// <summary>Where is this extension: on which device (line-1 holder first), who is logged in there, since when.</summary>
    public Location LocateExtension(string extension)
    {
        lock (_gate)
        {
            return _logins.LocateExtension(extension);
        }
    }

    /// <summary>Where is this user logged in, if anywhere.</summary>
    public Location LocateUser(string user)
    {
        lock (_gate)
        {
            return _logins.LocateUser(user);
        }
    }

    /// <summary>Who was logged in at <paramref name="device"/> at <paramref name="at"/> ("who sat at this phone at 10:32 yesterday?").</summary>
    public LoginEntry? WhoWasAt(string device, DateTimeOffset at)
    {
        lock (_gate)
        {
            return _logins.WhoWasAt(device, at);
        }
    }

    /// <summary>The login history, oldest first, optionally for one device or user and a time range (logins overlapping it).</summary>
    public IReadOnlyList<LoginEntry> History(string? device = null, string? user = null, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        lock (_gate)
        {
            return _logins.History(device, user, from, to);
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
                if (_logins.FirstOpenWithGuest(extension) is { } open)
                {
                    d = Resolve(open.HostDevice);
                }
            }

            return d is null ? null : PartyOf(d, at);
        }
    }

    private PartyBinding PartyOf(DeviceState d, DateTimeOffset at)
    {
        LoginEntry? login = _logins.WhoWasAtDevice(d.Id, at) ?? (d.Login?.Since <= at ? d.Login : null);
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
