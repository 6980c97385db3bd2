using System.Buffers;
using System.Buffers.Binary;

namespace Capture.Rtp;

public enum RtpInvalidReason : byte
{
    None,
    TooShort,
    BadVersion,
    CsrcOverrun,
    ExtensionOverrun,
    BadPadding,
    IsRtcp,
}

/// <summary>An RFC 3550 RTP packet read in place: header fields and a payload span into the datagram.</summary>
public readonly ref struct RtpPacket
{
    // Fixed header: V/P/X/CC (1), M/PT (1), sequence (2), timestamp (4), SSRC (4).
    private const int FixedHeaderLength = 12;

    public byte PayloadType { get; init; }
    public bool Marker { get; init; }
    public ushort SequenceNumber { get; init; }
    public uint Timestamp { get; init; }
    public uint Ssrc { get; init; }
    public ReadOnlySpan<byte> Payload { get; init; }

    public static OperationStatus TryRead(ReadOnlySpan<byte> datagram, out RtpPacket packet, out RtpInvalidReason reason)
    {
        packet = default;
        if (datagram.Length < FixedHeaderLength)
        {
            reason = RtpInvalidReason.TooShort;
            return OperationStatus.InvalidData;
        }

        byte b0 = datagram[0];
        if ((b0 >> 6) != 2)
        {
            reason = RtpInvalidReason.BadVersion;
            return OperationStatus.InvalidData;
        }

        byte b1 = datagram[1];

        // RTCP shares the version bits; its packet types 200-204 would read as marker + PT 72-76 (RFC 5761 section 4).
        if (b1 is >= 192 and <= 223)
        {
            reason = RtpInvalidReason.IsRtcp;
            return OperationStatus.InvalidData;
        }

        int offset = FixedHeaderLength + ((b0 & 0x0F) * 4);
        if (offset > datagram.Length)
        {
            reason = RtpInvalidReason.CsrcOverrun;
            return OperationStatus.InvalidData;
        }

        if ((b0 & 0x10) != 0)
        {
            // Header extension: 16-bit profile, 16-bit length in 32-bit words.
            if (offset + 4 > datagram.Length)
            {
                reason = RtpInvalidReason.ExtensionOverrun;
                return OperationStatus.InvalidData;
            }

            int words = BinaryPrimitives.ReadUInt16BigEndian(datagram[(offset + 2)..]);
            offset += 4 + (words * 4);
            if (offset > datagram.Length)
            {
                reason = RtpInvalidReason.ExtensionOverrun;
                return OperationStatus.InvalidData;
            }
        }

        int end = datagram.Length;
        if ((b0 & 0x20) != 0)
        {
            int padding = datagram[^1];
            if (padding == 0 || end - padding < offset)
            {
                reason = RtpInvalidReason.BadPadding;
                return OperationStatus.InvalidData;
            }

            end -= padding;
        }

        packet = new RtpPacket
        {
            Marker = (b1 & 0x80) != 0,
            PayloadType = (byte)(b1 & 0x7F),
            SequenceNumber = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]),
            Timestamp = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]),
            Ssrc = BinaryPrimitives.ReadUInt32BigEndian(datagram[8..]),
            Payload = datagram[offset..end],
        };
        reason = RtpInvalidReason.None;
        return OperationStatus.Done;
    }
}

/// <summary>An RFC 4733 telephone-event payload (DTMF).</summary>
public readonly struct TelephoneEvent
{
    public byte Event { get; init; }
    public bool End { get; init; }
    public byte Volume { get; init; }
    public ushort Duration { get; init; }

    public static bool TryRead(ReadOnlySpan<byte> payload, out TelephoneEvent ev)
    {
        if (payload.Length < 4)
        {
            ev = default;
            return false;
        }

        ev = new TelephoneEvent
        {
            Event = payload[0],
            End = (payload[1] & 0x80) != 0,
            Volume = (byte)(payload[1] & 0x3F),
            Duration = BinaryPrimitives.ReadUInt16BigEndian(payload[2..]),
        };
        return true;
    }

    /// <summary>DTMF digit for events 0-15 (RFC 4733 section 3.2), else '\0'.</summary>
    public char Digit => Event switch
    {
        <= 9 => (char)('0' + Event),
        10 => '*',
        11 => '#',
        >= 12 and <= 15 => (char)('A' + (Event - 12)),
        _ => '\0',
    };
}
