using System.Collections.Concurrent;
using System.Threading.Channels;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

/// <summary>Tuning of the directory; the defaults suit a contact centre of some thousand phones.</summary>
public sealed class DirectoryOptions
{
    /// <summary>A registration is dropped this long after its expiry (a refresh may be in flight; RFC 3261 Timer F).</summary>
    public TimeSpan RegistrationGrace { get; init; } = TimeSpan.FromSeconds(32);

    /// <summary>How many recent events are kept for <see cref="BindingDirectory.RecentEvents"/>.</summary>
    public int RecentEventCapacity { get; init; } = 10_000;

    /// <summary>How often the licence file is synchronised (DESIGN section 2: daily re-check, every sync while invalid).</summary>
    public TimeSpan LicenseSyncInterval { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The directory of DESIGN section 2: devices and their IPs and lines, extensions and their appearances (with the
/// line-1 rule), users, profiles and recording groups, logins and their full history, hot desking and extension
/// mobility. Thread-safe: changes are serialised by one lock (they happen when bindings change, not per packet);
/// lookups by IP, extension and device id read concurrent indexes of immutable snapshots and allocate nothing.
/// </summary>
public sealed partial class BindingDirectory : IDisposable
{
    private readonly Lock _gate = new();
    private readonly DirectoryOptions _options;

    private readonly DirectorySettings _settings;
    private readonly KnownServers _servers = new();
    private readonly LineIndex _lines;
    private readonly DeviceRegistry _devices;
    private readonly LoginBook _logins;
    private readonly CallAttribution _calls;
    private readonly DeviceLearning _learning;

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
        _calls = new CallAttribution(_devices, _lines, _servers, _logins, _settings);
        _learning = new DeviceLearning(_devices, _lines, _logins, _events);
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

    /// <summary>Every device carrying <paramref name="extension"/> (line-1 holder first).</summary>
    public IReadOnlyList<DeviceBinding> Appearances(string extension) => _devices.Appearances(extension);

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

    /// <summary>Whether any server (configured, or learned on some port) is at this address.</summary>
    public bool IsServer(IpAddress16 ip) => _servers.IsServerAddress(ip);

    public IReadOnlyList<string> Servers() => _servers.List();

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
