using System.Threading.Channels;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

/// <summary>
/// The directory of DESIGN section 2: devices and their IPs and lines, extensions and their appearances (with the
/// line-1 rule), users, profiles and recording groups, logins and their full history, hot desking and extension
/// mobility. Thread-safe: changes are serialised by one lock (taken per signalling message at most, never per media
/// packet); lookups by IP, extension and device id read concurrent indexes of immutable snapshots and allocate nothing.
/// </summary>
/// <remarks>
/// A facade: it holds the lock and the one event stream, and delegates to parts with one concern each, which never
/// lock and raise events only through <see cref="PendingEvents"/>: <see cref="DeviceRegistry"/>, <see cref="LineIndex"/>,
/// <see cref="DeviceLearning"/>, <see cref="LoginBook"/>, <see cref="CallAttribution"/>, <see cref="DirectorySettings"/>,
/// <see cref="KnownServers"/>, and <see cref="DirectoryPersistence"/> for the store.
/// </remarks>
public sealed class BindingDirectory : IDisposable
{
    private readonly Lock _gate = new();
    private readonly DirectoryOptions _options;

    private readonly DirectorySettings _settings;
    private readonly KnownServers _servers = new();
    private readonly LineIndex _lines;
    private readonly DeviceRegistry _devices;
    private readonly LoginBook _logins;
    private readonly DeviceLearning _learning;
    private readonly CallAttribution _calls;
    private readonly DirectoryPersistence _persistence;

    private readonly PendingEvents _events = new();
    private readonly Queue<DirectoryEvent> _recent = new();
    private readonly List<Channel<DirectoryEvent>> _subscribers = [];
    private long _eventVersion = 1;

    public BindingDirectory(DirectoryOptions? options = null)
    {
        _options = options ?? new DirectoryOptions();
        _settings = new DirectorySettings(_options.LicenseSyncInterval);
        _lines = new LineIndex(_events);
        _devices = new DeviceRegistry(_lines, _events, _options.RegistrationGrace);
        _logins = new LoginBook(_devices, _lines, _settings, _events);
        _learning = new DeviceLearning(_devices, _lines, _logins, _events);
        _calls = new CallAttribution(_devices, _lines, _servers, _logins, _settings);
        _persistence = new DirectoryPersistence(WriteChanges);
    }

    /// <summary>
    /// Opens the directory: recovers what <paramref name="store"/> held at its last checkpoint (devices, lines, IPs,
    /// logins and their history, conflicts, learned servers), then applies <paramref name="config"/>. The directory
    /// owns the store from here on. Throws <see cref="ConfigurationException"/> for an invalid configuration.
    /// </summary>
    public static BindingDirectory Open(DirectoryStore? store, DirectoryConfig config, DateTimeOffset now, DirectoryOptions? options = null)
    {
        var directory = new BindingDirectory(options);
        try
        {
            if (store is not null)
            {
                try
                {
                    directory.Load(store);
                }
                catch (System.Text.Json.JsonException e)
                {
                    // FASTER's framing was intact (DirectoryStoreLogCheck) but a record's bytes are not ours.
                    throw new DirectoryStoreException(
                        $"Cannot recover the directory store in '{store.Path}': a record is not valid directory JSON ({e.Message}). " +
                        "Nothing was deleted or reset. Restore the folder from a backup, or to start with an empty directory " +
                        "(devices, lines and logins are learned again from the traffic) stop the appliance and move the folder aside.",
                        e);
                }
            }

            DirectoryOutcome outcome = directory.ApplyConfig(config, now);
            if (!outcome.Ok)
            {
                throw new ConfigurationException("configuration", outcome.Problem!.Split(Environment.NewLine));
            }

            return directory;
        }
        catch
        {
            directory._persistence.Detach(); // the caller still owns a store it passed to a failed Open
            directory.Dispose();
            throw;
        }
    }

    public DirectoryConfig Config => _settings.Config;

    public int DeviceCount => _devices.Count;

    public int ExtensionCount => _lines.ExtensionCount;

    public int OpenConflictCount
    {
        get
        {
            lock (_gate)
            {
                return _lines.OpenConflictCount;
            }
        }
    }

    public int LoggedInCount
    {
        get
        {
            lock (_gate)
            {
                return _logins.LoggedInCount;
            }
        }
    }

    /// <summary>Users refused for want of licence seats (created when a licence allows them).</summary>
    public IReadOnlyList<string> UsersWaitingForSeats
    {
        get
        {
            lock (_gate)
            {
                return _settings.UsersWaitingForSeats();
            }
        }
    }

    // ---- Reads ------------------------------------------------------------------------------------------------

