using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using FASTER.core;

namespace Capture.Bindings;

public sealed partial class DirectoryStore
{
    private const string LogFileName = "hlog.log";
    private const string CheckpointDirectoryName = "checkpoints";

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
    /// as an empty store, which is their state as of the last checkpoint; new writes overwrite them.
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
        Directory.CreateDirectory(path);
        return new DirectoryStore(path, options);
    }

    private DirectoryStore(string path, DirectoryStoreOptions options)
    {
        _path = path;
        _compactWhenLogOverLive = options.CompactWhenLogOverLive;

        // recoverDevice: learn which segment files exist, so FASTER's recovery notices missing ones.
        _logDevice = Devices.CreateLogDevice(System.IO.Path.Combine(path, LogFileName), recoverDevice: true);
        try
        {
            _checkpoints = new DirectoryStoreCheckpointManager(System.IO.Path.Combine(path, CheckpointDirectoryName));
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
            _hasCheckpoint = Recovered;
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
            // A new store, or one whose first checkpoint never finished: its state as of the last checkpoint is empty.
            return false;
        }

        // Recovery opens the segments it reads with create-if-missing; remember which were there.
        HashSet<string> segments = [.. Directory.EnumerateFiles(_path, LogFileName + ".*")];
        try
        {
            _store.Recover();
        }
        catch (Exception ex) when (ex is FasterException or IOException or FormatException or OverflowException or ArgumentException)
        {
            string rejected = _checkpoints.Rejected.Count == 0 ? "" : $" Rejected: {string.Join("; ", _checkpoints.Rejected)}.";
            throw new DirectoryStoreException(
                $"Cannot recover the directory store in '{_path}': {ex.Message.TrimEnd('.')}.{rejected} Checkpoint metadata: " +
                $"{string.Join(", ", committed.Select(f => f.FullName))}. Nothing was deleted or reset; move the directory aside to start empty, " +
                "or restore it from a backup.",
                ex);
        }

        VerifyLogSegments(segments);

        // FASTER deleted the checkpoints it did not recover, so the newest left is the one it used.
        _lastCheckpointAt = _checkpoints.CommittedMetadataFiles() is [var used, ..]
            ? new DateTimeOffset(used.LastWriteTimeUtc)
            : committed[0].LastWriteTimeUtc;
        return true;
    }

    // FASTER notices a segment missing before or after the ones on disk, not a log whose files are all gone or cut
    // short: it would read zeros and recover an emptier directory without a word.
    private void VerifyLogSegments(HashSet<string> segmentsBeforeRecovery)
    {
        long begin = _store.Log.BeginAddress;
        long tail = _store.Log.TailAddress;
        long segmentMask = (1L << SegmentSizeBits) - 1;
        for (long segment = begin >> SegmentSizeBits; tail > begin && segment <= (tail - 1) >> SegmentSizeBits; segment++)
        {
            var file = new FileInfo(System.IO.Path.Combine(_path, $"{LogFileName}.{segment}"));
            bool last = segment == (tail - 1) >> SegmentSizeBits;
            long needed = last ? ((tail - 1) & segmentMask) + 1 : 1L << SegmentSizeBits;
            bool existed = segmentsBeforeRecovery.Contains(file.FullName);
            if (existed && file.Length >= needed)
            {
                continue;
            }

            // Leave the directory as it was: remove the empty files recovery created.
            foreach (string created in Directory.EnumerateFiles(_path, LogFileName + ".*").Where(f => !segmentsBeforeRecovery.Contains(f)))
            {
                if (new FileInfo(created).Length == 0)
                {
                    File.Delete(created);
                }
            }

            throw new DirectoryStoreException(
                $"Cannot recover the directory store in '{_path}': its checkpoint needs the log up to address {tail}, but " +
                $"'{file.FullName}' {(existed ? $"has {file.Length} of {needed} bytes" : "is missing")}. Nothing was deleted or reset; " +
                "move the directory aside to start empty, or restore it from a backup.");
        }
    }

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
