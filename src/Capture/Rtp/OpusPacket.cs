using Capture.Interop;

namespace Capture.Rtp;

/// <summary>What an Opus packet says of itself (RFC 6716 section 3.1: its TOC byte and frame count), read by libopus.</summary>
public static class OpusPacket
{
    /// <summary>Audio the packet carries, in 48 kHz samples; -1 when it is no valid Opus packet.</summary>
    public static unsafe int SamplesAt48Khz(ReadOnlySpan<byte> packet)
    {
        if (packet.IsEmpty)
        {
            return -1;
        }

        fixed (byte* p = packet)
        {
            int samples = Interop.Interop.Opus.opus_packet_get_nb_samples(p, packet.Length, 48_000);
            return samples > 0 ? samples : -1;
        }
    }

    /// <summary>
    /// The packet parses as RFC 6716 section 3 asks (TOC, frame count, frame lengths, padding: what a decoder checks
    /// before decoding), read by libopus' own parser: a packet copied into a file as it came must be one a player decodes.
    /// </summary>
    public static unsafe bool IsWellFormed(ReadOnlySpan<byte> packet)
    {
        if (packet.IsEmpty)
        {
            return false;
        }

        byte toc;
        byte** frames = stackalloc byte*[48]; // RFC 6716 section 3.2.5: at most 48 frames in one packet
        short* sizes = stackalloc short[48];
        int payloadOffset;
        fixed (byte* p = packet)
        {
            return Interop.Interop.Opus.opus_packet_parse(p, packet.Length, &toc, frames, sizes, &payloadOffset) > 0;
        }
    }

    /// <summary>Longest frame RFC 6716 allows (section 3.2.1: lengths up to 1275 bytes).</summary>
    public const int MaxFrameBytes = 1275;

    /// <summary>
    /// Writes <paramref name="packet"/> (a well-formed single-stream packet, as opus_encode makes) with the self-delimiting
    /// framing of RFC 6716 Appendix B, which every stream but the last of a multistream packet uses (RFC 7845 section
    /// 5.1.1): one more length field makes the packet say where it ends (code 0: its frame's length; code 1: the shared
    /// length; code 2: the second frame's; code 3: the shared length (CBR) or the last frame's (VBR)). Returns the bytes
    /// written, or -1 when the packet is malformed or <paramref name="destination"/> too small.
    /// </summary>
    public static int WriteSelfDelimited(ReadOnlySpan<byte> packet, Span<byte> destination)
    {
        if (packet.IsEmpty || destination.Length < packet.Length + 2)
        {
            return -1;
        }

        int headerEnd; // where the length field goes: after the TOC and whatever lengths the code already carries
        int selfLength;
        switch (packet[0] & 0x3)
        {
            case 0:
                headerEnd = 1;
                selfLength = packet.Length - 1;
                break;
            case 1:
                headerEnd = 1;
                selfLength = (packet.Length - 1) / 2;
                break;
            case 2:
                int first = ReadLength(packet, 1, out int size);
                if (first < 0)
                {
                    return -1;
                }

                headerEnd = 1 + size;
                selfLength = packet.Length - headerEnd - first;
                break;
            default:
                if (!TryReadCode3(packet, out headerEnd, out selfLength))
                {
                    return -1;
                }

                break;
        }

        if (selfLength is < 0 or > MaxFrameBytes)
        {
            return -1;
        }

        packet[..headerEnd].CopyTo(destination);
        int at = headerEnd + WriteLength(selfLength, destination[headerEnd..]);
        packet[headerEnd..].CopyTo(destination[at..]);
        return at + packet.Length - headerEnd;
    }

    /// <summary>Code 3 (RFC 6716 section 3.2.5): frame count, padding and the VBR lengths, then the length to add.</summary>
    private static bool TryReadCode3(ReadOnlySpan<byte> packet, out int headerEnd, out int selfLength)
    {
        headerEnd = selfLength = 0;
        if (packet.Length < 2)
        {
            return false;
        }

        int count = packet[1] & 0x3F;
        bool vbr = (packet[1] & 0x80) != 0;
        int at = 2, padding = 0;
        if ((packet[1] & 0x40) != 0)
        {
            while (true)
            {
                if (at >= packet.Length)
                {
                    return false;
                }

                int b = packet[at++];
                padding += b == 255 ? 254 : b;
                if (b != 255)
                {
                    break;
                }
            }
        }

        if (count == 0)
        {
            return false;
        }

        int known = 0;
        if (vbr)
        {
            for (int i = 0; i < count - 1; i++)
            {
                int length = ReadLength(packet, at, out int size);
                if (length < 0)
                {
                    return false;
                }

                known += length;
                at += size;
            }
        }

        int data = packet.Length - at - padding;
        headerEnd = at;
        selfLength = vbr ? data - known : data / count;
        return data >= 0;
    }

    /// <summary>A frame length (RFC 6716 section 3.2.1): one byte below 252, else two; -1 when cut short.</summary>
    private static int ReadLength(ReadOnlySpan<byte> packet, int at, out int size)
    {
        size = 0;
        if (at >= packet.Length)
        {
            return -1;
        }

        if (packet[at] < 252)
        {
            size = 1;
            return packet[at];
        }

        if (at + 1 >= packet.Length)
        {
            return -1;
        }

        size = 2;
        return (4 * packet[at + 1]) + packet[at];
    }

    private static int WriteLength(int length, Span<byte> destination)
    {
        if (length < 252)
        {
            destination[0] = (byte)length;
            return 1;
        }

        destination[0] = (byte)(252 + (length & 0x3));
        destination[1] = (byte)((length - destination[0]) >> 2);
        return 2;
    }
}
