using System.Buffers;
using System.Numerics;

namespace Capture.Packets;

/// <summary>Per-direction byte handling: in-order delivery, out-of-order ranges, gap skipping, buffer limits.</summary>
public sealed partial class TcpReassembler
{
    /// <summary>Smallest buffer rented: a few SIP or Skinny messages fit without regrowing.</summary>
    private const int MinimumBuffer = 4096;

    /// <returns>False when the handler dropped the connection (it is freed).</returns>
    private bool AcceptData(TcpStream stream, uint sequence, ReadOnlySpan<byte> payload, long timestampNs)
    {
        long offset = (int)(sequence - stream.NextSeq); // serial arithmetic: behind (< 0) or ahead (> 0) of what we have
        if (offset < 0)
        {
            if (-offset >= payload.Length)
            {
                SegmentsDuplicate++;
                RetransmittedBytes += payload.Length;
                return true;
            }

            RetransmittedBytes += -offset;
            payload = payload[(int)-offset..];
            sequence = stream.NextSeq;
            offset = 0;
        }

        if (offset > 0)
        {
            if (stream.Length + offset + payload.Length <= _options.MaxBytesPerStream)
            {
                return Hold(stream, (int)offset, payload, timestampNs);
            }

            // Further ahead than this direction may buffer: the gap cannot fill in time. Give up what is held and
            // continue from this segment.
            DiscardAll(stream);
            GapsSkipped++;
            GapBytes += offset;
            stream.HeadSeq = sequence;
            stream.AfterGap = true;
        }

        if (stream.Length == 0 && stream.RangeCount == 0)
        {
            // Fast path: nothing buffered, so the handler reads the packet itself; only what it leaves is copied.
            int consumed = Deliver(stream, payload, timestampNs);
            if (consumed < 0)
            {
                return false;
            }

            stream.HeadSeq += (uint)consumed;
            ReadOnlySpan<byte> rest = payload[consumed..];
            if (rest.IsEmpty)
            {
                return true;
            }

            if (!EnsureCapacity(stream, rest.Length))
            {
                BytesOverLimit += rest.Length; // an unfinished message larger than a stream may hold
                stream.HeadSeq += (uint)rest.Length;
                stream.AfterGap = true;
                return true;
            }

            rest.CopyTo(stream.Buffer.AsSpan(stream.Head));
            stream.Length = rest.Length;
            return true;
        }

        return Append(stream, payload, timestampNs);
    }

    /// <summary>In-order bytes after what is buffered: they may fill the gap before held ranges.</summary>
    private bool Append(TcpStream stream, ReadOnlySpan<byte> payload, long timestampNs)
    {
        int need = Math.Max(stream.Length + payload.Length, stream.Extent - stream.Head);
        if (!EnsureCapacity(stream, need))
        {
            if (stream.Length > 0)
            {
                // The handler could not finish a message within the limit: drop it and let its framer resynchronise.
                BytesOverLimit += stream.Length;
                DropContiguous(stream);
                need = Math.Max(payload.Length, stream.Extent - stream.Head);
            }

            if (!EnsureCapacity(stream, need))
            {
                BytesOverLimit += payload.Length + stream.HeldBytes;
                DiscardAll(stream);
                stream.HeadSeq += (uint)payload.Length;
                stream.AfterGap = true;
                return true;
            }

            if (stream.Length == 0 && stream.RangeCount == 0)
            {
                return AcceptData(stream, stream.HeadSeq, payload, timestampNs);
            }
        }

        int at = stream.Head + stream.Length;
        int end = at + payload.Length;
        payload.CopyTo(stream.Buffer.AsSpan(at));
        stream.Length += payload.Length;

        // Held ranges the new bytes reach become contiguous; bytes they overlapped were received twice.
        ByteRange[] ranges = stream._ranges;
        int absorbed = 0;
        while (absorbed < stream.RangeCount && ranges[absorbed].Start <= stream.Head + stream.Length)
        {
            ByteRange r = ranges[absorbed];
            int overlap = Math.Min(r.End, end) - r.Start;
            if (overlap > 0)
            {
                RetransmittedBytes += overlap;
            }

            stream.Length = Math.Max(stream.Length, r.End - stream.Head);
            stream.HeldBytes -= r.End - r.Start;
            absorbed++;
        }

        RemoveRanges(stream, absorbed);
        if (stream.RangeCount > 0 && absorbed > 0)
        {
            stream.GapSinceNs = timestampNs; // the first gap filled; the next one's clock starts now
        }

        return DeliverBuffered(stream, timestampNs);
    }

