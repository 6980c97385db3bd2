using System.Buffers;
using Capture.Packets;
using Capture.Sip;

namespace Capture.Pipeline;

/// <summary>
/// TCP: segments go through the <see cref="TcpReassembler"/>; each connection's protocol is decided once
/// (<see cref="TcpApplication"/>) and its reassembled bytes go to that protocol's framer.
/// </summary>
public sealed partial class CapturePipeline : ITcpStreamHandler
{
    /// <summary>Cisco SCCP's well-known port (either side of the connection).</summary>
    private const ushort SkinnyPort = 2000;

    private readonly TcpReassembler _tcp;

    /// <summary>Bytes a SIP stream skipped while resynchronising (after a gap, mid-stream joins, invalid messages).</summary>
    private long _tcpSipBytesSkipped;

    /// <summary>Skinny bytes consumed without parsing (until the Skinny readers plug into <see cref="OnSkinnyStream"/>).</summary>
    private long _skinnyBytesUnparsed;

    /// <summary>The TCP reassembler (its counters are in <see cref="Snapshot"/> as <c>tcp_*</c>).</summary>
    public TcpReassembler Tcp => _tcp;

    /// <summary>A TCP segment: reassembled when its connection is claimed, else counted as <c>tcp_segments_skipped</c>.</summary>
    private void ProcessTcpSegment(in DecodedPacket packet)
    {
        if (_tcp.Process(packet) != TcpSegmentResult.Tracked && !packet.Payload.IsEmpty)
        {
            Counters.TcpSegmentsSkipped++;
        }
    }

