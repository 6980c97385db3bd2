using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using FASTER.core;

namespace Capture.Bindings;

public sealed partial class DirectoryStore
{
    private const string LogFileName = "hlog.log";
    private const string CheckpointDirectoryName = "checkpoints";
    private const string ProbeFileName = ".write-probe";
    private const string MarkerFileName = "checkpointed";

    // 512 B: one sector, what FASTER writes at least.
    private static readonly byte[] s_probeBytes = new byte[512];

    private static readonly byte[] s_markerText =
        "This folder's directory store has completed a checkpoint: without one in checkpoints/ it is damaged, not new.\n"u8.ToArray();

    // 256 KiB pages hold dozens of the largest values, and a 1 MiB MemoryBytes still gets four of them.
    private const int PageSizeBits = 18;

    // The log's files on disk; space is given back in whole segments once the begin address passes one.
    private const int SegmentSizeBits = 22;

    // 16384 hash buckets of 7 entries: ~100k keys before overflow buckets chain. Never written to disk (log-only
    // checkpoints), so it costs only this much memory.
    private const long IndexBytes = 1L << 20;

    private const long MinMemoryBytes = 1L << 20;

    /// <summary>
    /// Opens the store in <see cref="DirectoryStoreOptions.Path"/>, creating the directory if missing, and recovers
    /// its latest checkpoint if it has one. A state directory that has checkpoints but none that can be recovered
    /// (corrupt metadata, missing or short log segments) throws <see cref="DirectoryStoreException"/>; nothing is
    /// deleted or reset. Log segments without any committed checkpoint (the first checkpoint never finished) open
    /// as an empty store, which is their state as of the last checkpoint; new writes overwrite them. But once a
    /// checkpoint completed here (the <c>checkpointed</c> marker), a folder without one is damaged and refused; so is
    /// a log whose files are not regular files, are short, or do not hold FASTER records (checked before FASTER reads
    /// them, see <see cref="DirectoryStoreLogCheck"/>).
    /// </summary>
    public static DirectoryStore Open(DirectoryStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path, nameof(options));
        if (options.MemoryBytes < MinMemoryBytes)
        {
            ThrowOption(nameof(DirectoryStoreOptions.MemoryBytes), "must be at least 1 MiB");
        }

        // Also rejects NaN.
        if (!(options.CompactWhenLogOverLive >= 1.0))
        {
            ThrowOption(nameof(DirectoryStoreOptions.CompactWhenLogOverLive), "must be at least 1");
        }

