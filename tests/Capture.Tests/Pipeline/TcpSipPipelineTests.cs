using System.Buffers.Binary;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;
using Capture.Interop;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Tests.Recording;
using Capture.Tests.Support;
using Xunit.Abstractions;
using static Capture.Tests.Support.CaptureReplay;

namespace Capture.Tests.Pipeline;

/// <summary>SIP over TCP through the whole pipeline: as captured, and with every TCP segment cut into small reordered pieces.</summary>
public sealed class TcpSipPipelineTests(ITestOutputHelper output)
{
    private const string CallId = "158936656982201062716@10.33.6.100";

    [Fact]
    public void SipIpv4Tcp_RecordsTheCallSignalledOverTcp_WithBothChannelsAudible()
    {
        // MANIFEST/tshark: call 101 -> 201 over TCP/5060 (7 SIP messages, each in its own segment), ~2 s of PCMA
        // both ways (24 + 42 RTP packets, 6 of them comfort noise), ended by BYE.
        using var run = PipelineRun.Replay(ReadCapture("sip_ipv4_tcp.pcap"));
        CallSidecar call = AssertTheCall(run);
        Assert.Equal(7, run.Counters["tcp_sip_messages"]);
        Assert.Equal(7, run.Counters["sip_messages"]);
        Assert.Equal((0L, 0L), (run.Counters["tcp_segments_skipped"], run.Counters["tcp_gaps_skipped"]));
        AssertAudible(run, call);
    }

    [Fact]
    public void SipIpv4Tcp_SegmentsCutIntoSmallReorderedDuplicatedPieces_RecordTheSameCall()
    {
        (int linkType, List<(long Ts, byte[] Frame)> frames) = ReadCapture("sip_ipv4_tcp.pcap");
        using var whole = PipelineRun.Replay((linkType, frames));
        using var pieces = PipelineRun.Replay((linkType, SplitTcp(linkType, frames, pieceSize: 37)));
        CallSidecar expected = AssertTheCall(whole);
        CallSidecar call = AssertTheCall(pieces);
        Assert.Equal(7, pieces.Counters["tcp_sip_messages"]);
        Assert.True(pieces.Counters["tcp_segments_out_of_order"] > 50, "pieces must really arrive out of order");
        Assert.True(pieces.Counters["tcp_retransmitted_bytes"] > 0, "duplicated pieces must be dropped");
        Assert.Equal(0, pieces.Counters["tcp_gaps_skipped"]);
        Assert.Equal(
            (expected.StartedAt, expected.AnsweredAt, expected.EndedAt, expected.Packets, expected.MediaDurationSeconds, expected.EndReason),
            (call.StartedAt, call.AnsweredAt, call.EndedAt, call.Packets, call.MediaDurationSeconds, call.EndReason));
        Assert.Equal(expected.Parties.Select(p => (p.Extension, p.Ip, p.Port, p.Channel)), call.Parties.Select(p => (p.Extension, p.Ip, p.Port, p.Channel)));
        AssertAudible(pieces, call);
    }

