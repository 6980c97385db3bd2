using Capture.Recording;
using Capture.Tests.Support;
using Xunit.Abstractions;

namespace Capture.Tests.Recording;

/// <summary>
/// The writer on a disk that fills and frees (issue 13: a page written 26 times, files twice as long as their call): every
/// page is wholly in the file or not at all, the file stays a valid stream and never plays longer than the audio given.
/// </summary>
public sealed class OggOpusWriterDiskFullTests(ITestOutputHelper output) : IDisposable
{
    private const int Rate = 8000;
    private const int FrameSamples = 160;
    private readonly string _directory = Directory.CreateTempSubdirectory("oggopus-full-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static OggOpusWriterOptions Options => new() { SampleRate = Rate, Tags = [new("CALLID", "disk-full@example.com")], SerialNumber = 0x600DF00D };

    /// <summary>
    /// Writes <paramref name="seconds"/> of a 500/1300 Hz tone pair, calling <paramref name="atFrame"/> before each frame
    /// (frame index) so the test can fill and free the "disk"; returns the writer (completed and disposed).
    /// </summary>
    private static OggOpusWriter Record(FaultyStream stream, double seconds, Action<int> atFrame)
    {
        var writer = new OggOpusWriter(stream, Options, leaveOpen: true);
        int frames = (int)(seconds * Rate / FrameSamples);
        short[] left = AudioSignals.Sine(500, Rate, frames * FrameSamples);
        short[] right = AudioSignals.Sine(1300, Rate, frames * FrameSamples);
        for (int f = 0; f < frames; f++)
        {
            atFrame(f);
            writer.WriteFrame(left.AsSpan(f * FrameSamples, FrameSamples), right.AsSpan(f * FrameSamples, FrameSamples));
        }

        writer.Dispose();
        return writer;
    }

    [Fact]
    public void DiskFullForThreeSeconds_DropsThosePagesOnce_FileStaysValid_AndPlaysTheRestBackToBack()
    {
        var stream = new FaultyStream();
        OggOpusWriter writer = Record(stream, 10, f =>
        {
            if (f == 150)
            {
                stream.Capacity = stream.Length + 1000; // 3 s in: the next page fits only partly
            }
            else if (f == 300)
            {
                stream.Capacity = null; // 6 s in: space again
            }
        });

        byte[] file = stream.ToArray();
        List<OggPageInfo> pages = OggPages.AssertValid(file);
        output.WriteLine($"{pages.Count} pages, {writer.PagesDropped} dropped ({writer.BytesDropped} bytes), {stream.Failures} failed writes, lost {writer.SamplesLost} samples: {string.Join(", ", writer.LostSpans)}");

        // The pages closed between 3 s and 6 s are lost, exactly once each; no byte of them stays in the file.
        Assert.InRange(writer.PagesDropped, 3, 4);
        Assert.Equal(writer.PagesDropped, stream.Failures);
        LostSpan lost = Assert.Single(writer.LostSpans);
        Assert.Equal(writer.SamplesLost, lost.Samples);
        Assert.InRange(lost.Start, 2 * Rate, 3 * Rate);
        Assert.InRange(lost.End, 5 * Rate, 6 * Rate);
        Assert.Equal(file.Length, stream.Length);

        // Its timeline is honest: the last granule gives the audio written, 10 s less what was lost.
        double expected = (10.0 * Rate - writer.SamplesLost) / Rate;
        Assert.Equal(expected, OggPages.DurationSeconds(pages), 3);
        Assert.True(expected < 10 - 2.5);

        AudioSignals.Wav? wav = Decode(file, "full3s");
        if (wav is not null)
        {
            double decoded = (double)wav.ChannelSamples[0].Length / wav.SampleRate;
            Assert.Equal(expected, decoded, 2);
            Assert.True(Math.Abs(AudioSignals.DominantFrequency(wav.ChannelSamples[0].AsSpan(^4800..), 48000) - 500) < 20, "left leg after the gap");
            Assert.True(Math.Abs(AudioSignals.DominantFrequency(wav.ChannelSamples[1].AsSpan(^4800..), 48000) - 1300) < 20, "right leg after the gap");
        }
    }

    [Fact]
    public void DiskFullAtEveryByteOfAPage_NeverLeavesAPartOfIt_AndResumes()
    {
        // The disk fills at each position across two pages (and the header pages); space comes back 2 s later.
        var reference = new FaultyStream();
        Record(reference, 2, _ => { });
        int limit = reference.ToArray().Length;
        for (int capacity = 0; capacity < limit; capacity += capacity < 400 ? 7 : 131)
        {
            var stream = new FaultyStream { Capacity = capacity };
            OggOpusWriter writer = Record(stream, 5, f =>
            {
                if (f == 100)
                {
                    stream.Capacity = null;
                }
            });

            List<OggPageInfo> pages = OggPages.AssertValid(stream.ToArray());
            Assert.True(writer.HeadersWritten);
            Assert.True(writer.PagesDropped >= 1 || capacity >= limit - 200, $"capacity {capacity}: nothing dropped");
            Assert.Equal((5.0 * Rate - writer.SamplesLost) / Rate, OggPages.DurationSeconds(pages), 3);
            Assert.True((pages[^1].Flags & (byte)OggPageFlags.EndOfStream) != 0, $"capacity {capacity}: no EOS page");
        }
    }

    [Fact]
    public void DiskFullFromTheStart_WritesHeadersWhenSpaceComes_AndTheFileStartsThere()
    {
        var stream = new FaultyStream { Capacity = 0 };
        OggOpusWriter writer = Record(stream, 4, f =>
        {
            if (f == 100)
            {
                stream.Capacity = null;
            }
        });

        List<OggPageInfo> pages = OggPages.AssertValid(stream.ToArray());
        LostSpan lost = Assert.Single(writer.LostSpans);
        Assert.Equal(0, lost.Start);
        Assert.InRange(lost.Samples, Rate, 2 * Rate);
        Assert.Equal((4.0 * Rate - writer.SamplesLost) / Rate, OggPages.DurationSeconds(pages), 3);
        AudioSignals.Wav? wav = Decode(stream.ToArray(), "fromstart");
        if (wav is not null)
        {
            Assert.Equal((4.0 * Rate - writer.SamplesLost) / Rate, (double)wav.ChannelSamples[0].Length / wav.SampleRate, 2);
        }
    }

    [Fact]
    public void DiskNeverFreed_FileEndsAtTheLastWholePage_AndPlaysUpToIt()
    {
        var stream = new FaultyStream();
        OggOpusWriter writer = Record(stream, 6, f =>
        {
            if (f == 120)
            {
                stream.Capacity = stream.Length + 50;
            }
        });

        byte[] file = stream.ToArray();
        List<OggPageInfo> pages = OggPages.AssertValid(file);
        Assert.Equal(0, pages[^1].Flags & (byte)OggPageFlags.EndOfStream); // the EOS page could not be written either
        Assert.True(writer.SamplesLost >= 3 * Rate);
        AudioSignals.Wav? wav = Decode(file, "neverfreed");
        if (wav is not null)
        {
            double decoded = (double)wav.ChannelSamples[0].Length / wav.SampleRate;
            Assert.InRange(decoded, 1.5, 6.0 - (writer.SamplesLost / (double)Rate) + 0.02);
        }
    }

    [Fact]
    public void RecordingFile_IsCreatedByItsFirstWrite_AndEachWriteIsInTheFileAtOnce()
    {
        // Issue 13's cause: a buffered FileStream keeps the bytes of a failed flush and writes them again with the next
        // page. The recording's file has no buffer (each write is in the file when Write returns, without Flush), and a
        // folder that cannot be created fails the write, not the recording: a later write creates the file.
        string blocked = Path.Combine(_directory, "2024");
        File.WriteAllText(blocked, "in the way");
        string path = Path.Combine(blocked, "01", "rec.opus");
        using var file = new RecordingFileStream(path);
        using (var writer = new OggOpusWriter(file, Options, leaveOpen: true))
        {
            Assert.False(writer.HeadersWritten);
            Assert.False(file.Created);
            File.Delete(blocked);
            var frame = new short[FrameSamples];
            for (int i = 0; i < 60; i++)
            {
                writer.WriteFrame(frame, frame);
                if (i == 55)
                {
                    Assert.True(file.Created);
                    Assert.Equal(file.Length, new FileInfo(path).Length); // on disk at once: nothing held back in a buffer
                    Assert.True(file.Length > 0);
                }
            }
        }

        List<OggPageInfo> pages = OggPages.AssertValid(File.ReadAllBytes(path), distinctBodies: false);
        Assert.Equal(1.2, OggPages.DurationSeconds(pages), 3); // the headers went out with the first page, no audio lost
    }

    private AudioSignals.Wav? Decode(byte[] file, string name) =>
        AudioSignals.DecodeWithOpusdec(file, _directory, name, output.WriteLine, dither: false);
}
