using Capture.Diagnostics;

namespace Capture.Packets;

/// <summary>
/// TCP stream reassembly for the connections a protocol claims (SIP, Skinny), on the capture thread, without locks
/// and without allocating per segment: connections are pooled objects with <see cref="TcpConnection.Reset"/>, buffers
/// come from <see cref="System.Buffers.ArrayPool{T}.Shared"/> and exist only while a direction holds bytes (an
/// in-order segment is handed to the handler straight from the packet; only what the handler leaves is copied).
/// <para>
/// Per direction: sequence numbers in serial arithmetic (wrap-around); the SYN fixes the start at ISN + 1, else the
/// first segment seen does (the handler is told it starts mid-stream); bytes already received are dropped
/// (retransmissions, overlaps: each byte is used once); data beyond a gap is held until the gap fills, or is skipped
/// when too much is held (<see cref="TcpReassemblerOptions.GapSkipBytes"/>), when it is further ahead than the stream
/// may buffer, or when the gap is older than <see cref="TcpReassemblerOptions.GapTimeoutNs"/>; the handler is then
/// told so its framer resynchronises instead of stalling. FIN closes a direction once every byte before it arrived;
/// both closed frees the connection. RST frees both directions (held data is delivered first). <see cref="Expire"/>
/// frees idle connections and skips old gaps. Every limit that bites is counted; bad input never throws.
/// </para>
/// </summary>
public sealed partial class TcpReassembler
{
    private const int InitialTableSize = 256;

    private readonly TcpReassemblerOptions _options;
    private readonly ITcpStreamHandler _handler;
    private readonly Dictionary<TcpFlowKey, TcpStream> _flows;
    private TcpConnection[] _active;
    private int _activeCount;
    private TcpConnection[] _free;
    private int _freeCount;
    private long _nextId;
    private long _bufferedBytes;

    // Counters: written by the capture thread only; the pipeline exports them as tcp_*.

    /// <summary>Segments of tracked connections (pure ACKs included).</summary>
    public long Segments;

    /// <summary>Segments with payload (or a SYN) of connections no protocol claimed: not buffered.</summary>
    public long SegmentsNotClaimed;

    public long ConnectionsOpened;

    /// <summary>Freed after both directions' FINs (or one FIN when the other direction never carried anything).</summary>
    public long ConnectionsClosed;

    public long ConnectionsReset;

    public long ConnectionsExpired;

    /// <summary>Dropped by the handler (a pending connection that turned out not to be SIP, or a stream it gave up on).</summary>
    public long ConnectionsAbandoned;

    /// <summary>A SYN with a new sequence on a tracked 4-tuple (port reuse): the old connection is freed.</summary>
    public long ConnectionsReplaced;

    /// <summary>New connections not tracked because <see cref="TcpReassemblerOptions.MaxConnections"/> were open.</summary>
    public long FlowsOverLimit;

    /// <summary>Bytes not buffered (or a stuck unfinished message dropped) because a per-stream or total buffer limit bit, or a stream had too many ranges.</summary>
    public long BytesOverLimit;

    /// <summary>Segments held beyond a gap.</summary>
    public long SegmentsOutOfOrder;

    /// <summary>Segments whose bytes had all been received already.</summary>
    public long SegmentsDuplicate;

    /// <summary>Bytes received again (retransmissions, overlaps) and dropped: each byte is used once.</summary>
    public long RetransmittedBytes;

    public long GapsSkipped;

    /// <summary>Stream bytes never seen, jumped over when gaps were skipped.</summary>
    public long GapBytes;

    /// <summary>Buffered bytes thrown away: an unfinished message before a skipped gap or at close, held data given up.</summary>
    public long BytesDiscarded;

    /// <summary>Bytes the handler consumed.</summary>
    public long BytesDelivered;

    public TcpReassembler(ITcpStreamHandler handler, TcpReassemblerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _options = options ?? new TcpReassemblerOptions();
        _options.Validate();
        _handler = handler;
        int initial = Math.Min(_options.MaxConnections, InitialTableSize);
        _flows = new Dictionary<TcpFlowKey, TcpStream>(2 * initial);
        _active = new TcpConnection[initial];
        _free = new TcpConnection[initial];
    }

