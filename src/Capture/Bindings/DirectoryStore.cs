using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using FASTER.core;
using StoreSession = FASTER.core.ClientSession<FASTER.core.SpanByte, FASTER.core.SpanByte, FASTER.core.SpanByte, byte[], FASTER.core.Empty, FASTER.core.SpanByteFunctions_ByteArrayOutput<FASTER.core.Empty>>;

namespace Capture.Bindings;

/// <summary>
/// The directory's durable key/value store: short string keys (UTF-8) and small UTF-8 JSON values, on a FASTER KV
/// hybrid log of <see cref="SpanByte"/> keys and values. The caller batches: <see cref="Put"/>/<see cref="Delete"/>
/// for everything dirty, then <see cref="Checkpoint"/>.
/// </summary>
/// <remarks>
/// <para>
/// Crash semantics: <see cref="Open"/> gives back the state as of the last completed checkpoint, never part of a
/// later batch. Writes after it are lost on a crash, a kill -9, or a <see cref="Dispose"/> without checkpoint (which
/// writes nothing itself); records FASTER flushed past the checkpoint are ignored on recovery.
/// </para>
/// <para>
/// Checkpoints are log-only, fold-over: the log is flushed up to its tail, then a small metadata file naming the
/// begin and end addresses is written, and only then is the previous checkpoint's metadata deleted. A record below
/// the flushed boundary is never updated in place (a later update appends a new version), so a crash during a
/// checkpoint leaves the previous one whole. A checkpoint writes only what changed since the last one (a snapshot
/// checkpoint would copy the whole in-memory log, which here is the whole directory); the price is a log that grows
/// on every update, which <see cref="Compact"/> reclaims. Without an index checkpoint, recovery rebuilds the hash
/// index by reading the log from its begin address, which compaction keeps within a small multiple of the live data.
/// FASTER opens its files write-through (O_SYNC on Linux), so a finished checkpoint is on the device, not only in the
/// page cache; it does not fsync directories after creating files.
/// </para>
/// <para>
/// Thread-safety: every public member takes one private lock, so calls from any thread are serialised (bindings
/// change rarely). A checkpoint holds the lock until the state is on disk.
/// </para>
/// </remarks>
public sealed partial class DirectoryStore : IDisposable
{
    /// <summary>Longest key, in UTF-8 bytes.</summary>
    public const int MaxKeyBytes = 1024;

    /// <summary>Longest value. Directory documents are 100 B - 4 KB; the limit keeps every record far below a page.</summary>
    public const int MaxValueBytes = 64 << 10;

    private readonly Lock _gate = new();
    private readonly string _path;
    private readonly double _compactWhenLogOverLive;
    private readonly TimeSpan _checkpointTimeout;
    private readonly IDevice _logDevice;
    private readonly DirectoryStoreCheckpointManager _checkpoints;
    private readonly FasterKV<SpanByte, SpanByte> _store;
    private readonly StoreSession _session;
    private long _liveRecords;
    private long _liveBytes;
    private bool _hasCheckpoint;
    private bool _dirty;
    private bool _disposed;
    private bool _markerWritten;
    private bool _checkpointedHere;
    private List<string> _recoveryLeftovers = []; // files recovery created (an empty delta log), removed if never used
    private string? _broken; // why FASTER can no longer checkpoint in this process (null: it can)
    private DateTimeOffset? _lastCheckpointAt;

    /// <summary>The state directory (full path).</summary>
    public string Path => _path;

    /// <summary>
    /// Set when a checkpoint never finished (FASTER does not retry a failed log write): the store cannot checkpoint
    /// again in this process and every <see cref="Checkpoint"/> throws at once. The state on disk is the last
    /// completed checkpoint; the next start recovers it.
    /// </summary>
    public bool Broken
    {
        get { lock (_gate) { return _broken is not null; } }
    }

    /// <summary>True when <see cref="Open"/> recovered a checkpoint (false for a new, empty store).</summary>
    public bool Recovered { get; }

    /// <summary>
    /// When the state on disk last matched the state in memory: set as <see cref="Checkpoint"/> or
    /// <see cref="Compact"/> returns, and for a recovered store the time its checkpoint was written. Null before any.
    /// </summary>
    public DateTimeOffset? LastCheckpointAt
    {
        get { lock (_gate) { return _lastCheckpointAt; } }
    }

    /// <summary>Keys that currently have a value.</summary>
    public long LiveRecords
    {
        get { lock (_gate) { return _liveRecords; } }
    }

