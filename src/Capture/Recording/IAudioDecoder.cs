using Capture.Rtp;

namespace Capture.Recording;

/// <summary>
/// Turns one RTP payload into 16-bit mono PCM at <see cref="SampleRate"/>. Bad payloads are normal on a mirror
/// port: they return -1 for the caller to count, never throw. Implementations allocate nothing per call.
/// </summary>
public interface IAudioDecoder : IDisposable
{
    AudioCodec Codec { get; }

    /// <summary>Output sample rate in Hz.</summary>
    int SampleRate { get; }

    /// <summary>Decodes one payload; returns samples written, or -1 for an invalid payload. <paramref name="pcm"/> has room for at least 120 ms at <see cref="SampleRate"/>.</summary>
    int Decode(ReadOnlySpan<byte> payload, Span<short> pcm);

    /// <summary>Fills <paramref name="samples"/> samples for lost packets: the codec's own PLC where it has one, else a fading repeat; returns samples written.</summary>
    int Conceal(Span<short> pcm, int samples);

    /// <summary>
    /// Fills <paramref name="samples"/> samples lost just before <paramref name="next"/>, the packet that ends the gap:
    /// a codec whose packets carry a copy of the frame before them (Opus in-band FEC, RFC 6716 section 2.1.7) rebuilds
    /// the last lost frame from it; the others conceal. Returns samples written.
    /// </summary>
    int ConcealBefore(ReadOnlySpan<byte> next, Span<short> pcm, int samples) => Conceal(pcm, samples);

    /// <summary>Forgets all state (new call, or a new SSRC on the same leg).</summary>
    void Reset();
}