    /// <summary>Bytes beyond a gap: stored at their place, merged with the ranges already held.</summary>
    private bool Hold(TcpStream stream, int offset, ReadOnlySpan<byte> payload, long timestampNs)
    {
        int relEnd = stream.Length + offset + payload.Length;
        if (stream._ranges.Length == 0)
        {
            stream._ranges = new ByteRange[_options.MaxRangesPerStream]; // once per pooled stream object
        }

        // Find the ranges the new one touches before changing anything, so a refusal leaves the stream intact.
        ByteRange[] ranges = stream._ranges;
        int count = stream.RangeCount;
        int relStart = stream.Length + offset;
        int first = 0;
        while (first < count && ranges[first].End - stream.Head < relStart)
        {
            first++;
        }

        int last = first;
        while (last < count && ranges[last].Start - stream.Head <= relEnd)
        {
            last++;
        }

        if (last == first && count == ranges.Length)
        {
            BytesOverLimit += payload.Length; // too many separate holes: the gap rule will skip them
            return SkipIfGapTooOld(stream, timestampNs);
        }

        if (!EnsureCapacity(stream, Math.Max(relEnd, stream.Extent - stream.Head)))
        {
            BytesOverLimit += payload.Length;
            return SkipIfGapTooOld(stream, timestampNs);
        }

        int start = stream.Head + relStart; // EnsureCapacity may have moved Head
        int end = stream.Head + relEnd;
        int overlap = 0;
        int mergedStart = start;
        int mergedEnd = end;
        for (int i = first; i < last; i++)
        {
            ByteRange r = ranges[i];
            int shared = Math.Min(end, r.End) - Math.Max(start, r.Start);
            if (shared > 0)
            {
                overlap += shared;
            }

            mergedStart = Math.Min(mergedStart, r.Start);
            mergedEnd = Math.Max(mergedEnd, r.End);
        }

        int merged = last - first;
        if (merged == 0)
        {
            Array.Copy(ranges, first, ranges, first + 1, count - first);
            stream.RangeCount++;
        }
        else if (merged > 1)
        {
            Array.Copy(ranges, last, ranges, first + 1, count - last);
            stream.RangeCount -= merged - 1;
        }

        ranges[first] = new ByteRange(mergedStart, mergedEnd);
        payload.CopyTo(stream.Buffer.AsSpan(start));
        if (count == 0)
        {
            stream.GapSinceNs = timestampNs;
        }

        stream.HeldBytes += payload.Length - overlap;
        RetransmittedBytes += overlap;
        SegmentsOutOfOrder++;

        if (stream.HeldBytes > _options.GapSkipBytes)
        {
            return SkipGapAndDeliver(stream, timestampNs);
        }

        return SkipIfGapTooOld(stream, timestampNs);
    }

    private bool SkipIfGapTooOld(TcpStream stream, long timestampNs) =>
        stream.RangeCount == 0 || timestampNs - stream.GapSinceNs < _options.GapTimeoutNs || SkipGapAndDeliver(stream, timestampNs);

    /// <summary>
    /// Gives up the first gap: the unfinished bytes before it are dropped (they cannot complete), the first held range
    /// becomes the stream's contiguous data, and the handler is told the data follows a gap.
    /// </summary>
    /// <returns>False when the handler dropped the connection.</returns>
    private bool SkipGapAndDeliver(TcpStream stream, long timestampNs)
    {
        ByteRange first = stream._ranges[0];
        int contiguousEnd = stream.Head + stream.Length;
        BytesDiscarded += stream.Length;
        GapBytes += first.Start - contiguousEnd;
        GapsSkipped++;
        stream.HeadSeq += (uint)(first.Start - stream.Head);
        stream.Head = first.Start;
        stream.Length = first.End - first.Start;
        stream.HeldBytes -= stream.Length;
        RemoveRanges(stream, 1);
        stream.GapSinceNs = timestampNs;
        stream.AfterGap = true;
        return DeliverBuffered(stream, timestampNs);
    }

