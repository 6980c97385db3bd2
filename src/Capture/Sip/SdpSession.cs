using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Capture.Packets;
using Capture.Rtp;

namespace Capture.Sip;

/// <summary>
/// The parts of an SDP offer or answer (RFC 4566, RFC 3264) that media following needs: origin, connection
/// addresses, and per m= section the port, transport, formats and direction. Fixed capacity
/// (<see cref="MaxMedia"/> sections), no allocation; unknown lines are ignored, LF-only endings tolerated.
/// </summary>
public ref struct SdpSession
{
    public const int MaxMedia = 8;

    private MediaBuffer _media;

    public IpAddress16 SessionConnection { readonly get; private set; }

    public bool HasSessionConnection { readonly get; private set; }

    /// <summary>o= sess-id; 0 when absent or not a number.</summary>
    public ulong OriginSessionId { readonly get; private set; }

    /// <summary>o= sess-version; it grows with every new offer in a session, so a repeated version is a retransmission.</summary>
    public ulong OriginVersion { readonly get; private set; }

    /// <summary>o= unicast address (as sent; may be a host name).</summary>
    public ReadOnlySpan<byte> OriginAddress { readonly get; private set; }

    /// <summary>Session-level direction attribute (before the first m=), SendRecv when none.</summary>
    public MediaDirection SessionDirection { readonly get; private set; }

    public int MediaCount { readonly get; private set; }

    /// <summary>True when there were more than <see cref="MaxMedia"/> m= sections; the extra ones were skipped.</summary>
    public bool MediaTruncated { readonly get; private set; }

    public readonly SdpMedia GetMedia(int i)
    {
        if ((uint)i >= (uint)MediaCount)
        {
            SdpMedia.ThrowIndex();
        }

        return _media[i];
    }

    /// <summary>The first m=audio section whose port is not 0.</summary>
    public readonly bool TryGetFirstAudio(out SdpMedia media)
    {
        for (int i = 0; i < MediaCount; i++)
        {
            if (_media[i].Kind == SdpMediaKind.Audio && _media[i].Port != 0)
            {
                media = _media[i];
                return true;
            }
        }

        media = default;
        return false;
    }

    /// <summary>Returns <see cref="OperationStatus.Done"/> or <see cref="OperationStatus.InvalidData"/>; an SDP body is always complete.</summary>
    public static OperationStatus TryParse(ReadOnlySpan<byte> sdp, out SdpSession session, out SdpInvalidReason reason)
    {
        session = default;
        reason = SdpInvalidReason.None;
        bool sawVersion = false;
        bool inIgnoredMedia = false;
        int pos = 0;
        while ((uint)pos < (uint)sdp.Length)
        {
            if (!SipText.TryReadLine(sdp, pos, out ReadOnlySpan<byte> line, out int next))
            {
                line = sdp[pos..]; // a last line without a line break
                next = sdp.Length;
            }

            pos = next;
            line = SipText.Trim(line);
            if (line.IsEmpty)
            {
                continue;
            }

            if (!sawVersion)
            {
                if (line.Length < 2 || line[0] != (byte)'v' || line[1] != (byte)'=')
                {
                    reason = SdpInvalidReason.NotSdp;
                    return OperationStatus.InvalidData;
                }

                sawVersion = true;
                continue;
            }

            if (line.Length < 2 || line[1] != (byte)'=')
            {
                continue; // not a type=value line: ignored like any unknown line
            }

            ReadOnlySpan<byte> value = line[2..];
            byte type = line[0];
            if (type == (byte)'m')
            {
                if (session.MediaCount >= MaxMedia)
                {
                    session.MediaTruncated = true;
                    inIgnoredMedia = true;
                    continue;
                }

                ref SdpMedia media = ref session._media[session.MediaCount];
                if (!TryParseMediaLine(value, ref media))
                {
                    reason = SdpInvalidReason.BadMedia;
                    return OperationStatus.InvalidData;
                }

                session.MediaCount++;
                continue;
            }

            if (inIgnoredMedia)
            {
                continue;
            }

            bool atSession = session.MediaCount == 0;
            switch (type)
            {
                case (byte)'o' when atSession:
                    session.ParseOrigin(value);
                    break;
                case (byte)'c':
                    if (TryParseConnection(value, out IpAddress16 address))
                    {
                        if (atSession)
                        {
                            session.SessionConnection = address;
                            session.HasSessionConnection = true;
                        }
                        else
                        {
                            ref SdpMedia media = ref session._media[session.MediaCount - 1];
                            media.Connection = address;
                            media.HasConnection = true;
                            media.HasOwnConnection = true;
                        }
                    }

                    break;
                case (byte)'a':
                    if (atSession)
                    {
                        if (TryParseDirection(value, out MediaDirection direction))
                        {
                            session.SessionDirection = direction;
                        }
                    }
                    else
                    {
                        ParseMediaAttribute(value, ref session._media[session.MediaCount - 1]);
                    }

                    break;
            }
        }

        if (!sawVersion)
        {
            reason = SdpInvalidReason.Empty;
            return OperationStatus.InvalidData;
        }

        for (int i = 0; i < session.MediaCount; i++)
        {
            ref SdpMedia media = ref session._media[i];
            if (!media.HasOwnDirection)
            {
                media.Direction = session.SessionDirection;
            }

            if (!media.HasOwnConnection && session.HasSessionConnection)
            {
                media.Connection = session.SessionConnection;
                media.HasConnection = true;
            }
        }

        return OperationStatus.Done;
    }

    /// <summary>o=username sess-id sess-version nettype addrtype unicast-address</summary>
    private void ParseOrigin(ReadOnlySpan<byte> value)
    {
        _ = SipText.NextWord(ref value);
        OriginSessionId = ParseUInt64(SipText.NextWord(ref value));
        OriginVersion = ParseUInt64(SipText.NextWord(ref value));
        _ = SipText.NextWord(ref value);
        _ = SipText.NextWord(ref value);
        OriginAddress = SipText.NextWord(ref value);
    }

    /// <summary>c=IN IP4|IP6 address[/ttl[/count]]. Host names (allowed by RFC 4566) are not resolved: no connection.</summary>
    private static bool TryParseConnection(ReadOnlySpan<byte> value, out IpAddress16 address)
    {
        address = default;
        ReadOnlySpan<byte> netType = SipText.NextWord(ref value);
        ReadOnlySpan<byte> addrType = SipText.NextWord(ref value);
        ReadOnlySpan<byte> text = SipText.NextWord(ref value);
        if (!Ascii.EqualsIgnoreCase(netType, "IN"u8)
            || !(Ascii.EqualsIgnoreCase(addrType, "IP4"u8) || Ascii.EqualsIgnoreCase(addrType, "IP6"u8)))
        {
            return false;
        }

        int slash = text.IndexOf((byte)'/');
        if (slash >= 0)
        {
            text = text[..slash];
        }

        return IpAddress16.TryParse(text, out address);
    }

    /// <summary>m=media port[/count] proto fmt...</summary>
    private static bool TryParseMediaLine(ReadOnlySpan<byte> value, ref SdpMedia media)
    {
        ReadOnlySpan<byte> kind = SipText.NextWord(ref value);
        ReadOnlySpan<byte> port = SipText.NextWord(ref value);
        ReadOnlySpan<byte> proto = SipText.NextWord(ref value);
        if (kind.IsEmpty || proto.IsEmpty)
        {
            return false;
        }

        int slash = port.IndexOf((byte)'/');
        if (slash >= 0)
        {
            port = port[..slash];
        }

        if (!SipText.TryParseDecimal(port, ushort.MaxValue, out long portNumber))
        {
            return false;
        }

        media.Port = (ushort)portNumber;
        media.Kind = kind switch
        {
            _ when Ascii.EqualsIgnoreCase(kind, "audio"u8) => SdpMediaKind.Audio,
            _ when Ascii.EqualsIgnoreCase(kind, "video"u8) => SdpMediaKind.Video,
            _ when Ascii.EqualsIgnoreCase(kind, "image"u8) => SdpMediaKind.Image,
            _ when Ascii.EqualsIgnoreCase(kind, "application"u8) => SdpMediaKind.Application,
            _ => SdpMediaKind.Other,
        };
        media.IsRtp = IndexOfIgnoreCase(proto, "RTP/"u8) >= 0;
        media.IsSecure = IndexOfIgnoreCase(proto, "/SAVP"u8) >= 0;
        while (!value.IsEmpty)
        {
            ReadOnlySpan<byte> format = SipText.NextWord(ref value);
            if (Ascii.EqualsIgnoreCase(format, "t38"u8))
            {
                media.IsT38 = true;
            }
            else if (media.IsRtp && SipText.TryParseDecimal(format, 127, out long pt))
            {
                media.AddCodec(StaticCodec((byte)pt));
            }
        }

        return true;
    }

    private static void ParseMediaAttribute(ReadOnlySpan<byte> value, ref SdpMedia media)
    {
        if (TryParseDirection(value, out MediaDirection direction))
        {
            media.Direction = direction;
            media.HasOwnDirection = true;
            return;
        }

        int colon = value.IndexOf((byte)':');
        if (colon < 0)
        {
            return;
        }

        ReadOnlySpan<byte> name = value[..colon];
        ReadOnlySpan<byte> rest = value[(colon + 1)..];
        if (Ascii.EqualsIgnoreCase(name, "ptime"u8))
        {
            // ptime may carry a fraction (e.g. 22.5); the integer part is enough for packetisation.
            int dot = rest.IndexOf((byte)'.');
            if (SipText.TryParseDecimal(dot < 0 ? rest : rest[..dot], 10_000, out long ptime))
            {
                media.PtimeMs = (int)ptime;
            }
        }
        else if (Ascii.EqualsIgnoreCase(name, "rtpmap"u8))
        {
            // a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
            if (!SipText.TryParseDecimal(SipText.NextWord(ref rest), 127, out long pt))
            {
                return;
            }

            ref SdpCodec codec = ref media.FindCodec((byte)pt);
            if (Unsafe.IsNullRef(ref codec))
            {
                return;
            }

            ReadOnlySpan<byte> encoding = SipText.NextWord(ref rest);
            int slash = encoding.IndexOf((byte)'/');
            ReadOnlySpan<byte> encodingName = slash < 0 ? encoding : encoding[..slash];
            ReadOnlySpan<byte> clockAndChannels = slash < 0 ? default : encoding[(slash + 1)..];
            int channelSlash = clockAndChannels.IndexOf((byte)'/');
            ReadOnlySpan<byte> clock = channelSlash < 0 ? clockAndChannels : clockAndChannels[..channelSlash];
            codec.Codec = AudioCodecs.FromEncodingName(encodingName);
            codec.HasRtpMap = true;
            codec.ClockRate = SipText.TryParseDecimal(clock, int.MaxValue, out long rate) ? (int)rate : 0;
            codec.Channels = channelSlash >= 0 && SipText.TryParseDecimal(clockAndChannels[(channelSlash + 1)..], byte.MaxValue, out long channels) && channels > 0
                ? (byte)channels
                : (byte)1;
        }
    }

    private static bool TryParseDirection(ReadOnlySpan<byte> attribute, out MediaDirection direction)
    {
        // Case-insensitive: X-Lite-era gear sends "a=SendRecv".
        direction = attribute switch
        {
            _ when Ascii.EqualsIgnoreCase(attribute, "sendrecv"u8) => MediaDirection.SendRecv,
            _ when Ascii.EqualsIgnoreCase(attribute, "sendonly"u8) => MediaDirection.SendOnly,
            _ when Ascii.EqualsIgnoreCase(attribute, "recvonly"u8) => MediaDirection.RecvOnly,
            _ when Ascii.EqualsIgnoreCase(attribute, "inactive"u8) => MediaDirection.Inactive,
            _ => (MediaDirection)byte.MaxValue,
        };
        return direction != (MediaDirection)byte.MaxValue;
    }

    /// <summary>RFC 3551 static payload types: codec, clock rate and channels without an rtpmap.</summary>
    private static SdpCodec StaticCodec(byte pt)
    {
        int clock = pt switch
        {
            <= 5 or 7 or 8 or 9 or 12 or 13 or 15 or 18 => 8000, // PCMU, 1016, G721/G726, GSM, G723, DVI4, LPC, PCMA, G722, QCELP, CN, G728, G729
            6 => 16000, // DVI4/16000
            10 or 11 => 44100, // L16
            16 => 11025, // DVI4/11025
            17 => 22050, // DVI4/22050
            14 or (>= 25 and <= 34) => 90000, // MPA and the static video types
            _ => 0, // unassigned or dynamic: needs an rtpmap
        };
        if (pt is 1 or 2 or 19 or (>= 20 and <= 24))
        {
            clock = 0; // reserved or unassigned
        }

        return new SdpCodec
        {
            PayloadType = pt,
            Codec = AudioCodecs.FromStaticPayloadType(pt),
            ClockRate = clock,
            Channels = pt == 10 ? (byte)2 : (byte)1,
        };
    }

    private static ulong ParseUInt64(ReadOnlySpan<byte> s)
    {
        const int MaxDigits = 19; // fits in ulong without overflow checks
        if (s.IsEmpty || s.Length > MaxDigits)
        {
            return 0;
        }

        ulong v = 0;
        foreach (byte b in s)
        {
            uint d = (uint)(b - '0');
            if (d > 9)
            {
                return 0;
            }

            v = (v * 10) + d;
        }

        return v;
    }

    private static int IndexOfIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> value)
    {
        for (int i = 0; i + value.Length <= s.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(s.Slice(i, value.Length), value))
            {
                return i;
            }
        }

        return -1;
    }

    [InlineArray(MaxMedia)]
    private struct MediaBuffer
    {
        private SdpMedia _element;
    }
}
