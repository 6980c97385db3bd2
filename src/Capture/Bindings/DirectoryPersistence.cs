namespace Capture.Bindings;

/// <summary>A persist failure episode began (<see cref="Failing"/>) or ended: what the host logs, once each way.</summary>
/// <param name="Failing">True: the first failed persist after a good one (or after start); false: the first good one after failures.</param>
/// <param name="Error">The failure (the first of the episode), or the last one of the episode that just ended.</param>
/// <param name="Failures">Failed persists in this episode.</param>
/// <param name="Since">When the episode began.</param>
/// <param name="Broken">The store cannot checkpoint again in this process (a restart recovers the last checkpoint).</param>
public sealed record DirectoryPersistNotice(bool Failing, string Error, long Failures, DateTimeOffset Since, bool Broken);

/// <summary>
/// When the directory's state goes to its store: on demand, on a timer (the kill -9 window) and at close; each time
/// the changes are written (by the callback the directory gives, which writes them under its lock), then checkpointed,
/// and the log compacted every so often. A failed persist is counted and the changes are kept for the next one: the
/// store keeps them pending (its writability probe fails before FASTER writes anything), so the next interval retries.
/// </summary>
internal sealed class DirectoryPersistence(Func<DirectoryStore, bool> writeChanges) : IDisposable
{
    /// <summary>Checkpoints between compactions of the store's log.</summary>
    private const int CompactEvery = 64;

    private readonly Lock _persistGate = new(); // one persist at a time (timer, caller, close); not the directory's lock
    private DirectoryStore? _store;
    private AutoPersist? _auto;
    private TimeSpan _interval;
    private long _persists;
    private long _episodeFailures;
    private DateTimeOffset _episodeSince;
    private string? _episodeError;
    private bool _episodeBroken;

    /// <summary>
    /// When the state on disk last matched memory: the last persist that worked, or the open (memory was just loaded
    /// from the store), so the checkpoint age grows from the start when no persist ever works. Null without a store.
    /// </summary>
    public DateTimeOffset? LastPersistedAt { get; private set; }

    /// <summary>Failed persists (folder not writable, disk full, ...); the dirty state is kept and retried on the next one.</summary>
    public long PersistFailures { get; private set; }

    public string? LastPersistError { get; private set; }

    /// <summary>True from a failed persist until one succeeds.</summary>
    public bool Failing => _episodeError is not null;

    /// <summary>Raised (on the persisting thread, outside every lock but the persist's own) when an episode of failures begins or ends.</summary>
    public event Action<DirectoryPersistNotice>? Notice;

    /// <summary>The store the directory was opened from; the directory owns it from here on.</summary>
    public void Attach(DirectoryStore store)
    {
        _store = store;
        LastPersistedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>Forgets the store without closing it (a failed open: the caller still owns it).</summary>
    public void Detach() => _store = null;

    /// <summary>Writes every changed record to the store and checkpoints it; returns whether anything was written.</summary>
    public bool Persist()
    {
        lock (_persistGate)
        {
            return PersistLocked();
        }
    }

    private bool PersistLocked()
    {
        if (_store is not { } store)
        {
            return false;
        }

        DirectoryPersistNotice? notice = null;
        bool wrote;
        try
        {
            // Changes go into the store's memory; a checkpoint that fails leaves them there, pending, and the next
            // one (every interval, changed or not) writes them.
            wrote = writeChanges(store);
            wrote |= store.Checkpoint();
            if (wrote && ++_persists % CompactEvery == 0)
            {
                store.Compact();
            }

            LastPersistedAt = DateTimeOffset.UtcNow;
            if (_episodeError is not null)
            {
                notice = new DirectoryPersistNotice(false, _episodeError, _episodeFailures, _episodeSince, Broken: false);
                _episodeError = null;
                _episodeFailures = 0;
                _episodeBroken = false;
            }
        }
        catch (Exception e) when (e is IOException or DirectoryStoreException or UnauthorizedAccessException)
        {
            PersistFailures++;
            LastPersistError = e.Message;
            _episodeFailures++;
            if (_episodeError is null)
            {
                _episodeError = e.Message;
                _episodeSince = DateTimeOffset.UtcNow;
                _episodeBroken = store.Broken;
                notice = new DirectoryPersistNotice(true, e.Message, 1, _episodeSince, _episodeBroken);
            }
            else if (store.Broken && !_episodeBroken)
            {
                // Worse than before (the store gave up): said once more.
                _episodeBroken = true;
                notice = new DirectoryPersistNotice(true, e.Message, _episodeFailures, _episodeSince, Broken: true);
            }

            wrote = false;
        }

        if (notice is not null)
        {
            Notice?.Invoke(notice);
        }

        return wrote;
    }

    /// <summary>Persists every <paramref name="interval"/> (the kill -9 window); one persist at a time, never queued behind another.</summary>
    public void StartAutoPersist(TimeSpan interval)
    {
        StopAutoPersist();
        _interval = interval;
        var stop = new ManualResetEventSlim(false);
        var thread = new Thread(() => AutoPersistLoop(stop)) { Name = "directory persist", IsBackground = true };
        _auto = new AutoPersist(thread, stop);
        thread.Start();
    }

    // A thread of its own, not a timer's pool thread: a checkpoint can block for seconds (a slow or failing disk, up to
    // the store's checkpoint timeout), and a pool thread held that long starves the API's requests and the timers.
    private void AutoPersistLoop(ManualResetEventSlim stop)
    {
        while (!stop.Wait(_interval))
        {
            if (_persistGate.TryEnter())
            {
                try
                {
                    PersistLocked();
                }
                finally
                {
                    _persistGate.Exit();
                }
            }
        }
    }

    private void StopAutoPersist()
    {
        if (Interlocked.Exchange(ref _auto, null) is not (Thread thread, ManualResetEventSlim stop))
        {
            return;
        }

        stop.Set();

        // A running persist ends within the store's checkpoint timeout; the event is kept if the thread outlives the wait.
        if (thread.Join(TimeSpan.FromSeconds(30)))
        {
            stop.Dispose();
        }
    }

    /// <summary>Stops the automatic persists, persists what changed, and closes the store: the clean-shutdown path (repeatable).</summary>
    public void Dispose()
    {
        StopAutoPersist();
        Persist();
        DirectoryStore? store = Interlocked.Exchange(ref _store, null);
        store?.Dispose();
    }

    /// <summary>The automatic persists' thread and the event that stops it.</summary>
    private sealed record AutoPersist(Thread Thread, ManualResetEventSlim Stop);
}
