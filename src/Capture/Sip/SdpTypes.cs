using System.Runtime.CompilerServices;
using Capture.Packets;
using Capture.Rtp;

namespace Capture.Sip;

/// <summary>SDP direction attribute (RFC 4566 6, RFC 3264 5.1); sendrecv when none is given.</summary>
public enum MediaDirection : byte
{
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

public enum SdpMediaKind : byte
{
    Other,
    Audio,
    Video,

    /// <summary>m=image: T.38 fax.</summary>
    Image,
    Application,
}

public enum SdpInvalidReason : byte
{
    None,

    /// <summary>No lines at all.</summary>
    Empty,

    /// <summary>The first line is not v=.</summary>
    NotSdp,

    /// <summary>An m= line with fewer than three fields or a port that is not a number up to 65535.</summary>
    BadMedia,
}

/// <summary>One payload format of an m= line.</summary>
public struct SdpCodec
{
    /// <summary>The RTP clock rate: rtpmap's, or RFC 3551's for a static type; 0 when unknown.</summary>
    public int ClockRate { readonly get; internal set; }

    public byte PayloadType { readonly get; internal set; }

    public AudioCodec Codec { readonly get; internal set; }

    /// <summary>Audio channels (rtpmap's third field), 1 when not given.</summary>
    public byte Channels { readonly get; internal set; }

    /// <summary>True once an a=rtpmap described this payload type.</summary>
    public bool HasRtpMap { readonly get; internal set; }
}

/// <summary>An m= section with what the recorder needs; up to <see cref="MaxCodecs"/> formats are kept, in m= order.</summary>
public struct SdpMedia
{
    public const int MaxCodecs = 16;

    private CodecBuffer _codecs;

    public SdpMediaKind Kind { readonly get; internal set; }

    /// <summary>The media port; 0 means the stream was rejected or disabled.</summary>
    public ushort Port { readonly get; internal set; }

    /// <summary>RTP/AVP, RTP/SAVP, RTP/AVPF, RTP/SAVPF, UDP/TLS/RTP/SAVPF...</summary>
    public bool IsRtp { readonly get; internal set; }

    /// <summary>Secure RTP (RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF: SDES or DTLS-SRTP): its payloads are encrypted.</summary>
    public bool IsSecure { readonly get; internal set; }

    /// <summary>m=image ... udptl t38 (or t38 on any transport).</summary>
    public bool IsT38 { readonly get; internal set; }

    /// <summary>The media-level c= address, or the session-level one. 0.0.0.0 is old-style hold (RFC 2543).</summary>
    public IpAddress16 Connection { readonly get; internal set; }

    public bool HasConnection { readonly get; internal set; }

    /// <summary>Media-level direction attribute if any, else the session-level one.</summary>
    public MediaDirection Direction { readonly get; internal set; }

    /// <summary>a=ptime in milliseconds; 0 when absent.</summary>
    public int PtimeMs { readonly get; internal set; }

    public int CodecCount { readonly get; internal set; }

    /// <summary>True when the m= line listed more formats than <see cref="MaxCodecs"/>; the extra ones were dropped.</summary>
    public bool CodecsTruncated { readonly get; internal set; }

    internal bool HasOwnConnection { readonly get; set; }

    internal bool HasOwnDirection { readonly get; set; }

    public readonly SdpCodec GetCodec(int i)
    {
        if ((uint)i >= (uint)CodecCount)
        {
            ThrowIndex();
        }

        return _codecs[i];
    }

    public readonly bool TryGetCodec(byte payloadType, out SdpCodec codec)
    {
        for (int i = 0; i < CodecCount; i++)
        {
            if (_codecs[i].PayloadType == payloadType)
            {
                codec = _codecs[i];
                return true;
            }
        }

        codec = default;
        return false;
    }

    internal void AddCodec(SdpCodec codec)
    {
        if (CodecCount >= MaxCodecs)
        {
            CodecsTruncated = true;
            return;
        }

        _codecs[CodecCount++] = codec;
    }

    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    internal ref SdpCodec FindCodec(byte payloadType)
    {
        for (int i = 0; i < CodecCount; i++)
        {
            if (_codecs[i].PayloadType == payloadType)
            {
                return ref _codecs[i];
            }
        }

        return ref Unsafe.NullRef<SdpCodec>();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal static void ThrowIndex() => throw new ArgumentOutOfRangeException("i");

    [InlineArray(MaxCodecs)]
    private struct CodecBuffer
    {
        private SdpCodec _element;
    }
}