    /// <summary>
    /// Decided once per connection: Skinny by its port; SIP by content (the first payload seen, or after a handshake
    /// the first bytes of the stream); anything else is not followed.
    /// </summary>
    TcpApplication ITcpStreamHandler.Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload)
    {
        if (flow.Source.Port == SkinnyPort || flow.Destination.Port == SkinnyPort)
        {
            return TcpApplication.Skinny;
        }

        if (payload.IsEmpty)
        {
            return (flags & TcpFlags.Syn) != 0 ? TcpApplication.Pending : TcpApplication.None;
        }

        return SipSniffer.LooksLikeSip(payload) ? TcpApplication.Sip : TcpApplication.None;
    }

    int ITcpStreamHandler.OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        switch (stream.Connection.Application)
        {
            case TcpApplication.Sip:
                return OnSipStream(stream, data, afterGap, timestampNs);
            case TcpApplication.Skinny:
                return OnSkinnyStream(stream, data, afterGap, timestampNs);
            case TcpApplication.Pending:
                return OnPendingStream(stream, data, afterGap, timestampNs);
            default:
                return data.Length;
        }
    }

    void ITcpStreamHandler.OnClosed(TcpConnection connection)
    {
        if (connection.Application == TcpApplication.Skinny)
        {
            OnSkinnyConnectionClosed(connection);
        }
    }

    /// <summary>The first bytes after a handshake: a SIP start line claims the connection; anything else releases it.</summary>
    private int OnPendingStream(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        if (SipSniffer.LooksLikeSip(data))
        {
            stream.Connection.Application = TcpApplication.Sip;
            return OnSipStream(stream, data, afterGap, timestampNs);
        }

        if (SipStreamFramer.MayStartSip(data))
        {
            return 0; // the first line is not complete yet
        }

        stream.Connection.Application = TcpApplication.None; // not SIP: the reassembler frees it
        return 0;
    }

    /// <summary>Frames every whole SIP message in <paramref name="data"/>; an unfinished one stays buffered.</summary>
    private int OnSipStream(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        int consumed = 0;
        bool resync = afterGap;
        while (true)
        {
            OperationStatus status = SipStreamFramer.TryFrameNext(data[consumed..], resync, out int skip, out int length, out SipInvalidReason reason);
            if (resync || status == OperationStatus.InvalidData)
            {
                _tcpSipBytesSkipped += skip - CountLineBreaks(data.Slice(consumed, skip));
            }

            consumed += skip;
            if (status == OperationStatus.NeedMoreData)
            {
                return consumed;
            }

            if (status == OperationStatus.InvalidData)
            {
                Counters.CountSipInvalid(SipReasonName(reason));
                resync = true;
                continue;
            }

            ReadOnlySpan<byte> bytes = data.Slice(consumed, length);
            consumed += length;
            resync = false;
            if (SipMessage.TryRead(bytes, out SipMessage message, out reason) != OperationStatus.Done)
            {
                Counters.CountSipInvalid(SipReasonName(reason)); // framed but unreadable (TryFrame and TryRead agree today)
                continue;
            }

            Counters.TcpSipMessages++;
            OnSipMessage(message, stream.Source, stream.Destination, timestampNs);
        }
    }

    private static int CountLineBreaks(ReadOnlySpan<byte> skipped)
    {
        int n = 0;
        foreach (byte b in skipped)
        {
            n += b is (byte)'\r' or (byte)'\n' ? 1 : 0;
        }

        return n;
    }

    // ---- Skinny hook ---------------------------------------------------------------------------------------------
    // The Skinny readers (src/Capture/Skinny, another branch) plug in here. Per direction the reassembler hands over
    // the contiguous unconsumed bytes; return how many were consumed (whole messages: 4-byte little-endian length,
    // 4-byte header version, then length bytes from the version on); the rest stays buffered until more arrive.
    // afterGap: bytes were lost, or the capture joined mid-connection: resynchronise (e.g. skip to a plausible
    // length + version + message id). Per-connection state shared by both directions (which device this connection
    // belongs to) goes in stream.Connection.State, released in OnSkinnyConnectionClosed; stream.Connection.Id is
    // unique and stream.Source/Destination say who sent the bytes.

    /// <summary>SKINNY HOOK: one direction's reassembled SCCP bytes. For now they are counted and consumed.</summary>
    private int OnSkinnyStream(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        _skinnyBytesUnparsed += data.Length;
        return data.Length;
    }

    /// <summary>SKINNY HOOK: the connection is gone (FIN, RST, idle): release <see cref="TcpConnection.State"/>.</summary>
    private static void OnSkinnyConnectionClosed(TcpConnection connection) => connection.State = null;

    // ----------------------------------------------------------------------------------------------------------------

    private void AddTcpCounters(SortedDictionary<string, long> counters)
    {
        TcpReassembler t = _tcp;
        counters["tcp_segments"] = t.Segments;
        counters["tcp_segments_not_claimed"] = t.SegmentsNotClaimed;
        counters["tcp_connections"] = t.ActiveConnections;
        counters["tcp_connections_opened"] = t.ConnectionsOpened;
        counters["tcp_connections_closed"] = t.ConnectionsClosed;
        counters["tcp_connections_reset"] = t.ConnectionsReset;
        counters["tcp_connections_expired"] = t.ConnectionsExpired;
        counters["tcp_connections_abandoned"] = t.ConnectionsAbandoned;
        counters["tcp_connections_replaced"] = t.ConnectionsReplaced;
        counters["tcp_flows_over_limit"] = t.FlowsOverLimit;
        counters["tcp_bytes_over_limit"] = t.BytesOverLimit;
        counters["tcp_segments_out_of_order"] = t.SegmentsOutOfOrder;
        counters["tcp_segments_duplicate"] = t.SegmentsDuplicate;
        counters["tcp_retransmitted_bytes"] = t.RetransmittedBytes;
        counters["tcp_gaps_skipped"] = t.GapsSkipped;
        counters["tcp_gap_bytes"] = t.GapBytes;
        counters["tcp_bytes_discarded"] = t.BytesDiscarded;
        counters["tcp_bytes_delivered"] = t.BytesDelivered;
        counters["tcp_buffered_bytes"] = t.BufferedBytes;
        counters["tcp_sip_bytes_skipped"] = _tcpSipBytesSkipped;
        counters["skinny_bytes_unparsed"] = _skinnyBytesUnparsed;
    }
}
