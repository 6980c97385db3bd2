namespace Capture.Packets;

/// <summary>
/// IPv6 address text (SDP c= lines, SIP URIs) parsed without allocating, unlike <see cref="System.Net.IPAddress"/>.
/// </summary>
internal static class IpAddressText
{
    private const int Groups = 8;

    public static bool TryParseIPv6(ReadOnlySpan<byte> text, out IpAddress16 address)
    {
        address = default;
        if (text.Length >= 2 && text[0] == (byte)'[' && text[^1] == (byte)']')
        {
            text = text[1..^1];
        }

        int zone = text.IndexOf((byte)'%');
        if (zone >= 0)
        {
            text = text[..zone];
        }

        Span<ushort> head = stackalloc ushort[Groups];
        Span<ushort> tail = stackalloc ushort[Groups];
        int headCount;
        int tailCount = 0;
        int compressed = text.IndexOf("::"u8);
        if (compressed >= 0)
        {
            ReadOnlySpan<byte> after = text[(compressed + 2)..];
            if (after.IndexOf("::"u8) >= 0
                || !TryParseGroups(text[..compressed], head, allowIPv4: false, out headCount)
                || !TryParseGroups(after, tail, allowIPv4: true, out tailCount)
                || headCount + tailCount > Groups - 1)
            {
                return false;
            }
        }
        else if (!TryParseGroups(text, head, allowIPv4: true, out headCount) || headCount != Groups)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        bytes.Clear();
        for (int i = 0; i < headCount; i++)
        {
            bytes[2 * i] = (byte)(head[i] >> 8);
            bytes[(2 * i) + 1] = (byte)head[i];
        }

        for (int i = 0; i < tailCount; i++)
        {
            int g = Groups - tailCount + i;
            bytes[2 * g] = (byte)(tail[i] >> 8);
            bytes[(2 * g) + 1] = (byte)tail[i];
        }

        address = IpAddress16.FromIPv6(bytes);
        return true;
    }

    /// <summary>Colon-separated hex groups; the last may be a dotted IPv4 address (two groups).</summary>
    private static bool TryParseGroups(ReadOnlySpan<byte> s, Span<ushort> groups, bool allowIPv4, out int count)
    {
        count = 0;
        if (s.IsEmpty)
        {
            return true;
        }

        while (true)
        {
            int colon = s.IndexOf((byte)':');
            ReadOnlySpan<byte> group = colon < 0 ? s : s[..colon];
            if (colon < 0 && allowIPv4 && group.IndexOf((byte)'.') >= 0)
            {
                Span<byte> v4 = stackalloc byte[16];
                if (count + 2 > Groups || !IpAddress16.TryParse(group, out IpAddress16 a) || !a.IsIPv4)
                {
                    return false;
                }

                a.WriteBytes(v4);
                groups[count++] = (ushort)((v4[12] << 8) | v4[13]);
                groups[count++] = (ushort)((v4[14] << 8) | v4[15]);
                return true;
            }

            const int MaxHexDigits = 4;
            if (group.IsEmpty || group.Length > MaxHexDigits || count == Groups)
            {
                return false;
            }

            int value = 0;
            foreach (byte b in group)
            {
                int digit = HexValue(b);
                if (digit < 0)
                {
                    return false;
                }

                value = (value << 4) | digit;
            }

            groups[count++] = (ushort)value;
            if (colon < 0)
            {
                return true;
            }

            s = s[(colon + 1)..];
        }
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