    [Fact]
    public void SipIpv4TcpRetrans_RegisterOverTcpInSmallReorderedPieces_IsLearnedAsOverUdp()
    {
        // The REGISTER from 172.168.0.252 over TCP (401, then 200 with a retransmitted segment) binds 1001 to the phone,
        // exactly as SipDeviceLearnerTests sees it from the capture as recorded.
        (int linkType, List<(long Ts, byte[] Frame)> frames) = ReadCapture("sip_ipv4_tcp_retrans.pcap");
        foreach (List<(long, byte[])> variant in new[] { frames, SplitTcp(linkType, frames, pieceSize: 29) })
        {
            using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
            using var run = PipelineRun.Replay((linkType, variant), directory);
            DeviceBinding phone = Assert.Single(directory.Devices());
            Assert.Equal("urn:uuid:00000000-0000-0000-0000-00009314fa8a", phone.Id);
            Assert.Equal(["172.168.0.252"], phone.Ips);
            Assert.Equal(["1001"], phone.Lines.Select(l => l.Extension));
            Assert.Equal(4, run.Counters["tcp_sip_messages"]);
            Assert.Equal(8, run.Counters["sip_messages"]);
            Assert.True(run.Counters["tcp_retransmitted_bytes"] >= 592, "tshark: a 592-byte retransmission");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(23)]
    public void SipIpv4Tcp_CarriedOverWebSocket_RecordsTheSameCall(int pieceSize)
    {
        // The same call as a WebSocket phone (RFC 7118) would carry it: an HTTP upgrade to the "sip" subprotocol, then
        // each SIP message in frames, the client's masked and cut in two fragments with a ping between them, the
        // server's unmasked; optionally every TCP segment cut into small reordered, duplicated pieces.
        (int linkType, List<(long Ts, byte[] Frame)> frames) = ReadCapture("sip_ipv4_tcp.pcap");
        List<(long Ts, byte[] Frame)> webSocket = OverWebSocket(frames);
        using var whole = PipelineRun.Replay((linkType, frames));
        using var run = PipelineRun.Replay((linkType, pieceSize > 0 ? SplitTcp(linkType, webSocket, pieceSize) : webSocket));
        CallSidecar expected = AssertTheCall(whole);
        CallSidecar call = AssertTheCall(run);
        Assert.Equal((1L, 7L, 0L, 7L), (run.Counters["websocket_connections"], run.Counters["websocket_sip_messages"], run.Counters["tcp_sip_messages"], run.Counters["sip_messages"]));
        Assert.Equal(0, run.Counters.Where(c => c.Key.StartsWith("websocket_invalid", StringComparison.Ordinal) || c.Key.StartsWith("sip_invalid", StringComparison.Ordinal)).Sum(c => c.Value));
        Assert.Equal(
            (expected.StartedAt, expected.AnsweredAt, expected.EndedAt, expected.Packets, expected.MediaDurationSeconds),
            (call.StartedAt, call.AnsweredAt, call.EndedAt, call.Packets, call.MediaDurationSeconds));
        Assert.Equal(expected.Parties.Select(p => (p.Extension, p.Ip, p.Port, p.Channel)), call.Parties.Select(p => (p.Extension, p.Ip, p.Port, p.Channel)));
        AssertAudible(run, call);
    }

    /// <summary>
    /// Re-frames every TCP payload of an Ethernet/IPv4 capture as SIP over WebSocket: the first payload of the side that
    /// speaks first (the client) gets an upgrade request before it, the other side's first a 101 response; sequence and
    /// acknowledgement numbers follow the added bytes.
    /// </summary>
    internal static List<(long Ts, byte[] Frame)> OverWebSocket(List<(long Ts, byte[] Frame)> frames)
    {
        const int IpAt = 14;
        var added = new Dictionary<(uint Ip, ushort Port), uint>(); // bytes added so far by each sender
        (uint, ushort)? client = null;
        var result = new List<(long, byte[])>();
        uint mask = 0x37FA213D; // RFC 6455 5.7's example key
        foreach ((long ts, byte[] frame) in frames)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[IpAt + 9] != 6)
            {
                result.Add((ts, frame));
                continue;
            }

            int tcpAt = IpAt + ((frame[IpAt] & 0x0F) * 4);
            int payloadAt = tcpAt + ((frame[tcpAt + 12] >> 4) * 4);
            int payloadEnd = IpAt + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(IpAt + 2));
            var from = (BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(IpAt + 12)), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(tcpAt)));
            var to = (BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(IpAt + 16)), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(tcpAt + 2)));
            byte[] payload = frame[payloadAt..payloadEnd];
            byte[] wrapped = payload;
            if (payload.Length > 0)
            {
                client ??= from;
                bool fromClient = client == from;
                var b = new List<byte>();
                if (!added.ContainsKey(from))
                {
                    b.AddRange(System.Text.Encoding.ASCII.GetBytes(fromClient
                        ? "GET /ws HTTP/1.1\r\nHost: pbx.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n"
                        : "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n"));
                }

                if (fromClient)
                {
                    int half = payload.Length / 2;
                    b.AddRange(Capture.Tests.Sip.WebSocketFrameTests.Frame(0x1, fin: false, payload[..half], mask));
                    b.AddRange(Capture.Tests.Sip.WebSocketFrameTests.Frame(0x9, fin: true, "ping"u8.ToArray(), mask));
                    b.AddRange(Capture.Tests.Sip.WebSocketFrameTests.Frame(0x0, fin: true, payload[half..], mask));
                }
                else
                {
                    b.AddRange(Capture.Tests.Sip.WebSocketFrameTests.Frame(0x1, fin: true, payload, null));
                }

                wrapped = [.. b];
            }

            byte[] rewritten = [.. frame.AsSpan(0, payloadAt), .. wrapped];
            BinaryPrimitives.WriteUInt16BigEndian(rewritten.AsSpan(IpAt + 2), (ushort)(payloadAt - IpAt + wrapped.Length));
            uint seqShift = added.GetValueOrDefault(from);
            uint ackShift = added.GetValueOrDefault(to);
            BinaryPrimitives.WriteUInt32BigEndian(rewritten.AsSpan(tcpAt + 4), BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(tcpAt + 4)) + seqShift);
            if ((frame[tcpAt + 13] & TcpFlags.Ack) != 0)
            {
                BinaryPrimitives.WriteUInt32BigEndian(rewritten.AsSpan(tcpAt + 8), BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(tcpAt + 8)) + ackShift);
            }

            if (payload.Length > 0)
            {
                added[from] = seqShift + (uint)(wrapped.Length - payload.Length);
            }

            result.Add((ts, rewritten));
        }

        return result;
    }

    private static CallSidecar AssertTheCall(PipelineRun run)
    {
        Assert.Empty(run.Errors);
        CallSidecar call = Assert.Single(run.Calls);
        Assert.Equal(CallId, call.CallId);
        Assert.Equal(["101", "201"], call.Parties.Select(p => p.Extension));
        Assert.Contains("PCMA", call.Codecs);
        Assert.NotNull(call.AnsweredAt);
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.InRange(call.Packets, 60, 66);
        Assert.InRange(call.MediaDurationSeconds, 1.9, 2.2);
        return call;
    }

    private void AssertAudible(PipelineRun run, CallSidecar call)
    {
        if (DecodeRms(Path.Combine(run.OutputDirectory, call.File!), output.WriteLine) is not (double left, double right))
        {
            return;
        }

        // The source (tshark -e udp.payload, A-law decoded): 10.33.6.101 sends 0.8 s of PCMA at RMS 1425; 10.33.6.100
        // only 0.4 s at RMS 48 (quiet room tone), the rest comfort noise. Spread over the 2.1 s recording that is about
        // 20 on the left: quiet but present, and not the right leg leaking across.
        Assert.True(left is > 8 and < 100, $"the caller's quiet leg must be on the left (RMS {left:0})");
        Assert.True(right > 500, $"the callee's leg must be audible on the right (RMS {right:0})");
    }
}
