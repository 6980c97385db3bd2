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

            _learning.ApplyConfiguredDevices(config.Devices, now);
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
            _calls.NoteCallStarted(device, now);
        }
    }

    public void NoteCallEnded(string device, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _calls.NoteCallEnded(device, now);
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
            _learning.ExpireRegistrations(now);
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
            return _calls.Attribute(extension, ip, at);
        }
    }

    /// <summary>Whether calls with no local party are recorded (configurable; default yes).</summary>
    public bool RecordByDefault => _settings.Config.RecordByDefault;

    public LogoutPolicy LogoutDuringCall => _settings.Config.LogoutDuringCall;
}
