using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Recordings;
using Appliance.Service;
using Capture.Recording;
using Microsoft.Extensions.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Appliance.Endpoints;

/// <summary>
/// The recordings, found through the SQLite index under the state folder (<see cref="RecordingIndex"/>): every
/// recording written is added from the runtime's recording.written notices by a background writer (batched, one
/// transaction per batch), never on the recording's thread. At start the index is checked: missing, damaged or of an
/// older schema, it is rebuilt from the sidecars in the background (&lt;root&gt;/yyyy/MM/dd/&lt;uuid&gt;.json);
/// otherwise only the day folders and sidecars written since the last start are read (what a kill -9 or another
/// process left unindexed). Files are only ever reached through this index, by a UUID: a path is never built from a request.
/// </summary>
internal sealed partial class RecordingCatalog(ApplianceRuntime runtime, ILogger<RecordingCatalog> log) : IHostedService, IDisposable
{
    // Sidecars queued by the start-up scan before it waits for the writer: bounds the memory of a rebuild.
    private const int ScanBatch = 1024;

    // Recordings committed per transaction at most (a backlog is written in a few commits, not one per recording).
    private const int WriteBatch = 1024;

    // Folders and sidecars written this long before the last start are read again too (clock steps, coarse file times).
    private static readonly TimeSpan ReconcileMargin = TimeSpan.FromMinutes(5);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly string _root = Path.GetFullPath(runtime.Settings.Recordings);
    private readonly string _indexPath = Path.GetFullPath(Path.Combine(runtime.Settings.State, RecordingIndex.FileName));
    private readonly DateTime _startedAt = DateTime.UtcNow;
    private volatile RecordingIndex? _index;
    private Task _work = Task.CompletedTask;
    private volatile bool _indexing;
    private int _damageReported;

    /// <summary>One recording: its summary and the folder holding its files.</summary>
    public sealed record Entry(Guid Id, RecordingSummary Summary, string Folder)
    {
        public string SidecarPath => Path.Combine(Folder, Summary.Id + ".json");

        public string AudioPath => Path.Combine(Folder, Summary.Id + ".opus");

        public string HoldPath => Path.Combine(Folder, Summary.Id + HoldExtension);
    }

    /// <summary>
    /// A legal hold is a marker file beside the recording (&lt;id&gt;.hold, who and when inside): it stays with the
    /// recording's files, and a rebuild of the index reads it with the sidecar, so no index loss releases a hold.
    /// </summary>
    public const string HoldExtension = ".hold";

    // Hold, release and delete of one recording are one at a time: a hold that lands while retention deletes waits, and
    // then finds the recording gone (404) rather than held but deleted.
    private readonly Lock _holdGate = new();

    // What the writer does next: add a recording (Sidecar and its folder relative to the root), or, in order, complete
    // Done after everything queued before it is committed (with SyncedSince recorded in the same transaction if set).
    // Held: whether the hold marker is there (read by a scan); null (a new recording) leaves the row's.
    // Announced: it came from a recording.written notice (counted in _announced until the writer has handled it).
    private sealed record Pending(CallSidecar? Sidecar, string? Folder, TaskCompletionSource? Done = null, long? SyncedSince = null, bool? Held = null, bool Announced = false);

    // Recordings announced (recording.written) and not yet through the writer: what a search waits for (CaughtUpAsync).
    private int _announced;

    /// <summary>The index is being built or reconciled: recordings may be missing from results.</summary>
    public bool Indexing => _indexing;

