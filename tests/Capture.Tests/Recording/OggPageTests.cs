using Capture.Recording;

namespace Capture.Tests.Recording;

public class OggPageTests
{
    // The OpusHead page opusenc 0.2 (opus-tools) wrote for an 8 kHz mono file with --serial 305419896:
    // BOS flag, granule 0, serial 0x12345678, sequence 0, CRC 0xA3B1805B, one 19-byte packet.
    private static readonly byte[] s_opusencHeadPage =
    [
        0x4F, 0x67, 0x67, 0x53, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x78, 0x56,
        0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x5B, 0x80, 0xB1, 0xA3, 0x01, 0x13, 0x4F, 0x70, 0x75, 0x73,
        0x48, 0x65, 0x61, 0x64, 0x01, 0x01, 0x38, 0x01, 0x40, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    [Fact]
    public void Crc32_OfCheckString_IsOggCheckValue()
    {
        // Poly 0x04C11DB7, init 0, no reflection, no final xor: the complement of CRC-32/CKSUM's 0x765E7680.
        Assert.Equal(0x89A1897Fu, OggPage.Crc32("123456789"u8));
    }

    [Fact]
    public void WriteSinglePacketPage_ReproducesOpusencPage_ByteForByte()
    {
        ReadOnlySpan<byte> packet = s_opusencHeadPage.AsSpan(28);
        var page = new byte[100];
        int length = OggPage.WriteSinglePacketPage(page, OggPageFlags.BeginningOfStream, 0, 0x12345678, 0, packet);
        Assert.Equal(s_opusencHeadPage, page[..length]);
    }

    [Fact]
    public void TryVerify_AcceptsKnownPage_RejectsAnyFlippedByteOrTruncation()
    {
        Assert.True(OggPage.TryVerify(s_opusencHeadPage, out int length));
        Assert.Equal(s_opusencHeadPage.Length, length);
        for (int i = 0; i < s_opusencHeadPage.Length; i++)
        {
            byte[] damaged = (byte[])s_opusencHeadPage.Clone();
            damaged[i] ^= 0x10;
            Assert.False(OggPage.TryVerify(damaged, out _), $"flipped byte {i}");
        }

        for (int cut = 0; cut < s_opusencHeadPage.Length; cut++)
        {
            Assert.False(OggPage.TryVerify(s_opusencHeadPage.AsSpan(0, cut), out _));
        }
    }

    [Theory]
    [InlineData(0, new byte[] { 0 })]
    [InlineData(1, new byte[] { 1 })]
    [InlineData(254, new byte[] { 254 })]
    [InlineData(255, new byte[] { 255, 0 })]
    [InlineData(256, new byte[] { 255, 1 })]
    [InlineData(510, new byte[] { 255, 255, 0 })]
    public void WriteLacing_Uses255Runs_AndTerminatesMultiplesWithZero(int packetLength, byte[] expected)
    {
        var lacing = new byte[8];
        int count = OggPage.WriteLacing(packetLength, lacing);
        Assert.Equal(expected, lacing[..count]);
        Assert.Equal(count, OggPage.LacingCount(packetLength));
    }

    [Fact]
    public void WriteHeader_RejectsMoreThan255Segments()
    {
        var header = new byte[OggPage.HeaderLength + 300];
        Assert.Throws<ArgumentException>(() => OggPage.WriteHeader(header, OggPageFlags.None, 0, 1, 0, new byte[256], []));
    }
}
