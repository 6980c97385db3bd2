using System.Buffers.Binary;

namespace Capture.Tests.Packets;

/// <summary>Builds frames byte by byte for unit tests (big-endian wire order, checksums left zero).</summary>
internal static class FrameBuilder
{
    public static readonly byte[] SrcV4 = [10, 0, 0, 1];
    public static readonly byte[] DstV4 = [10, 0, 0, 2];

    public static byte[] Udp(ushort sport, ushort dport, ReadOnlySpan<byte> payload)
    {
        var b = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(b, sport);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)b.Length);
        payload.CopyTo(b.AsSpan(8));
        return b;
    }

    public static byte[] Ipv4(byte protocol, ReadOnlySpan<byte> payload, ushort id = 1, ushort flagsAndOffset = 0, byte[]? src = null, byte[]? dst = null)
    {
        var b = new byte[20 + payload.Length];
        b[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)b.Length);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), flagsAndOffset);
        b[8] = 64;
        b[9] = protocol;
        (src ?? SrcV4).CopyTo(b, 12);
        (dst ?? DstV4).CopyTo(b, 16);
        payload.CopyTo(b.AsSpan(20));
        return b;
    }

    public static byte[] Ipv6(byte nextHeader, ReadOnlySpan<byte> payload)
    {
        var b = new byte[40 + payload.Length];
        b[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)payload.Length);
        b[6] = nextHeader;
        b[7] = 64;
        b[8] = 0x20;
        b[9] = 0x01;
        b[23] = 1;
        b[24] = 0x20;
        b[25] = 0x01;
        b[39] = 2;
        payload.CopyTo(b.AsSpan(40));
        return b;
    }

    /// <summary>IPv6 fragment header (8 bytes) followed by the fragment data.</summary>
    public static byte[] Ipv6Fragment(byte nextHeader, int offset, bool more, uint id, ReadOnlySpan<byte> data)
    {
        var b = new byte[8 + data.Length];
        b[0] = nextHeader;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)(offset | (more ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), id);
        data.CopyTo(b.AsSpan(8));
        return b;
    }

    public static byte[] Ethernet(ushort etherType, ReadOnlySpan<byte> payload, params (ushort Tpid, ushort Vid)[] tags)
    {
        var b = new byte[14 + (4 * tags.Length) + payload.Length];
        b[5] = 2;   // dst 00:00:00:00:00:02
        b[11] = 1;  // src 00:00:00:00:00:01
        int at = 12;
        foreach ((ushort tpid, ushort vid) in tags)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), tpid);
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at + 2), vid);
            at += 4;
        }

        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), etherType);
        payload.CopyTo(b.AsSpan(at + 2));
        return b;
    }

    public static byte[] Concat(params byte[][] parts)
    {
        var b = new byte[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (byte[] p in parts)
        {
            p.CopyTo(b, at);
            at += p.Length;
        }

        return b;
    }

    /// <summary>GRE header: flags word, protocol, then the optional words given.</summary>
    public static byte[] Gre(ushort flags, ushort protocol, params uint[] optionalWords)
    {
        var b = new byte[4 + (4 * optionalWords.Length)];
        BinaryPrimitives.WriteUInt16BigEndian(b, flags);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), protocol);
        for (int i = 0; i < optionalWords.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4 + (4 * i)), optionalWords[i]);
        }

        return b;
    }

    /// <summary>A complete Ethernet/IPv4/UDP frame 10.0.0.1:5060 -> 10.0.0.2:5062.</summary>
    public static byte[] SipOverUdp(string text = "OPTIONS sip:x SIP/2.0\r\n\r\n") =>
        Ethernet(0x0800, Ipv4(17, Udp(5060, 5062, System.Text.Encoding.ASCII.GetBytes(text))));
}
