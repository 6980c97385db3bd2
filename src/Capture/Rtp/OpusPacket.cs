using Capture.Interop;

namespace Capture.Rtp;

/// <summary>What an Opus packet says of itself (RFC 6716 section 3.1: its TOC byte and frame count), read by libopus.</summary>
public static class OpusPacket
{
    /// <summary>Audio the packet carries, in 48 kHz samples; -1 when it is no valid Opus packet.</summary>
    public static unsafe int SamplesAt48Khz(ReadOnlySpan<byte> packet)
    {
        if (packet.IsEmpty)
        {
            return -1;
        }

        fixed (byte* p = packet)
        {
            int samples = Interop.Interop.Opus.opus_packet_get_nb_samples(p, packet.Length, 48_000);
            return samples > 0 ? samples : -1;
        }
    }
}
