using System.Text;

namespace Capture.Packets;

/// <summary>
/// Text that came from the wire (Call-IDs, display names, extensions) made safe to print: control characters (CR, LF,
/// ESC, NUL, C1) would forge console and log lines or drive a terminal, so they are shown as <c>\xNN</c>.
/// </summary>
public static class WireText
{
    public static string Printable(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }

        int i = 0;
        while (i < text.Length && !IsControl(text[i]))
        {
            i++;
        }

        if (i == text.Length)
        {
            return text; // the common case: nothing to escape, nothing allocated
        }

        var sb = new StringBuilder(text.Length + 8);
        sb.Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (IsControl(c))
            {
                sb.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static bool IsControl(char c) => c < 0x20 || c is >= (char)0x7F and <= (char)0x9F;
}
