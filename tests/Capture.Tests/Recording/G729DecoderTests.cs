using Capture.Interop;
using Capture.Recording;
using Capture.Rtp;
using Xunit.Abstractions;
using Libraries = Capture.Interop.Interop.Libraries;

namespace Capture.Tests.Recording;

/// <summary>G.729: a tone encoded by bcg729Encoder (10 ms frames, two per packet) survives our decoder.</summary>
public unsafe class G729DecoderTests(ITestOutputHelper output)
{
    [Fact]
    public void G729_DecodesBcg729EncodedSine_TwoFramesPerPacket()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Bcg729))
        {
            return;
        }

        const int Rate = 8000;
        short[] input = AudioSignals.Sine(1000, Rate, Rate);
        var payload = new byte[input.Length / 80 * 10];
        using (SafeG729EncoderHandle encoder = global::Capture.Interop.Interop.Bcg729.CreateEncoder(enableVad: false))
        fixed (short* amp = input)
        fixed (byte* data = payload)
        {
            for (int frame = 0; frame < input.Length / 80; frame++)
            {
                byte length;
                global::Capture.Interop.Interop.Bcg729.bcg729Encoder(encoder, amp + (frame * 80), data + (frame * 10), &length);
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

        DecoderTestSupport.AssertSameTone(input, decoded, Rate, 1000, skip: 800);

        Assert.Equal(170, decoder.Conceal(pcm, 170)); // two erased frames and part of a third
        Assert.Equal(80, decoder.Decode(new byte[] { 0x2A, 0x40 }, pcm)); // a lone SID frame -> comfort noise
        Assert.Equal(-1, decoder.Decode(new byte[7], pcm));
        Assert.Equal(-1, decoder.Decode([], pcm));
        Assert.Equal(-1, decoder.Decode(new byte[130], pcm)); // 13 frames = 130 ms > room for 120 ms
        decoder.Reset();
        Assert.Equal(320, decoder.Decode(payload.AsSpan(0, 32), pcm)); // three frames + SID
    }
}
