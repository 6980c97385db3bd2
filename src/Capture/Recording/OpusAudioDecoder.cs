using Capture.Interop;
using Capture.Rtp;
using O = Capture.Interop.Interop.Opus;

namespace Capture.Recording;

/// <summary>
/// Opus RTP payloads decoded mono by libopus (at 16 kHz unless told otherwise), with libopus' own PLC (opus_decode with no
/// data).
/// </summary>
public sealed unsafe class OpusAudioDecoder : IAudioDecoder
{
    private readonly int _rate;
    private readonly int _maxFrameSamples;  // 120 ms, the longest Opus packet
    private readonly int _plcQuantum;       // PLC lengths must be multiples of 2.5 ms

    private readonly SafeOpusDecoderHandle _state;
    private readonly short[] _scratch;

    public OpusAudioDecoder()
        : this(16000)
    {
    }

    /// <summary>A decoder at <paramref name="rate"/>: 8000, 12000, 16000, 24000 or 48000.</summary>
    public OpusAudioDecoder(int rate)
    {
        _rate = rate;
        _maxFrameSamples = rate * 120 / 1000;
        _plcQuantum = rate / 400;
        _scratch = new short[_maxFrameSamples];
        _state = O.CreateDecoder(rate, 1);
    }

    public AudioCodec Codec => AudioCodec.Opus;

    public int SampleRate => _rate;

    public int Decode(ReadOnlySpan<byte> payload, Span<short> pcm)
    {
        if (payload.IsEmpty)
        {
            return -1;
        }

        int frameSize = Math.Min(pcm.Length, _maxFrameSamples);
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
        int frame = next.IsEmpty ? -1 : OpusPacket.SamplesAt48Khz(next) / (48000 / _rate);
        if (frame <= 0 || frame > samples || frame % _plcQuantum != 0)
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
                int chunk = Math.Min(samples - done, _maxFrameSamples);
                int whole = chunk / _plcQuantum * _plcQuantum;
                int written;
                if (whole > 0)
                {
                    written = O.opus_decode(_state, null, 0, output + done, whole, 0);
                }
                else
                {
                    // Less than 2.5 ms left: conceal one quantum and keep its head.
                    written = O.opus_decode(_state, null, 0, scratch, _plcQuantum, 0);
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
