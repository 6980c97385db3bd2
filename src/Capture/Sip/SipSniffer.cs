using System.Text;

namespace Capture.Sip;

/// <summary>Cheap content test for UDP payloads on any port: is this the start of a SIP message?</summary>
public static class SipSniffer
{
    /// <summary>Only the first line is looked at, and at most this many bytes of it.</summary>
    private const int MaxFirstLine = 2048;

    /// <summary>
    /// True when the first line (after optional CRLF keep-alives) is <c>SIP/2.0 ddd ...</c> or
    /// <c>METHOD sip:|sips:|tel:... SIP/2.0</c>. Keep-alives ("hello", CRLF), RTP, DNS... are rejected.
    /// </summary>
    public static bool LooksLikeSip(ReadOnlySpan<byte> payload)
    {
        int start = 0;
        while ((uint)start < (uint)payload.Length && payload[start] is SipText.Cr or SipText.Lf)
        {
            start++;
        }

        ReadOnlySpan<byte> rest = payload[start..];
        int lf = rest[..Math.Min(rest.Length, MaxFirstLine)].IndexOf(SipText.Lf);
        if (lf < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> line = rest[..lf];
        if (line.Length > 0 && line[^1] == SipText.Cr)
        {
            line = line[..^1];
        }

        const int StatusPrefix = 12; // "SIP/2.0 200 "
        if (line.Length >= 4 && Ascii.EqualsIgnoreCase(line[..4], "SIP/"u8))
        {
            return line.Length >= StatusPrefix - 1
                && Ascii.EqualsIgnoreCase(line[..8], "SIP/2.0 "u8)
                && IsDigit(line[8]) && IsDigit(line[9]) && IsDigit(line[10])
                && (line.Length == StatusPrefix - 1 || line[11] == (byte)' ');
        }

        int space = line.IndexOf((byte)' ');
        if (space <= 0)
        {
            return false;
        }

        for (int i = 0; i < space; i++)
        {
            if ((uint)(line[i] - 'A') > 'Z' - 'A')
            {
                return false; // methods on the wire are upper-case tokens
            }
        }

        ReadOnlySpan<byte> uri = line[(space + 1)..];
        bool scheme = StartsWithIgnoreCase(uri, "sip:"u8) || StartsWithIgnoreCase(uri, "sips:"u8) || StartsWithIgnoreCase(uri, "tel:"u8);
        return scheme && uri.Length > 8 && Ascii.EqualsIgnoreCase(uri[^8..], " SIP/2.0"u8);
    }

    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> prefix) =>
        s.Length >= prefix.Length && Ascii.EqualsIgnoreCase(s[..prefix.Length], prefix);
}
