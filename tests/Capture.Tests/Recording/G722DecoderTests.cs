using Capture.Interop;
using Capture.Recording;
using Capture.Rtp;
using Xunit.Abstractions;
using Libraries = Capture.Interop.Interop.Libraries;

namespace Capture.Tests.Recording;

/// <summary>G.722: a tone encoded by spandsp's own g722_encode survives our decoder.</summary>
public unsafe class G722DecoderTests(ITestOutputHelper output)
{
    [Fact]
    public void G722_DecodesSpanDspEncodedSine()
    {
        if (!DecoderTestSupport.Available(output, Libraries.SpanDsp))
        {
            return;
        }

        const int Rate = 16000;
        short[] input = AudioSignals.Sine(1000, Rate, Rate); // 1 s
        var payload = new byte[input.Length / 2];
        using (SafeG722EncoderHandle encoder = global::Capture.Interop.Interop.SpanDsp.CreateG722Encoder())
        fixed (short* amp = input)
        fixed (byte* data = payload)
        {
            Assert.Equal(payload.Length, global::Capture.Interop.Interop.SpanDsp.g722_encode(encoder, data, amp, input.Length));
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

        DecoderTestSupport.AssertSameTone(input, decoded, Rate, 1000, skip: 1600);

        Assert.Equal(320, decoder.Conceal(pcm, 320));
        Assert.Equal(-1, decoder.Decode([], pcm));
        Assert.Equal(-1, decoder.Decode(new byte[961], pcm)); // more than 120 ms
        decoder.Reset();
        Assert.Equal(320, decoder.Decode(payload.AsSpan(0, 160), pcm));
    }
}
