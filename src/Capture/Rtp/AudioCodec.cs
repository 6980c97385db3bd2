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

public static class AudioCodecs
{
    /// <summary>RFC 3551 static payload types; dynamic types (96-127) need an rtpmap.</summary>
    public static AudioCodec FromStaticPayloadType(int payloadType) => payloadType switch
    {
        0 => AudioCodec.Pcmu,
        8 => AudioCodec.Pcma,
        9 => AudioCodec.G722,
        13 => AudioCodec.ComfortNoise,
        18 => AudioCodec.G729,
        _ => AudioCodec.Unknown,
    };

    /// <summary>Maps an rtpmap encoding name (case-insensitive ASCII) to a codec.</summary>
    public static AudioCodec FromEncodingName(ReadOnlySpan<byte> name)
    {
        if (name.EqualsIgnoreAsciiCase("PCMU"u8)) { return AudioCodec.Pcmu; }
        if (name.EqualsIgnoreAsciiCase("PCMA"u8)) { return AudioCodec.Pcma; }
        if (name.EqualsIgnoreAsciiCase("G722"u8)) { return AudioCodec.G722; }
        if (name.EqualsIgnoreAsciiCase("G729"u8) || name.EqualsIgnoreAsciiCase("G729A"u8)) { return AudioCodec.G729; }
        if (name.EqualsIgnoreAsciiCase("opus"u8)) { return AudioCodec.Opus; }
        if (name.EqualsIgnoreAsciiCase("telephone-event"u8)) { return AudioCodec.TelephoneEvent; }
        if (name.EqualsIgnoreAsciiCase("CN"u8)) { return AudioCodec.ComfortNoise; }
        return AudioCodec.Unknown;
    }

    /// <summary>Name used in sidecars and logs.</summary>
    public static string Name(this AudioCodec codec) => codec switch
    {
        AudioCodec.Pcmu => "PCMU",
        AudioCodec.Pcma => "PCMA",
        AudioCodec.G722 => "G722",
        AudioCodec.G729 => "G729",
        AudioCodec.Opus => "opus",
        AudioCodec.TelephoneEvent => "telephone-event",
        AudioCodec.ComfortNoise => "CN",
        _ => "unknown",
    };

    /// <summary>Sample rate of the decoded audio the recorder works with (G.722 is 16 kHz despite its 8000 RTP clock).</summary>
    public static int AudioRate(this AudioCodec codec) => codec switch
    {
        AudioCodec.G722 => 16000,
        AudioCodec.Opus => 16000, // decoded at 16 kHz: wideband is what voice recordings need
        _ => 8000,
    };

    /// <summary>True for codecs that carry speech samples (not events or noise descriptors).</summary>
    public static bool IsSpeech(this AudioCodec codec) => codec is AudioCodec.Pcmu or AudioCodec.Pcma or AudioCodec.G722 or AudioCodec.G729 or AudioCodec.Opus;
}

internal static class AsciiExtensions
{
    public static bool EqualsIgnoreAsciiCase(this ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => System.Text.Ascii.EqualsIgnoreCase(a, b);
}
