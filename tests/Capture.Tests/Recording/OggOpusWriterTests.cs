using System.Buffers.Binary;
using Capture.Recording;
using Capture.Tests.Support;
using Xunit.Abstractions;

namespace Capture.Tests.Recording;

public sealed class OggOpusWriterTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oggopus-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static OggOpusWriterOptions Options(int rate) => new()
    {
        SampleRate = rate,
        Tags = [new("CALLID", "a84b4c76e66710@pc33.example.com"), new("LEFT", "1001"), new("RIGHT", "+4930123456")],
        SerialNumber = 0x0A0B0C0D,
    };

    /// <summary>Writes <paramref name="seconds"/> of a tone per leg (0 Hz = silence) and returns the file bytes.</summary>
    private static byte[] Record(int rate, double leftHz, double rightHz, double seconds, bool complete = true, bool flush = true)
    {
        var stream = new MemoryStream();
        var writer = new OggOpusWriter(stream, Options(rate), leaveOpen: true);
        int total = (int)(seconds * rate);
        short[] left = leftHz > 0 ? AudioSignals.Sine(leftHz, rate, total) : new short[total];
        short[] right = rightHz > 0 ? AudioSignals.Sine(rightHz, rate, total) : new short[total];
        for (int offset = 0; offset + writer.FrameSamples <= total; offset += writer.FrameSamples)
        {
            writer.WriteFrame(left.AsSpan(offset, writer.FrameSamples), right.AsSpan(offset, writer.FrameSamples));
        }

        Assert.Equal(TimeSpan.FromSeconds(seconds), writer.Duration);
        if (complete)
        {
            writer.Dispose();
            return stream.ToArray();
        }

        if (flush)
        {
            writer.Flush();
        }

        return stream.ToArray(); // the "crash": no Complete, no EOS page
    }

    private AudioSignals.Wav? DecodeWithOpusdec(byte[] file, string name, bool dither = true) =>
        AudioSignals.DecodeWithOpusdec(file, _directory, name, output.WriteLine, dither);

    [Theory]
    [InlineData(8000)]
    [InlineData(16000)]
    public void Opusdec_DecodesExactDuration_AndKeepsLegsApart(int rate)
    {
        byte[] file = Record(rate, 440, 1000, 3.0);
        AudioSignals.Wav? wav = DecodeWithOpusdec(file, $"tones{rate}");
        if (wav is null)
        {
            return;
        }

        Assert.Equal(2, wav.Channels);
        Assert.Equal(48000, wav.SampleRate);
        Assert.InRange(wav.Seconds, 2.98, 3.02);

        // Skip the first 200 ms (encoder start-up), measure 2 s.
        ReadOnlySpan<short> left = wav.ChannelSamples[0].AsSpan(9600, 96000);
        ReadOnlySpan<short> right = wav.ChannelSamples[1].AsSpan(9600, 96000);
        double left440 = AudioSignals.Power(left, 440, 48000), left1000 = AudioSignals.Power(left, 1000, 48000);
        double right440 = AudioSignals.Power(right, 440, 48000), right1000 = AudioSignals.Power(right, 1000, 48000);
        output.WriteLine($"left: 440 {left440:E2} 1000 {left1000:E2}; right: 440 {right440:E2} 1000 {right1000:E2}");
        Assert.True(AudioSignals.Db(left1000 / left440) < -20, $"right tone in left channel only {AudioSignals.Db(left1000 / left440):F1} dB down");
        Assert.True(AudioSignals.Db(right440 / right1000) < -20, $"left tone in right channel only {AudioSignals.Db(right440 / right1000):F1} dB down");
        Assert.InRange(AudioSignals.Rms(left), 3000, 8000);  // a 8000-peak sine has RMS 5657
        Assert.InRange(AudioSignals.Rms(right), 3000, 8000);
    }

    [Fact]
    public void Opusdec_DecodesCrashedFile_WithoutEosPage()
    {
        byte[] file = Record(8000, 440, 1000, 2.5, complete: false);
        AudioSignals.Wav? wav = DecodeWithOpusdec(file, "crashed");
        if (wav is null)
        {
            return;
        }

        Assert.True(wav.Seconds >= 1.5, $"only {wav.Seconds:F2} s decoded");
    }

    [Fact]
    public void Opusdec_DecodesCrashedFile_WithoutExplicitFlush_UpToLastFlushInterval()
    {
        // Only the pages the writer closed on its own (every FlushInterval = 1 s) reached the stream.
        byte[] file = Record(8000, 440, 1000, 2.5, complete: false, flush: false);
        AudioSignals.Wav? wav = DecodeWithOpusdec(file, "crashed-noflush");
        if (wav is null)
        {
            return;
        }

        Assert.InRange(wav.Seconds, 1.9, 2.0);
    }

    [Fact]
    public void Opusdec_SilentLeg_DecodesAsSilence()
    {
        byte[] file = Record(8000, 440, 0, 2.0);
        // opusdec dithers 16-bit output by default (about 2 LSB RMS); turn that off to see what the codec produced.
        AudioSignals.Wav? wav = DecodeWithOpusdec(file, "silent-right", dither: false);
        if (wav is null)
        {
            return;
        }

        Assert.True(AudioSignals.Rms(wav.ChannelSamples[1]) < 2, $"right RMS {AudioSignals.Rms(wav.ChannelSamples[1]):F2}");
        Assert.True(AudioSignals.Rms(wav.ChannelSamples[0].AsSpan(9600)) > 3000);
    }

    /// <summary>
    /// One party listens while the other speaks, then answers: the listening leg's silent frames skip the encoder (after
    /// its few warm-up frames), and its speech after 2 s of silence decodes as it does when every frame is encoded.
    /// </summary>
    [Fact]
    public void SilentFrames_SkipTheEncoder_AndSpeechAfterSilenceDecodesAsWhenEveryFrameIsEncoded()
    {
        const int Rate = 8000, Frame = 160;
        short[] left = AudioSignals.Sine(440, Rate, 4 * Rate);
        short[] right = new short[4 * Rate];
        AudioSignals.Sine(700, Rate, 2 * Rate).CopyTo(right, 2 * Rate); // silent for 2 s, then a 700 Hz tone
        (byte[] skipping, long skipped) = Write(skip: true);
        (byte[] encoding, long none) = Write(skip: false);
        output.WriteLine($"{skipped} leg frames skipped; {skipping.Length} bytes against {encoding.Length}");
        Assert.Equal(0, none);
        Assert.Equal((2 * Rate / Frame) - OggOpusWriter.SilenceWarmFrames, skipped);

        AudioSignals.Wav? a = DecodeWithOpusdec(skipping, "skip", dither: false);
        AudioSignals.Wav? b = DecodeWithOpusdec(encoding, "noskip", dither: false);
        if (a is null || b is null)
        {
            return;
        }

        Assert.Equal(b.Seconds, a.Seconds);
        Assert.Equal(b.ChannelSamples[0], a.ChannelSamples[0]); // the speaking leg's packets are the same bytes
        Assert.True(AudioSignals.Rms(a.ChannelSamples[1].AsSpan(4800, 86400)) < 2, "the silent span decodes as silence");

        // From the tone's first 20 ms on (48 kHz output): the difference to the every-frame encoding is far below the tone
        // (30.4 dB with libopus 1.3.1; resetting the encoder when speech resumes made it 27.2 dB, so it is not done).
        ReadOnlySpan<short> toneA = a.ChannelSamples[1].AsSpan(96000, 96000), toneB = b.ChannelSamples[1].AsSpan(96000, 96000);
        short[] difference = new short[toneA.Length];
        for (int i = 0; i < difference.Length; i++)
        {
            difference[i] = (short)(toneA[i] - toneB[i]);
        }

        double snr = AudioSignals.Db(Math.Pow(AudioSignals.Rms(toneB), 2) / Math.Max(1e-9, Math.Pow(AudioSignals.Rms(difference), 2)));
        output.WriteLine($"tone after silence: {snr:F1} dB above the difference");
        Assert.True(snr > 25, $"speech after skipped silence differs: only {snr:F1} dB");

        (byte[] File, long Skipped) Write(bool skip)
        {
            var stream = new MemoryStream();
            var options = new OggOpusWriterOptions { SampleRate = Rate, SerialNumber = 7, SkipSilentFrames = skip };
            long count;
            using (var writer = new OggOpusWriter(stream, options, leaveOpen: true))
            {
                for (int offset = 0; offset < left.Length; offset += Frame)
                {
                    writer.WriteFrame(left.AsSpan(offset, Frame), right.AsSpan(offset, Frame));
                }

                writer.Complete();
                count = writer.SilentFramesSkipped;
            }

            return (stream.ToArray(), count);
        }
    }

    /// <summary>
    /// The page buffer is sized for the bitrate, not for the largest page Ogg allows: 8 KB at the default 20 kbit/s a
    /// leg (it was 64 KB per open recording, then 16 KB), 64 KB for noise at 256 kbit/s a leg, whose file still plays exactly.
    /// </summary>
    [Fact]
    public void PageBuffer_IsSizedForTheBitrate_AndHighBitrateNoiseStillDecodesExactly()
    {
        using (var small = new OggOpusWriter(Stream.Null, new OggOpusWriterOptions { SampleRate = 8000 }))
        {
            Assert.Equal(8192, small.PageBufferBytes);
        }

        const int Rate = 48000, Frame = 960;
        var random = new Random(5);
        short[] left = new short[2 * Rate], right = new short[2 * Rate];
        for (int i = 0; i < left.Length; i++)
        {
            left[i] = (short)random.Next(-20000, 20000);
            right[i] = (short)random.Next(-20000, 20000);
        }

        var stream = new MemoryStream();
        using (var writer = new OggOpusWriter(stream, new OggOpusWriterOptions { SampleRate = Rate, BitratePerChannel = 256000, SerialNumber = 3 }, leaveOpen: true))
        {
            Assert.Equal(65536, writer.PageBufferBytes);
            for (int offset = 0; offset < left.Length; offset += Frame)
            {
                writer.WriteFrame(left.AsSpan(offset, Frame), right.AsSpan(offset, Frame));
            }

            writer.Complete();
        }

        byte[] file = stream.ToArray();
        for (int offset = 0; offset < file.Length;)
        {
            Assert.True(OggPage.TryVerify(file.AsSpan(offset), out int length), $"bad page at {offset}");
            offset += length;
        }

        AudioSignals.Wav? wav = DecodeWithOpusdec(file, "noise256k");
        if (wav is not null)
        {
            Assert.InRange(wav.Seconds, 1.98, 2.02);
        }
    }

    [Fact]
    public void Opusinfo_AcceptsFile()
    {
        string? opusinfo = AudioSignals.FindTool("opusinfo");
        if (opusinfo is null)
        {
            output.WriteLine("opusinfo is not installed (Debian package opus-tools); check skipped.");
            return;
        }

        string path = Path.Combine(_directory, "info.opus");
        File.WriteAllBytes(path, Record(8000, 440, 1000, 1.0));
        (int exitCode, string text) = AudioSignals.Run(opusinfo, path);
        output.WriteLine(text);
        Assert.Equal(0, exitCode);
        Assert.DoesNotContain("WARNING", text, StringComparison.Ordinal);
        Assert.Contains("CALLID=a84b4c76e66710@pc33.example.com", text, StringComparison.Ordinal);
        Assert.Contains("Playback length: 0m:01.000s", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Headers_FollowRfc7845_AndEveryPageHasValidCrc()
    {
        byte[] file = Record(8000, 440, 1000, 3.0);
        var pages = new List<(int Offset, int Length)>();
        for (int offset = 0; offset < file.Length;)
        {
            Assert.True(OggPage.TryVerify(file.AsSpan(offset), out int length), $"bad page at {offset}");
            pages.Add((offset, length));
            offset += length;
        }

        // Page 0: OpusHead alone, BOS; family 1, 2 channels, 2 streams, 0 coupled, mapping [0, 1].
        ReadOnlySpan<byte> first = file.AsSpan(pages[0].Offset, pages[0].Length);
        Assert.Equal((byte)OggPageFlags.BeginningOfStream, first[5]);
        Assert.Equal(1, first[26]);
        ReadOnlySpan<byte> head = first[28..];
        Assert.True(head.StartsWith("OpusHead"u8));
        Assert.Equal(23, head.Length);
        Assert.Equal(1, head[8]);
        Assert.Equal(2, head[9]);
        Assert.Equal(312, BinaryPrimitives.ReadUInt16LittleEndian(head[10..])); // 6.5 ms lookahead at 8 kHz = 52 samples x 6
        Assert.Equal(8000u, BinaryPrimitives.ReadUInt32LittleEndian(head[12..]));
        Assert.Equal([1, 2, 0, 0, 1], head[18..].ToArray());

        // Page 1: OpusTags alone, granule 0.
        ReadOnlySpan<byte> second = file.AsSpan(pages[1].Offset, pages[1].Length);
        Assert.Equal(0, BinaryPrimitives.ReadInt64LittleEndian(second[6..]));
        Assert.True(second[(27 + second[26])..].StartsWith("OpusTags"u8));

        // Audio pages: at most ~1 s each, sequence numbers consecutive, EOS only on the last,
        // whose granule is pre-skip + 3 s at 48 kHz.
        for (int i = 0; i < pages.Count; i++)
        {
            ReadOnlySpan<byte> page = file.AsSpan(pages[i].Offset, pages[i].Length);
            Assert.Equal((uint)i, BinaryPrimitives.ReadUInt32LittleEndian(page[18..]));
            Assert.Equal(0x0A0B0C0Du, BinaryPrimitives.ReadUInt32LittleEndian(page[14..]));
            Assert.Equal(i == pages.Count - 1, (page[5] & (byte)OggPageFlags.EndOfStream) != 0);
            Assert.True(page[26] <= 51, "more than ~1 s of 20 ms packets in a page");
        }

        ReadOnlySpan<byte> last = file.AsSpan(pages[^1].Offset, pages[^1].Length);
        Assert.Equal(312 + (3 * 48000), BinaryPrimitives.ReadInt64LittleEndian(last[6..]));
    }

    [Fact]
    public void Complete_IsIdempotent_AndWriteAfterCompleteThrows()
    {
        var stream = new MemoryStream();
        using var writer = new OggOpusWriter(stream, Options(8000), leaveOpen: true);
        var frame = new short[writer.FrameSamples];
        writer.WriteFrame(frame, frame);
        writer.Complete();
        long length = stream.Length;
        writer.Complete();
        Assert.Equal(length, stream.Length);
        Assert.Throws<InvalidOperationException>(() => writer.WriteFrame(frame, frame));
        Assert.Throws<ArgumentException>(() => new OggOpusWriter(Stream.Null, new OggOpusWriterOptions { SampleRate = 11025 }));
        Assert.Throws<ArgumentException>(() => new OggOpusWriter(Stream.Null, new OggOpusWriterOptions { Tags = [new("A=B", "x")] }));
    }

    [Fact]
    public void WriteFrame_WrongLength_Throws()
    {
        using var writer = new OggOpusWriter(Stream.Null, Options(8000));
        Assert.Throws<ArgumentException>(() => writer.WriteFrame(new short[159], new short[160]));
    }

    [Fact]
    public void WriteFrame_SteadyState_AllocatesNothing()
    {
        var stream = new MemoryStream(capacity: 4 << 20);
        using var writer = new OggOpusWriter(stream, Options(8000), leaveOpen: true);
        short[] left = AudioSignals.Sine(440, 8000, writer.FrameSamples);
        short[] right = AudioSignals.Sine(1000, 8000, writer.FrameSamples);
        void Write(int frames)
        {
            for (int i = 0; i < frames; i++)
            {
                writer.WriteFrame(left, right);
            }
        }

        long allocated = Allocations.Measure(() => Write(100), () => Write(500));
        Assert.Equal(0, allocated);
        Assert.Equal(600 * 160, writer.SamplesWritten);
    }
}
