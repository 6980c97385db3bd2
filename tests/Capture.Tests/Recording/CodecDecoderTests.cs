using Capture.Interop;
using Capture.Recording;
using Capture.Rtp;
using Xunit.Abstractions;
using Libraries = Capture.Interop.Interop.Libraries;

namespace Capture.Tests.Recording;

/// <summary>G.722, G.729 and Opus: encode a tone with the library's own encoder, decode with ours, and check the tone survived.</summary>
public unsafe class CodecDecoderTests(ITestOutputHelper output)
{
    private bool Available(string library)
    {
        if (Libraries.IsAvailable(library))
        {
            return true;
        }

        output.WriteLine($"lib{library} is not installed (Debian package {Libraries.DebianPackageFor(library)}); test skipped.");
        return false;
    }

    private static void AssertSameTone(short[] input, ReadOnlySpan<short> decoded, int sampleRate, double frequency, int skip)
    {
        ReadOnlySpan<short> steady = decoded[skip..];
        double inputRms = AudioSignals.Rms(input.AsSpan(skip));
        double outputRms = AudioSignals.Rms(steady);
        Assert.InRange(outputRms / inputRms, 0.5, 1.5);
        Assert.Equal(frequency, AudioSignals.DominantFrequency(steady, sampleRate));
    }

    [Fact]
    public void G722_DecodesSpanDspEncodedSine()
    {
        if (!Available(Libraries.SpanDsp))
        {
            return;
        }

        const int Rate = 16000;
        short[] input = AudioSignals.Sine(1000, Rate, Rate); // 1 s
        var payload = new byte[input.Length / 2];
        using (SafeG722EncoderHandle encoder = Interop.Interop.SpanDsp.CreateG722Encoder())
        fixed (short* amp = input)
        fixed (byte* data = payload)
        {
            Assert.Equal(payload.Length, Interop.Interop.SpanDsp.g722_encode(encoder, data, amp, input.Length));
        }

        using IAudioDecoder decoder = AudioDecoders.Create(AudioCodec.G722);
        Assert.Equal(16000, decoder.SampleRate);
        var decoded = new short[input.Length];
        var pcm = new short[Rate * 120 / 1000];
        for (int packet = 0; packet < payload.Length / 160; packet++) // 20 ms = 160 bytes
        {
            Assert.Equal(320, decoder.Decode(payload.AsSpan(packet * 160, 160), pcm));
            pcm.AsSpan(0, 320).CopyTo(decoded.AsSpan(packet * 320));
        }

        AssertSameTone(input, decoded, Rate, 1000, skip: 1600);

        Assert.Equal(320, decoder.Conceal(pcm, 320));
        Assert.Equal(-1, decoder.Decode([], pcm));
        Assert.Equal(-1, decoder.Decode(new byte[961], pcm)); // more than 120 ms
        decoder.Reset();
        Assert.Equal(320, decoder.Decode(payload.AsSpan(0, 160), pcm));
    }

    [Fact]
    public void G729_DecodesBcg729EncodedSine_TwoFramesPerPacket()
    {
        if (!Available(Libraries.Bcg729))
        {
            return;
        }

        const int Rate = 8000;
        short[] input = AudioSignals.Sine(1000, Rate, Rate);
        var payload = new byte[input.Length / 80 * 10];
        using (SafeG729EncoderHandle encoder = Interop.Interop.Bcg729.CreateEncoder(enableVad: false))
        fixed (short* amp = input)
        fixed (byte* data = payload)
        {
            for (int frame = 0; frame < input.Length / 80; frame++)
            {
                byte length;
                Interop.Interop.Bcg729.bcg729Encoder(encoder, amp + (frame * 80), data + (frame * 10), &length);
                Assert.Equal(10, length);
            }
        }

        using IAudioDecoder decoder = AudioDecoders.Create(AudioCodec.G729);
        var decoded = new short[input.Length];
        var pcm = new short[Rate * 120 / 1000];
        for (int packet = 0; packet < payload.Length / 20; packet++) // 20 ms = two 10-byte frames
        {
            Assert.Equal(160, decoder.Decode(payload.AsSpan(packet * 20, 20), pcm));
            pcm.AsSpan(0, 160).CopyTo(decoded.AsSpan(packet * 160));
        }

        AssertSameTone(input, decoded, Rate, 1000, skip: 800);

        Assert.Equal(170, decoder.Conceal(pcm, 170)); // two erased frames and part of a third
        Assert.Equal(80, decoder.Decode(new byte[] { 0x2A, 0x40 }, pcm)); // a lone SID frame -> comfort noise
        Assert.Equal(-1, decoder.Decode(new byte[7], pcm));
        Assert.Equal(-1, decoder.Decode([], pcm));
        Assert.Equal(-1, decoder.Decode(new byte[130], pcm)); // 13 frames = 130 ms > room for 120 ms
        decoder.Reset();
        Assert.Equal(320, decoder.Decode(payload.AsSpan(0, 32), pcm)); // three frames + SID
    }