        string path = System.IO.Path.GetFullPath(options.Path);
        if (File.Exists(path))
        {
            throw new DirectoryStoreException($"The state folder '{path}' is a file, not a folder. Nothing was changed: move the file aside (or set another State folder) and start again.");
        }

        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DirectoryStoreException($"Cannot create the state folder '{path}': {e.Message}", e);
        }

        if (DirectoryStoreLogCheck.CheckEntries(path, LogFileName) is { } problem)
        {
            throw Unrecoverable(path, problem);
        }

        return new DirectoryStore(path, options);
    }

    private DirectoryStore(string path, DirectoryStoreOptions options)
    {
        _path = path;
        _compactWhenLogOverLive = options.CompactWhenLogOverLive;
        _checkpointTimeout = options.CheckpointTimeout;

        // recoverDevice: learn which segment files exist, so FASTER's recovery notices missing ones.
        _logDevice = Devices.CreateLogDevice(System.IO.Path.Combine(path, LogFileName), recoverDevice: true);
        try
        {
            _checkpoints = new DirectoryStoreCheckpointManager(
                System.IO.Path.Combine(path, CheckpointDirectoryName),
                (begin, tail) => DirectoryStoreLogCheck.Check(path, LogFileName, PageSizeBits, SegmentSizeBits, begin, tail));
            using (var settings = new FasterKVSettings<SpanByte, SpanByte>
            {
                IndexSize = IndexBytes,
                LogDevice = _logDevice,
                PageSize = 1L << PageSizeBits,
                SegmentSize = 1L << SegmentSizeBits,
                MemorySize = options.MemoryBytes,
                CheckpointManager = _checkpoints,

                // Never TryRecoverLatest: it swallows a failed recovery and starts empty, a silent wipe.
                TryRecoverLatest = false,
            })
            {
                _store = new FasterKV<SpanByte, SpanByte>(settings);
            }

            Recovered = RecoverLatest();
            _session = _store.For(new SpanByteFunctions_ByteArrayOutput<Empty>()).NewSession<SpanByteFunctions_ByteArrayOutput<Empty>>();
            CountLiveRecords();
        }
        catch
        {
            _session?.Dispose();
            _store?.Dispose();
            _logDevice.Dispose();
            _checkpoints?.Dispose();
            throw;
        }
    }

    private bool RecoverLatest()
    {
        List<FileInfo> committed = _checkpoints.CommittedMetadataFiles();
        if (committed.Count == 0)
        {
            RequireNewStore();

            // A new store, or one whose first checkpoint never finished: its state as of the last checkpoint is empty.
            return false;
        }

        // Recovery creates an empty delta log file in the checkpoint's folder before it reads anything; a refused
        // start must leave the folder as it was.
        HashSet<string> filesBefore = [.. Directory.EnumerateFiles(_checkpoints.LogCheckpointsPath, "*", SearchOption.AllDirectories)];
        try
        {
            _store.Recover();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            foreach (string created in Directory.EnumerateFiles(_checkpoints.LogCheckpointsPath, "*", SearchOption.AllDirectories).Where(f => !filesBefore.Contains(f)))
            {
                if (new FileInfo(created).Length == 0)
                {
                    File.Delete(created);
                }
            }

            // What our checks rejected says more than FASTER's "Unable to find valid HybridLog token".
            throw Unrecoverable(_path, _checkpoints.Rejected.Count > 0
                ? $"its checkpoint cannot be used: {string.Join("; ", _checkpoints.Rejected)}"
                : $"{ex.Message.TrimEnd('.')} (checkpoint metadata: {string.Join(", ", committed.Select(f => f.FullName))})", ex);
        }

        _recoveryLeftovers = [.. Directory.EnumerateFiles(_checkpoints.LogCheckpointsPath, "*", SearchOption.AllDirectories).Where(f => !filesBefore.Contains(f))];

        // FASTER deleted the checkpoints it did not recover, so the newest left is the one it used.
        _lastCheckpointAt = _checkpoints.CommittedMetadataFiles() is [var used, ..]
            ? new DateTimeOffset(used.LastWriteTimeUtc)
            : committed[0].LastWriteTimeUtc;
        _hasCheckpoint = true;
        WriteMarkerLocked(); // a folder from before the marker gets it now
        return true;
    }

    // No committed checkpoint: fine for a new folder, or one whose first checkpoint never finished. Not for a folder
    // that has checkpointed before (the marker), nor for log segments with data but no checkpoints folder at all
    // (FASTER creates it with the first checkpoint, before the log is flushed): both are damage, and starting empty
    // would overwrite the old state at the next checkpoint.
    private void RequireNewStore()
    {
        string checkpoints = System.IO.Path.Combine(_path, CheckpointDirectoryName);
        string marker = System.IO.Path.Combine(_path, MarkerFileName);
        string? problem = null;
        if (File.Exists(marker))
        {
            problem = Directory.Exists(checkpoints)
                ? $"it has checkpointed before ('{marker}'), but no checkpoint in '{_checkpoints.LogCheckpointsPath}' has its metadata (info.dat.0 missing or empty)"
                : $"it has checkpointed before ('{marker}'), but '{checkpoints}' is missing";
        }
        else if (!Directory.Exists(checkpoints) && Directory.EnumerateFiles(_path, LogFileName + ".*").Any(f => new FileInfo(f).Length > 0))
        {
            problem = $"its log has data but '{checkpoints}' is missing";
        }

        if (problem is not null)
        {
            throw Unrecoverable(_path, problem);
        }
    }

    private static DirectoryStoreException Unrecoverable(string path, string problem, Exception? inner = null) =>
        new($"Cannot recover the directory store in '{path}': {problem.TrimEnd('.')}. Nothing was deleted or reset. Restore " +
            "the folder from a backup, or to start with an empty directory (devices, lines and logins are learned again " +
            "from the traffic) stop the appliance and move the folder aside (keep it for diagnosis).", inner);

    private void CountLiveRecords()
    {
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        ScanLogLocked([], (key, value, deleted) =>
        {
            string name = System.Text.Encoding.UTF8.GetString(key);
            if (deleted)
            {
                sizes.Remove(name);
            }
            else
            {
                sizes[name] = RecordBytes(key.Length, value.Length);
            }
        });
        _liveRecords = sizes.Count;
        _liveBytes = sizes.Values.Sum();
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowOption(string name, string problem) =>
        throw new ArgumentException($"DirectoryStoreOptions.{name} {problem}.");
}
