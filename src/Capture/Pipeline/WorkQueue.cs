using System.Runtime.InteropServices;

namespace Capture.Pipeline;

public enum WorkKind : byte
{
    Rtp,
    Tick,
    Command,
}

/// <summary>One slot of a worker's queue. The byte buffer belongs to the slot and is reused lap after lap.</summary>
internal struct WorkItem
{
    public WorkKind Kind;
    public Calls.Channel Channel;
    public long TimestampNs;
    public int Length;
    public byte[] Buffer;
    public object? Target;
}

/// <summary>
/// A bounded single-producer single-consumer ring: the capture thread writes, one worker reads. No locks and
/// no allocation per item; each slot owns a packet buffer, so a datagram is copied exactly once.
/// </summary>
internal sealed class WorkQueue : IDisposable
{
    // Covers any UDP payload of a standard frame; larger (reassembled) datagrams get their own array.
    private const int SlotBufferSize = 2048;

    // Producer and consumer each write their own cache line (no false sharing) and re-read the other's cursor only
    // when their cached copy says the ring is full (producer) or empty (consumer).
    private const int CacheLine = 128; // two 64-byte lines: the adjacent-line prefetcher pairs them

    private readonly WorkItem[] _slots;
    private readonly int _mask;
    private readonly ManualResetEventSlim _signal = new(false);
    private Cursors _c;

    public WorkQueue(int capacityPowerOfTwo)
    {
        if (capacityPowerOfTwo <= 0 || (capacityPowerOfTwo & (capacityPowerOfTwo - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacityPowerOfTwo), capacityPowerOfTwo, "queue capacity must be a power of two");
        }

        _slots = new WorkItem[capacityPowerOfTwo];
        _mask = capacityPowerOfTwo - 1;
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i].Buffer = new byte[SlotBufferSize];
        }
    }

    public int Capacity => _slots.Length;

    public int Count => (int)(Volatile.Read(ref _c.Tail) - Volatile.Read(ref _c.Head));

    /// <summary>Reserves the next slot, or returns false when the worker is a whole ring behind.</summary>
    public bool TryReserve(out int index)
    {
        long tail = _c.Tail;
        if (tail - _c.CachedHead >= _slots.Length)
        {
            _c.CachedHead = Volatile.Read(ref _c.Head);
            if (tail - _c.CachedHead >= _slots.Length)
            {
                index = -1;
                return false;
            }
        }

        index = (int)(tail & _mask);
        return true;
    }

    public ref WorkItem Slot(int index) => ref _slots[index];

    /// <summary>Copies a datagram into the reserved slot's own buffer.</summary>
    public void CopyPayload(int index, ReadOnlySpan<byte> data)
    {
        ref WorkItem item = ref _slots[index];
        if (item.Buffer.Length < data.Length)
        {
            item.Buffer = new byte[data.Length]; // rare: reassembled datagrams; the slot keeps the larger buffer
        }

        data.CopyTo(item.Buffer);
        item.Length = data.Length;
    }

    public void Publish()
    {
        Volatile.Write(ref _c.Tail, _c.Tail + 1);
        WakeIfSleeping();
    }

    /// <summary>Producer: after an item was made visible (here or in the worker's spool).</summary>
    public void WakeIfSleeping()
    {
        if (Volatile.Read(ref _c.ConsumerSleeping) != 0)
        {
            _signal.Set();
        }
    }

    /// <summary>Consumer: the next item, or false when empty.</summary>
    public bool TryPeek(out int index)
    {
        long head = _c.Head;
        if (head == _c.CachedTail)
        {
            _c.CachedTail = Volatile.Read(ref _c.Tail);
            if (head == _c.CachedTail)
            {
                index = -1;
                return false;
            }
        }

        index = (int)(head & _mask);
        return true;
    }

    public void Release(int index)
    {
        _slots[index].Target = null;
        Volatile.Write(ref _c.Head, _c.Head + 1);
    }

    /// <summary>
    /// Consumer: waits until an item arrives (in the ring or in <paramref name="spool"/>, whose appends wake it with
    /// <see cref="WakeIfSleeping"/>), the timeout passes, or <paramref name="ct"/> fires.
    /// </summary>
    public void WaitForWork(TimeSpan timeout, WorkSpool spool, CancellationToken ct)
    {
        var spin = new SpinWait();
        for (int i = 0; i < 50; i++)
        {
            if (_c.Head != Volatile.Read(ref _c.Tail) || spool.HasRecords)
            {
                return;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        _signal.Reset();
        Volatile.Write(ref _c.ConsumerSleeping, 1);
        try
        {
            if (_c.Head == Volatile.Read(ref _c.Tail) && !spool.HasRecords)
            {
                _signal.Wait(timeout, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Volatile.Write(ref _c.ConsumerSleeping, 0);
        }
    }

    /// <summary>Wakes the consumer (shutdown).</summary>
    public void Wake() => _signal.Set();

    public void Dispose() => _signal.Dispose();

    /// <summary>The ring's cursors, one writer per cache line (the first line pads them off the object header).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 4 * CacheLine)]
    private struct Cursors
    {
        /// <summary>Next slot to write; producer only.</summary>
        [FieldOffset(1 * CacheLine)]
        public long Tail;

        /// <summary>The producer's last look at <see cref="Head"/>.</summary>
        [FieldOffset((1 * CacheLine) + 8)]
        public long CachedHead;

        /// <summary>Next slot to read; consumer only.</summary>
        [FieldOffset(2 * CacheLine)]
        public long Head;

        /// <summary>The consumer's last look at <see cref="Tail"/>.</summary>
        [FieldOffset((2 * CacheLine) + 8)]
        public long CachedTail;

        /// <summary>Set by the consumer before it sleeps; read by the producer at every publish (rarely written).</summary>
        [FieldOffset(3 * CacheLine)]
        public int ConsumerSleeping;
    }
}
