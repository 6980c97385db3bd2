using System.Buffers.Binary;
using Capture.Recording;

namespace Capture.Tests.Support;

/// <summary>An Ogg Opus file checked page by page: every page whole with a good CRC, nothing after the last one.</summary>
internal sealed record OggPageInfo(int Offset, int Length, byte Flags, long Granule, uint Serial, uint Sequence, byte[] Body);

internal static class OggPages
{
    /// <summary>
    /// Parses <paramref name="file"/> and asserts what a valid stream needs: every page verifies (CRC), the pages cover the
    /// file to its last byte, one serial, sequence numbers 0, 1, 2, ... without a gap or repeat, granule positions never
    /// going back, BOS on the first page only, EOS at most on the last, and no page body written twice.
    /// </summary>
    public static List<OggPageInfo> AssertValid(byte[] file, bool distinctBodies = true)
    {
        var pages = new List<OggPageInfo>();
        for (int offset = 0; offset < file.Length;)
        {
            Assert.True(OggPage.TryVerify(file.AsSpan(offset), out int length), $"no whole page with a good CRC at byte {offset} of {file.Length}");
            ReadOnlySpan<byte> p = file.AsSpan(offset, length);
            pages.Add(new OggPageInfo(offset, length, p[5], BinaryPrimitives.ReadInt64LittleEndian(p[6..]), BinaryPrimitives.ReadUInt32LittleEndian(p[14..]),
                BinaryPrimitives.ReadUInt32LittleEndian(p[18..]), p[(OggPage.HeaderLength + p[26])..].ToArray()));
            offset += length;
        }

        Assert.True(pages.Count >= 2, "no OpusHead and OpusTags pages");
        var bodies = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < pages.Count; i++)
        {
            OggPageInfo page = pages[i];
            Assert.Equal(pages[0].Serial, page.Serial);
            Assert.Equal((uint)i, page.Sequence);
            Assert.Equal(i == 0, (page.Flags & (byte)OggPageFlags.BeginningOfStream) != 0);
            Assert.True(i == pages.Count - 1 || (page.Flags & (byte)OggPageFlags.EndOfStream) == 0, $"EOS on page {i} of {pages.Count}");
            if (i > 0)
            {
                Assert.True(page.Granule >= pages[i - 1].Granule, $"granule goes back on page {i}: {pages[i - 1].Granule} then {page.Granule}");
            }

            Assert.True(!distinctBodies || bodies.Add(Convert.ToHexString(page.Body)), $"page {i}'s body was written before");
        }

        return pages;
    }

    /// <summary>The audio packets of a valid file in order (the two header packets left out), rebuilt from each page's lacing values.</summary>
    public static List<byte[]> AudioPackets(byte[] file)
    {
        var packets = new List<byte[]>();
        var current = new List<byte>();
        int page = 0;
        for (int offset = 0; offset < file.Length; page++)
        {
            Assert.True(OggPage.TryVerify(file.AsSpan(offset), out int length));
            int segments = file[offset + 26];
            int body = offset + OggPage.HeaderLength + segments;
            for (int i = 0; i < segments; i++)
            {
                int lacing = file[offset + OggPage.HeaderLength + i];
                current.AddRange(file.AsSpan(body, lacing));
                body += lacing;
                if (lacing < 255)
                {
                    if (page >= 2)
                    {
                        packets.Add([.. current]);
                    }

                    current.Clear();
                }
            }

            offset += length;
        }

        return packets;
    }

    /// <summary>
    /// The two mono streams of a two-stream packet (RFC 7845 section 5.1.1): the first with the self-delimiting framing of
    /// RFC 6716 Appendix B taken off (the packet it was made from), the second as it is.
    /// </summary>
    public static (byte[] First, byte[] Second) SplitStreams(byte[] packet)
    {
        int code = packet[0] & 0x3;
        int at = 1;
        int header; // bytes of TOC and lengths the packet had before its self-delimiting length
        int data;   // bytes of frame data the first stream holds
        switch (code)
        {
            case 0:
                header = 1;
                data = ReadLength(packet, ref at);
                break;
            case 1:
                header = 1;
                data = 2 * ReadLength(packet, ref at);
                break;
            case 2:
                int firstFrame = ReadLength(packet, ref at);
                header = at;
                data = firstFrame + ReadLength(packet, ref at);
                break;
            default:
                throw new NotSupportedException("code 3 first streams are not made by these tests' sources");
        }

        int selfLengthBytes = at - header;
        byte[] first = [.. packet.AsSpan(0, header), .. packet.AsSpan(at, data)];
        Assert.True(selfLengthBytes is 1 or 2);
        return (first, packet[(at + data)..]);

        static int ReadLength(byte[] p, ref int at)
        {
            int b = p[at++];
            return b < 252 ? b : b + (4 * p[at++]);
        }
    }

    /// <summary>The playable duration the last page's granule position gives (48 kHz units, less the pre-skip).</summary>
    public static double DurationSeconds(List<OggPageInfo> pages)
    {
        int preSkip = BinaryPrimitives.ReadUInt16LittleEndian(pages[0].Body.AsSpan(10));
        return (pages[^1].Granule - preSkip) / 48000.0;
    }
}