    /// <summary>The longest a search or a lookup waits for recordings already announced (recording.written) to be indexed.</summary>
    public static readonly TimeSpan CatchUpWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Completes once every recording announced before the call (recording.written) is in the index, or after
    /// <paramref name="max"/>: a client that saw the event and then searches finds the recording (read your writes),
    /// while a search with nothing outstanding waits for nothing.
    /// </summary>
    public async Task CaughtUpAsync(TimeSpan max)
    {
        if (_index is null || Volatile.Read(ref _announced) == 0)
        {
            return;
        }

        try
        {
            await Flush().WaitAsync(max);
        }
        catch (TimeoutException)
        {
            // a busy writer (a rebuild's batches): answer with what is indexed
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Notices first, so nothing written during the scan is missed (the index ignores a second sighting).
        runtime.CallNotice += OnCallNotice;
        if (runtime.Settings.Cluster.CentralEnabled)
        {
            // The central index (README "Cluster"): created now, so searches know it; it sends once the local index is open.
            runtime.Central = new Appliance.Cluster.CentralIndex(runtime.Settings, _indexPath, log);
        }

        _indexing = true;
        _work = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        runtime.CallNotice -= OnCallNotice;
        await _stop.CancelAsync();
        _queue.Writer.TryComplete();
        await _work.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (runtime.Central is { } central)
        {
            await central.DisposeAsync();
        }

        // The pooled connections are left open: closing the last one checkpoints through the mmapped -shm, which is a
        // SIGBUS when the state folder was made immutable (chattr +i). The WAL is replayed at the next open, as after a kill.
    }

    public bool TryGet(Guid id, out Entry? entry)
    {
        entry = null;
        if (_index is not { } index)
        {
            return false;
        }

        try
        {
            if (!index.TryGet(id, out RecordingSummary? summary, out string? folder) || Inside(folder!) is not { } full)
            {
                return false;
            }

            entry = new Entry(id, summary!, full);
            return true;
        }
        catch (SqliteException ex) when (RecordingIndex.IsDamage(ex))
        {
            ReportDamage(ex);
            return false;
        }
    }

    /// <summary>A page of recordings matching every filter of <paramref name="query"/>; empty while the index cannot be opened.</summary>
    public RecordingPage Search(RecordingQuery query)
    {
        if (_index is not { } index)
        {
            return new RecordingPage([], null);
        }

        try
        {
            return index.Search(query);
        }
        catch (SqliteException ex) when (RecordingIndex.IsDamage(ex))
        {
            ReportDamage(ex);
            return new RecordingPage([], null);
        }
    }

    /// <summary>
    /// Puts the recording under legal hold (<paramref name="held"/>) or releases it: the marker file first (the truth a
    /// rebuild reads), then the index. A change is announced on the event stream (<c>recording.held</c>,
    /// <c>recording.released</c>); holding a held recording or releasing a free one is not a change. False when there
    /// is no such recording.
    /// </summary>
    public bool SetHold(Guid id, bool held, string by)
    {
        lock (_holdGate)
        {
            if (!TryGet(id, out Entry? entry) || _index is not { } index)
            {
                return false;
            }

            DateTimeOffset at = DateTimeOffset.UtcNow;
            bool changed = held != File.Exists(entry!.HoldPath);
            if (changed && held) // held again is no change: the first hold's who and when stay
            {
                WriteDurably(entry.HoldPath, JsonSerializer.Serialize(new HoldMarker(by, at), ApiJsonContext.Default.HoldMarker));
            }
            else if (changed)
            {
                File.Delete(entry.HoldPath);
            }

            index.SetHold(id, held);
            runtime.Retention.Held = index.HeldCount();
            runtime.Central?.Wake(); // its trigger queued the change for the central index: sent now, not at the next look
            if (changed)
            {
                // Under the lock: a hold and its release reach the stream in the order they were made.
                runtime.RecordingHoldChanged(entry.Summary.Id, held, at, by);
            }

            return true;
        }
    }

    /// <summary>Up to <paramref name="limit"/> recordings not held, oldest first, started before <paramref name="before"/> and after <paramref name="after"/>.</summary>
    internal List<RecordingIndex.Expiring> Oldest(DateTimeOffset? before, RecordingCursor? after, int limit) =>
        _index is { } index ? index.Oldest(before, after, limit) : [];

    /// <summary>
    /// Deletes one recording (retention): its audio and sidecar, its index row, and its day folder once empty (not today's
    /// or yesterday's, where the recorder may be about to write). Never one under legal hold: the marker file is checked
    /// again here, under the lock a hold takes. Returns the bytes freed; null when not deleted.
    /// </summary>
    internal long? Delete(RecordingIndex.Expiring item)
    {
        lock (_holdGate)
        {
            if (_index is not { } index || Inside(item.Folder) is not { } folder || File.Exists(Path.Combine(folder, item.Summary.Id + HoldExtension)))
            {
                return null;
            }

            // The files first, the row last: a file that cannot be deleted (an error thrown to the pass) leaves the row,
            // and the next pass tries again, rather than a row gone and files nothing will ever find again.
            long freed = 0;
            foreach (string extension in (string[])[".opus", ".json"])
            {
                var file = new FileInfo(Path.Combine(folder, item.Summary.Id + extension));
                if (file.Exists)
                {
                    freed += file.Length;
                    file.Delete();
                }
            }

            if (!index.Delete(item.Id))
            {
                return null; // gone meanwhile (a hold marks the file first, checked above under the same lock)
            }

            RemoveEmptyDay(folder);
            return freed;
        }
    }

    private void RemoveEmptyDay(string folder)
    {
        DateTime today = DateTime.UtcNow.Date;
        string relative = Path.GetRelativePath(_root, folder);
        if (!DateTime.TryParseExact(relative, ["yyyy/MM/dd"], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime day)
            || day >= today.AddDays(-1))
        {
            return;
        }

        try
        {
            // Day, then month, then year, each only when nothing is left in it.
            for (string? dir = folder; dir is not null && dir.Length > _root.Length; dir = Path.GetDirectoryName(dir))
            {
                if (Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    break;
                }

                Directory.Delete(dir);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // a file appeared meanwhile, or the folder is not ours to remove: it stays
        }
    }

    // Flushed to the disk before it is renamed into place: a marker is whole or absent, never half written.
    private static void WriteDurably(string path, string text)
    {
        string tmp = path + ".tmp";
        using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            file.Write(System.Text.Encoding.UTF8.GetBytes(text));
            file.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Recordings under legal hold (the index's count); 0 while it cannot be opened.</summary>
    internal long HeldCount()
    {
        try
        {
            return _index?.HeldCount() ?? 0;
        }
        catch (SqliteException ex) when (RecordingIndex.IsDamage(ex))
        {
            ReportDamage(ex);
            return 0;
        }
    }

    // The full path of a folder the index holds, when it is under the root (the index file is not trusted to say so).
    private string? Inside(string relative)
    {
        string folder = Path.GetFullPath(Path.Combine(_root, relative));
        return folder.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? folder : null;
    }

    private void OnCallNotice(CallNotice notice)
    {
        if (notice.Kind != "recording.written" || notice.Sidecar is not { } sidecar || !Guid.TryParseExact(sidecar.Id, "D", out _))
        {
            return;
        }

        // The sidecar sits where the recorder put the audio, else under the call's start day (as the recorder does).
        string relative = sidecar.File is { } file && Path.GetDirectoryName(file) is { Length: > 0 } dir
            ? dir
            : Path.Combine(Day(sidecar.StartedAt, "yyyy"), Day(sidecar.StartedAt, "MM"), Day(sidecar.StartedAt, "dd"));
        if (Inside(relative) is not null)
        {
            Interlocked.Increment(ref _announced);
            if (!_queue.Writer.TryWrite(new Pending(sidecar, relative, Announced: true))) // only fails once stopping: the next start's reconcile reads it
            {
                Interlocked.Decrement(ref _announced);
            }
        }
    }

    private static string Day(DateTimeOffset at, string format) => at.UtcDateTime.ToString(format, CultureInfo.InvariantCulture);

    private async Task RunAsync()
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_indexPath)!);
            _index = RecordingIndex.Open(_indexPath, out IndexOpening opening, out string? reason);
            long? since = opening is IndexOpening.Ready or IndexOpening.Upgraded ? _index.SyncedSince() : null;
            if (since is null)
            {
                LogRebuilding(_indexPath, opening, reason ?? (opening == IndexOpening.Created ? "new file" : "never completely built"));
            }
            else if (opening == IndexOpening.Upgraded)
            {
                LogUpgraded(_indexPath, reason!);
            }

            if (runtime.Central is { } central)
            {
                central.Start(_indexPath); // installs its queue before the writer runs: every change from now on is queued for it
            }
            else
            {
                Appliance.Cluster.CentralOutbox.Remove(_indexPath); // Cluster:Postgres unset since: no queue for nobody
            }

            Task writer = Task.Run(() => WriteAsync(_index), CancellationToken.None);
            await ScanAsync(since);
            await writer;
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            _indexing = false;
            LogIndexFailed(_indexPath, ex.Message);
        }
    }

