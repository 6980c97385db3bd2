using System.Buffers;
using Capture.Rtp;

namespace Capture.Tests.Rtp;

public class RtpPacketTests
{
    // A PCMA packet header as SIPp's g711a.pcap carries it: V=2, PT 8, seq 0x1234, ts 0x000000A0, SSRC 0x01020304.
    private static readonly byte[] s_pcma = [0x80, 0x08, 0x12, 0x34, 0x00, 0x00, 0x00, 0xA0, 0x01, 0x02, 0x03, 0x04, 0xD5, 0xD5, 0x55, 0x55];

    [Fact]
    public void TryRead_ReadsHeaderAndPayload()
    {
        Assert.Equal(OperationStatus.Done, RtpPacket.TryRead(s_pcma, out RtpPacket p, out _));
        Assert.Equal(8, p.PayloadType);
        Assert.Equal(0x1234, p.SequenceNumber);
        Assert.Equal(0xA0u, p.Timestamp);
        Assert.Equal(0x01020304u, p.Ssrc);
        Assert.Equal(4, p.Payload.Length);
    }

    [Fact]
    public void TryRead_SkipsCsrcExtensionAndPadding()
    {
        byte[] d = [0xB1, 0x80 | 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, /*CSRC*/ 1, 2, 3, 4, /*ext*/ 0xBE, 0xDE, 0, 1, 9, 9, 9, 9, /*payload*/ 7, 7, /*padding*/ 0, 2];
        Assert.Equal(OperationStatus.Done, RtpPacket.TryRead(d, out RtpPacket p, out _));
        Assert.True(p.Marker);
        Assert.Equal(96, p.PayloadType);
        Assert.Equal([7, 7], p.Payload.ToArray());
    }

    [Fact]
    public void TryRead_RejectsRtcpAndEveryTruncation()
    {
        byte[] rtcp = [0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0];
        Assert.Equal(OperationStatus.InvalidData, RtpPacket.TryRead(rtcp, out _, out RtpInvalidReason reason));
        Assert.Equal(RtpInvalidReason.IsRtcp, reason);
        for (int len = 0; len < 12; len++)
        {
            Assert.Equal(OperationStatus.InvalidData, RtpPacket.TryRead(s_pcma.AsSpan(0, len), out _, out _));
        }

        byte[] badPad = [0xA0, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 200];
        Assert.Equal(OperationStatus.InvalidData, RtpPacket.TryRead(badPad, out _, out reason));
        Assert.Equal(RtpInvalidReason.BadPadding, reason);
    }

    [Theory]
    [InlineData(0, '0')]
    [InlineData(9, '9')]
    [InlineData(10, '*')]
    [InlineData(11, '#')]
    [InlineData(12, 'A')]
    [InlineData(16, '\0')]
    public void TelephoneEvent_MapsDigits(byte ev, char digit)
    {
        Assert.True(TelephoneEvent.TryRead([ev, 0x8A, 0x03, 0x20], out TelephoneEvent t));
        Assert.Equal(digit, t.Digit);
        Assert.True(t.End);
        Assert.Equal(10, t.Volume);
        Assert.Equal(800, t.Duration);
    }
}
