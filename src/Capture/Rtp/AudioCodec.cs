namespace Capture.Rtp;

/// <summary>Audio payload formats the recorder knows. Named from SDP rtpmap encoding names or static RTP payload types.</summary>
public enum AudioCodec : byte
{
    Unknown = 0,
    Pcmu,
    Pcma,
    G722,
    G729,
    Opus,
    TelephoneEvent,
    ComfortNoise,
}

/// <summary>
/// Everything the signalling and the recorder need to know of a codec, one row per codec in <see cref="AudioCodecs"/>:
/// adding a codec is a row here, its decoder, and a row in <c>Recording/AudioDecoders.cs</c>.
/// </summary>
/// <param name="Name">The rtpmap encoding name (case-insensitive on the wire), also the name in sidecars and logs.</param>
/// <param name="StaticPayloadType">RFC 3551's static payload type, or -1 (dynamic types need an rtpmap).</param>
/// <param name="AudioRate">Sample rate of the decoded audio the recorder works with.</param>
/// <param name="Speech">Carries speech samples (not events or noise descriptors).</param>
/// <param name="SkinnyCompressionTypes">Skinny's compression-type ids for it (Wireshark's and chan-sccp's tables); its static payload type is what Skinny phones send.</param>
/// <param name="AlternateName">Another encoding name seen for it (G729A).</param>
public sealed record AudioCodecInfo(AudioCodec Codec, string Name, int StaticPayloadType, int AudioRate, bool Speech, uint[] SkinnyCompressionTypes, string? AlternateName = null);

public static class AudioCodecs
{
    private static readonly AudioCodecInfo s_unknown = new(AudioCodec.Unknown, "unknown", -1, 0, false, []);

    // Looked up per SDP media line: loops over the array itself, never through an interface (no enumerator allocated).
    private static readonly AudioCodecInfo[] s_all =
    [
        new(AudioCodec.Pcmu, "PCMU", 0, 8000, true, [4, 5]),
        new(AudioCodec.Pcma, "PCMA", 8, 8000, true, [2, 3]),
        new(AudioCodec.G722, "G722", 9, 16000, true, [6, 7, 8]), // 16 kHz audio despite its 8000 RTP clock (RFC 3551)
        new(AudioCodec.G729, "G729", 18, 8000, true, [11, 12, 15, 16], AlternateName: "G729A"),
        new(AudioCodec.Opus, "opus", -1, 16000, true, []), // decoded at 16 kHz: wideband is what voice recordings need
        new(AudioCodec.TelephoneEvent, "telephone-event", -1, 8000, false, []),
        new(AudioCodec.ComfortNoise, "CN", 13, 8000, false, []),
    ];

    /// <summary>The codec table.</summary>
    public static IReadOnlyList<AudioCodecInfo> All => s_all;

    private static readonly AudioCodecInfo[] s_byCodec = BuildByCodec();

    public static AudioCodecInfo Info(this AudioCodec codec) => (uint)codec < (uint)s_byCodec.Length ? s_byCodec[(int)codec] : s_unknown;

    /// <summary>RFC 3551 static payload types; dynamic types (96-127) need an rtpmap.</summary>
    public static AudioCodec FromStaticPayloadType(int payloadType)
    {
        foreach (AudioCodecInfo info in s_all)
        {
            if (info.StaticPayloadType == payloadType)
            {
                return info.Codec;
            }
        }

        return AudioCodec.Unknown;
    }

    /// <summary>Maps an rtpmap encoding name (case-insensitive ASCII) to a codec.</summary>
    public static AudioCodec FromEncodingName(ReadOnlySpan<byte> name)
    {
        foreach (AudioCodecInfo info in s_all)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(name, info.Name) || (info.AlternateName is { } alternate && System.Text.Ascii.EqualsIgnoreCase(name, alternate)))
            {
                return info.Codec;
            }
        }

        return AudioCodec.Unknown;
    }

    /// <summary>The codec of a Skinny compression type (OpenReceiveChannel, StartMediaTransmission), Unknown when none.</summary>
    public static AudioCodec FromSkinnyCompression(uint compressionType)
    {
        foreach (AudioCodecInfo info in s_all)
        {
            if (Array.IndexOf(info.SkinnyCompressionTypes, compressionType) >= 0)
            {
                return info.Codec;
            }
        }

        return AudioCodec.Unknown;
    }

    /// <summary>Name used in SDP, sidecars and logs.</summary>
    public static string Name(this AudioCodec codec) => codec.Info().Name;

    /// <summary>Sample rate of the decoded audio the recorder works with (G.722 is 16 kHz despite its 8000 RTP clock).</summary>
    public static int AudioRate(this AudioCodec codec) => codec.Info().AudioRate;

    /// <summary>True for codecs that carry speech samples (not events or noise descriptors).</summary>
    public static bool IsSpeech(this AudioCodec codec) => codec.Info().Speech;

    private static AudioCodecInfo[] BuildByCodec()
    {
        var byCodec = new AudioCodecInfo[Enum.GetValues<AudioCodec>().Length];
        Array.Fill(byCodec, s_unknown);
        foreach (AudioCodecInfo info in s_all)
        {
            byCodec[(int)info.Codec] = info;
        }

        return byCodec;
    }
}