    /// <summary>Tail minus begin address of the log: roughly its size on disk (which is freed in whole 4 MiB segments).</summary>
    public long LogBytes
    {
        get
        {
            lock (_gate)
            {
                ThrowIfDisposed();
                return LogBytesLocked;
            }
        }
    }

    private long LogBytesLocked => _store.Log.TailAddress - _store.Log.BeginAddress;

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>; durable at the next <see cref="Checkpoint"/>.</summary>
    public void Put(string key, ReadOnlySpan<byte> value)
    {
        if (value.Length > MaxValueBytes)
        {
            ThrowValueTooLong(value.Length);
        }

        Span<byte> keyBytes = stackalloc byte[MaxKeyBytes];
        keyBytes = keyBytes[..EncodeKey(key, keyBytes)];
        lock (_gate)
        {
            ThrowIfDisposed();

            // The probe keeps LiveRecords and the live byte count (Compact's yardstick) exact; writes are rare.
            if (TryReadLocked(keyBytes, out byte[]? previous))
            {
                _liveBytes -= RecordBytes(keyBytes.Length, previous.Length);
            }
            else
            {
                _liveRecords++;
            }

            if (_session.Upsert(keyBytes, value).IsPending)
            {
                _session.CompletePending(wait: true);
            }

            _liveBytes += RecordBytes(keyBytes.Length, value.Length);
            _dirty = true;
        }
    }

    /// <summary>Removes <paramref name="key"/>; durable at the next <see cref="Checkpoint"/>. True if it had a value.</summary>
    public bool Delete(string key)
    {
        Span<byte> keyBytes = stackalloc byte[MaxKeyBytes];
        keyBytes = keyBytes[..EncodeKey(key, keyBytes)];
        lock (_gate)
        {
            ThrowIfDisposed();
            if (!TryReadLocked(keyBytes, out byte[]? previous))
            {
                return false;
            }

            if (_session.Delete(keyBytes).IsPending)
            {
                _session.CompletePending(wait: true);
            }

            _liveRecords--;
            _liveBytes -= RecordBytes(keyBytes.Length, previous.Length);
            _dirty = true;
            return true;
        }
    }

    /// <summary>The current value of <paramref name="key"/> (a copy), including writes not yet checkpointed.</summary>
    public bool TryGet(string key, [MaybeNullWhen(false)] out byte[] value)
    {
        Span<byte> keyBytes = stackalloc byte[MaxKeyBytes];
        keyBytes = keyBytes[..EncodeKey(key, keyBytes)];
        lock (_gate)
        {
            ThrowIfDisposed();
            return TryReadLocked(keyBytes, out value);
        }
    }

    /// <summary>
    /// Every live key starting with <paramref name="prefix"/> (ordinal) with its latest value; deleted keys are absent.
    /// Any order. Reads the whole log, so it is for start-up, not for every lookup.
    /// </summary>
    public List<KeyValuePair<string, byte[]>> ReadAll(string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        byte[] prefixBytes = Encoding.UTF8.GetBytes(prefix);
        lock (_gate)
        {
            ThrowIfDisposed();

            // The log is in write order, so the last record of a key is its latest version; a tombstone removes it.
            var latest = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            ScanLogLocked(prefixBytes, (key, value, deleted) =>
            {
                string name = Encoding.UTF8.GetString(key);
                if (deleted)
                {
                    latest.Remove(name);
                }
                else
                {
                    latest[name] = value.ToArray();
                }
            });
            return [.. latest];
        }
    }

    /// <summary>
    /// Makes everything written so far durable, and returns once it is on disk; true when it wrote a checkpoint.
    /// Does nothing when nothing changed since the last checkpoint (so calling it every couple of seconds on an idle
    /// appliance writes nothing). First probes that the state folder is writable: when it is not, throws
    /// <see cref="DirectoryStoreException"/> without letting FASTER try (a failed FASTER write is never retried), and
    /// the writes stay pending for the next call. A checkpoint that does not finish within
    /// <see cref="DirectoryStoreOptions.CheckpointTimeout"/> throws and leaves the store <see cref="Broken"/>.
    /// </summary>
    public bool Checkpoint()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ThrowIfBroken();
            bool wrote = false;
            if (_dirty || !_hasCheckpoint)
            {
                EnsureWritableLocked();
                CheckpointLocked();
                wrote = true;
            }