    /// <returns>False when the handler dropped the connection.</returns>
    private bool DeliverBuffered(TcpStream stream, long timestampNs)
    {
        if (stream.Length > 0)
        {
            int consumed = Deliver(stream, stream.Buffer.AsSpan(stream.Head, stream.Length), timestampNs);
            if (consumed < 0)
            {
                return false;
            }

            stream.Head += consumed;
            stream.HeadSeq += (uint)consumed;
            stream.Length -= consumed;
        }

        if (stream.Length == 0 && stream.RangeCount == 0)
        {
            Release(stream); // empty: the buffer goes back to the pool until this direction needs one again
        }

        return true;
    }

    /// <summary>Makes room for <paramref name="bytes"/> from Head: compacts, or rents a larger buffer, within the limits.</summary>
    private bool EnsureCapacity(TcpStream stream, int bytes)
    {
        if (bytes > _options.MaxBytesPerStream)
        {
            return false;
        }

        byte[]? buffer = stream.Buffer;
        int used = stream.Extent - stream.Head;
        if (buffer is not null)
        {
            if (stream.Head + bytes <= buffer.Length)
            {
                return true;
            }

            if (bytes <= buffer.Length)
            {
                MoveData(stream, buffer, buffer, used);
                return true;
            }
        }

        int size = (int)Math.Min(Math.Max(MinimumBuffer, BitOperations.RoundUpToPowerOf2((uint)bytes)), (uint)_options.MaxBytesPerStream);
        int oldLength = buffer?.Length ?? 0;
        if (_bufferedBytes - oldLength + size > _options.MaxTotalBytes)
        {
            return false;
        }

        byte[] larger = ArrayPool<byte>.Shared.Rent(size);
        _bufferedBytes += larger.Length - oldLength;
        if (buffer is not null)
        {
            MoveData(stream, buffer, larger, used);
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else
        {
            stream.Head = 0;
        }

        stream.Buffer = larger;
        return true;
    }

    /// <summary>Copies the used part [Head, Head + used) to the start of <paramref name="to"/>; ranges follow.</summary>
    private static void MoveData(TcpStream stream, byte[] from, byte[] to, int used)
    {
        int shift = stream.Head;
        if (used > 0)
        {
            Buffer.BlockCopy(from, shift, to, 0, used); // handles the overlapping same-array move
        }

        for (int i = 0; i < stream.RangeCount; i++)
        {
            stream._ranges[i].Start -= shift;
            stream._ranges[i].End -= shift;
        }

        stream.Head = 0;
    }

    private static void RemoveRanges(TcpStream stream, int count)
    {
        if (count > 0)
        {
            Array.Copy(stream._ranges, count, stream._ranges, 0, stream.RangeCount - count);
            stream.RangeCount -= count;
        }
    }

    /// <summary>Drops the unconsumed contiguous bytes (an unfinished message that cannot complete).</summary>
    private static void DropContiguous(TcpStream stream)
    {
        stream.Head += stream.Length;
        stream.HeadSeq += (uint)stream.Length;
        stream.Length = 0;
        stream.AfterGap = true;
    }

    /// <summary>Everything buffered is dropped (counted); the position stays after the contiguous bytes.</summary>
    private void DiscardAll(TcpStream stream)
    {
        BytesDiscarded += stream.Length + stream.HeldBytes;
        stream.HeadSeq += (uint)stream.Length;
        stream.Head = 0;
        stream.Length = 0;
        stream.RangeCount = 0;
        stream.HeldBytes = 0;
        Release(stream);
    }

    /// <summary>At close: what is still buffered is counted and the buffer returned.</summary>
    private void Discard(TcpStream stream)
    {
        BytesDiscarded += stream.Length + stream.HeldBytes;
        stream.Length = 0;
        stream.RangeCount = 0;
        stream.HeldBytes = 0;
        Release(stream);
    }

    private void Release(TcpStream stream)
    {
        if (stream.Buffer is { } buffer)
        {
            _bufferedBytes -= buffer.Length;
            ArrayPool<byte>.Shared.Return(buffer);
            stream.Buffer = null;
        }

        stream.Head = 0;
    }
}