    /// <summary>The device with this id (or a learned identity that resolves to it). Allocates nothing.</summary>
    public bool TryGetDevice(ReadOnlySpan<char> id, out DeviceBinding binding) => _devices.TryGetBinding(id, out binding);

    /// <summary>The device last seen at (or configured with) this address. Allocates nothing.</summary>
    public bool TryFindByIp(IpAddress16 ip, out DeviceBinding binding) => _devices.TryFindByIp(ip, out binding);

    /// <summary>The device holding <paramref name="extension"/> as line 1, else the first device it appears on. Allocates nothing.</summary>
    public bool TryFindByExtension(ReadOnlySpan<char> extension, out DeviceBinding binding) => _devices.TryFindByExtension(extension, out binding);

    /// <summary>A snapshot of every device, ordered by id.</summary>
    public IReadOnlyList<DeviceBinding> Devices()
    {
        lock (_gate)
        {
            return _devices.Snapshots();
        }
    }

    public DeviceBinding? GetDevice(string id)
    {
        lock (_gate)
        {
            return _devices.Snapshot(id);
        }
    }

    public IReadOnlyList<LineConflict> Conflicts(bool openOnly = false)
    {
        lock (_gate)
        {
            return _lines.Conflicts(openOnly);
        }
    }

    /// <summary>
    /// Whether SIP from this endpoint comes from a server: one seen receiving REGISTERs or forwarding requests
    /// (registrars, proxies; by address and port, so a phone on the same host is still a phone), or a configured IP.
    /// </summary>
    public bool IsServer(IpEndpoint16 endpoint) => _servers.IsServer(endpoint);

    /// <summary>Every infrastructure address known (configured and learned), with what showed it to be one.</summary>
    public IReadOnlyList<ServerBinding> Servers() => _servers.Snapshot();

    // ---- Learning from traffic --------------------------------------------------------------------------------

    /// <summary>
    /// A message from device <paramref name="id"/> (a Skinny device name, a SIP instance or contact) seen from
    /// <paramref name="ip"/>: creates the device when new, re-binds it when its address changed (DHCP: no reboot
    /// needed), and returns the id it is known by (a configured device's id when the identity resolves to one).
    /// </summary>
    public string ObserveDevice(string id, DeviceProtocol protocol, IpAddress16 ip, DateTimeOffset now, string? contact = null, string? userAgent = null)
    {
        using (new Change(this))
        {
            return _learning.ObserveDevice(id, protocol, ip, now, contact, userAgent);
        }
    }

    /// <summary>
    /// <paramref name="identity"/> (a SIP contact at a new address) names device <paramref name="deviceId"/> from now on:
    /// a phone that moved (DHCP) and whose contact, not an instance id, identified it. An identity that is already
    /// another device's stays that device's.
    /// </summary>
    public void AddIdentity(string deviceId, string identity)
    {
        using (new Change(this))
        {
            _learning.AddIdentity(deviceId, identity);
        }
    }

    /// <summary>
    /// The common case of a registration refresh: the device is known at this address and already has the line from a
    /// registration. Updates expiry and last-seen and returns true without allocating; false means "not that simple,
    /// call <see cref="ObserveDevice"/> and <see cref="RegisterLine"/>".
    /// </summary>
    public bool TryRefreshLine(ReadOnlySpan<char> deviceId, ReadOnlySpan<char> extension, IpAddress16 ip, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        using (new Change(this))
        {
            return _learning.TryRefreshLine(deviceId, extension, ip, expiresAt, now);
        }
    }

