using Capture.Rtp;
using Libraries = Capture.Interop.Interop.Libraries;

namespace Capture.Recording;

/// <summary>Creates the decoder for a codec; G.722, G.729 and Opus need their native libraries.</summary>
public static class AudioDecoders
{
    private static readonly Lazy<bool> s_spanDsp = new(() => Libraries.IsAvailable(Libraries.SpanDsp));
    private static readonly Lazy<bool> s_bcg729 = new(() => Libraries.IsAvailable(Libraries.Bcg729));
    private static readonly Lazy<bool> s_opus = new(() => Libraries.IsAvailable(Libraries.Opus));

    public static bool IsSupported(AudioCodec codec) => codec switch
    {
        AudioCodec.Pcmu or AudioCodec.Pcma => true,
        AudioCodec.G722 => s_spanDsp.Value,
        AudioCodec.G729 => s_bcg729.Value,
        AudioCodec.Opus => s_opus.Value,
        _ => false,
    };

    /// <summary>A new decoder; throws <see cref="NotSupportedException"/> (naming the Debian package) when the codec cannot be decoded here.</summary>
    public static IAudioDecoder Create(AudioCodec codec)
    {
        if (!IsSupported(codec))
        {
            ThrowNotSupported(codec);
        }

        return codec switch
        {
            AudioCodec.Pcmu or AudioCodec.Pcma => new G711Decoder(codec),
            AudioCodec.G722 => new G722Decoder(),
            AudioCodec.G729 => new G729Decoder(),
            _ => new OpusAudioDecoder(),
        };
    }

    private static void ThrowNotSupported(AudioCodec codec)
    {
        string? library = codec switch
        {
            AudioCodec.G722 => Libraries.SpanDsp,
            AudioCodec.G729 => Libraries.Bcg729,
            AudioCodec.Opus => Libraries.Opus,
            _ => null,
        };
        throw new NotSupportedException(library is null
            ? $"No decoder for {codec.Name()}."
            : $"Decoding {codec.Name()} needs lib{library} (Debian package {Libraries.DebianPackageFor(library)}).");
    }
}