    // The writer: everything queued, in order, a batch per transaction.
    private async Task WriteAsync(RecordingIndex index)
    {
        using RecordingIndex.Writer writer = index.CreateWriter();
        var batch = new List<Pending>(WriteBatch);
        ChannelReader<Pending> queue = _queue.Reader;
        bool failed = false; // a batch lost: the index is not complete up to this start, so it must not say so
        while (await queue.WaitToReadAsync())
        {
            while (batch.Count < WriteBatch && queue.TryRead(out Pending? item))
            {
                batch.Add(item);
            }

            try
            {
                writer.Begin();
                foreach (Pending item in batch)
                {
                    if (item.Sidecar is { } sidecar)
                    {
                        writer.Upsert(RecordingSummary.From(sidecar), item.Folder!, item.Held);
                    }
                    else if (item.SyncedSince is { } since && !failed)
                    {
                        writer.SetSyncedSince(since);
                        writer.Optimize();
                    }
                }

                writer.Commit();
                runtime.Central?.Wake();
            }
            catch (SqliteException ex)
            {
                // A full disk or a damaged file: these recordings are read again from their sidecars at the next start.
                writer.Rollback();
                failed = true;
                if (RecordingIndex.IsDamage(ex))
                {
                    ReportDamage(ex);
                }
                else
                {
                    LogWriteFailed(_indexPath, batch.Count(p => p.Sidecar is not null), ex.Message);
                }
            }

            foreach (Pending item in batch)
            {
                item.Done?.TrySetResult();
                if (item.Announced)
                {
                    Interlocked.Decrement(ref _announced);
                }
            }

            batch.Clear();
        }
    }

