using Capture.Interop;
using Capture.Rtp;
using B = Capture.Interop.Interop.Bcg729;

namespace Capture.Recording;

/// <summary>
/// G.729/G.729A/B through bcg729, 8 kHz out. A payload is N 10-byte frames, optionally followed by one 2-byte
/// Annex B SID frame (RFC 3551 4.5.6), which decodes to comfort noise. Concealment is bcg729's frame erasure.
/// </summary>
public sealed unsafe class G729Decoder : IAudioDecoder
{
    private readonly short[] _scratch = new short[B.FrameSamples];
    private readonly byte[] _erasedFrame = new byte[B.FrameBytes];
    private SafeG729DecoderHandle _state;

    public G729Decoder() => _state = B.CreateDecoder();

    public AudioCodec Codec => AudioCodec.G729;

    public int SampleRate => 8000;

    public int Decode(ReadOnlySpan<byte> payload, Span<short> pcm)
    {
        int frames = Math.DivRem(payload.Length, B.FrameBytes, out int rest);
        bool sid = rest == B.SidFrameBytes;
        if (payload.IsEmpty || (rest != 0 && !sid))
        {
            return -1;
        }

        int samples = (frames + (sid ? 1 : 0)) * B.FrameSamples;
        if (samples > pcm.Length)
        {
            return -1;
        }

        fixed (byte* data = payload)
        fixed (short* output = pcm)
        {
            for (int i = 0; i < frames; i++)
            {
                B.bcg729Decoder(_state, data + (i * B.FrameBytes), B.FrameBytes, 0, 0, 0, output + (i * B.FrameSamples));
            }

            if (sid)
            {
                B.bcg729Decoder(_state, data + (frames * B.FrameBytes), B.SidFrameBytes, 0, 1, 0, output + (frames * B.FrameSamples));
            }
        }

        return samples;
    }

    public int Conceal(Span<short> pcm, int samples)
    {
        pcm = pcm[..samples]; // a too-small buffer is a caller bug
        fixed (byte* erased = _erasedFrame)
        fixed (short* output = pcm)
        fixed (short* scratch = _scratch)
        {
            int done = 0;
            while (done + B.FrameSamples <= samples)
            {
                B.bcg729Decoder(_state, erased, B.FrameBytes, 1, 0, 0, output + done);
                done += B.FrameSamples;
            }

            if (done < samples)
            {
                // A partial frame: conceal a whole one and keep its head (G.729 only works in 10 ms frames).
                B.bcg729Decoder(_state, erased, B.FrameBytes, 1, 0, 0, scratch);
                _scratch.AsSpan(0, samples - done).CopyTo(pcm[done..]);
            }
        }

        return samples;
    }

    public void Reset()
    {
        // bcg729 has no reset call: replace the channel (rare: once per call or SSRC change).
        SafeG729DecoderHandle fresh = B.CreateDecoder();
        _state.Dispose();
        _state = fresh;
    }

    public void Dispose() => _state.Dispose();
}
