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

    /// <summary>The playable duration the last page's granule position gives (48 kHz units, less the pre-skip).</summary>
    public static double DurationSeconds(List<OggPageInfo> pages)
    {
        int preSkip = BinaryPrimitives.ReadUInt16LittleEndian(pages[0].Body.AsSpan(10));
        return (pages[^1].Granule - preSkip) / 48000.0;
    }
}
