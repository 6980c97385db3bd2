using Capture.Recording;
using Capture.Rtp;
using Capture.Tests.Support;

namespace Capture.Tests.Recording;

/// <summary>The factory, and zero allocation per packet for every decoder present here.</summary>
public class AudioDecodersTests
{
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
            void Run(int packets)
            {
                for (int i = 0; i < packets; i++)
                {
                    decoder.Decode(payload, pcm);
                    decoder.Conceal(pcm, 160);
                }
            }

            long allocated = Allocations.Measure(() => Run(10), () => Run(200));
            Assert.Equal((decoder.Codec, 0L), (decoder.Codec, allocated));
            decoder.Dispose();
        }
    }
}
