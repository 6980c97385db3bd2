using System.Buffers;

namespace Capture.Packets;

/// <summary>Identifies one IP datagram in reassembly: (src, dst, protocol, id) for IPv4 (RFC 791), (src, dst, id) for IPv6 (RFC 8200).</summary>
internal readonly record struct FragmentKey(IpAddress16 Source, IpAddress16 Destination, uint Id, byte Protocol, byte Version);

/// <summary>
/// Rebuilds IPv4 and IPv6 datagrams from fragments, in any order. Owned by one <see cref="FrameDecoder"/> (one thread):
/// slots and their range arrays are created once and reused, buffers come from <see cref="ArrayPool{T}.Shared"/>,
/// and the key map is pre-sized, so steady state allocates nothing. Overlaps that repeat the same bytes are accepted
/// (retransmitted fragments on a mirror port); overlaps with different bytes poison the datagram until it times out
/// (RFC 5722: never guess which copy the receiver used).
/// </summary>
internal sealed class FragmentReassembler
{
    /// <summary>Smallest buffer rented: two Ethernet-MTU fragments, the common SIP case, fit without regrowing.</summary>
    private const int MinimumBuffer = 4096;

    private readonly FragmentOptions _options;
    private readonly Slot?[] _slots;
    private readonly int[] _free;
    private readonly Dictionary<FragmentKey, int> _index;
    private int _freeCount;
    private int _slotsCreated;
    private long _bytesHeld;

    public FragmentReassembler(FragmentOptions options)
    {
        _options = options;
        _slots = new Slot?[options.MaxDatagrams];
        _free = new int[options.MaxDatagrams];
        _index = new Dictionary<FragmentKey, int>(options.MaxDatagrams);
    }

    /// <summary>Datagrams currently in reassembly (including poisoned ones waiting to expire).</summary>
    public int ActiveDatagrams => _index.Count;

    /// <summary>Buffer bytes currently held.</summary>
    public long BytesHeld => _bytesHeld;

    /// <summary>
    /// Stores one fragment. On <see cref="DecodeResult.Packet"/> the datagram is complete: <paramref name="datagram"/>
    /// is its payload, in <paramref name="buffer"/>, which the caller now owns and must give back with <see cref="Return"/>.
    /// </summary>
    public DecodeResult Add(
        in FragmentKey key,
        long timestampNs,
        int offset,
        bool moreFragments,
        byte nextProtocol,
        ReadOnlySpan<byte> data,
        out byte[]? buffer,
        out int datagramLength,
        out byte datagramProtocol,
        out DropReason reason)
    {
        buffer = null;
        datagramLength = 0;
        datagramProtocol = 0;

        int end = offset + data.Length;
        if (data.Length == 0 || (moreFragments && (data.Length & 7) != 0))
        {
            reason = DropReason.BadFragment;
            return DecodeResult.Dropped;
        }

        if (end > _options.MaxDatagramSize)
        {
            reason = DropReason.FragmentTooLarge;
            return DecodeResult.Dropped;
        }

        Slot slot;
        if (_index.TryGetValue(key, out int slotIndex))
        {
            slot = _slots[slotIndex]!;
            if (slot.Poisoned)
            {
                reason = DropReason.FragmentOverlap;
                return DecodeResult.Dropped;
            }
        }
        else
        {
            if (!TryTakeSlot(out slotIndex))
            {
                reason = DropReason.FragmentLimit;
                return DecodeResult.Dropped;
            }

            slot = _slots[slotIndex]!;
            slot.Start(key, timestampNs);
            _index.Add(key, slotIndex);
        }

        // The datagram's end: fixed by the last fragment; a second, different last fragment or data past it is a conflict.
        if (!moreFragments)
        {
            if ((slot.TotalLength >= 0 && slot.TotalLength != end) || slot.HighestEnd > end)
            {
                return Poison(slot, out reason);
            }
        }
        else if (slot.TotalLength >= 0 && end > slot.TotalLength)
        {
            return Poison(slot, out reason);
        }

        if (!EnsureCapacity(slot, slot.TotalLength >= 0 ? slot.TotalLength : Math.Max(end, slot.HighestEnd)))
        {
            return Discard(slotIndex, slot, DropReason.FragmentLimit, out reason);
        }

        if (!slot.SameBytesWhereOverlapping(offset, data))
        {
            return Poison(slot, out reason);
        }

        if (!slot.AddRange(offset, end))
        {
            return Discard(slotIndex, slot, DropReason.FragmentLimit, out reason);
        }

        data.CopyTo(slot.Buffer.AsSpan(offset));
        if (!moreFragments)
        {
            slot.TotalLength = end;
        }

        if (offset == 0)
        {
            slot.NextProtocol = nextProtocol;
            slot.HaveFirst = true;
        }

        if (slot.TotalLength < 0 || !slot.HaveFirst || !slot.IsComplete)
        {
            reason = DropReason.None;
            return DecodeResult.Held;
        }

        // Complete: hand the buffer to the caller and recycle the slot.
        buffer = slot.Buffer;
        datagramLength = slot.TotalLength;
        datagramProtocol = slot.NextProtocol;
        _bytesHeld -= slot.Buffer!.Length;
        slot.Buffer = null;
        ReleaseSlot(slotIndex, slot);
        reason = DropReason.None;
        return DecodeResult.Packet;
    }