    /// <summary>Adds or refreshes a line learned from traffic; a new line goes after the device's other lines.</summary>
    public void RegisterLine(string deviceId, string extension, string? displayName, LineSource source, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _learning.RegisterLine(deviceId, extension, displayName, source, expiresAt, now);
        }
    }

    /// <summary>The device gave up one line (SIP unregister: Expires 0 on its contact).</summary>
    public void UnregisterLine(string deviceId, string extension, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _learning.UnregisterLine(deviceId, extension, now);
        }
    }

    /// <summary>Replaces every learned line at once (a Skinny LineStatRes round, a re-registration with another set).</summary>
    public void ReplaceLines(string deviceId, IReadOnlyList<(int Number, string Extension, string? DisplayName)> lines, LineSource source, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _learning.ReplaceLines(deviceId, lines, source, now);
        }
    }

    /// <summary>The device unregistered entirely (Skinny Unregister, SIP Contact: * with Expires 0).</summary>
    public void UnregisterDevice(string deviceId, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _learning.UnregisterDevice(deviceId, now);
        }
    }

    /// <summary>A message from a device known at this address: last-seen only. False (nothing done) when unknown or moved. Allocates nothing.</summary>
    public bool TryTouchDevice(ReadOnlySpan<char> deviceId, IpAddress16 ip, DateTimeOffset now)
    {
        using (new Change(this))
        {
            return _learning.TryTouchDevice(deviceId, ip, now);
        }
    }

    /// <summary>
    /// Marks an endpoint as a server (a registrar or proxy, a Skinny call manager): messages it sends are never learned
    /// as a phone's. A device learned there from signalling alone (never registered, never configured) was the server
    /// misread, and goes.
    /// </summary>
    public void NoteServer(IpEndpoint16 endpoint, ServerEvidence evidence)
    {
        if (!_servers.TryLearn(endpoint, evidence))
        {
            return;
        }

        using (new Change(this))
        {
            _servers.MarkUnsaved(endpoint);
            _learning.ForgetDeviceAtServer(endpoint);
        }
    }

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

    /// <summary>Whether calls with no local party are recorded (configurable; default yes).</summary>
    public bool RecordByDefault => _settings.Config.RecordByDefault;

    public LogoutPolicy LogoutDuringCall => _settings.Config.LogoutDuringCall;

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

    // ---- A directory shared by several appliances (applied by the host's cluster component) -------------------

    /// <summary>
    /// A login another appliance made at <paramref name="at"/>: applied here (no PIN: checked where it was made) unless a
    /// newer login or logout at the device or of the user is known here (then nothing changes, and false). Raises the usual
    /// events, so calls and event streams see it.
    /// </summary>
    public bool ApplySharedLogin(string user, string device, string? profile, LoginKind kind, IReadOnlyList<string> guest, DateTimeOffset at)
    {
        using (new Change(this))
        {
            return _logins.ApplyShared(user, device, profile, kind, guest, at);
        }
    }

    /// <summary>A logout another appliance saw at <paramref name="at"/>: ends the user's login here if it began before.</summary>
    public bool ApplySharedLogout(string user, DateTimeOffset at, string reason)
    {
        using (new Change(this))
        {
            return _logins.EndShared(user, at, reason);
        }
    }

    /// <summary>
    /// Another appliance's device (<paramref name="holder"/>) holds <paramref name="extension"/> as line 1 across the shared
    /// directory, and the local <paramref name="claimant"/> claims it: reported like a local conflict (event, API, metric).
    /// </summary>
    public void ReportSharedConflict(string extension, string holder, string claimant, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _lines.RecordConflict(extension, holder, claimant, now);
        }
    }

    /// <summary>
    /// The site this appliance records when it shares its directory with others: idle logout ends only logins at devices
    /// configured at this site (or at none), the calls it sees. Null (the default): every device.
    /// </summary>
    public string? LocalSite
    {
        get
        {
            lock (_gate)
            {
                return _logins.LocalSite;
            }
        }

        set
        {
            lock (_gate)
            {
                _logins.LocalSite = value;
            }
        }
    }

    /// <summary>Closes the open claims of the local <paramref name="claimant"/> on <paramref name="extension"/>.</summary>
    public void ResolveSharedConflict(string extension, string claimant, DateTimeOffset now, string resolution)
    {
        using (new Change(this))
        {
            _lines.ResolveClaims(claimant, extension, now, resolution);
        }
    }

    // ---- Calls ------------------------------------------------------------------------------------------------

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

    // ---- Locate and history -----------------------------------------------------------------------------------

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

    /// <summary>The login history, oldest first, optionally for one device or user and a time range (logins overlapping it).</summary>
    public IReadOnlyList<LoginEntry> History(string? device = null, string? user = null, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        lock (_gate)
        {
            return _logins.History(device, user, from, to);
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

    // ---- Events -----------------------------------------------------------------------------------------------

    /// <summary>A stream of every future event; a slow reader loses the oldest (counted nowhere else: keep up).</summary>
    public ChannelReader<DirectoryEvent> Subscribe(int capacity = 4096)
    {
        Channel<DirectoryEvent> channel = Channel.CreateBounded<DirectoryEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = true,
        });
        lock (_gate)
        {
            _subscribers.Add(channel);
        }

        return channel.Reader;
    }

    public void Unsubscribe(ChannelReader<DirectoryEvent> reader)
    {
        lock (_gate)
        {
            int i = _subscribers.FindIndex(c => c.Reader == reader);
            if (i >= 0)
            {
                _subscribers[i].Writer.TryComplete();
                _subscribers.RemoveAt(i);
            }
        }
    }

    /// <summary>The most recent events, oldest first.</summary>
    public IReadOnlyList<DirectoryEvent> RecentEvents()
    {
        lock (_gate)
        {
            return [.. _recent];
        }
    }

    /// <summary>Changes with every event: a reader polls this (one volatile read) instead of its channel per packet.</summary>
    public long EventVersion => Volatile.Read(ref _eventVersion);

    /// <summary>
    /// Publishes the events a change raised, in order: into the recent list and to every subscriber, and only then moves
    /// <see cref="EventVersion"/> past each, so a reader that sees the new version finds the event in its channel.
    /// </summary>
    private void PublishPending()
    {
        while (_events.TryTake(out DirectoryEvent? e))
        {
            _recent.Enqueue(e);
            while (_recent.Count > _options.RecentEventCapacity)
            {
                _recent.Dequeue();
            }

            foreach (Channel<DirectoryEvent> channel in _subscribers)
            {
                channel.Writer.TryWrite(e);
            }

            Volatile.Write(ref _eventVersion, e.Seq + 1);
        }
    }

    /// <summary>One change to the directory: holds the lock, and publishes the events the change raised before letting go.</summary>
    private readonly ref struct Change
    {
        private readonly BindingDirectory _directory;

        public Change(BindingDirectory directory)
        {
            _directory = directory;
            directory._gate.Enter();
        }

        public void Dispose()
        {
            try
            {
                _directory.PublishPending();
            }
            finally
            {
                _directory._gate.Exit();
            }
        }
    }

    // ---- Store ------------------------------------------------------------------------------------------------

    /// <summary>When the state on disk last matched memory: the last persist that worked, else the open (null: no store).</summary>
    public DateTimeOffset? LastPersistedAt => _persistence.LastPersistedAt;

    /// <summary>Failed persists (disk full, ...); the dirty state is kept and retried on the next one.</summary>
    public long PersistFailures => _persistence.PersistFailures;

    public string? LastPersistError => _persistence.LastPersistError;

    /// <summary>True from a failed persist until one succeeds (the changes are kept in memory meanwhile).</summary>
    public bool PersistFailing => _persistence.Failing;

    /// <summary>
    /// Raised once when persists start failing (the state folder unwritable, the disk full, ...) and once when one works
    /// again: what the host logs. Raised on the persisting thread; handlers must be quick and must not throw.
    /// </summary>
    public event Action<DirectoryPersistNotice>? PersistNotice
    {
        add => _persistence.Notice += value;
        remove => _persistence.Notice -= value;
    }

    /// <summary>Writes every changed record to the store and checkpoints it; returns whether anything was written.</summary>
    public bool Persist() => _persistence.Persist();

    /// <summary>Persists every <paramref name="interval"/> on a timer thread (the kill -9 window).</summary>
    public void StartAutoPersist(TimeSpan interval) => _persistence.StartAutoPersist(interval);

    /// <summary>Stops the timer, persists what changed, and closes the store: the clean-shutdown path.</summary>
    public void Close()
    {
        _persistence.Dispose();
        lock (_gate)
        {
            TrackChanges(false);
        }
    }

    /// <summary>Rebuilds memory from the store, silently (no events: nothing changed, we only remember).</summary>
    private void Load(DirectoryStore store)
    {
        lock (_gate)
        {
            _persistence.Attach(store);
            TrackChanges(true);
            _devices.Load(store);
            _logins.Load(store);
            _lines.LoadConflicts(store);
            _servers.Load(store);
            _lines.Rebuild(_devices.All);
            foreach (DeviceState d in _devices.All)
            {
                _devices.Publish(d);
            }
        }
    }

    /// <summary>Writes what changed since the last persist (the persist checkpoints after, outside the lock).</summary>
    private bool WriteChanges(DirectoryStore store)
    {
        lock (_gate)
        {
            bool wrote = _devices.WriteChanges(store);
            wrote |= _logins.WriteChanges(store);
            wrote |= _lines.WriteChanges(store);
            wrote |= _servers.WriteChanges(store);
            _devices.ChangesWritten();
            _logins.ChangesWritten();
            _lines.ChangesWritten();
            _servers.ChangesWritten();
            return wrote;
        }
    }

    private void TrackChanges(bool on)
    {
        _devices.TrackChanges = on;
        _logins.TrackChanges = on;
        _servers.TrackChanges = on;
    }

    // ---- Lifetime ---------------------------------------------------------------------------------------------

    /// <summary>Persists and closes the store (see <see cref="Close"/>), and ends every event stream.</summary>
    public void Dispose()
    {
        Close();
        lock (_gate)
        {
            foreach (Channel<DirectoryEvent> channel in _subscribers)
            {
                channel.Writer.TryComplete();
            }

            _subscribers.Clear();
        }
    }
}
