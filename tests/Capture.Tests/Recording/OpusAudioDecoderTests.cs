using Capture.Interop;
using Capture.Recording;
using Capture.Rtp;
using Xunit.Abstractions;
using Libraries = Capture.Interop.Interop.Libraries;

namespace Capture.Tests.Recording;

/// <summary>Opus: a tone encoded by libopus survives our 16 kHz mono decoder; PLC fills losses.</summary>
public unsafe class OpusAudioDecoderTests(ITestOutputHelper output)
{
    [Fact]
    public void Opus_DecodesLibopusEncodedSine_AndConceals()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Opus))
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
        using (SafeOpusEncoderHandle encoder = global::Capture.Interop.Interop.Opus.CreateEncoder(Rate, 1, global::Capture.Interop.Interop.Opus.OPUS_APPLICATION_VOIP))
        {
            Assert.Equal(0, global::Capture.Interop.Interop.Opus.opus_encoder_ctl(encoder, global::Capture.Interop.Interop.Opus.OPUS_SET_BITRATE_REQUEST, 24000));
            fixed (short* amp = input)
            fixed (byte* data = packet)
            {
                for (int frame = 0; frame < input.Length / 320; frame++)
                {
                    int length = global::Capture.Interop.Interop.Opus.opus_encode(encoder, amp + (frame * 320), 320, data, packet.Length);
                    Assert.True(length > 0);
                    Assert.Equal(320, decoder.Decode(packet.AsSpan(0, length), pcm));
                    pcm.AsSpan(0, 320).CopyTo(decoded.AsSpan(frame * 320));
                }
            }
        }

        DecoderTestSupport.AssertSameTone(input, decoded, Rate, 1000, skip: 1600);

        Assert.Equal(320, decoder.Conceal(pcm, 320));
        Assert.True(AudioSignals.Rms(pcm.AsSpan(0, 320)) > 100, "libopus PLC continues the tone");
        Assert.Equal(333, decoder.Conceal(pcm, 333)); // not a multiple of 2.5 ms
        Assert.Equal(-1, decoder.Decode([], pcm));
        Assert.Equal(-1, decoder.Decode(new byte[] { 0x03, 0x00 }, pcm)); // code 3 packet with zero frames
        decoder.Reset();
    }
}