    /// <summary>Discards datagrams whose first fragment is older than the timeout; returns how many were incomplete (not poisoned).</summary>
    public int Expire(long nowNs)
    {
        if (_index.Count == 0)
        {
            return 0;
        }

        int expired = 0;
        for (int i = 0; i < _slotsCreated; i++)
        {
            Slot? slot = _slots[i];
            if (slot is null || !slot.Active || nowNs - slot.FirstSeenNs <= _options.TimeoutNs)
            {
                continue;
            }

            if (!slot.Poisoned)
            {
                expired++;
            }

            ReturnBuffer(slot);
            ReleaseSlot(i, slot);
        }

        return expired;
    }

    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    /// <summary>Frees the buffer but keeps the key until the timeout, so the datagram's remaining fragments are dropped too.</summary>
    private DecodeResult Poison(Slot slot, out DropReason reason)
    {
        ReturnBuffer(slot);
        slot.Poisoned = true;
        reason = DropReason.FragmentOverlap;
        return DecodeResult.Dropped;
    }

    private DecodeResult Discard(int slotIndex, Slot slot, DropReason why, out DropReason reason)
    {
        ReturnBuffer(slot);
        ReleaseSlot(slotIndex, slot);
        reason = why;
        return DecodeResult.Dropped;
    }

    private bool EnsureCapacity(Slot slot, int needed)
    {
        int current = slot.Buffer?.Length ?? 0;
        if (needed <= current)
        {
            return true;
        }

        int size = Math.Max(MinimumBuffer, needed);
        if (_bytesHeld - current + size > _options.MaxBytesHeld)
        {
            return false;
        }

        byte[] grown = ArrayPool<byte>.Shared.Rent(size);
        if (slot.Buffer is not null)
        {
            slot.Buffer.AsSpan(0, slot.HighestEnd).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(slot.Buffer);
        }

        _bytesHeld += grown.Length - current;
        slot.Buffer = grown;
        return true;
    }

    private void ReturnBuffer(Slot slot)
    {
        if (slot.Buffer is not null)
        {
            _bytesHeld -= slot.Buffer.Length;
            ArrayPool<byte>.Shared.Return(slot.Buffer);
            slot.Buffer = null;
        }
    }

    private bool TryTakeSlot(out int index)
    {
        if (_freeCount > 0)
        {
            index = _free[--_freeCount];
            return true;
        }

        if (_slotsCreated < _slots.Length)
        {
            index = _slotsCreated++;
            _slots[index] = new Slot(_options.MaxRangesPerDatagram);
            return true;
        }

        index = -1;
        return false;
    }

    private void ReleaseSlot(int index, Slot slot)
    {
        _index.Remove(slot.Key);
        slot.Active = false;
        _free[_freeCount++] = index;
    }

    private sealed class Slot
    {
        private readonly int[] _starts;
        private readonly int[] _ends;
        private int _rangeCount;

        public Slot(int maxRanges)
        {
            _starts = new int[maxRanges];
            _ends = new int[maxRanges];
        }

        public FragmentKey Key;
        public long FirstSeenNs;
        public byte[]? Buffer;
        public int TotalLength;
        public byte NextProtocol;
        public bool HaveFirst;
        public bool Poisoned;
        public bool Active;

        public int HighestEnd => _rangeCount == 0 ? 0 : _ends[_rangeCount - 1];

        public bool IsComplete => _rangeCount == 1 && _starts[0] == 0 && _ends[0] == TotalLength;

        public void Start(in FragmentKey key, long timestampNs)
        {
            Key = key;
            FirstSeenNs = timestampNs;
            TotalLength = -1;
            NextProtocol = 0;
            HaveFirst = false;
            Poisoned = false;
            Active = true;
            _rangeCount = 0;
        }

        /// <summary>True when every stored byte that <paramref name="data"/> at <paramref name="offset"/> covers is equal to it.</summary>
        public bool SameBytesWhereOverlapping(int offset, ReadOnlySpan<byte> data)
        {
            int end = offset + data.Length;
            for (int i = 0; i < _rangeCount; i++)
            {
                int from = Math.Max(offset, _starts[i]);
                int to = Math.Min(end, _ends[i]);
                if (from < to && !Buffer.AsSpan(from, to - from).SequenceEqual(data.Slice(from - offset, to - from)))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Adds [start, end) to the sorted, disjoint ranges, merging touching ones; false if the ranges would exceed the limit.</summary>
        public bool AddRange(int start, int end)
        {
            // First range that ends at or after start (could touch or overlap).
            int i = 0;
            while (i < _rangeCount && _ends[i] < start)
            {
                i++;
            }

            // Ranges i..j-1 overlap or touch [start, end).
            int j = i;
            while (j < _rangeCount && _starts[j] <= end)
            {
                start = Math.Min(start, _starts[j]);
                end = Math.Max(end, _ends[j]);
                j++;
            }

            int merged = j - i;
            if (merged == 0)
            {
                if (_rangeCount == _starts.Length)
                {
                    return false;
                }

                Array.Copy(_starts, i, _starts, i + 1, _rangeCount - i);
                Array.Copy(_ends, i, _ends, i + 1, _rangeCount - i);
                _rangeCount++;
            }
            else if (merged > 1)
            {
                Array.Copy(_starts, j, _starts, i + 1, _rangeCount - j);
                Array.Copy(_ends, j, _ends, i + 1, _rangeCount - j);
                _rangeCount -= merged - 1;
            }

            _starts[i] = start;
            _ends[i] = end;
            return true;
        }
    }
}