    public TcpReassemblerOptions Options => _options;

    /// <summary>Connections tracked now.</summary>
    public int ActiveConnections => _activeCount;

    /// <summary>Buffer bytes rented now (array sizes), all directions.</summary>
    public long BufferedBytes => _bufferedBytes;

    /// <summary>The reassembler's counters (<c>tcp_*</c>), each with its kind.</summary>
    public void WriteCounters(CounterWriter counters)
    {
        counters.Event("tcp_segments", Segments);
        counters.Event("tcp_segments_not_claimed", SegmentsNotClaimed);
        counters.Gauge("tcp_connections", ActiveConnections);
        counters.Event("tcp_connections_opened", ConnectionsOpened);
        counters.Event("tcp_connections_closed", ConnectionsClosed);
        counters.Event("tcp_connections_reset", ConnectionsReset);
        counters.Event("tcp_connections_expired", ConnectionsExpired);
        counters.Event("tcp_connections_abandoned", ConnectionsAbandoned);
        counters.Event("tcp_connections_replaced", ConnectionsReplaced);
        counters.Limit("tcp_flows_over_limit", FlowsOverLimit);
        counters.Limit("tcp_bytes_over_limit", BytesOverLimit);
        counters.Event("tcp_segments_out_of_order", SegmentsOutOfOrder);
        counters.Event("tcp_segments_duplicate", SegmentsDuplicate);
        counters.Event("tcp_retransmitted_bytes", RetransmittedBytes);
        counters.Event("tcp_gaps_skipped", GapsSkipped);
        counters.Event("tcp_gap_bytes", GapBytes);
        counters.Event("tcp_bytes_discarded", BytesDiscarded);
        counters.Event("tcp_bytes_delivered", BytesDelivered);
        counters.Gauge("tcp_buffered_bytes", BufferedBytes);
    }

    /// <summary>The stream for this direction, when its connection is tracked.</summary>
    public bool TryGetStream(in TcpFlowKey flow, out TcpStream? stream) => _flows.TryGetValue(flow, out stream);

    /// <summary>One decoded TCP segment (<see cref="DecodedPacket.Protocol"/> must be TCP).</summary>
    public TcpSegmentResult Process(in DecodedPacket packet) =>
        Process(new TcpFlowKey(packet.Source, packet.Destination), packet.TcpSequence, packet.TcpFlags, packet.Payload, packet.TimestampNs);

    public TcpSegmentResult Process(in TcpFlowKey flow, uint sequence, byte flags, ReadOnlySpan<byte> payload, long timestampNs)
    {
        if (!_flows.TryGetValue(flow, out TcpStream? stream))
        {
            return ProcessUntracked(flow, sequence, flags, payload, timestampNs);
        }

        bool syn = (flags & TcpFlags.Syn) != 0;
        if (syn && stream.Started && sequence + 1 != stream.InitialSeq)
        {
            // A new connection on the same 4-tuple (the old one's FIN/RST was not seen): start over.
            ConnectionsReplaced++;
            FlushAndFree(stream.Connection, timestampNs, TcpCloseReason.Replaced);
            return ProcessUntracked(flow, sequence, flags, payload, timestampNs);
        }

        return ProcessTracked(stream, sequence, flags, payload, timestampNs);
    }

    private TcpSegmentResult ProcessUntracked(in TcpFlowKey flow, uint sequence, byte flags, ReadOnlySpan<byte> payload, long timestampNs)
    {
        if ((flags & TcpFlags.Rst) != 0 || (payload.IsEmpty && (flags & TcpFlags.Syn) == 0))
        {
            return TcpSegmentResult.NotClaimed; // ACK, FIN or RST of a connection we do not follow
        }

        ITcpStreamReader? reader = null;
        TcpApplication application = flow.Source == flow.Destination ? TcpApplication.None : _handler.Claim(flow, flags, payload, out reader);
        if (application == TcpApplication.None)
        {
            SegmentsNotClaimed++;
            return TcpSegmentResult.NotClaimed;
        }

        if (_activeCount >= _options.MaxConnections)
        {
            FlowsOverLimit++;
            return TcpSegmentResult.OverLimit;
        }

        TcpStream stream = Open(flow, application, reader, timestampNs);
        return ProcessTracked(stream, sequence, flags, payload, timestampNs);
    }

