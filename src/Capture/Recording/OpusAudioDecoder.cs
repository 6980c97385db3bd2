using Capture.Interop;
using Capture.Rtp;
using O = Capture.Interop.Interop.Opus;

namespace Capture.Recording;

/// <summary>Opus RTP payloads decoded mono at 16 kHz by libopus, with libopus' own PLC (opus_decode with no data).</summary>
public sealed unsafe class OpusAudioDecoder : IAudioDecoder
{
    private const int Rate = 16000;
    private const int MaxFrameSamples = Rate * 120 / 1000;  // 120 ms, the longest Opus packet
    private const int PlcQuantum = Rate / 400;              // PLC lengths must be multiples of 2.5 ms

    private readonly SafeOpusDecoderHandle _state;
    private readonly short[] _scratch = new short[MaxFrameSamples];

    public OpusAudioDecoder() => _state = O.CreateDecoder(Rate, 1);

    public AudioCodec Codec => AudioCodec.Opus;

    public int SampleRate => Rate;

    public int Decode(ReadOnlySpan<byte> payload, Span<short> pcm)
    {
        if (payload.IsEmpty)
        {
            return -1;
        }

        int frameSize = Math.Min(pcm.Length, MaxFrameSamples);
        int written;
        fixed (byte* data = payload)
        fixed (short* output = pcm)
        {
            written = O.opus_decode(_state, data, payload.Length, output, frameSize, 0);
        }

        return written < 0 ? -1 : written;
    }

    /// <summary>Frames rebuilt from the next packet's in-band FEC (or concealed by libopus when it carried none).</summary>
    public long FecFrames { get; private set; }

    /// <summary>The gap's head by PLC, its last frame from <paramref name="next"/>'s FEC data (libopus PLC when it has none).</summary>
    public int ConcealBefore(ReadOnlySpan<byte> next, Span<short> pcm, int samples)
    {
        int frame = next.IsEmpty ? -1 : OpusPacket.SamplesAt48Khz(next) / (48000 / Rate);
        if (frame <= 0 || frame > samples || frame % PlcQuantum != 0)
        {
            return Conceal(pcm, samples);
        }

        int head = samples - frame;
        if (head > 0)
        {
            Conceal(pcm, head);
        }

        int written;
        fixed (byte* data = next)
        fixed (short* output = pcm)
        {
            written = O.opus_decode(_state, data, next.Length, output + head, frame, 1);
        }

        if (written != frame)
        {
            return head + Conceal(pcm[head..], frame);
        }

        FecFrames++;
        return samples;
    }

    public int Conceal(Span<short> pcm, int samples)
    {
        pcm = pcm[..samples]; // a too-small buffer is a caller bug
        int done = 0;
        fixed (short* output = pcm)
        fixed (short* scratch = _scratch)
        {
            while (done < samples)
            {
                int chunk = Math.Min(samples - done, MaxFrameSamples);
                int whole = chunk / PlcQuantum * PlcQuantum;
                int written;
                if (whole > 0)
                {
                    written = O.opus_decode(_state, null, 0, output + done, whole, 0);
                }
                else
                {
                    // Less than 2.5 ms left: conceal one quantum and keep its head.
                    written = O.opus_decode(_state, null, 0, scratch, PlcQuantum, 0);
                    if (written > 0)
                    {
                        written = chunk;
                        _scratch.AsSpan(0, chunk).CopyTo(pcm[done..]);
                    }
                }

                if (written <= 0)
                {
                    pcm[done..].Clear();
                    break;
                }

                done += written;
            }
        }

        return samples;
    }

    public void Reset() => _ = O.opus_decoder_ctl(_state, O.OPUS_RESET_STATE);

    public void Dispose() => _state.Dispose();
}
