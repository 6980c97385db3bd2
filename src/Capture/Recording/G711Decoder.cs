using Capture.Rtp;

namespace Capture.Recording;

/// <summary>PCMU or PCMA at 8 kHz: one byte per sample, our own tables, fade-repeat concealment.</summary>
public sealed class G711Decoder : IAudioDecoder
{
    private readonly FadeConcealer _concealer = new(8000);

    public G711Decoder(AudioCodec codec)
    {
        if (codec is not (AudioCodec.Pcmu or AudioCodec.Pcma))
        {
            throw new ArgumentOutOfRangeException(nameof(codec), codec, "G711Decoder handles PCMU and PCMA only.");
        }

        Codec = codec;
    }

    public AudioCodec Codec { get; }

    public int SampleRate => 8000;

    public int Decode(ReadOnlySpan<byte> payload, Span<short> pcm)
    {
        if (payload.IsEmpty || payload.Length > pcm.Length)
        {
            return -1;
        }

        if (Codec == AudioCodec.Pcmu)
        {
            G711.DecodeULaw(payload, pcm);
        }
        else
        {
            G711.DecodeALaw(payload, pcm);
        }

        _concealer.Remember(pcm[..payload.Length]);
        return payload.Length;
    }

    public int Conceal(Span<short> pcm, int samples) => _concealer.Conceal(pcm, samples);

    public void Reset() => _concealer.Reset();

    public void Dispose() { }
}
