using System.Buffers.Binary;

namespace Capture.Recording;

/// <summary>Header type flags of an Ogg page (RFC 3533 section 6, byte 5).</summary>
[Flags]
public enum OggPageFlags : byte
{
    None = 0,
    /// <summary>The first packet on this page continues one from the previous page.</summary>
    Continued = 0x01,
    /// <summary>First page of a logical bitstream.</summary>
    BeginningOfStream = 0x02,
    /// <summary>Last page of a logical bitstream.</summary>
    EndOfStream = 0x04,
}

/// <summary>
/// RFC 3533 page framing: "OggS", version 0, flags, 64-bit granule position, serial number, page sequence,
/// CRC-32 and the lacing (segment) table, all little-endian. Stateless; the stream writer keeps the state.
/// </summary>
public static class OggPage
{
    /// <summary>Fixed part of the header, before the lacing values.</summary>
    public const int HeaderLength = 27;

    /// <summary>A page holds at most 255 lacing values, each describing up to 255 bytes.</summary>
    public const int MaxSegments = 255;

    public const int MaxBodyLength = MaxSegments * 255;

    private const int CrcOffset = 22;
    private const int SegmentCountOffset = 26;

    // CRC-32 with polynomial 0x04C11DB7, MSB first (no reflection), initial value 0 and no final xor.
    private static readonly uint[] s_crcTable = BuildCrcTable();

    public static ReadOnlySpan<byte> CapturePattern => "OggS"u8;

    /// <summary>Continues the Ogg CRC over <paramref name="data"/>; start with 0.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data, uint crc = 0)
    {
        uint[] table = s_crcTable;
        foreach (byte b in data)
        {
            crc = (crc << 8) ^ table[(byte)(crc >> 24) ^ b];
        }

        return crc;
    }

    /// <summary>Number of lacing values a packet needs: a run of 255s and a final value below 255 (0 when the length is a multiple of 255).</summary>
    public static int LacingCount(int packetLength) => (packetLength / 255) + 1;

    /// <summary>Writes the lacing values of one complete packet; returns how many were written.</summary>
    public static int WriteLacing(int packetLength, Span<byte> lacing)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(packetLength);
        int count = LacingCount(packetLength);
        lacing = lacing[..count];
        lacing[..^1].Fill(255);
        lacing[^1] = (byte)(packetLength % 255);
        return count;
    }

    /// <summary>
    /// Writes the 27-byte header plus <paramref name="lacing"/> into <paramref name="header"/> and stamps the CRC
    /// computed over the header (CRC field zeroed) and <paramref name="body"/>. Returns the header length.
    /// </summary>
    public static int WriteHeader(Span<byte> header, OggPageFlags flags, long granulePosition, uint serialNumber,
        uint sequenceNumber, ReadOnlySpan<byte> lacing, ReadOnlySpan<byte> body)
    {
        if (lacing.Length > MaxSegments)
        {
            throw new ArgumentException("An Ogg page holds at most 255 lacing values.", nameof(lacing));
        }

        int length = HeaderLength + lacing.Length;
        header = header[..length];
        CapturePattern.CopyTo(header);
        header[4] = 0; // stream structure version
        header[5] = (byte)flags;
        BinaryPrimitives.WriteInt64LittleEndian(header[6..], granulePosition);
        BinaryPrimitives.WriteUInt32LittleEndian(header[14..], serialNumber);
        BinaryPrimitives.WriteUInt32LittleEndian(header[18..], sequenceNumber);
        BinaryPrimitives.WriteUInt32LittleEndian(header[CrcOffset..], 0);
        header[SegmentCountOffset] = (byte)lacing.Length;
        lacing.CopyTo(header[HeaderLength..]);
        uint crc = Crc32(body, Crc32(header));
        BinaryPrimitives.WriteUInt32LittleEndian(header[CrcOffset..], crc);
        return length;
    }

    /// <summary>Writes a whole page holding exactly one complete packet; returns the page length.</summary>
    public static int WriteSinglePacketPage(Span<byte> destination, OggPageFlags flags, long granulePosition,
        uint serialNumber, uint sequenceNumber, ReadOnlySpan<byte> packet)
    {
        int segments = LacingCount(packet.Length);
        if (segments > MaxSegments)
        {
            throw new ArgumentException("The packet does not fit one Ogg page.", nameof(packet));
        }

        Span<byte> lacing = stackalloc byte[segments];
        WriteLacing(packet.Length, lacing);
        int headerLength = HeaderLength + segments;
        packet.CopyTo(destination[headerLength..]);
        WriteHeader(destination, flags, granulePosition, serialNumber, sequenceNumber, lacing, packet);
        return headerLength + packet.Length;
    }

    /// <summary>
    /// Checks the page at the start of <paramref name="data"/>: capture pattern, version 0, complete and CRC correct.
    /// Returns false (with <paramref name="pageLength"/> 0) otherwise.
    /// </summary>
    public static bool TryVerify(ReadOnlySpan<byte> data, out int pageLength)
    {
        pageLength = 0;
        if (data.Length < HeaderLength || !data.StartsWith(CapturePattern) || data[4] != 0)
        {
            return false;
        }

        int segments = data[SegmentCountOffset];
        if (data.Length < HeaderLength + segments)
        {
            return false;
        }

        int bodyLength = 0;
        foreach (byte lace in data.Slice(HeaderLength, segments))
        {
            bodyLength += lace;
        }

        int length = HeaderLength + segments + bodyLength;
        if (data.Length < length)
        {
            return false;
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(data[CrcOffset..]);
        uint crc = Crc32(data[..CrcOffset]);
        crc = Crc32([0, 0, 0, 0], crc);
        crc = Crc32(data[(CrcOffset + 4)..length], crc);
        if (crc != stored)
        {
            return false;
        }

        pageLength = length;
        return true;
    }

    private static uint[] BuildCrcTable()
    {
        const uint Polynomial = 0x04C11DB7;
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint r = i << 24;
            for (int bit = 0; bit < 8; bit++)
            {
                r = (r & 0x80000000) != 0 ? (r << 1) ^ Polynomial : r << 1;
            }

            table[i] = r;
        }

        return table;
    }
}
