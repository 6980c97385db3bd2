using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Capture.Pipeline;

/// <summary>One record read back from a <see cref="WorkSpool"/>; its payload is valid until the next read.</summary>
internal readonly ref struct SpoolRecord
{
    public SpoolRecord(WorkKind kind, Calls.Channel channel, long timestampNs, int recordingKey, object? command, ReadOnlySpan<byte> payload)
    {
        Kind = kind;
        Channel = channel;
        TimestampNs = timestampNs;
        RecordingKey = recordingKey;
        Command = command;
        Payload = payload;
    }

    public WorkKind Kind { get; }

    public Calls.Channel Channel { get; }

    public long TimestampNs { get; }

    /// <summary>RTP: the <see cref="Recording.CallRecording.SpoolKey"/> of the target recording (references cannot go to disk).</summary>
    public int RecordingKey { get; }

    /// <summary>Command: the command object (kept in memory beside its chunk, on disk or not).</summary>
    public object? Command { get; }

    public ReadOnlySpan<byte> Payload { get; }
}

/// <summary>
/// A media worker's overflow when its ring is full (DESIGN section 4: behind means spool, not drop). The capture thread
/// appends packed records (kind, channel, length, target, timestamp, bytes) to fixed-size chunks; the worker reads
/// them back in order once its ring is empty. Chunks live in memory up to a bound, then on disk in one file of
/// chunk-sized slots used as a ring; a chunk's commands (references) stay in memory beside it, an RTP record names its
/// recording by key. Single producer, single consumer: no locks, only volatile cursors; chunks are reused in the order
/// they were taken (memory and disk chunks are each consumed first-in first-out), so nothing is allocated per record
/// once the chunks exist.
/// </summary>
internal sealed class WorkSpool : IDisposable
{
    public const int DefaultChunkBytes = 64 * 1024;

    // kind (1), channel (1), payload length (2), recording key or command index (4), timestamp (8).
    private const int HeaderBytes = 16;

    // Commands come at signalling rate: a chunk that collects more closes early rather than keeping a larger table for
    // every chunk on disk (the table stays in memory while its chunk is on disk).
    private const int CommandsPerChunk = 16;

    private readonly int _chunkBytes;
    private readonly Chunk?[] _memory;
    private readonly int _diskSlots;
    private readonly string? _diskPath;
    private Chunk?[]? _disk;
    private SafeFileHandle? _file;

    // Producer (capture thread) state.
    private Chunk _tail;
    private bool _tailWritable;
    private Chunk? _staging;
    private byte[]? _stagingBuffer;
    private int _write;
    private int _stagedRecords;
    private long _memoryTaken;
    private long _diskWritten;
    private long _diskBytesWritten;
    private long _visibleRecords;
    private long _memoryBytesWritten;

    // Consumer (worker) state.
    private Chunk _head;
    private int _read;
    private byte[]? _readBuffer;
    private bool _headLoaded;
    private bool _headLost;
    private long _consumedRecords;
    private long _memoryReturned;
    private long _diskRead;
    private long _diskBytesRead;
    private long _memoryBytesRead;

