using System.Text;
using System.Text.Unicode;

namespace Capture.Skinny;

/// <summary>Strings at the directory boundary: made when a binding changes, never per message.</summary>
public static class SkinnyText
{
    /// <summary>
    /// Decodes a Skinny string field: UTF-8 when the bytes are valid UTF-8 (phones announcing the UTF-8 feature),
    /// else Latin-1 (older phones and CallManagers). ASCII reads the same either way.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> text) =>
        text.IsEmpty ? string.Empty : Utf8.IsValid(text) ? Encoding.UTF8.GetString(text) : Encoding.Latin1.GetString(text);

    /// <summary>Decodes a field that may be empty into null when it is.</summary>
    public static string? DecodeOrNull(ReadOnlySpan<byte> text) => text.IsEmpty ? null : Decode(text);

    /// <summary>
    /// Whether a field reads as <paramref name="text"/> (as <see cref="Decode"/> would make it) without making a string
    /// for the usual ASCII case: repeated messages reuse what an earlier one decoded.
    /// </summary>
    public static bool Matches(ReadOnlySpan<byte> field, string text)
    {
        if (field.Length == text.Length)
        {
            int i = 0;
            while (i < field.Length && field[i] < 0x80 && field[i] == text[i])
            {
                i++;
            }

            if (i == field.Length)
            {
                return true;
            }

            if (field[i] < 0x80)
            {
                return false; // an ASCII byte that differs
            }
        }
        else if (System.Text.Ascii.IsValid(field))
        {
            return false;
        }

        return Decode(field) == text; // non-ASCII (rare): compare what it decodes to
    }
}