    private Task Flush(long? syncedSince = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite(new Pending(null, null, done, syncedSince)) ? done.Task : Task.CompletedTask;
    }

    /// <summary>
    /// Reads the sidecars into the index: all of them when <paramref name="since"/> is null (a rebuild), else those in
    /// day folders changed since then (a new file or a rename changes its folder's time: cheap to find on a year of days).
    /// </summary>
    private async Task ScanAsync(long? since)
    {
        int added = 0, unreadable = 0, recovered = 0, folders = 0;
        DateTime after = since is { } ms ? DateTime.UnixEpoch.AddMilliseconds(ms) - ReconcileMargin : DateTime.MinValue;
        try
        {
            CancellationToken ct = _stop.Token;
            int queued = 0;
            foreach (string year in Directory.Exists(_root) ? Children(_root, 4) : [])
            {
                foreach (string month in Children(year, 2))
                {
                    foreach (string day in Children(month, 2))
                    {
                        if (Directory.GetLastWriteTimeUtc(day) < after)
                        {
                            continue;
                        }

                        folders++;
                        recovered += RecoverInterrupted(year, month, day);
                        string relative = Path.Combine(Path.GetFileName(year), Path.GetFileName(month), Path.GetFileName(day));
                        foreach (string path in Directory.EnumerateFiles(day, "*.json"))
                        {
                            ct.ThrowIfCancellationRequested();
                            // A hold placed since the last start counts as a change too (the index may have missed it in a crash).
                            string hold = Path.ChangeExtension(path, HoldExtension);
                            if (!Guid.TryParseExact(Path.GetFileNameWithoutExtension(path), "D", out Guid id)
                                || (File.GetLastWriteTimeUtc(path) < after && File.GetLastWriteTimeUtc(hold) < after))
                            {
                                continue;
                            }

                            if (Read(path) is { } sidecar && Guid.TryParseExact(sidecar.Id, "D", out Guid inside) && inside == id)
                            {
                                _queue.Writer.TryWrite(new Pending(sidecar, relative, Held: File.Exists(hold)));
                                added++;
                                if (++queued == ScanBatch)
                                {
                                    await Flush().WaitAsync(ct);
                                    queued = 0;
                                }
                            }
                            else
                            {
                                unreadable++;
                            }
                        }
                    }
                }
            }

            // Everything up to this start is in the index once this commits: the next start reads only what came later.
            await Flush(new DateTimeOffset(_startedAt).ToUnixTimeMilliseconds()).WaitAsync(ct);
            runtime.Retention.Held = HeldCount();
            LogScanned(_root, since is null ? "rebuilt" : "reconciled", folders, added, unreadable);
            if (recovered > 0)
            {
                LogRecovered(_root, recovered);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogScanFailed(_root, ex.Message);
        }
        finally
        {
            _indexing = false;
        }
    }

    // A file damaged while in use: said once, and marked so that the next start sets it aside and rebuilds it.
    private void ReportDamage(SqliteException ex)
    {
        if (Interlocked.Exchange(ref _damageReported, 1) == 0)
        {
            LogDamaged(_indexPath, ex.Message);
            RecordingIndex.MarkDamaged(_indexPath);
        }
    }

    /// <summary>
    /// Audio without a sidecar is a call the appliance did not finalise (killed mid-call): its sidecar is rebuilt from
    /// the file's tags and pages (end reason <c>interrupted</c>) so it is indexed and listed like any other.
    /// </summary>
    private int RecoverInterrupted(string year, string month, string day)
    {
        int recovered = 0;
        foreach (string audio in Directory.EnumerateFiles(day, "*.opus"))
        {
            string id = Path.GetFileNameWithoutExtension(audio);
            if (!Guid.TryParseExact(id, "D", out _) || File.Exists(Path.ChangeExtension(audio, ".json"))
                || File.GetLastWriteTimeUtc(audio) >= _startedAt)
            {
                continue; // finalised, or a call this process is recording now
            }

            string relative = Path.Combine(Path.GetFileName(year), Path.GetFileName(month), Path.GetFileName(day), id + ".opus");
            if (RecordingRecovery.TryRecover(audio, relative) is { } sidecar && sidecar.Id == id)
            {
                try
                {
                    CallSidecar.Save(day, sidecar);
                    recovered++;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // One folder that cannot be written must not stop the index: the recording is tried again at the next start.
                }
            }
        }

        return recovered;
    }

    // Sub-folders named by `digits` digits (yyyy, MM, dd): anything else under the root is not the recorder's.
    private static IEnumerable<string> Children(string folder, int digits) =>
        Directory.EnumerateDirectories(folder)
            .Where(d => Path.GetFileName(d) is { } name && name.Length == digits && name.All(char.IsAsciiDigit))
            .Order(StringComparer.Ordinal);

    private static CallSidecar? Read(string path)
    {
        try
        {
            return CallSidecar.Deserialize(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public void Dispose() => _stop.Dispose();

    /// <summary>The content of a hold marker: who placed the hold and when (the audit log has it too).</summary>
    internal sealed record HoldMarker(string HeldBy, DateTimeOffset HeldAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "recordings under {Root} {How}: {Folders} day folder(s) read, {Added} recording(s) indexed, {Unreadable} unreadable sidecar(s) skipped")]
    private partial void LogScanned(string root, string how, int folders, int added, int unreadable);

    [LoggerMessage(Level = LogLevel.Warning, Message = "recordings under {Root}: {Count} call(s) not finalised before the last stop (killed?) recovered from their audio, end reason interrupted")]
    private partial void LogRecovered(string root, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "indexing the recordings under {Root} stopped: {Error}")]
    private partial void LogScanFailed(string root, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "recordings index {Path} ({Opening}: {Reason}): rebuilding it from the sidecars in the background")]
    private partial void LogRebuilding(string path, IndexOpening opening, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "recordings index {Path}: {Reason}")]
    private partial void LogUpgraded(string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "recordings index {Path} cannot be used: {Error}; searches find nothing until it can")]
    private partial void LogIndexFailed(string path, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "recordings index {Path}: {Count} recording(s) not written ({Error}); they are read from their sidecars at the next start")]
    private partial void LogWriteFailed(string path, int count, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "recordings index {Path} is damaged ({Error}); it is rebuilt from the sidecars at the next start")]
    private partial void LogDamaged(string path, string error);
}
