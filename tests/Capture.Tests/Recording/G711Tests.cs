using Capture.Recording;
using Capture.Rtp;

namespace Capture.Tests.Recording;

public class G711Tests
{
    [Theory]
    [InlineData(0xFF, 0)]
    [InlineData(0x7F, 0)]
    [InlineData(0x00, -32124)]
    [InlineData(0x80, 32124)]
    [InlineData(0xFE, 8)]
    [InlineData(0x7E, -8)]
    public void DecodeULaw_MatchesG711CodePoints(byte code, short expected) => Assert.Equal(expected, G711.DecodeULaw(code));

    [Theory]
    [InlineData(0xD5, 8)]
    [InlineData(0x55, -8)]
    [InlineData(0xAA, 32256)]
    [InlineData(0x2A, -32256)]
    [InlineData(0xD4, 24)]
    public void DecodeALaw_MatchesG711CodePoints(byte code, short expected) => Assert.Equal(expected, G711.DecodeALaw(code));

    [Fact]
    public void EncodeULaw_OfDecodedCode_ReturnsSameCode()
    {
        for (int code = 0; code < 256; code++)
        {
            if (code == 0x7F)
            {
                continue; // "negative zero" decodes to 0, which encodes as the positive zero 0xFF
            }

            Assert.Equal((byte)code, G711.EncodeULaw(G711.DecodeULaw((byte)code)));
        }
    }

    [Fact]
    public void EncodeALaw_OfDecodedCode_ReturnsSameCode()
    {
        for (int code = 0; code < 256; code++)
        {
            Assert.Equal((byte)code, G711.EncodeALaw(G711.DecodeALaw((byte)code)));
        }
    }

    [Fact]
    public void EncodeDecode_EverySample_StaysWithinQuantisationStep()
    {
        for (int sample = short.MinValue; sample <= short.MaxValue; sample++)
        {
            int u = G711.DecodeULaw(G711.EncodeULaw((short)sample));
            int a = G711.DecodeALaw(G711.EncodeALaw((short)sample));
            // The largest step is 1024 (u-law) / 1024 (A-law) in the top segment; error is at most half a step plus clipping.
            int tolerance = Math.Max(16, Math.Abs(sample) / 16) + 700 * (Math.Abs(sample) > 32000 ? 1 : 0);
            Assert.InRange(u - sample, -tolerance, tolerance);
            Assert.InRange(a - sample, -tolerance, tolerance);
        }
    }

    [Fact]
    public void DecodeSpan_MatchesScalar()
    {
        byte[] codes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var u = new short[256];
        var a = new short[256];
        G711.DecodeULaw(codes, u);
        G711.DecodeALaw(codes, a);
        for (int i = 0; i < 256; i++)
        {
            Assert.Equal(G711.DecodeULaw((byte)i), u[i]);
            Assert.Equal(G711.DecodeALaw((byte)i), a[i]);
        }
    }

    [Theory]
    [InlineData(AudioCodec.Pcmu)]
    [InlineData(AudioCodec.Pcma)]
    public void Decoder_RoundTripsTone_AndConcealsWithFade(AudioCodec codec)
    {
        using IAudioDecoder decoder = AudioDecoders.Create(codec);
        Assert.Equal(8000, decoder.SampleRate);
        short[] tone = AudioSignals.Sine(1000, 8000, 160);
        byte[] payload = tone.Select(s => codec == AudioCodec.Pcmu ? G711.EncodeULaw(s) : G711.EncodeALaw(s)).ToArray();
        var pcm = new short[960];

        Assert.Equal(160, decoder.Decode(payload, pcm));
        Assert.Equal(1000, AudioSignals.DominantFrequency(pcm.AsSpan(0, 160), 8000));

        Assert.Equal(160, decoder.Conceal(pcm, 160));
        Assert.True(AudioSignals.Rms(pcm.AsSpan(0, 80)) > 1000, "concealment starts by repeating the last audio");
        Assert.Equal(800, decoder.Conceal(pcm, 800));
        Assert.Equal(0, AudioSignals.Rms(pcm.AsSpan(400, 400))); // faded to silence after 60 ms

        Assert.Equal(-1, decoder.Decode([], pcm));
        Assert.Equal(-1, decoder.Decode(new byte[961], pcm));
    }
}