    private TcpSegmentResult ProcessTracked(TcpStream stream, uint sequence, byte flags, ReadOnlySpan<byte> payload, long timestampNs)
    {
        TcpConnection connection = stream.Connection;
        Segments++;
        if (timestampNs > connection.LastSeenNs)
        {
            connection.LastSeenNs = timestampNs;
        }

        if ((flags & TcpFlags.Rst) != 0)
        {
            ConnectionsReset++;
            FlushAndFree(connection, timestampNs, TcpCloseReason.Reset); // an RST's payload is a diagnostic, not stream data (RFC 9293 3.10.7.1)
            return TcpSegmentResult.Tracked;
        }

        if (stream.Closed)
        {
            RetransmittedBytes += payload.Length;
            return TcpSegmentResult.Tracked;
        }

        uint dataSequence = sequence;
        bool syn = (flags & TcpFlags.Syn) != 0;
        if (syn)
        {
            dataSequence++; // the SYN occupies one sequence number
            if ((flags & TcpFlags.Ack) == 0 && ReferenceEquals(stream, connection.Forward))
            {
                connection.SawHandshake = true;
            }
        }

        if (!stream.Started)
        {
            stream.Started = true;
            stream.SawSyn = syn;
            stream.InitialSeq = dataSequence;
            stream.HeadSeq = dataSequence;
            stream.AfterGap = !syn; // joined mid-connection: the first byte need not start a message
        }

        if (!payload.IsEmpty && !AcceptData(stream, dataSequence, payload, timestampNs))
        {
            return TcpSegmentResult.Tracked; // the handler dropped the connection
        }

        if ((flags & TcpFlags.Fin) != 0 && !stream.FinSeen)
        {
            stream.FinSeen = true;
            stream.FinSeq = dataSequence + (uint)payload.Length;
        }

        if (stream.FinSeen)
        {
            TryClose(stream, timestampNs);
        }

        return TcpSegmentResult.Tracked;
    }

    /// <summary>
    /// Frees idle connections (pending ones sooner) and skips gaps older than <see cref="TcpReassemblerOptions.GapTimeoutNs"/> (delivering
    /// what was held behind them). Call it from the pipeline's tick with capture time.
    /// </summary>
    public void Expire(long nowNs)
    {
        for (int i = _activeCount - 1; i >= 0; i--)
        {
            TcpConnection connection = _active[i];
            long timeout = connection.Application == TcpApplication.Pending ? _options.PendingTimeoutNs : _options.IdleTimeoutNs;
            if (nowNs - connection.LastSeenNs >= timeout)
            {
                ConnectionsExpired++;
                FlushAndFree(connection, nowNs, TcpCloseReason.Idle);
                continue; // the last connection moved to i was already visited
            }

            if (ExpireGap(connection.Forward, nowNs))
            {
                ExpireGap(connection.Reverse, nowNs);
            }
        }
    }

    /// <summary>Frees every connection (end of capture): held data is delivered first.</summary>
    public void Clear(long nowNs)
    {
        while (_activeCount > 0)
        {
            FlushAndFree(_active[_activeCount - 1], nowNs, TcpCloseReason.CaptureEnded);
        }
    }

    /// <returns>False when the connection was freed.</returns>
    private bool ExpireGap(TcpStream stream, long nowNs)
    {
        long id = stream.Connection.Id;
        while (stream.RangeCount > 0 && nowNs - stream.GapSinceNs >= _options.GapTimeoutNs)
        {
            if (!SkipGapAndDeliver(stream, nowNs))
            {
                return false;
            }
        }

        if (stream.FinSeen)
        {
            TryClose(stream, nowNs);
        }

        return stream.Connection.Id == id && id != 0;
    }

