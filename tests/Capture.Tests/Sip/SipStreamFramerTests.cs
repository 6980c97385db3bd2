using System.Buffers;
using System.Text;
using Capture.Packets;
using Capture.Sip;
using Capture.Tests.Packets;

namespace Capture.Tests.Sip;

public sealed class SipStreamFramerTests
{
    private static readonly byte[] Trying = SipSamples.TcpTrying.ToArray();
    private static readonly byte[] Ringing = SipSamples.TcpRinging.ToArray();
    private static readonly byte[] Ok = SipSamples.TcpOk.ToArray();

    [Fact]
    public void TryFrameNext_SkipsCrlfKeepAlives_BeforeAMessage()
    {
        byte[] data = [.. "\r\n\r\n"u8, .. Trying, .. "\r\n"u8];
        Assert.Equal(OperationStatus.Done, SipStreamFramer.TryFrameNext(data, false, out int skip, out SipMessage message, out _));
        Assert.Equal((4, Trying.Length), (skip, message.BytesConsumed));
        Assert.Equal(OperationStatus.NeedMoreData, SipStreamFramer.TryFrameNext(data.AsSpan(skip + message.BytesConsumed), false, out skip, out _, out _));
        Assert.Equal(2, skip); // a trailing keep-alive is consumed, not kept
    }

    [Fact]
    public void TryFrameNext_ReturnsNeedMoreData_WhenTheBodyIsIncomplete()
    {
        Assert.Equal(OperationStatus.NeedMoreData, SipStreamFramer.TryFrameNext(Ok.AsSpan(0, Ok.Length - 1), false, out int skip, out _, out _));
        Assert.Equal(0, skip);
    }

