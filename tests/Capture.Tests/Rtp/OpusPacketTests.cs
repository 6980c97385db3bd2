using Capture.Rtp;
using Xunit;

namespace Capture.Tests.Rtp;

/// <summary>RFC 6716 Appendix B: the self-delimiting framing of every stream but the last in a multistream packet.</summary>
public sealed class OpusPacketTests
{
    [Theory]
    [InlineData(new byte[] { 0x08, 1, 2, 3 }, new byte[] { 0x08, 3, 1, 2, 3 })] // code 0: the frame's length after the TOC
    [InlineData(new byte[] { 0x09, 1, 2, 3, 4 }, new byte[] { 0x09, 2, 1, 2, 3, 4 })] // code 1: the shared length
    [InlineData(new byte[] { 0x0A, 1, 9, 7, 7 }, new byte[] { 0x0A, 1, 2, 9, 7, 7 })] // code 2: frame 1 has 1 byte, the 2nd's length is added
    [InlineData(new byte[] { 0x0B, 0x82, 2, 1, 1, 5, 5, 5 }, new byte[] { 0x0B, 0x82, 2, 3, 1, 1, 5, 5, 5 })] // code 3 VBR: the last frame's
    [InlineData(new byte[] { 0x0B, 0x42, 1, 4, 4, 6, 6, 0 }, new byte[] { 0x0B, 0x42, 1, 2, 4, 4, 6, 6, 0 })] // code 3 CBR with 1 byte of padding
    [InlineData(new byte[] { 0x08 }, new byte[] { 0x08, 0 })] // an empty frame (DTX)
    public void WriteSelfDelimited_AddsTheLengthRfc6716AppendixBAsks(byte[] packet, byte[] expected)
    {
        byte[] destination = new byte[packet.Length + 2];
        int written = OpusPacket.WriteSelfDelimited(packet, destination);
        Assert.Equal(expected, destination[..written]);
    }

    [Fact]
    public void WriteSelfDelimited_LongFrames_TakeTwoLengthBytes()
    {
        byte[] packet = new byte[1 + 300];
        packet[0] = 0x78;
        byte[] destination = new byte[packet.Length + 2];
        Assert.Equal(packet.Length + 2, OpusPacket.WriteSelfDelimited(packet, destination));
        Assert.Equal(300, (4 * destination[2]) + destination[1]); // 252 + (300 & 3), then (300 - 252) / 4
        Assert.Equal(252, destination[1]);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x0A, 200, 1 })] // code 2 whose first frame runs past the end
    [InlineData(new byte[] { 0x0B })] // code 3 without its frame count
    [InlineData(new byte[] { 0x0B, 0x40, 255 })] // padding length cut short
    public void WriteSelfDelimited_RefusesMalformedPackets(byte[] packet) =>
        Assert.Equal(-1, OpusPacket.WriteSelfDelimited(packet, new byte[packet.Length + 2]));
}
