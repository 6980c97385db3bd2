using Capture.Rtp;
using Libraries = Capture.Interop.Interop.Libraries;

namespace Capture.Recording;

/// <summary>Creates the decoder for a codec: one row per codec; G.722, G.729 and Opus need their native libraries.</summary>
public static class AudioDecoders
{
    private static readonly DecoderRow[] s_rows =
    [
        new(AudioCodec.Pcmu, null, () => new G711Decoder(AudioCodec.Pcmu)),
        new(AudioCodec.Pcma, null, () => new G711Decoder(AudioCodec.Pcma)),
        new(AudioCodec.G722, Libraries.SpanDsp, () => new G722Decoder()),
        new(AudioCodec.G729, Libraries.Bcg729, () => new G729Decoder()),
        new(AudioCodec.Opus, Libraries.Opus, () => new OpusAudioDecoder()),
    ];

    public static bool IsSupported(AudioCodec codec) => Find(codec) is { } row && row.Available.Value;

    /// <summary>A new decoder; throws <see cref="NotSupportedException"/> (naming the Debian package) when the codec cannot be decoded here.</summary>
    public static IAudioDecoder Create(AudioCodec codec)
    {
        DecoderRow? row = Find(codec);
        if (row is null || !row.Available.Value)
        {
            ThrowNotSupported(codec, row?.Library);
        }

        return row.Create();
    }

    private static DecoderRow? Find(AudioCodec codec)
    {
        foreach (DecoderRow row in s_rows)
        {
            if (row.Codec == codec)
            {
                return row;
            }
        }

        return null;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotSupported(AudioCodec codec, string? library) =>
        throw new NotSupportedException(library is null
            ? $"No decoder for {codec.Name()}."
            : $"Decoding {codec.Name()} needs lib{library} (Debian package {Libraries.DebianPackageFor(library)}).");

    /// <summary>A codec's decoder and the native library it needs (null: managed), checked once.</summary>
    private sealed class DecoderRow(AudioCodec codec, string? library, Func<IAudioDecoder> create)
    {
        public AudioCodec Codec { get; } = codec;
        public string? Library { get; } = library;
        public Func<IAudioDecoder> Create { get; } = create;
        public Lazy<bool> Available { get; } = new(() => library is null || Libraries.IsAvailable(library));
    }
}