    [Fact]
    public void Opus_DecodesLibopusEncodedSine_AndConceals()
    {
        if (!Available(Libraries.Opus))
        {
            return;
        }

        const int Rate = 16000;
        short[] input = AudioSignals.Sine(1000, Rate, Rate);
        using IAudioDecoder decoder = AudioDecoders.Create(AudioCodec.Opus);
        Assert.Equal(16000, decoder.SampleRate);
        var decoded = new short[input.Length];
        var pcm = new short[Rate * 120 / 1000];
        var packet = new byte[1500];
        using (SafeOpusEncoderHandle encoder = Interop.Interop.Opus.CreateEncoder(Rate, 1, Interop.Interop.Opus.OPUS_APPLICATION_VOIP))
        {
            Assert.Equal(0, Interop.Interop.Opus.opus_encoder_ctl(encoder, Interop.Interop.Opus.OPUS_SET_BITRATE_REQUEST, 24000));
            fixed (short* amp = input)
            fixed (byte* data = packet)
            {
                for (int frame = 0; frame < input.Length / 320; frame++)
                {
                    int length = Interop.Interop.Opus.opus_encode(encoder, amp + (frame * 320), 320, data, packet.Length);
                    Assert.True(length > 0);
                    Assert.Equal(320, decoder.Decode(packet.AsSpan(0, length), pcm));
                    pcm.AsSpan(0, 320).CopyTo(decoded.AsSpan(frame * 320));
                }
            }
        }

        AssertSameTone(input, decoded, Rate, 1000, skip: 1600);

        Assert.Equal(320, decoder.Conceal(pcm, 320));
        Assert.True(AudioSignals.Rms(pcm.AsSpan(0, 320)) > 100, "libopus PLC continues the tone");
        Assert.Equal(333, decoder.Conceal(pcm, 333)); // not a multiple of 2.5 ms
        Assert.Equal(-1, decoder.Decode([], pcm));
        Assert.Equal(-1, decoder.Decode(new byte[] { 0x03, 0x00 }, pcm)); // code 3 packet with zero frames
        decoder.Reset();
    }

    [Fact]
    public void Create_UnknownCodec_ThrowsNotSupported()
    {
        Assert.False(AudioDecoders.IsSupported(AudioCodec.TelephoneEvent));
        Assert.Throws<NotSupportedException>(() => AudioDecoders.Create(AudioCodec.ComfortNoise));
        Assert.True(AudioDecoders.IsSupported(AudioCodec.Pcmu));
    }

    [Fact]
    public void Decoders_SteadyState_AllocateNothing()
    {
        var pcm = new short[1920];
        byte[] g711 = new byte[160];
        using IAudioDecoder ulaw = AudioDecoders.Create(AudioCodec.Pcmu);
        var decoders = new List<(IAudioDecoder Decoder, byte[] Payload)> { (ulaw, g711) };
        if (AudioDecoders.IsSupported(AudioCodec.G722))
        {
            decoders.Add((AudioDecoders.Create(AudioCodec.G722), new byte[160]));
        }

        if (AudioDecoders.IsSupported(AudioCodec.G729))
        {
            decoders.Add((AudioDecoders.Create(AudioCodec.G729), new byte[20]));
        }

        if (AudioDecoders.IsSupported(AudioCodec.Opus))
        {
            decoders.Add((AudioDecoders.Create(AudioCodec.Opus), new byte[] { 0x08, 0x00 }));
        }

        foreach ((IAudioDecoder decoder, byte[] payload) in decoders)
        {
            for (int i = 0; i < 10; i++)
            {
                decoder.Decode(payload, pcm);
                decoder.Conceal(pcm, 160);
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++)
            {
                decoder.Decode(payload, pcm);
                decoder.Conceal(pcm, 160);
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            decoder.Dispose();
        }
    }
}