    /// <param name="memoryBytes">Memory the chunks may hold (at least two chunks).</param>
    /// <param name="diskBytes">Disk the spool file may hold; 0 for none.</param>
    /// <param name="diskPath">The spool file (created when first needed, deleted when disposed).</param>
    public WorkSpool(long memoryBytes, long diskBytes, string? diskPath, int chunkBytes = DefaultChunkBytes)
    {
        if (chunkBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkBytes), chunkBytes, "a chunk must hold at least 1024 bytes");
        }

        if (memoryBytes < 2L * chunkBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(memoryBytes), memoryBytes, $"the spool needs memory for at least two chunks of {chunkBytes} bytes");
        }

        _chunkBytes = chunkBytes;
        _memory = new Chunk?[(int)Math.Min(memoryBytes / chunkBytes, int.MaxValue)];
        _diskSlots = diskPath is null ? 0 : (int)Math.Min(diskBytes / chunkBytes, int.MaxValue);
        _diskPath = diskPath;

        // An empty chunk to start from: the first real chunk is linked after it.
        _tail = _head = new Chunk { Overflow = true };
    }

    /// <summary>Producer: items go here, not to the ring, until the worker has read everything back (order).</summary>
    public bool Spooling { get; set; }

    /// <summary>Records appended but not yet read back (any thread; a moment old).</summary>
    public bool HasRecords => Volatile.Read(ref _visibleRecords) != Volatile.Read(ref _consumedRecords);

    /// <summary>Producer: the worker has read every record, and none waits for the disk.</summary>
    public bool Drained => _stagedRecords == 0 && _visibleRecords == Volatile.Read(ref _consumedRecords);

    /// <summary>Bytes of records in memory not yet read back (any thread; the chunks holding them are at most one more).</summary>
    public long MemoryBytes => Math.Max(0, Volatile.Read(ref _memoryBytesWritten) - Volatile.Read(ref _memoryBytesRead));

    /// <summary>Bytes written to the spool file since the start (any thread).</summary>
    public long DiskBytesWritten => Volatile.Read(ref _diskBytesWritten);

    /// <summary>Bytes written to the spool file and not yet read back (any thread).</summary>
    public long DiskBytes => Math.Max(0, Volatile.Read(ref _diskBytesWritten) - Volatile.Read(ref _diskBytesRead));

    /// <summary>Writes or reads of the spool file that failed (the disk is then no longer used); producer-written.</summary>
    public long DiskErrors;

    /// <summary>Consumer-written: chunks the spool file could not give back (their commands were still applied).</summary>
    public long DiskReadErrors;

    /// <summary>Consumer-written: the media records (RTP, ticks) of those chunks, lost.</summary>
    public long RecordsLost;

    /// <summary>
    /// Producer: appends a record, or returns false when memory and disk are full. A command is never refused: it takes
    /// a chunk beyond the memory bound if it must (commands come at signalling rate; losing one would lose a recording).
    /// </summary>
    public bool TryAppend(WorkKind kind, Calls.Channel channel, long timestampNs, ReadOnlySpan<byte> payload, int recordingKey, object? command)
    {
        int size = HeaderBytes + payload.Length;
        if (size > _chunkBytes)
        {
            return false; // a reassembled datagram of nearly 64 KiB: never RTP, refused like a full spool
        }

        bool isCommand = kind == WorkKind.Command;
        Chunk? open = _staging ?? (_tailWritable ? _tail : null);
        if (open is null || _write + size > _chunkBytes || (isCommand && open.CommandCount == CommandsPerChunk)
            || (_staging is not null && MemoryFree()))
        {
            // A chunk held for the disk is written as soon as memory frees up, so the worker never waits on it long.
            if (!OpenChunk(isCommand))
            {
                return false;
            }

            open = _staging ?? _tail;
        }

        byte[] buffer = _staging is not null ? _stagingBuffer! : open.Data!;
        Span<byte> record = buffer.AsSpan(_write, size);
        record[0] = (byte)kind;
        record[1] = (byte)channel;
        BinaryPrimitives.WriteUInt16LittleEndian(record[2..], (ushort)payload.Length);
        int target = recordingKey;
        if (isCommand)
        {
            target = open.CommandCount;
            open.Commands[open.CommandCount++] = command;
        }

        BinaryPrimitives.WriteInt32LittleEndian(record[4..], target);
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], timestampNs);
        payload.CopyTo(record[HeaderBytes..]);
        _write += size;
        if (_staging is not null)
        {
            _stagedRecords++;
        }
        else
        {
            Volatile.Write(ref open.Published, _write);
            Volatile.Write(ref _memoryBytesWritten, _memoryBytesWritten + size);
            Volatile.Write(ref _visibleRecords, _visibleRecords + 1);
        }

        return true;
    }

    /// <summary>Producer: a chunk held for the disk is written and made readable now (end of capture, an idle source).</summary>
    public void Flush()
    {
        if (_staging is not null)
        {
            LinkStaging();
        }
    }

    private bool MemoryFree() => _memoryTaken - Volatile.Read(ref _memoryReturned) < _memory.Length;

    /// <summary>Closes the chunk being written and opens the next: memory while the bound allows, else the disk.</summary>
    private bool OpenChunk(bool forCommand)
    {
        bool memory = MemoryFree();
        int held = _staging is null ? 0 : 1; // the chunk held for the disk has its slot already
        bool disk = !memory && _diskSlots > 0 && _diskWritten + held - Volatile.Read(ref _diskRead) < _diskSlots;
        if (!memory && !disk && !forCommand)
        {
            return false; // the chunk being written stays open: records that still fit may follow once memory frees up
        }

        if (_staging is not null)
        {
            LinkStaging();
        }

        _tailWritable = false;
        _write = 0;
        if (memory)
        {
            int slot = (int)(_memoryTaken % _memory.Length);
            Chunk chunk = _memory[slot] ??= new Chunk { Data = new byte[_chunkBytes] }; // grows to the bound once, then reused in order
            _memoryTaken++;
            Link(chunk);
            _tailWritable = true;
            return true;
        }

        if (disk && EnsureFile())
        {
            _disk ??= new Chunk?[_diskSlots];
            _stagingBuffer ??= new byte[_chunkBytes];
            int slot = (int)(_diskWritten % _diskSlots);
            _staging = _disk[slot] ??= new Chunk { DiskSlot = slot };
            _staging.Reset();
            return true;
        }

        if (!forCommand)
        {
            return false;
        }

        // Everything is full and a command must not be lost: a chunk beyond the bound, not reused afterwards.
        Link(new Chunk { Data = new byte[_chunkBytes], Overflow = true });
        _tailWritable = true;
        return true;
    }

    private void Link(Chunk chunk)
    {
        chunk.Reset();
        Volatile.Write(ref _tail.Next, chunk); // the old tail's Published is final before the worker can see its successor
        _tail = chunk;
    }

    /// <summary>Writes the chunk held for the disk to its slot and links it; on a write error it stays in memory instead.</summary>
    private void LinkStaging()
    {
        Chunk chunk = _staging!;
        _staging = null;
        int length = _write;
        try
        {
            RandomAccess.Write(_file!, _stagingBuffer.AsSpan(0, length), (long)chunk.DiskSlot * _chunkBytes);
            chunk.DiskLength = length;
            chunk.Records = _stagedRecords;
            _diskWritten++;
            Volatile.Write(ref _diskBytesWritten, _diskBytesWritten + length);
            LinkPreservingCommands(chunk, length);
        }
        catch (IOException)
        {
            // A full or failing spool disk: what was accepted stays accepted (kept in memory beyond the bound) and the
            // disk is not used again.
            DiskErrors++;
            CloseFile();
            var kept = new Chunk { Data = _stagingBuffer, Overflow = true };
            Array.Copy(chunk.Commands, kept.Commands, chunk.CommandCount);
            kept.CommandCount = chunk.CommandCount;
            _stagingBuffer = new byte[_chunkBytes];
            Volatile.Write(ref _memoryBytesWritten, _memoryBytesWritten + length);
            LinkPreservingCommands(kept, length);
        }

        Volatile.Write(ref _visibleRecords, _visibleRecords + _stagedRecords);
        _stagedRecords = 0;
        _write = 0;
        _tailWritable = false;
    }

    private void LinkPreservingCommands(Chunk chunk, int published)
    {
        chunk.Next = null;
        chunk.Published = published;
        Volatile.Write(ref _tail.Next, chunk);
        _tail = chunk;
    }

    private bool EnsureFile()
    {
        if (_file is not null)
        {
            return true;
        }

        if (DiskErrors > 0)
        {
            return false;
        }

        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_diskPath!)!);
            _file = File.OpenHandle(_diskPath!, FileMode.Create, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DiskErrors++;
            return false;
        }
    }

    private void CloseFile()
    {
        _file?.Dispose();
        _file = null;
    }

    /// <summary>Consumer: the next record in order, or false when the worker has read everything appended so far.</summary>
    public bool TryRead(out SpoolRecord record)
    {
        while (true)
        {
            Chunk head = _head;
            int published = Volatile.Read(ref head.Published);
            if (_read < published)
            {
                ReadOnlySpan<byte> data;
                if (head.Data is { } d)
                {
                    data = d.AsSpan(0, published);
                }
                else if (_headLost || !TryLoad(head, out data))
                {
                    return TryReadCommandsOfLostChunk(head, out record);
                }

                ReadOnlySpan<byte> r = data[_read..];
                var kind = (WorkKind)r[0];
                int length = BinaryPrimitives.ReadUInt16LittleEndian(r[2..]);
                int target = BinaryPrimitives.ReadInt32LittleEndian(r[4..]);
                long ts = BinaryPrimitives.ReadInt64LittleEndian(r[8..]);
                object? command = null;
                if (kind == WorkKind.Command)
                {
                    command = head.Commands[target];
                    head.Commands[target] = null; // the command object is released with its record, not with the chunk
                }

                record = new SpoolRecord(kind, (Calls.Channel)r[1], ts, target, command, r.Slice(HeaderBytes, length));
                _read += HeaderBytes + length;
                if (head.Data is not null)
                {
                    Volatile.Write(ref _memoryBytesRead, _memoryBytesRead + HeaderBytes + length);
                }
                else
                {
                    Volatile.Write(ref _diskBytesRead, _diskBytesRead + HeaderBytes + length);
                }

                Volatile.Write(ref _consumedRecords, _consumedRecords + 1);
                return true;
            }

            Chunk? next = Volatile.Read(ref head.Next);
            if (next is null || _read < Volatile.Read(ref head.Published))
            {
                record = default;
                return false; // the producer still writes this chunk (or a record was published since the first look)
            }

            Retire(head);
            _head = next;
            _read = 0;
            _headLoaded = false;
            _headLost = false;
        }
    }

    /// <summary>A disk chunk is read back into the worker's own buffer, once; false when the file cannot give it back.</summary>
    private bool TryLoad(Chunk chunk, out ReadOnlySpan<byte> data)
    {
        _readBuffer ??= new byte[_chunkBytes];
        data = _readBuffer.AsSpan(0, chunk.DiskLength);
        if (_headLoaded)
        {
            return true;
        }

        try
        {
            SafeFileHandle? file = _file; // closed by the producer only after a failed write; then this read fails too
            _headLoaded = file is not null && RandomAccess.Read(file, _readBuffer.AsSpan(0, chunk.DiskLength), (long)chunk.DiskSlot * _chunkBytes) == chunk.DiskLength;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            _headLoaded = false;
        }

        return _headLoaded;
    }

    /// <summary>
    /// A disk chunk that could not be read back: its media is lost (counted), its commands are still applied, in their
    /// order (a call's start and end must not be lost with it).
    /// </summary>
    private bool TryReadCommandsOfLostChunk(Chunk head, out SpoolRecord record)
    {
        if (!_headLost)
        {
            _headLost = true;
            DiskReadErrors++;
            Volatile.Write(ref _diskBytesRead, _diskBytesRead + head.DiskLength);
            RecordsLost += head.Records - head.CommandCount;
            Volatile.Write(ref _consumedRecords, _consumedRecords + head.Records - head.CommandCount);
        }

        // _read counts the commands given so far (the chunk's bytes are unreadable); each moves it one step.
        if (_read < head.CommandCount)
        {
            object? command = head.Commands[_read];
            head.Commands[_read++] = null;
            Volatile.Write(ref _consumedRecords, _consumedRecords + 1);
            record = new SpoolRecord(WorkKind.Command, default, 0, 0, command, default);
            return true;
        }

        _read = head.Published; // done: the loop moves on to the next chunk
        return TryRead(out record);
    }

    /// <summary>The worker is done with a chunk: its memory or disk slot may be taken again.</summary>
    private void Retire(Chunk chunk)
    {
        if (chunk.Overflow)
        {
            return; // the first empty chunk, or one beyond the bound: left to the collector
        }

        if (chunk.Data is null)
        {
            Volatile.Write(ref _diskRead, _diskRead + 1);
        }
        else
        {
            Volatile.Write(ref _memoryReturned, _memoryReturned + 1);
        }
    }

    public void Dispose() => CloseFile();

    /// <summary>
    /// Spool files a crashed process left in <paramref name="directory"/> (named <c>worker-&lt;pid&gt;-...</c>; this process's
    /// own are kept): what they held is lost with the process that knew its calls, so they only take space.
    /// </summary>
    public static void DeleteLeftovers(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        string own = $"worker-{Environment.ProcessId}-";
        foreach (string file in Directory.EnumerateFiles(directory, "worker-*.spool"))
        {
            if (!Path.GetFileName(file).StartsWith(own, StringComparison.Ordinal))
            {
                try
                {
                    File.Delete(file);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // left for the next start; it is truncated anyway when a worker with its name spools again
                }
            }
        }
    }

    /// <summary>A chunk of records: its own memory, or a slot of the spool file.</summary>
    private sealed class Chunk
    {
        public byte[]? Data;
        public readonly object?[] Commands = new object?[CommandsPerChunk];
        public int CommandCount;

        /// <summary>Bytes of whole records the worker may read; final once <see cref="Next"/> is set.</summary>
        public int Published;
        public Chunk? Next;
        public bool Overflow;
        public int DiskSlot;
        public int DiskLength;

        /// <summary>Records in a disk chunk (commands included).</summary>
        public int Records;

        public void Reset()
        {
            Next = null;
            Published = 0;
            CommandCount = 0;
            DiskLength = 0;
            Records = 0;
        }
    }
}
