using Capture.Packets;
using Capture.Signalling;

namespace Capture.Pipeline;

/// <summary>
/// TCP: segments go through the <see cref="TcpReassembler"/>; each connection is offered once to the protocols, and the
/// one that claims it reads its bytes. A handshake without payload waits here until its first bytes decide.
/// </summary>
public sealed partial class CapturePipeline : ITcpStreamHandler
{
    private readonly TcpReassembler _tcp;

    /// <summary>A TCP segment: reassembled when its connection is claimed, else counted as <c>tcp_segments_skipped</c>.</summary>
    private void ProcessTcpSegment(in DecodedPacket packet)
    {
        if (_tcp.Process(packet) != TcpSegmentResult.Tracked && !packet.Payload.IsEmpty)
        {
            Counters.TcpSegmentsSkipped++;
        }
    }

    /// <summary>The first protocol that recognises the connection (its endpoints, its first payload) reads it.</summary>
    TcpApplication ITcpStreamHandler.Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader)
    {
        foreach (ISignallingProtocol protocol in _protocols)
        {
            if (protocol.ClaimStream(flow, payload) == TcpApplication.Claimed)
            {
                reader = protocol;
                return TcpApplication.Claimed;
            }
        }

        reader = null; // a handshake without payload: the first bytes decide (OnData below)
        if (payload.IsEmpty)
        {
            return (flags & TcpFlags.Syn) != 0 ? TcpApplication.Pending : TcpApplication.None;
        }

        CountIfTls(payload);
        return TcpApplication.None;
    }

    /// <summary>The first bytes after a handshake: a protocol that recognises them takes the connection; none releases it.</summary>
    int ITcpStreamReader.OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        bool undecided = false;
        foreach (ISignallingProtocol protocol in _protocols)
        {
            TcpApplication claim = protocol.ClaimStream(stream.Flow, data);
            if (claim == TcpApplication.Claimed)
            {
                stream.Connection.Application = TcpApplication.Claimed;
                stream.Connection.Reader = protocol;
                return protocol.OnData(stream, data, afterGap, timestampNs);
            }

            undecided |= claim == TcpApplication.Pending;
        }

        if (undecided)
        {
            return 0; // the first line is not complete yet
        }

        CountIfTls(data);
        stream.Connection.Application = TcpApplication.None; // no protocol's: the reassembler frees it
        Counters.TcpSegmentsSkipped++; // the segment that showed it (later ones are counted as unclaimed)
        return 0;
    }

    /// <summary>
    /// A TLS ClientHello (a handshake record, version 3.x, whose first message is type 1) opening a connection no protocol
    /// reads: SIP over TLS or WSS, which a mirror cannot decrypt. Counted once per connection (the client's first bytes)
    /// so an operator sees why such phones' calls are missing.
    /// </summary>
    private void CountIfTls(ReadOnlySpan<byte> first)
    {
        if (first.Length >= 6 && first[0] == 0x16 && first[1] == 0x03 && first[2] <= 0x04 && first[5] == 0x01)
        {
            Counters.TcpTlsConnections++;
        }
    }

    void ITcpStreamReader.OnClosed(TcpConnection connection, long nowNs)
    {
        // A connection still pending holds nothing of any protocol's.
    }
}
