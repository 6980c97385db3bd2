using System.Buffers;
using Capture.Packets;
using Capture.Sip;
using Capture.Skinny;

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
        Counters.TcpSegmentsSkipped++; // the segment that showed it (later ones are counted as unclaimed)
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

    // ---- Skinny ------------------------------------------------------------------------------------------------------

    /// <summary>One direction's reassembled SCCP bytes: whole messages are read (devices, lines, calls); the rest stays buffered.</summary>
    private int OnSkinnyStream(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        if (stream.Connection.State is not SkinnyConnection connection)
        {
            connection = SkinnyConnection.FromEndpoints(stream.Source, stream.Destination);
            stream.Connection.State = connection;
        }

        bool fromPhone = connection.IsFromPhone(stream.Source);
        if (afterGap)
        {
            connection.NoteGap(fromPhone); // lost bytes or a mid-connection join: find the next message boundary first
        }

        return _skinny.OnStream(connection, fromPhone, data, timestampNs);
    }

    /// <summary>The connection is gone (FIN, RST, idle): the phone's calls end; the device stays in the directory.</summary>
    private void OnSkinnyConnectionClosed(TcpConnection connection)
    {
        if (connection.State is SkinnyConnection skinny)
        {
            _skinny.OnConnectionClosed(skinny, _lastNs);
        }

        connection.State = null;
    }

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
        SkinnyCounters k = _skinny.Counters;
        counters["skinny_messages"] = k.Messages;
        counters["skinny_unknown_messages"] = k.UnknownMessages;
        counters["skinny_resyncs"] = k.Resyncs;
        counters["skinny_bytes_skipped"] = k.BytesSkipped;
        ReadOnlySpan<long> invalid = k.Invalid;
        for (int i = 1; i < invalid.Length; i++)
        {
            if (invalid[i] != 0)
            {
                counters["skinny_invalid_" + PipelineCounters.SnakeCase(((SkinnyInvalidReason)i).ToString())] = invalid[i];
            }
        }

        SkinnyCallTracker c = _skinny.Calls;
        counters["skinny_media_forks_ignored"] = c.MediaForksIgnored;
        counters["skinny_media_without_call"] = c.MediaWithoutCall;
        if (_skinny.Learner is { } l)
        {
            counters["skinny_registers"] = l.Registers;
            counters["skinny_registers_acked"] = l.RegisterAcks;
            counters["skinny_registers_rejected"] = l.RegisterRejects;
            counters["skinny_unregisters"] = l.Unregisters;
            counters["skinny_media_resource_registrations"] = l.MediaResourceRegistrations;
            counters["skinny_line_sets_published"] = l.LineSetsPublished;
            counters["skinny_call_info_lines"] = l.CallInfoLines;
            counters["skinny_bad_extensions"] = l.BadExtensions;
        }
    }
}
