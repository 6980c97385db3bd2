using System.Buffers.Binary;
using Capture.Recording;

namespace Capture.Tests.Recording;

/// <summary>Counters of one leg that the sidecar does not show.</summary>
public sealed class MediaLegTests
{
    private static byte[] Rtp(ushort sequence, uint timestamp, uint ssrc)
    {
        var datagram = new byte[12 + 160];
        datagram[0] = 0x80;
        datagram[1] = 8; // PCMA
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(8), ssrc);
        datagram.AsSpan(12).Fill(0xD5); // A-law silence
        return datagram;
    }

    [Fact]
    public void Accept_CountsStraySsrcAsOtherSsrc_AndKeepsTheFirstSource()
    {
        using var leg = new MediaLeg();
        for (int i = 0; i < 100; i++)
        {
            long position = i * 160L;
            long ns = position * 125_000;
            leg.Accept(Rtp((ushort)(1000 + i), (uint)(5000 + position), 0xAAAA), ns, position, 8000, Math.Max(0, position - 1600), 5);
            leg.Accept(Rtp((ushort)(7 + i), (uint)(99_000 + position), 0xBBBB), ns + 1_000_000, position + 8, 8000, Math.Max(0, position - 1600), 5);
        }

        Assert.Equal(100, leg.Packets);
        Assert.Equal(100, leg.DropCount(LegDropReason.OtherSsrc));
        Assert.Equal(0, leg.Lost);
        Assert.Equal(0, leg.DropCount(LegDropReason.Late));
        Assert.Equal(100 * 160, leg.WrittenEnd);
    }
}
