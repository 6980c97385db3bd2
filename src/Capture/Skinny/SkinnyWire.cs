using System.Buffers.Binary;
using Capture.Packets;

namespace Capture.Skinny;

/// <summary>Field access shared by the readers: little-endian integers, null-padded and null-terminated strings, addresses.</summary>
internal static class SkinnyWire
{
    /// <summary>Address type in the V17+ IPv4/IPv6 union (Wireshark's IpAddrType).</summary>
    private const uint AddressTypeIpv4 = 0;
    private const uint AddressTypeIpv6 = 1;
    private const uint AddressTypeIpv4AndIpv6 = 2; // dual stack: the 16 bytes hold the IPv6 address

    /// <summary>Size of an address field in the V17+ layouts: type (4) + 16 bytes.</summary>
    public const int Ipv46AddressSize = 20;

    public static uint U32(ReadOnlySpan<byte> body, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(body[offset..]);

    /// <summary>A u32 when the body reaches that far, else 0.</summary>
    public static uint U32OrZero(ReadOnlySpan<byte> body, int offset) =>
        offset + 4 <= body.Length ? BinaryPrimitives.ReadUInt32LittleEndian(body[offset..]) : 0;

    /// <summary>
    /// A fixed-size, null-padded string field: the bytes before the first NUL. A field cut off by the end of the
    /// body reads as far as the body goes; one that starts past it is empty. Bytes after the NUL are ignored
    /// (old CallManagers leave uninitialised memory there).
    /// </summary>
    public static ReadOnlySpan<byte> Fixed(ReadOnlySpan<byte> body, int offset, int size)
    {
        if (offset >= body.Length)
        {
            return default;
        }

        ReadOnlySpan<byte> field = body.Slice(offset, Math.Min(size, body.Length - offset));
        int nul = field.IndexOf((byte)0);
        return nul >= 0 ? field[..nul] : field;
    }

    /// <summary>
    /// The next null-terminated string of a V2 message. The end of the body ends a string too (trailing fields
    /// may be left out); false when no terminator comes within <paramref name="maxSize"/> bytes (terminator included).
    /// </summary>
    public static bool TryTerminated(scoped ref ReadOnlySpan<byte> rest, int maxSize, out ReadOnlySpan<byte> value)
    {
        ReadOnlySpan<byte> window = rest.Length > maxSize ? rest[..maxSize] : rest;
        int nul = window.IndexOf((byte)0);
        if (nul >= 0)
        {
            value = rest[..nul];
            rest = rest[(nul + 1)..];
            return true;
        }

        if (rest.Length >= maxSize)
        {
            value = default;
            return false;
        }

        value = rest;
        rest = default;
        return true;
    }

    /// <summary>A 4-byte IPv4 address in network byte order (the one big-endian field of Skinny).</summary>
    public static IpAddress16 Ipv4(ReadOnlySpan<byte> body, int offset) => IpAddress16.FromIPv4(body.Slice(offset, 4));

    /// <summary>The V17+ union: u32 address type, then 16 bytes (IPv4 in the first four).</summary>
    public static bool TryIpv46(ReadOnlySpan<byte> body, int offset, out IpAddress16 address, out SkinnyInvalidReason reason)
    {
        reason = SkinnyInvalidReason.None;
        switch (U32(body, offset))
        {
            case AddressTypeIpv4:
                address = IpAddress16.FromIPv4(body.Slice(offset + 4, 4));
                return true;
            case AddressTypeIpv6 or AddressTypeIpv4AndIpv6:
                address = IpAddress16.FromIPv6(body.Slice(offset + 4, 16));
                return true;
            default:
                address = default;
                reason = SkinnyInvalidReason.BadAddressType;
                return false;
        }
    }

    /// <summary>A port field: a u32 that must fit 16 bits.</summary>
    public static bool TryPort(ReadOnlySpan<byte> body, int offset, out ushort port)
    {
        uint value = U32(body, offset);
        port = (ushort)value;
        return value <= ushort.MaxValue;
    }
}
