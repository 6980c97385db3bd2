namespace Capture.Bindings;

/// <summary>
/// When the directory's state goes to its store: on demand, on a timer (the kill -9 window) and at close; each time
/// the changes are written (by the callback the directory gives, which writes them under its lock), then checkpointed,
/// and the log compacted every so often. A failed persist is counted and the changes are kept for the next one.
/// </summary>
internal sealed class DirectoryPersistence(Func<DirectoryStore, bool> writeChanges) : IDisposable
{
    /// <summary>Checkpoints between compactions of the store's log.</summary>
    private const int CompactEvery = 64;

    private readonly Lock _persistGate = new(); // one persist at a time (timer, caller, close); not the directory's lock
    private DirectoryStore? _store;
    private Timer? _timer;
    private long _persists;

    /// <summary>When the state was last written and checkpointed (null: never in this process).</summary>
    public DateTimeOffset? LastPersistedAt { get; private set; }

    /// <summary>Failed persists (disk full, ...); the dirty state is kept and retried on the next one.</summary>
    public long PersistFailures { get; private set; }

    public string? LastPersistError { get; private set; }

    /// <summary>The store the directory was opened from; the directory owns it from here on.</summary>
    public void Attach(DirectoryStore store) => _store = store;

    /// <summary>Forgets the store without closing it (a failed open: the caller still owns it).</summary>
    public void Detach() => _store = null;

    /// <summary>Writes every changed record to the store and checkpoints it; returns whether anything was written.</summary>
    public bool Persist()
    {
        if (_store is not { } store)
        {
            return false;
        }

        lock (_persistGate)
        {
            try
            {
                bool wrote = writeChanges(store);
                if (wrote)
                {
                    store.Checkpoint();
                    if (++_persists % CompactEvery == 0)
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
        _timer = new Timer(_ => Persist(), null, interval, interval);
    }

    private void StopAutoPersist()
    {
        Timer? timer = Interlocked.Exchange(ref _timer, null);
        if (timer is not null)
        {
            using var done = new ManualResetEvent(false);
            if (timer.Dispose(done))
            {
                done.WaitOne(TimeSpan.FromSeconds(30));
            }
        }
    }

    /// <summary>Stops the timer, persists what changed, and closes the store: the clean-shutdown path (repeatable).</summary>
    public void Dispose()
    {
        StopAutoPersist();
        Persist();
        DirectoryStore? store = Interlocked.Exchange(ref _store, null);
        store?.Dispose();
    }
}
