using System.Buffers;
using System.Text;

namespace Capture.Bindings.Config;

/// <summary>
/// The extension (directory number) syntax. Extensions are exact (DESIGN section 2): nothing is trimmed or
/// normalised, so <c>6175551212</c> and <c>5551212</c> are different extensions; this only says whether a text
/// can be one at all.
/// </summary>
/// <remarks>
/// Valid: 1 to <see cref="MaxLength"/> characters from ASCII digits, letters (SIP users such as <c>voi18062</c>),
/// <c>*</c>, <c>#</c>, <c>.</c>, <c>-</c>, <c>_</c>, and <c>+</c> as the first character only. No spaces, and
/// nothing that separates parts of a SIP URI (<c>@ : ; ? &amp;</c>). The UTF-8 overload runs per SIP message
/// and allocates nothing.
/// </remarks>
public static class ExtensionText
{
    /// <summary>Longest extension accepted, counting a leading <c>+</c>.</summary>
    public const int MaxLength = 32;

    private const string AllowedChars = "0123456789*#.-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static readonly SearchValues<char> s_allowedChars = SearchValues.Create(AllowedChars);

    private static readonly SearchValues<byte> s_allowedBytes =
        SearchValues.Create("0123456789*#.-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static bool IsValid(ReadOnlySpan<char> text)
    {
        if ((uint)(text.Length - 1) >= MaxLength)
        {
            return false;
        }

        if (text[0] == '+')
        {
            text = text[1..];
        }

        return !text.IsEmpty && !text.ContainsAnyExcept(s_allowedChars);
    }

    public static bool IsValid(ReadOnlySpan<byte> utf8)
    {
        if ((uint)(utf8.Length - 1) >= MaxLength)
        {
            return false;
        }

        if (utf8[0] == (byte)'+')
        {
            utf8 = utf8[1..];
        }

        return !utf8.IsEmpty && !utf8.ContainsAnyExcept(s_allowedBytes);
    }

    /// <summary>
    /// A number a phone or a server may show that is no line: the withheld-caller placeholders of RFC 3323 and of PBXs
    /// and carriers ("anonymous", "unavailable", "unknown", "restricted", "private", "withheld"), any case. Learned lines
    /// never take these (they would be one extension shared by every caller who hides their number).
    /// </summary>
    public static bool IsPlaceholder(ReadOnlySpan<byte> utf8) =>
        utf8.Length is >= 6 and <= 11
        && (Ascii.EqualsIgnoreCase(utf8, "anonymous"u8) || Ascii.EqualsIgnoreCase(utf8, "unavailable"u8) || Ascii.EqualsIgnoreCase(utf8, "unknown"u8)
            || Ascii.EqualsIgnoreCase(utf8, "restricted"u8) || Ascii.EqualsIgnoreCase(utf8, "private"u8) || Ascii.EqualsIgnoreCase(utf8, "withheld"u8));

    /// <summary>A valid extension that is not a placeholder: what learning may bind to a device as a line.</summary>
    public static bool IsLearnable(ReadOnlySpan<byte> utf8) => IsValid(utf8) && !IsPlaceholder(utf8);
}
