using System.Runtime.CompilerServices;

namespace Capture.Sip;

/// <summary>Byte-level helpers shared by the SIP and SDP readers. None allocates; none throws on bad input.</summary>
internal static class SipText
{
    public const byte Cr = (byte)'\r';
    public const byte Lf = (byte)'\n';

    /// <summary>Linear whitespace: SP, HT, and CR/LF left inside a folded header value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsLws(byte b) => b is (byte)' ' or (byte)'\t' or Cr or Lf;

    /// <summary>RFC 3261 token characters (method names, header names, parameter names).</summary>
    public static bool IsTokenChar(byte b) =>
        (uint)((b | 0x20) - 'a') <= 'z' - 'a'
        || (uint)(b - '0') <= 9
        || b is (byte)'-' or (byte)'.' or (byte)'!' or (byte)'%' or (byte)'*' or (byte)'_' or (byte)'+' or (byte)'`' or (byte)'\'' or (byte)'~';

    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        int start = 0;
        while ((uint)start < (uint)s.Length && IsLws(s[start]))
        {
            start++;
        }

        int end = s.Length;
        while (end > start && IsLws(s[end - 1]))
        {
            end--;
        }

        return s[start..end];
    }

    /// <summary>
    /// Finds the next line. The line excludes its terminator (LF, or CRLF: LF-only endings are tolerated
    /// because real gear sends them). Returns false when no LF follows, i.e. the line may be incomplete.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadLine(ReadOnlySpan<byte> data, int start, out ReadOnlySpan<byte> line, out int next)
    {
        int lf = data[start..].IndexOf(Lf);
        if (lf < 0)
        {
            line = default;
            next = start;
            return false;
        }

        int end = start + lf;
        next = end + 1;
        if (end > start && data[end - 1] == Cr)
        {
            end--;
        }

        line = data[start..end];
        return true;
    }

    /// <summary>Parses a non-negative decimal integer (surrounding LWS allowed); false on overflow past max or junk.</summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> s, long max, out long value)
    {
        s = Trim(s);
        value = 0;
        if (s.Length == 0 || s.Length > 19)
        {
            return false;
        }

        for (int i = 0; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9)
            {
                return false;
            }

            value = (value * 10) + d;
            if (value > max)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Splits at the first LWS run: the first word, and the rest with its leading LWS removed.</summary>
    public static ReadOnlySpan<byte> NextWord(scoped ref ReadOnlySpan<byte> rest)
    {
        rest = TrimStart(rest);
        int i = 0;
        while ((uint)i < (uint)rest.Length && !IsLws(rest[i]))
        {
            i++;
        }

        ReadOnlySpan<byte> word = rest[..i];
        rest = TrimStart(rest[i..]);
        return word;
    }

    public static ReadOnlySpan<byte> TrimStart(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while ((uint)i < (uint)s.Length && IsLws(s[i]))
        {
            i++;
        }

        return s[i..];
    }

    /// <summary>
    /// Index of the first <paramref name="target"/> outside double quotes (with backslash escapes) and, when
    /// <paramref name="skipAngles"/>, outside &lt;...&gt;; -1 if none.
    /// </summary>
    public static int IndexOfUnquoted(ReadOnlySpan<byte> s, byte target, bool skipAngles)
    {
        bool inQuotes = false;
        bool inAngles = false;
        for (int i = 0; i < s.Length; i++)
        {
            byte b = s[i];
            if (inQuotes)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == (byte)'"')
                {
                    inQuotes = false;
                }

                continue;
            }

            if (inAngles)
            {
                if (b == (byte)'>')
                {
                    inAngles = false;
                }

                continue;
            }

            if (b == target)
            {
                return i;
            }

            if (b == (byte)'"')
            {
                inQuotes = true;
            }
            else if (skipAngles && b == (byte)'<')
            {
                inAngles = true;
            }
        }

        return -1;
    }

    /// <summary>
    /// Takes the next element of a comma-separated header value (Contact, Via, Route...), honouring quotes
    /// and angle brackets. Returns false when nothing but LWS and commas is left.
    /// </summary>
    public static bool TryNextListElement(scoped ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> element)
    {
        while (true)
        {
            rest = TrimStart(rest);
            if (rest.IsEmpty)
            {
                element = default;
                return false;
            }

            int comma = IndexOfUnquoted(rest, (byte)',', skipAngles: true);
            if (comma < 0)
            {
                element = Trim(rest);
                rest = default;
            }
            else
            {
                element = Trim(rest[..comma]);
                rest = rest[(comma + 1)..];
            }

            if (!element.IsEmpty)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Finds <c>;name[=value]</c> in a parameter list (the text from the first ';' on). The value is trimmed and
    /// unquoted; a flag parameter yields an empty value.
    /// </summary>
    public static bool TryGetParameter(ReadOnlySpan<byte> parameters, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        ReadOnlySpan<byte> rest = parameters;
        while (true)
        {
            int semi = IndexOfUnquoted(rest, (byte)';', skipAngles: false);
            if (semi < 0)
            {
                value = default;
                return false;
            }

            rest = rest[(semi + 1)..];
            int end = IndexOfUnquoted(rest, (byte)';', skipAngles: false);
            ReadOnlySpan<byte> param = end < 0 ? rest : rest[..end];
            int eq = param.IndexOf((byte)'=');
            ReadOnlySpan<byte> pname = Trim(eq < 0 ? param : param[..eq]);
            if (System.Text.Ascii.EqualsIgnoreCase(pname, name))
            {
                value = eq < 0 ? default : Unquote(Trim(param[(eq + 1)..]));
                return true;
            }
        }
    }

    public static ReadOnlySpan<byte> Unquote(ReadOnlySpan<byte> s) =>
        s.Length >= 2 && s[0] == (byte)'"' && s[^1] == (byte)'"' ? s[1..^1] : s;
}