    [Fact]
    public void TryFrameNext_ReturnsInvalidData_WhenContentLengthIsMissing_AndSkipsTheStartLine()
    {
        byte[] data = "OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n"u8.ToArray();
        Assert.Equal(OperationStatus.InvalidData, SipStreamFramer.TryFrameNext(data, false, out int skip, out _, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.MissingContentLength, reason);
        Assert.Equal("OPTIONS sip:a SIP/2.0\r\n".Length, skip);
    }

    [Fact]
    public void TryFrameNext_Resync_SkipsTheRestOfALostMessage_ToTheNextStartLine()
    {
        // The tail of 200 OK's SDP (its start was lost), then 180 Ringing.
        byte[] data = [.. Ok.AsSpan(Ok.Length - 40), .. Ringing];
        Assert.Equal(OperationStatus.Done, SipStreamFramer.TryFrameNext(data, true, out int skip, out SipMessage message, out _));
        Assert.Equal((40, Ringing.Length), (skip, message.BytesConsumed));
    }

    [Fact]
    public void TryFrameNext_Resync_WaitsForAPlausibleStartLine_AndDropsJunk()
    {
        byte[] partial = "a=rtpmap:8 PCMA/8000\r\nSIP/2.0 18"u8.ToArray();
        Assert.Equal(OperationStatus.NeedMoreData, SipStreamFramer.TryFrameNext(partial, true, out int skip, out _, out _));
        Assert.Equal("a=rtpmap:8 PCMA/8000\r\n".Length, skip);

        byte[] junk = "a=ptime:20\r\n\x00\x01binary"u8.ToArray();
        Assert.Equal(OperationStatus.NeedMoreData, SipStreamFramer.TryFrameNext(junk, true, out skip, out _, out _));
        Assert.Equal(junk.Length, skip);
    }

    [Fact]
    public void MayStartSip_WaitsOnlyForWhatCouldBeAStartLine()
    {
        Assert.True(SipStreamFramer.MayStartSip("INVITE sip:2"u8));
        Assert.True(SipStreamFramer.MayStartSip("\r\nSIP/2."u8));
        Assert.False(SipStreamFramer.MayStartSip("\x16\x03\x01\x02"u8)); // TLS
        Assert.False(SipStreamFramer.MayStartSip("GET / HTTP/1.1\r\n"u8)); // a whole line that is not SIP
    }

    /// <summary>sip_ipv4_tcp.pcap (7 messages) and sip_ipv4_tcp_retrans.pcap (4 over TCP): each SIP direction split at every position and one byte at a time.</summary>
    [Theory]
    [InlineData("sip_ipv4_tcp.pcap", 7)]
    [InlineData("sip_ipv4_tcp_retrans.pcap", 4)]
    public void Framing_CaptureSipStreams_SplitAtEveryPositionAndByteByByte_FramesTheSameMessages(string file, int messages)
    {
        Dictionary<TcpFlowKey, byte[]> streams = TcpCaptureStreams.Reference(TcpCaptureStreams.Load(file))
            .Where(kv => kv.Key.Source.Port == 5060 || kv.Key.Destination.Port == 5060)
            .ToDictionary();
        var framer = new FramingHandler();
        var r = new TcpReassembler(framer);
        int total = 0;
        foreach ((TcpFlowKey flow, byte[] bytes) in streams)
        {
            List<string> expected = FramingHandler.FrameWhole(bytes);
            total += expected.Count;
            for (int p = 1; p < bytes.Length; p++)
            {
                Assert.Equal(expected, Feed(r, framer, flow, bytes, [(0, p), (p, bytes.Length)]));
                Assert.Equal(expected, Feed(r, framer, flow, bytes, [(p, bytes.Length), (0, p)]));
            }

            Assert.Equal(expected, Feed(r, framer, flow, bytes, [.. Enumerable.Range(0, bytes.Length).Select(i => (i, i + 1))]));
        }

        Assert.Equal(messages, total);
    }

    [Fact]
    public void Framing_AfterALostSegment_ResynchronisesAtTheNextMessage()
    {
        // Trying, Ringing, OK in one stream; the middle of Ringing never arrives: the gap is skipped, Ringing's
        // unfinished start is dropped and OK is framed.
        byte[] stream = [.. Trying, .. Ringing, .. Ok];
        int lostFrom = Trying.Length + 100;
        int lostTo = Trying.Length + 200;
        var framer = new FramingHandler();
        var r = new TcpReassembler(framer, new TcpReassemblerOptions { GapSkipBytes = Ok.Length / 2 });
        var flow = new TcpFlowKey(new IpEndpoint16(IpAddress16.FromIPv4(0x0A000001), 5060), new IpEndpoint16(IpAddress16.FromIPv4(0x0A000002), 5060));
        List<string> got = Feed(r, framer, flow, stream, [(0, lostFrom), (lostTo, stream.Length)]);
        Assert.Equal([Encoding.Latin1.GetString(Trying), Encoding.Latin1.GetString(Ok)], got);
        Assert.Equal(1, r.GapsSkipped);
    }

    private static List<string> Feed(TcpReassembler r, FramingHandler framer, TcpFlowKey flow, byte[] bytes, List<(int Start, int End)> pieces)
    {
        const uint Isn = 4_000_000_000;
        framer.Messages.Clear();
        r.Process(flow, Isn, TcpFlags.Syn, default, 0);
        foreach ((int start, int end) in pieces)
        {
            r.Process(flow, Isn + 1 + (uint)start, TcpFlags.Ack, bytes.AsSpan(start, end - start), 0);
        }

        r.Process(flow, Isn + 1 + (uint)bytes.Length, TcpFlags.Rst, default, 0);
        return [.. framer.Messages];
    }

    /// <summary>Frames SIP as the pipeline does (<see cref="SipStreamFramer"/> over the reassembled bytes).</summary>
    private sealed class FramingHandler : ITcpStreamHandler
    {
        public List<string> Messages { get; } = [];

        public static List<string> FrameWhole(byte[] bytes)
        {
            var h = new FramingHandler();
            Assert.Equal(bytes.Length, h.OnData(null!, bytes, false, 0));
            return h.Messages;
        }

        public TcpApplication Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader)
    {
        reader = null;
        return TcpApplication.Claimed;
    }

        public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
        {
            int consumed = 0;
            bool resync = afterGap;
            while (true)
            {
                OperationStatus status = SipStreamFramer.TryFrameNext(data[consumed..], resync, out int skip, out SipMessage message, out _);
                int length = message.BytesConsumed;
                consumed += skip;
                if (status == OperationStatus.NeedMoreData)
                {
                    return consumed;
                }

                resync = status == OperationStatus.InvalidData;
                if (status == OperationStatus.Done)
                {
                    Messages.Add(Encoding.Latin1.GetString(data.Slice(consumed, length)));
                    consumed += length;
                }
            }
        }

        public void OnClosed(TcpConnection connection, long nowNs)
        {
        }
    }
}
