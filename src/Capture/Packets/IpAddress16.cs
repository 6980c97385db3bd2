using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;

namespace Capture.Packets;

/// <summary>
/// An IPv4 or IPv6 address held in 16 bytes without allocation. IPv4 is stored IPv4-mapped
/// (::ffff:a.b.c.d), so one type keys flows of both families.
/// </summary>
public readonly struct IpAddress16 : IEquatable<IpAddress16>
{
    private readonly ulong _hi;
    private readonly ulong _lo;

    private IpAddress16(ulong hi, ulong lo)
    {
        _hi = hi;
        _lo = lo;
    }

    public bool IsIPv4 => _hi == 0 && (_lo >> 32) == 0xFFFF;

    /// <summary>
    /// From a range meant for networks behind a router, which a NAT hides: RFC 1918, RFC 6598 (carrier-grade NAT) and
    /// IPv4 link-local; IPv6 unique local (fc00::/7) and link-local (fe80::/10).
    /// </summary>
    public bool IsPrivateUse
    {
        get
        {
            if (IsIPv4)
            {
                uint v = (uint)_lo;
                return (v >> 24) == 10 // 10.0.0.0/8
                    || (v >> 20) == 0xAC1 // 172.16.0.0/12
                    || (v >> 16) == 0xC0A8 // 192.168.0.0/16
                    || (v >> 22) == 0x191 // 100.64.0.0/10
                    || (v >> 16) == 0xA9FE; // 169.254.0.0/16
            }

            return (_hi >> 57) == 0x7E || (_hi >> 54) == 0x3FA; // fc00::/7, fe80::/10
        }
    }

    public static IpAddress16 FromIPv4(ReadOnlySpan<byte> four) =>
        new(0, 0xFFFF_0000_0000UL | BinaryPrimitives.ReadUInt32BigEndian(four));

    public static IpAddress16 FromIPv4(uint hostOrder) => new(0, 0xFFFF_0000_0000UL | hostOrder);

    public static IpAddress16 FromIPv6(ReadOnlySpan<byte> sixteen)
    {
        var a = new IpAddress16(BinaryPrimitives.ReadUInt64BigEndian(sixteen), BinaryPrimitives.ReadUInt64BigEndian(sixteen[8..]));
        return a;
    }

    /// <summary>Parses the textual form found in SDP c= lines or SIP URIs, without allocating.</summary>
    public static bool TryParse(ReadOnlySpan<byte> ascii, out IpAddress16 address)
    {
        address = default;
        if (ascii.Length == 0 || ascii.Length > 45)
        {
            return false;
        }

        if (ascii[0] == (byte)'[' && ascii[^1] == (byte)']')
        {
            ascii = ascii[1..^1];
        }

        if (TryParseIPv4(ascii, out uint v4))
        {
            address = FromIPv4(v4);
            return true;
        }

        return ascii.IndexOf((byte)':') >= 0 && IpAddressText.TryParseIPv6(ascii, out address);
    }

    private static bool TryParseIPv4(ReadOnlySpan<byte> s, out uint value)
    {
        value = 0;
        int octets = 0;
        int i = 0;
        while (octets < 4)
        {
            int start = i;
            uint octet = 0;
            while ((uint)i < (uint)s.Length && (uint)(s[i] - '0') <= 9)
            {
                octet = (octet * 10) + (uint)(s[i] - '0');
                i++;
                if (i - start > 3)
                {
                    return false;
                }
            }

            if (i == start || octet > 255)
            {
                return false;
            }

            value = (value << 8) | octet;
            octets++;
            if (octets < 4)
            {
                if ((uint)i >= (uint)s.Length || s[i] != (byte)'.')
                {
                    return false;
                }

                i++;
            }
        }

        return i == s.Length;
    }

    public void WriteBytes(Span<byte> destination16)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination16, _hi);
        BinaryPrimitives.WriteUInt64BigEndian(destination16[8..], _lo);
    }

    public bool Equals(IpAddress16 other) => _hi == other._hi && _lo == other._lo;

    public override bool Equals(object? obj) => obj is IpAddress16 other && Equals(other);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override int GetHashCode() => HashCode.Combine(_hi, _lo);

    public static bool operator ==(IpAddress16 left, IpAddress16 right) => left.Equals(right);

    public static bool operator !=(IpAddress16 left, IpAddress16 right) => !left.Equals(right);

    /// <summary>Writes the textual form; IPv4 (the common case) allocates nothing.</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten)
    {
        if (!IsIPv4)
        {
            Span<byte> bytes = stackalloc byte[16];
            WriteBytes(bytes);
            return new IPAddress(bytes).TryFormat(destination, out charsWritten);
        }

        uint v = (uint)_lo;
        charsWritten = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            if (!((v >> shift) & 0xFF).TryFormat(destination[charsWritten..], out int n, default, CultureInfo.InvariantCulture))
            {
                return false;
            }

            charsWritten += n;
            if (shift > 0)
            {
                if (charsWritten >= destination.Length)
                {
                    return false;
                }

                destination[charsWritten++] = '.';
            }
        }

        return true;
    }

    /// <summary>Textual form; allocates, so only for metadata and diagnostics.</summary>
    public override string ToString()
    {
        if (IsIPv4)
        {
            uint v = (uint)_lo;
            return $"{v >> 24}.{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}";
        }

        Span<byte> bytes = stackalloc byte[16];
        WriteBytes(bytes);
        return new IPAddress(bytes).ToString();
    }
}

/// <summary>An address and UDP/TCP port; the key of media and signalling flows.</summary>
public readonly record struct IpEndpoint16(IpAddress16 Address, ushort Port)
{
    public override string ToString() => Address.IsIPv4 ? $"{Address}:{Port}" : $"[{Address}]:{Port}";
}
