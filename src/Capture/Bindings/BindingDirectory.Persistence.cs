using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

public sealed partial class BindingDirectory
{

    private DirectoryStore? _store;
    private readonly Lock _persistGate = new();
    private Timer? _persistTimer;
    private long _persists;

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
                directory._store = store;
                directory._servers.TrackChanges = true;
                directory._devices.TrackChanges = true;
                directory._logins.TrackChanges = true;
                directory.Load();
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
            directory._store = null; // the caller still owns a store it passed to a failed Open
            directory.Dispose();
            throw;
        }
    }

    /// <summary>When the state was last written and checkpointed (null: never in this process).</summary>
    public DateTimeOffset? LastPersistedAt { get; private set; }

    /// <summary>Failed persists (disk full, ...); the dirty state is kept and retried on the next one.</summary>
    public long PersistFailures { get; private set; }

    public string? LastPersistError { get; private set; }

    /// <summary>Writes every changed record to the store and checkpoints it; returns whether anything was written.</summary>
    public bool Persist()
    {
        if (_store is not { } store)
        {
            return false;
        }

        lock (_persistGate)
        {
            bool wrote;
            try
            {
                lock (_gate)
                {
                    wrote = WriteDirty(store);
                }

                if (wrote)
                {
                    store.Checkpoint();
                    if (++_persists % 64 == 0)
                    {
                        store.Compact();
                    }
                }

                LastPersistedAt = DateTimeOffset.UtcNow;
                return wrote;
            }
            catch (Exception e) when (e is IOException or DirectoryStoreException or UnauthorizedAccessException)
            {
                PersistFailures++;
                LastPersistError = e.Message;
                return false;
            }
        }
    }

    /// <summary>Persists every <paramref name="interval"/> on a timer thread (the kill -9 window).</summary>
    public void StartAutoPersist(TimeSpan interval)
    {
        StopAutoPersist();
        _persistTimer = new Timer(_ => Persist(), null, interval, interval);
    }

    private void StopAutoPersist()
    {
        Timer? timer = Interlocked.Exchange(ref _persistTimer, null);
        if (timer is not null)
        {
            using var done = new ManualResetEvent(false);
            if (timer.Dispose(done))
            {
                done.WaitOne(TimeSpan.FromSeconds(30));
            }
        }
    }

    /// <summary>Stops the timer, persists what changed, and closes the store: the clean-shutdown path.</summary>
    public void Close()
    {
        StopAutoPersist();
        Persist();
        DirectoryStore? store = Interlocked.Exchange(ref _store, null);
        store?.Dispose();
        lock (_gate)
        {
            _servers.TrackChanges = false;
            _devices.TrackChanges = false;
            _logins.TrackChanges = false;
        }
    }

    private bool WriteDirty(DirectoryStore store)
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

    /// <summary>Rebuilds memory from the store, silently (no events: nothing changed, we only remember).</summary>
    private void Load()
    {
        DirectoryStore store = _store!;
        lock (_gate)
        {
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
}

/// <summary>JSON of the directory: what the store keeps, and what replay --json shows.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, WriteIndented = false)]
[JsonSerializable(typeof(StoredDevice))]
[JsonSerializable(typeof(LoginEntry))]
[JsonSerializable(typeof(LineConflict))]
internal sealed partial class DirectoryJsonContext : JsonSerializerContext;
