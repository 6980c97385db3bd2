using Capture.Interop;
using Capture.Rtp;

namespace Capture.Recording;

/// <summary>G.722 at 64 kbit/s through spandsp, 16 kHz out (two samples per payload byte despite the 8000 RTP clock).</summary>
public sealed unsafe class G722Decoder : IAudioDecoder
{
    private readonly SafeG722DecoderHandle _state;
    private readonly FadeConcealer _concealer = new(16000);

    public G722Decoder() => _state = Interop.Interop.SpanDsp.CreateG722Decoder();

    public AudioCodec Codec => AudioCodec.G722;

    public int SampleRate => 16000;

    public int Decode(ReadOnlySpan<byte> payload, Span<short> pcm)
    {
        // Every byte is a valid pair of G.722 codewords, so only the length can be wrong.
        if (payload.IsEmpty || payload.Length > pcm.Length / 2)
        {
            return -1;
        }

        int written;
        fixed (byte* data = payload)
        fixed (short* amp = pcm)
        {
            written = Interop.Interop.SpanDsp.g722_decode(_state, amp, data, payload.Length);
        }

        if (written <= 0)
        {
            return -1;
        }

        _concealer.Remember(pcm[..written]);
        return written;
    }

    public int Conceal(Span<short> pcm, int samples) => _concealer.Conceal(pcm, samples);

    public void Reset()
    {
        // Re-initialise the same native state in place: no native or managed allocation.
        _ = Interop.Interop.SpanDsp.g722_decode_init(_state, Interop.Interop.SpanDsp.G722Rate64000, Interop.Interop.SpanDsp.G722Options16kHz);
        _concealer.Reset();
    }

    public void Dispose() => _state.Dispose();
}
