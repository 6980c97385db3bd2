using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Capture.Packets;

namespace Capture.Bindings.Config;

/// <summary>Syntax and normal forms of the configuration's addresses and PINs (not on any hot path).</summary>
internal static class ConfigValues
{
    public const int MaxPinDigits = 8;

    private const int MacDigits = 12;

    /// <summary>
    /// The canonical text of an IP address (what <see cref="IPAddress.ToString"/> prints; an IPv4-mapped IPv6
    /// address becomes IPv4), or null when <paramref name="text"/> is not one. Stricter than
    /// <see cref="IPAddress.TryParse(string?, out IPAddress?)"/>, which also takes <c>10.1</c>, <c>0x0a.0.0.1</c>,
    /// octal <c>010.0.0.1</c>, brackets, ports and zone ids: none of those is what an administrator means.
    /// </summary>
    public static string? NormalizeIp(string? text)
    {
        if (string.IsNullOrEmpty(text)
            || !(IsDottedQuad(text) || (text.Contains(':') && IsIPv6Text(text)))
            || !IPAddress.TryParse(text, out IPAddress? address))
        {
            return null;
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return address.ToString();
    }

    /// <summary>An address as configured (or as the directory's store keeps it); default when the text is not one.</summary>
    public static IpAddress16 ParseIp(string text) =>
        IpAddress16.TryParse(Encoding.ASCII.GetBytes(text), out IpAddress16 ip) ? ip : default;

    /// <summary>The 12 upper-case hex digits of a MAC written as <c>001122334455</c>, <c>00:11:22:33:44:55</c>,
    /// <c>00-11-22-33-44-55</c> or Cisco's <c>0011.2233.4455</c> (any case); null otherwise.</summary>
    public static string? NormalizeMac(string? text)
    {
        // Digits per group between separators: 001122334455, 0011.2233.4455, 00:11:22:33:44:55.
        int group = text?.Length switch { 12 => 0, 14 => 4, 17 => 2, _ => -1 };
        if (text is null || group < 0)
        {
            return null;
        }

        char separator = group == 0 ? '\0' : text[group];
        if ((group == 4 && separator != '.') || (group == 2 && separator is not (':' or '-')))
        {
            return null;
        }

        Span<char> digits = stackalloc char[MacDigits];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (group > 0 && (i + 1) % (group + 1) == 0)
            {
                if (text[i] != separator)
                {
                    return null;
                }
            }
            else if (char.IsAsciiHexDigit(text[i]))
            {
                digits[n++] = char.ToUpperInvariant(text[i]);
            }
            else
            {
                return null;
            }
        }

        return new string(digits);
    }

    /// <summary>0 to 8 ASCII decimal digits (an empty PIN is a PIN of no digits, unlike a null one).</summary>
    public static bool IsPin(string pin) => pin.Length <= MaxPinDigits && !pin.AsSpan().ContainsAnyExceptInRange('0', '9');

    private static bool IsDottedQuad(string text)
    {
        int parts = 0;
        foreach (Range r in text.AsSpan().Split('.'))
        {
            ReadOnlySpan<char> part = text.AsSpan()[r];
            if (++parts > 4
                || part.IsEmpty
                || part.Length > 3
                || (part.Length > 1 && part[0] == '0')
                || part.ContainsAnyExceptInRange('0', '9')
                || int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture) > byte.MaxValue)
            {
                return false;
            }
        }

        return parts == 4;
    }

    // Hex groups, colons and an embedded dotted quad: no brackets, port or %zone.
    private static bool IsIPv6Text(string text)
    {
        foreach (char c in text)
        {
            if (!(char.IsAsciiHexDigit(c) || c is ':' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
