using Capture.Interop;
using Capture.Recording;
using Capture.Rtp;
using Capture.Tests.Support;
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

    /// <summary>
    /// A sender with in-band FEC (what WebRTC phones and SBCs send when they expect loss) loses one packet of real speech
    /// (SIPp's g711a.pcap, the shared capture): the frame is rebuilt from the copy the next packet carries, far closer to
    /// what was sent than libopus' concealment guesses.
    /// </summary>
    [Fact]
    public void ALostFrame_IsRebuiltFromTheNextPacketsFec_CloserThanConcealment()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Opus))
        {
            return;
        }

        // 8 kHz speech, each sample twice: 16 kHz, the decoder's rate (SILK's own resampler smooths the steps).
        const int Rate = 16000, Frame = 320;
        var speech = new List<short>();
        using (PcapSource source = PcapSource.OpenOffline(Captures.PathOf("g711a.pcap")))
        {
            while (source.ReadNext(out _, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                ReadOnlySpan<byte> alaw = frame[(14 + 20 + 8 + 12)..]; // Ethernet, IPv4, UDP, RTP
                foreach (byte b in alaw)
                {
                    short v = G711.DecodeALaw(b);
                    speech.Add(v);
                    speech.Add(v);
                }
            }
        }

        short[] input = [.. speech];
        int frames = input.Length / Frame;
        var packets = new List<byte[]>();
        var buffer = new byte[1500];
        using (SafeOpusEncoderHandle encoder = global::Capture.Interop.Interop.Opus.CreateEncoder(Rate, 1, global::Capture.Interop.Interop.Opus.OPUS_APPLICATION_VOIP))
        {
            Assert.Equal(0, global::Capture.Interop.Interop.Opus.opus_encoder_ctl(encoder, global::Capture.Interop.Interop.Opus.OPUS_SET_BITRATE_REQUEST, 24000));
            Assert.Equal(0, global::Capture.Interop.Interop.Opus.opus_encoder_ctl(encoder, global::Capture.Interop.Interop.Opus.OPUS_SET_INBAND_FEC_REQUEST, 1));
            Assert.Equal(0, global::Capture.Interop.Interop.Opus.opus_encoder_ctl(encoder, global::Capture.Interop.Interop.Opus.OPUS_SET_PACKET_LOSS_PERC_REQUEST, 10));
            Assert.Equal(0, global::Capture.Interop.Interop.Opus.opus_encoder_ctl(encoder, global::Capture.Interop.Interop.Opus.OPUS_SET_SIGNAL_REQUEST, global::Capture.Interop.Interop.Opus.OPUS_SIGNAL_VOICE));
            fixed (short* pcm = input)
            fixed (byte* data = buffer)
            {
                for (int frame = 0; frame < frames; frame++)
                {
                    int length = global::Capture.Interop.Interop.Opus.opus_encode(encoder, pcm + (frame * Frame), Frame, data, buffer.Length);
                    Assert.True(length > 0);
                    packets.Add(buffer[..length]);
                }
            }
        }

        // Lose one packet at a time wherever the sender speaks (frames with energy), and add up each rebuilt frame's error.
        short[] reference = Decode(-1, fec: false);
        double signal = 0, fecError = 0, plcError = 0;
        int lostFrames = 0;
        for (int lost = 10; lost < frames - 1; lost += 7)
        {
            double energy = Energy(reference, reference, lost);
            if (energy < 1e9)
            {
                continue; // a pause: nothing to rebuild
            }

            lostFrames++;
            signal += energy;
            fecError += Energy(Decode(lost, fec: true), reference, lost);
            plcError += Energy(Decode(lost, fec: false), reference, lost);
        }

        double fecSnr = 10 * Math.Log10(signal / fecError), plcSnr = 10 * Math.Log10(signal / plcError);
        output.WriteLine($"{lostFrames} speech frames lost one at a time, against the frames decoded whole: FEC {fecSnr:F1} dB, concealment {plcSnr:F1} dB");
        Assert.True(lostFrames > 10);
        Assert.True(fecSnr > plcSnr + 6, $"FEC {fecSnr:F1} dB is not clearly better than concealment {plcSnr:F1} dB");

        short[] Decode(int lost, bool fec)
        {
            using var decoder = new OpusAudioDecoder();
            var decoded = new short[frames * Frame];
            var pcm = new short[Rate * 120 / 1000];
            for (int frame = 0; frame < frames; frame++)
            {
                if (frame == lost)
                {
                    continue;
                }

                if (lost >= 0 && frame == lost + 1)
                {
                    Assert.Equal(Frame, fec ? ((IAudioDecoder)decoder).ConcealBefore(packets[frame], pcm, Frame) : decoder.Conceal(pcm, Frame));
                    pcm.AsSpan(0, Frame).CopyTo(decoded.AsSpan(lost * Frame));
                }

                Assert.Equal(Frame, decoder.Decode(packets[frame], pcm));
                pcm.AsSpan(0, Frame).CopyTo(decoded.AsSpan(frame * Frame));
            }

            Assert.Equal(lost >= 0 && fec ? 1 : 0, decoder.FecFrames);
            return decoded;
        }

        static double Energy(short[] decoded, short[] reference, int frame)
        {
            double sum = 0;
            for (int i = frame * Frame; i < (frame + 1) * Frame; i++)
            {
                double d = ReferenceEquals(decoded, reference) ? reference[i] : decoded[i] - reference[i];
                sum += d * d;
            }

            return sum;
        }
    }
}