            WriteMarkerLocked();
            _lastCheckpointAt = DateTimeOffset.UtcNow;
            return wrote;
        }
    }

    /// <summary>
    /// When the log holds more than <see cref="DirectoryStoreOptions.CompactWhenLogOverLive"/> times the live bytes,
    /// copies the live records to the tail, moves the begin address past everything older, and checkpoints (which
    /// makes any pending writes durable too); FASTER then deletes the log segments wholly below the new begin.
    /// Returns whether it did so.
    /// </summary>
    public bool Compact()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ThrowIfBroken();
            long logBytes = LogBytesLocked;
            if (logBytes == 0 || logBytes <= _compactWhenLogOverLive * _liveBytes)
            {
                return false;
            }

            // FASTER compacts only up to the read-only boundary: move it to the tail (flushing the log) first.
            EnsureWritableLocked();
            _store.Log.Flush(wait: true);

            // Lookup: each record is checked against the in-memory hash index, with no temporary store built.
            _session.Compact(_store.Log.SafeReadOnlyAddress, CompactionType.Lookup);
            _dirty = true;

            // Until this checkpoint records the new begin address, the old one (and its segments) stays authoritative:
            // a crash in between recovers the uncompacted log. FASTER truncates only after the metadata is written.
            CheckpointLocked();
            _lastCheckpointAt = DateTimeOffset.UtcNow;
            return true;
        }
    }

    /// <summary>Releases the files. Does not checkpoint: what was written since the last checkpoint is dropped.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_broken is not null)
            {
                // FASTER's dispose waits for the checkpoint that never finishes: leave the instance to the process's
                // exit (its files are only read by the next start, which recovers the last completed checkpoint).
                return;
            }

            _session.Dispose();
            _store.Dispose();
            _logDevice.Dispose();
            _checkpoints.Dispose();
            if (!_checkpointedHere)
            {
                // Opened and closed without a checkpoint (e.g. a start refused after recovery, a record that is not
                // JSON): leave the folder as it was.
                foreach (string file in _recoveryLeftovers)
                {
                    if (File.Exists(file) && new FileInfo(file).Length == 0)
                    {
                        File.Delete(file);
                    }
                }
            }
        }
    }

    private bool TryReadLocked(ReadOnlySpan<byte> key, [MaybeNullWhen(false)] out byte[] value)
    {
        SpanByte input = default;
        byte[] output = [];
        Status status = _session.Read(key, ref input, ref output);
        if (status.IsPending)
        {
            // The record is below the in-memory head: wait for the disk read.
            _session.CompletePendingWithOutputs(out var completed, wait: true);
            using (completed)
            {
                if (!completed.Next())
                {
                    ThrowStatus("read", status);
                }

                status = completed.Current.Status;
                output = completed.Current.Output;
            }
        }

        if (status.Found)
        {
            value = output;
            return true;
        }

        if (!status.NotFound)
        {
            ThrowStatus("read", status);
        }

        value = null;
        return false;
    }

    private void CheckpointLocked()
    {
        bool started;
        try
        {
            // Bounded: FASTER never retries a failed log write, so its checkpoint would wait for it for good (and every
            // later caller behind _gate with it). No synchronisation context here; FASTER completes on the pool.
            Task<(bool, Guid)> checkpoint = _store.TakeHybridLogCheckpointAsync(CheckpointType.FoldOver).AsTask();
            if (!checkpoint.Wait(_checkpointTimeout))
            {
                _broken = $"a checkpoint did not finish within {_checkpointTimeout.TotalSeconds:0.#} s (a write to '{_path}' failed or hangs; FASTER does not retry it)";
                ThrowBroken();
            }

            (started, _) = checkpoint.Result;
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count == 1)
        {
            throw new DirectoryStoreException($"Checkpoint of the directory store in '{_path}' failed: {ex.InnerException!.Message}", ex.InnerException);
        }
        catch (Exception ex) when (ex is FasterException or IOException or UnauthorizedAccessException or AggregateException)
        {
            throw new DirectoryStoreException($"Checkpoint of the directory store in '{_path}' failed: {ex.Message}", ex);
        }

        if (!started)
        {
            // Only one checkpoint or compaction runs at a time under _gate, so FASTER cannot be busy with another.
            throw new DirectoryStoreException($"FASTER refused to start a checkpoint of the directory store in '{_path}'.");
        }

        _hasCheckpoint = true;
        _checkpointedHere = true;
        _dirty = false;
    }

    // A checkpoint writes the log segments in the state folder and a new folder of metadata under checkpoints/; a
    // folder that refuses a small file now (read-only, immutable, full) would make FASTER's write fail, which FASTER
    // never retries. Probing first keeps the store usable: the writes stay pending and the next call tries again.
    private void EnsureWritableLocked()
    {
        string checkpoints = _checkpoints.LogCheckpointsPath;
        foreach (string folder in (ReadOnlySpan<string>)[_path, checkpoints])
        {
            string probe = System.IO.Path.Combine(folder, ProbeFileName);
            try
            {
                Directory.CreateDirectory(folder);
                using (var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough))
                {
                    stream.Write(s_probeBytes);
                }

                File.Delete(probe);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DirectoryStoreException($"The state folder '{folder}' is not writable ({e.Message.TrimEnd('.')}); the directory's changes are kept in memory and saved at the next checkpoint that can write.", e);
            }
        }

        // The segment FASTER appends to must also take writes (a file made immutable or read-only on its own).
        string tailSegment = System.IO.Path.Combine(_path, $"{LogFileName}.{Math.Max(0, _store.Log.TailAddress - 1) >> SegmentSizeBits}");
        try
        {
            if (File.Exists(tailSegment))
            {
                using var stream = new FileStream(tailSegment, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DirectoryStoreException($"The log segment '{tailSegment}' is not writable ({e.Message.TrimEnd('.')}); the directory's changes are kept in memory and saved at the next checkpoint that can write.", e);
        }
    }

    // Written once a checkpoint completed: from then on a state folder without a committed checkpoint is damaged
    // (checkpoints/ deleted, metadata emptied), not new, and Open refuses it instead of starting empty.
    private void WriteMarkerLocked()
    {
        if (_markerWritten || !_hasCheckpoint)
        {
            return;
        }

        string marker = System.IO.Path.Combine(_path, MarkerFileName);
        try
        {
            if (!File.Exists(marker))
            {
                using var stream = new FileStream(marker, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
                stream.Write(s_markerText);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // tried again at the next checkpoint; until then only the damage check is weaker
        }

        _markerWritten = true;
    }

    private delegate void RecordVisitor(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool deleted);

    // Every record from begin to tail, in address (= write) order, old versions included; sealed and invalid records
    // (superseded in place, or undone by recovery) are skipped by FASTER's iterator.
    private void ScanLogLocked(ReadOnlySpan<byte> prefix, RecordVisitor visit)
    {
        using IFasterScanIterator<SpanByte, SpanByte> records = _store.Log.Scan(_store.Log.BeginAddress, _store.Log.TailAddress);
        while (records.GetNext(out RecordInfo info))
        {
            ReadOnlySpan<byte> key = records.GetKey().AsReadOnlySpan();
            if (key.StartsWith(prefix))
            {
                visit(key, info.Tombstone ? default : records.GetValue().AsReadOnlySpan(), info.Tombstone);
            }
        }
    }

    // Bytes a record takes in FASTER's variable-length log: an 8-byte RecordInfo header, then the key and the value,
    // each an int32 length and the payload, each padded to 8 bytes.
    private static long RecordBytes(int keyLength, int valueLength) =>
        sizeof(long) + Align8(sizeof(int) + keyLength) + Align8(sizeof(int) + valueLength);

    private static long Align8(int length) => (length + 7) & ~7L;

    private static int EncodeKey(string key, Span<byte> destination)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!Encoding.UTF8.TryGetBytes(key, destination, out int written))
        {
            ThrowKeyTooLong(key);
        }

        return written;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void ThrowIfBroken()
    {
        if (_broken is not null)
        {
            ThrowBroken();
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBroken() =>
        throw new DirectoryStoreException(
            $"The directory store in '{_path}' cannot checkpoint any more: {_broken}. The state on disk is the last completed " +
            "checkpoint; the changes since are in memory only. Make the state folder writable and restart the appliance " +
            "(it recovers that checkpoint and keeps learning).");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowKeyTooLong(string key) =>
        throw new ArgumentException($"Directory store keys are at most {MaxKeyBytes} UTF-8 bytes; this one has {Encoding.UTF8.GetByteCount(key)}.", nameof(key));

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowValueTooLong(int length) =>
        throw new ArgumentException($"Directory store values are at most {MaxValueBytes} bytes; this one has {length}.");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowStatus(string operation, Status status) =>
        throw new DirectoryStoreException($"A {operation} in the directory store in '{_path}' failed: FASTER status {status}.");
}