    private TcpStream Open(in TcpFlowKey flow, TcpApplication application, ITcpStreamReader? reader, long timestampNs)
    {
        TcpConnection connection = _freeCount > 0 ? _free[--_freeCount] : new TcpConnection();
        connection.Id = ++_nextId;
        connection.Application = application;
        connection.Reader = reader;
        connection.LastSeenNs = timestampNs;
        connection.Forward.Flow = flow;
        connection.Reverse.Flow = flow.Reversed;
        _flows[flow] = connection.Forward;
        _flows[flow.Reversed] = connection.Reverse;
        if (_activeCount == _active.Length)
        {
            Array.Resize(ref _active, Math.Min(_options.MaxConnections, _active.Length * 2)); // grows with the peak, never per segment
        }

        connection.ActiveIndex = _activeCount;
        _active[_activeCount++] = connection;
        ConnectionsOpened++;
        return connection.Forward;
    }

    /// <summary>Delivers what each direction holds (gaps skipped), then frees the connection.</summary>
    private void FlushAndFree(TcpConnection connection, long nowNs, TcpCloseReason reason)
    {
        long id = connection.Id;
        foreach (TcpStream stream in (ReadOnlySpan<TcpStream>)[connection.Forward, connection.Reverse])
        {
            while (stream.RangeCount > 0)
            {
                if (!SkipGapAndDeliver(stream, nowNs))
                {
                    return; // the handler dropped it meanwhile: already freed
                }
            }
        }

        if (connection.Id == id)
        {
            Free(connection, nowNs, reason);
        }
    }

    private void Free(TcpConnection connection, long nowNs, TcpCloseReason reason)
    {
        connection.CloseReason = reason;
        (connection.Reader ?? _handler).OnClosed(connection, nowNs);
        _flows.Remove(connection.Forward.Flow);
        _flows.Remove(connection.Reverse.Flow);
        Discard(connection.Forward);
        Discard(connection.Reverse);

        int index = connection.ActiveIndex;
        TcpConnection last = _active[--_activeCount];
        _active[index] = last;
        last.ActiveIndex = index;
        _active[_activeCount] = null!;

        connection.Reset();
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, Math.Min(_options.MaxConnections, _free.Length * 2));
        }

        _free[_freeCount++] = connection;
    }

    /// <summary>A FIN'd direction closes once every byte before the FIN arrived; the connection goes when both have.</summary>
    private void TryClose(TcpStream stream, long nowNs)
    {
        if (stream.Closed || stream.RangeCount > 0 || (int)(stream.FinSeq - stream.NextSeq) > 0)
        {
            return;
        }

        stream.Closed = true;
        Discard(stream);
        TcpConnection connection = stream.Connection;
        TcpStream other = connection.Other(stream);
        if (other.Closed || !other.Started)
        {
            ConnectionsClosed++;
            Free(connection, nowNs, TcpCloseReason.Closed);
        }
    }

    /// <summary>Hands data to the handler. Returns the bytes it consumed, or -1 when it dropped the connection (now freed).</summary>
    private int Deliver(TcpStream stream, ReadOnlySpan<byte> data, long timestampNs)
    {
        int consumed = (stream.Connection.Reader ?? _handler).OnData(stream, data, stream.AfterGap, timestampNs);
        TcpConnection connection = stream.Connection;
        if (connection.Application == TcpApplication.None)
        {
            ConnectionsAbandoned++;
            Free(connection, timestampNs, TcpCloseReason.Abandoned);
            return -1;
        }

        if ((uint)consumed > (uint)data.Length)
        {
            consumed = consumed < 0 ? 0 : data.Length; // a handler bug must not corrupt the stream
        }

        if (consumed > 0)
        {
            stream.AfterGap = false;
            stream.Consumed += consumed;
            BytesDelivered += consumed;
        }

        return consumed;
    }
}
