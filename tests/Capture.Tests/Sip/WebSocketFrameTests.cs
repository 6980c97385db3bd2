using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Capture.Packets;
using Capture.Sip;
using Capture.Tests.Packets;
using Capture.Tests.Support;

namespace Capture.Tests.Sip;

/// <summary>RFC 6455 framing as SIP over WebSocket (RFC 7118) uses it, with the RFC's own examples.</summary>
public sealed class WebSocketFrameTests
{
    [Fact]
    public void Rfc6455Examples_UnmaskedAndMaskedHello_ReadAsTheSameText()
    {
        // RFC 6455 5.7: a single-frame unmasked text message, and the same masked.
        byte[] unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        byte[] masked = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        foreach (byte[] wire in new[] { unmasked, masked })
        {
            Assert.Equal(OperationStatus.Done, WebSocketFrame.TryRead(wire, out WebSocketFrame frame, out _));
            Assert.True(frame.Fin);
            Assert.Equal(WebSocketOpcode.Text, frame.Opcode);
            Assert.Equal(wire.Length, frame.Length);
            byte[] text = new byte[frame.Payload.Length];
            frame.Unmask(text);
            Assert.Equal("Hello", Encoding.ASCII.GetString(text));
        }
    }

    [Fact]
    public void EveryTruncation_NeedsMoreData_AndConsumesNothing()
    {
        byte[][] frames =
        [
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
            Frame(0x2, fin: true, new byte[300], 0x01020304), // 16-bit length
            Frame(0x1, fin: false, "Hel"u8.ToArray(), null), // RFC 6455 5.7's fragmented "Hello", first part
        ];
        foreach (byte[] wire in frames)
        {
            for (int length = 0; length < wire.Length; length++)
            {
                Assert.Equal(OperationStatus.NeedMoreData, WebSocketFrame.TryRead(wire.AsSpan(0, length), out _, out _));
            }

            Assert.Equal(OperationStatus.Done, WebSocketFrame.TryRead(wire, out WebSocketFrame frame, out _));
            Assert.Equal(wire.Length, frame.Length);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xC1, 0x00 }, WebSocketInvalidReason.BadHeader)] // RSV1 without an extension
    [InlineData(new byte[] { 0x83, 0x00 }, WebSocketInvalidReason.BadHeader)] // reserved opcode 3
    [InlineData(new byte[] { 0x09, 0x00 }, WebSocketInvalidReason.BadControlFrame)] // a fragmented ping
    [InlineData(new byte[] { 0x89, 0x7E, 0x00, 0x7E }, WebSocketInvalidReason.BadControlFrame)] // a 126-byte ping
    [InlineData(new byte[] { 0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0 }, WebSocketInvalidReason.TooLarge)] // 2^63
    [InlineData(new byte[] { 0x82, 0x7F, 0, 0, 0, 0, 0, 2, 0, 0 }, WebSocketInvalidReason.TooLarge)] // 128 KB: no SIP message
    public void BadFrames_AreInvalidWithAReason(byte[] wire, WebSocketInvalidReason expected)
    {
        Assert.Equal(OperationStatus.InvalidData, WebSocketFrame.TryRead(wire, out _, out WebSocketInvalidReason reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void SeveralSipMessagesInOneFrame_AndOneWithoutContentLength_AreAllRead()
    {
        // A WebSocket client that packs two requests into one text frame (each with Content-Length), then sends a
        // MESSAGE without Content-Length, which RFC 7118 allows: the WebSocket message is its end.
        const string Options = "OPTIONS sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\nCall-ID: ws-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        const string Options2 = "OPTIONS sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-2\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\nCall-ID: ws-2\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        const string Message = "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-3\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ws-3\r\nCSeq: 3 MESSAGE\r\nContent-Type: text/plain\r\n\r\nhi";
        byte[] upgrade = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: pbx.example.com\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n");
        byte[] stream = [.. upgrade, .. Frame(0x1, true, Encoding.ASCII.GetBytes(Options + Options2), 0xA1B2C3D4), .. Frame(0x1, true, Encoding.ASCII.GetBytes(Message), 0x0BADF00D)];

        // After the handshake's SYN, delivered whole, and one byte per segment.
        foreach (int piece in new[] { stream.Length, 1 })
        {
            var frames = new List<(long, byte[])> { (999_000_000L, FrameBuilder.Ethernet(0x0800, FrameBuilder.Ipv4(6, Tcp(50000, 8080, 999, [], TcpFlags.Syn)))) };
            uint seq = 1000;
            for (int at = 0; at < stream.Length; at += piece)
            {
                byte[] chunk = stream[at..Math.Min(stream.Length, at + piece)];
                frames.Add((1_000_000_000L + at, FrameBuilder.Ethernet(0x0800, FrameBuilder.Ipv4(6, Tcp(50000, 8080, seq, chunk)))));
                seq += (uint)chunk.Length;
            }

            using var run = CaptureReplay.PipelineRun.Replay((LinkTypes.Ethernet, frames));
            Assert.Equal((1L, 2L, 3L), (run.Counters["websocket_connections"], run.Counters["websocket_sip_messages"], run.Counters["sip_messages"]));
        }
    }

    [Fact]
    public void SipOverTlsOrWss_CannotBeRead_AndIsCountedOncePerConnection()
    {
        // A phone opening WSS (or SIP over TLS) to 443: the ClientHello, the server's ServerHello, then encrypted records.
        byte[] clientHello = [0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2C, 0x03, 0x03, .. new byte[44]];
        byte[] serverHello = [0x16, 0x03, 0x03, 0x00, 0x30, 0x02, 0x00, 0x00, 0x2C, 0x03, 0x03, .. new byte[44]];
        byte[] appData = [0x17, 0x03, 0x03, 0x00, 0x10, .. new byte[16]];
        List<(long, byte[])> frames =
        [
            (1_000_000_000L, FrameBuilder.Ethernet(0x0800, FrameBuilder.Ipv4(6, Tcp(50001, 443, 99, [], TcpFlags.Syn)))),
            (1_001_000_000L, FrameBuilder.Ethernet(0x0800, FrameBuilder.Ipv4(6, Tcp(50001, 443, 100, clientHello)))),
            (1_002_000_000L, FrameBuilder.Ethernet(0x0800, FrameBuilder.Ipv4(6, Tcp(443, 50001, 500, serverHello), src: FrameBuilder.DstV4, dst: FrameBuilder.SrcV4))),
            (1_003_000_000L, FrameBuilder.Ethernet(0x0800, FrameBuilder.Ipv4(6, Tcp(50001, 443, 100 + (uint)clientHello.Length, appData)))),
        ];
        using var run = CaptureReplay.PipelineRun.Replay((LinkTypes.Ethernet, frames));
        Assert.Equal(1, run.Counters["tcp_tls_connections_unreadable"]);
        Assert.Equal(0, run.Counters["sip_messages"]);
    }

    /// <summary>One frame; <paramref name="mask"/> null sends it unmasked (server to client).</summary>
    internal static byte[] Frame(byte opcode, bool fin, byte[] payload, uint? mask)
    {
        var b = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        byte maskBit = mask is null ? (byte)0 : (byte)0x80;
        if (payload.Length < 126)
        {
            b.Add((byte)(maskBit | payload.Length));
        }
        else
        {
            b.Add((byte)(maskBit | 126));
            b.Add((byte)(payload.Length >> 8));
            b.Add((byte)payload.Length);
        }

        if (mask is not uint key)
        {
            b.AddRange(payload);
            return [.. b];
        }

        byte[] keyBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(keyBytes, key);
        b.AddRange(keyBytes);
        for (int i = 0; i < payload.Length; i++)
        {
            b.Add((byte)(payload[i] ^ keyBytes[i & 3]));
        }

        return [.. b];
    }

    /// <summary>A TCP segment without options (ACK|PSH unless told).</summary>
    private static byte[] Tcp(ushort sport, ushort dport, uint seq, byte[] payload, byte flags = TcpFlags.Ack | TcpFlags.Psh)
    {
        byte[] tcp = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), 1);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 65535);
        payload.CopyTo(tcp, 20);
        return tcp;
    }
}
