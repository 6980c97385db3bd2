using System.Buffers;
using Capture.Packets;

namespace Capture.Skinny;

/// <summary>Which layout a media message was read with.</summary>
public enum SkinnyMediaLayout : byte
{
    /// <summary>
    /// The very old StartMediaTransmission of cm2_register.pcapng: remote IP, port, packet size, codec - no
    /// conferenceId or passThruPartyId (Wireshark misreads it as 30.0.0.0:4).
    /// </summary>
    Legacy,

    /// <summary>Header version 0: conferenceId, passThruPartyId, 4-byte IPv4...</summary>
    Basic,

    /// <summary>Header version 0x11 and later: addresses are an address type plus 16 bytes.</summary>
    Ipv46,
}

/// <summary>
/// StartMediaTransmission (0x008A), CallManager to device: where the device must send its RTP.
/// Header version 0: conferenceId, passThruPartyId, remote IPv4, port, packet size (ms), compression type,
/// precedence, silence suppression, max frames per packet, G.723 bit rate, then (protocol 5+) the call reference.
/// Header version 0x11+: the address is the IPv4/IPv6 union (type + 16 bytes); the rest follows in the same order.
/// Legacy (header version 0 and a body shorter than the 40 bytes the basic layout needs up to the G.723 bit rate):
/// remote IPv4, port, packet size, compression type, as the legacy CallManager of cm2_register.pcapng sends it.
/// </summary>
public readonly ref struct SkinnyStartMediaTransmission
{
    private const int BasicMinBody = 40;
    private const int LegacyMinBody = 16;
    private const int Ipv46MinBody = 40;

    public SkinnyMediaLayout Layout { get; private init; }

    /// <summary>False for the legacy layout, which carries no conferenceId / passThruPartyId.</summary>
    public bool HasIds => Layout != SkinnyMediaLayout.Legacy;

    public uint ConferenceId { get; private init; }
    public uint PassThruPartyId { get; private init; }
    public IpAddress16 RemoteIp { get; private init; }
    public ushort RemotePort { get; private init; }

    /// <summary>Packet size in milliseconds.</summary>
    public uint PacketMs { get; private init; }

    /// <summary>Skinny compression type (Media_Payload: 2 = G.711 A-law, 4 = G.711 u-law, 6 = G.722, 11/12 = G.729...).</summary>
    public uint CompressionType { get; private init; }

    public uint Precedence { get; private init; }

    public bool HasCallReference { get; private init; }
    public uint CallReference { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyStartMediaTransmission value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.StartMediaTransmission, LegacyMinBody, out reason))
        {
            return OperationStatus.InvalidData;
        }

        if (SkinnyHeaderVersion.HasIpv46Addresses(message.HeaderVersion))
        {
            if (b.Length < Ipv46MinBody)
            {
                reason = SkinnyInvalidReason.BodyTooShort;
                return OperationStatus.InvalidData;
            }

            if (!SkinnyWire.TryIpv46(b, 8, out IpAddress16 ip, out reason))
            {
                return OperationStatus.InvalidData;
            }

            if (!SkinnyWire.TryPort(b, 28, out ushort port))
            {
                reason = SkinnyInvalidReason.BadValue;
                return OperationStatus.InvalidData;
            }

            value = new SkinnyStartMediaTransmission
            {
                Layout = SkinnyMediaLayout.Ipv46,
                ConferenceId = SkinnyWire.U32(b, 0),
                PassThruPartyId = SkinnyWire.U32(b, 4),
                RemoteIp = ip,
                RemotePort = port,
                PacketMs = SkinnyWire.U32(b, 32),
                CompressionType = SkinnyWire.U32(b, 36),
                Precedence = SkinnyWire.U32OrZero(b, 40),
                HasCallReference = b.Length >= 60,
                CallReference = SkinnyWire.U32OrZero(b, 56),
            };
            return OperationStatus.Done;
        }

        bool legacy = b.Length < BasicMinBody;
        int at = legacy ? 0 : 8;
        if (!SkinnyWire.TryPort(b, at + 4, out ushort basicPort))
        {
            reason = SkinnyInvalidReason.BadValue;
            return OperationStatus.InvalidData;
        }

        value = legacy
            ? new SkinnyStartMediaTransmission
            {
                Layout = SkinnyMediaLayout.Legacy,
                RemoteIp = SkinnyWire.Ipv4(b, 0),
                RemotePort = basicPort,
                PacketMs = SkinnyWire.U32(b, 8),
                CompressionType = SkinnyWire.U32(b, 12),
            }
            : new SkinnyStartMediaTransmission
            {
                Layout = SkinnyMediaLayout.Basic,
                ConferenceId = SkinnyWire.U32(b, 0),
                PassThruPartyId = SkinnyWire.U32(b, 4),
                RemoteIp = SkinnyWire.Ipv4(b, 8),
                RemotePort = basicPort,
                PacketMs = SkinnyWire.U32(b, 16),
                CompressionType = SkinnyWire.U32(b, 20),
                Precedence = SkinnyWire.U32(b, 24),
                HasCallReference = b.Length >= 44,
                CallReference = SkinnyWire.U32OrZero(b, 40),
            };
        return OperationStatus.Done;
    }
}

/// <summary>
/// StopMediaTransmission (0x008B), CallManager to device: conferenceId, passThruPartyId, call reference, port
/// handling flag. The legacy CallManager sends 4 bytes of uninitialised memory: read as "no ids" (stop the one stream).
/// </summary>
public readonly ref struct SkinnyStopMediaTransmission
{
    public bool HasIds { get; private init; }
    public uint ConferenceId { get; private init; }
    public uint PassThruPartyId { get; private init; }
    public bool HasCallReference { get; private init; }
    public uint CallReference { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyStopMediaTransmission value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.StopMediaTransmission, 0, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = b.Length < 8 ? default : new SkinnyStopMediaTransmission
        {
            HasIds = true,
            ConferenceId = SkinnyWire.U32(b, 0),
            PassThruPartyId = SkinnyWire.U32(b, 4),
            HasCallReference = b.Length >= 12,
            CallReference = SkinnyWire.U32OrZero(b, 8),
        };
        return OperationStatus.Done;
    }
}

/// <summary>
/// OpenReceiveChannel (0x0105), CallManager to device: conferenceId, passThruPartyId, packet size, compression type,
/// echo cancellation, G.723 bit rate / codec parameters, call reference (protocol 5+), 48 bytes of key material, stream
/// ids, DTMF settings, mixing mode and direction, and (protocol 15+) the address the media will come from:
/// 4 bytes at 100 in header version 0, the IPv4/IPv6 union at 100 from 0x11.
/// </summary>
public readonly ref struct SkinnyOpenReceiveChannel
{
    private const int MinBody = 16;
    private const int SourceOffset = 100;

    public uint ConferenceId { get; private init; }
    public uint PassThruPartyId { get; private init; }
    public uint PacketMs { get; private init; }
    public uint CompressionType { get; private init; }
    public bool HasCallReference { get; private init; }
    public uint CallReference { get; private init; }

    /// <summary>Whether the (protocol 15+) source address and port were present.</summary>
    public bool HasSource { get; private init; }
    public IpAddress16 SourceIp { get; private init; }
    public ushort SourcePort { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyOpenReceiveChannel value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.OpenReceiveChannel, MinBody, out reason))
        {
            return OperationStatus.InvalidData;
        }

        bool ipv46 = SkinnyHeaderVersion.HasIpv46Addresses(message.HeaderVersion);
        int portOffset = SourceOffset + (ipv46 ? SkinnyWire.Ipv46AddressSize : 4);
        bool hasSource = b.Length >= portOffset + 4;
        IpAddress16 source = default;
        ushort sourcePort = 0;
        if (hasSource)
        {
            if (ipv46 && !SkinnyWire.TryIpv46(b, SourceOffset, out source, out _))
            {
                hasSource = false; // the source is advisory; a bad type does not spoil the channel
            }
            else if (!ipv46)
            {
                source = SkinnyWire.Ipv4(b, SourceOffset);
            }

            hasSource &= SkinnyWire.TryPort(b, portOffset, out sourcePort);
        }

        value = new SkinnyOpenReceiveChannel
        {
            ConferenceId = SkinnyWire.U32(b, 0),
            PassThruPartyId = SkinnyWire.U32(b, 4),
            PacketMs = SkinnyWire.U32(b, 8),
            CompressionType = SkinnyWire.U32(b, 12),
            HasCallReference = b.Length >= 28,
            CallReference = SkinnyWire.U32OrZero(b, 24),
            HasSource = hasSource,
            SourceIp = hasSource ? source : default,
            SourcePort = hasSource ? sourcePort : (ushort)0,
        };
        return OperationStatus.Done;
    }
}

/// <summary>
/// OpenReceiveChannelAck (0x0022), device to CallManager: status, the address and port the device receives RTP on,
/// passThruPartyId, and in newer versions the call reference. Header version 0: 4-byte IPv4; 0x11+: the
/// IPv4/IPv6 union (a 0x11+ body too short for it is read with the 4-byte layout).
/// </summary>
public readonly ref struct SkinnyOpenReceiveChannelAck
{
    private const int BasicMinBody = 16;
    private const int Ipv46MinBody = 32;

    /// <summary>0 = OK; anything else an error (the channel is not open).</summary>
    public uint Status { get; private init; }
    public IpAddress16 Ip { get; private init; }
    public ushort Port { get; private init; }
    public uint PassThruPartyId { get; private init; }
    public bool HasCallReference { get; private init; }
    public uint CallReference { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyOpenReceiveChannelAck value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.OpenReceiveChannelAck, BasicMinBody, out reason))
        {
            return OperationStatus.InvalidData;
        }

        bool ipv46 = SkinnyHeaderVersion.HasIpv46Addresses(message.HeaderVersion) && b.Length >= Ipv46MinBody;
        IpAddress16 ip;
        if (!ipv46)
        {
            ip = SkinnyWire.Ipv4(b, 4);
        }
        else if (!SkinnyWire.TryIpv46(b, 4, out ip, out reason))
        {
            return OperationStatus.InvalidData;
        }

        int portOffset = ipv46 ? 4 + SkinnyWire.Ipv46AddressSize : 8;
        if (!SkinnyWire.TryPort(b, portOffset, out ushort port))
        {
            reason = SkinnyInvalidReason.BadValue;
            return OperationStatus.InvalidData;
        }

        value = new SkinnyOpenReceiveChannelAck
        {
            Status = SkinnyWire.U32(b, 0),
            Ip = ip,
            Port = port,
            PassThruPartyId = SkinnyWire.U32(b, portOffset + 4),
            HasCallReference = b.Length >= portOffset + 12,
            CallReference = SkinnyWire.U32OrZero(b, portOffset + 8),
        };
        return OperationStatus.Done;
    }
}

/// <summary>CloseReceiveChannel (0x0106), CallManager to device: conferenceId, passThruPartyId, call reference, port handling flag.</summary>
public readonly ref struct SkinnyCloseReceiveChannel
{
    public uint ConferenceId { get; private init; }
    public uint PassThruPartyId { get; private init; }
    public bool HasCallReference { get; private init; }
    public uint CallReference { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyCloseReceiveChannel value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.CloseReceiveChannel, 8, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyCloseReceiveChannel
        {
            ConferenceId = SkinnyWire.U32(b, 0),
            PassThruPartyId = SkinnyWire.U32(b, 4),
            HasCallReference = b.Length >= 12,
            CallReference = SkinnyWire.U32OrZero(b, 8),
        };
        return OperationStatus.Done;
    }
}

/// <summary>
/// StartMediaTransmissionAck (0x0154), device to CallManager: call reference (the conferenceId), passThruPartyId,
/// call reference 1, the address and port the device transmits from, status. Header version 0: 4-byte IPv4;
/// 0x11+: the IPv4/IPv6 union.
/// </summary>
public readonly ref struct SkinnyStartMediaTransmissionAck
{
    public uint ConferenceId { get; private init; }
    public uint PassThruPartyId { get; private init; }
    public uint CallReference { get; private init; }
    public IpAddress16 TransmitIp { get; private init; }
    public ushort TransmitPort { get; private init; }

    /// <summary>0 = OK.</summary>
    public uint Status { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyStartMediaTransmissionAck value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        bool ipv46 = SkinnyHeaderVersion.HasIpv46Addresses(message.HeaderVersion);
        int portOffset = ipv46 ? 12 + SkinnyWire.Ipv46AddressSize : 16;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.StartMediaTransmissionAck, portOffset + 8, out reason))
        {
            return OperationStatus.InvalidData;
        }

        IpAddress16 ip;
        if (!ipv46)
        {
            ip = SkinnyWire.Ipv4(b, 12);
        }
        else if (!SkinnyWire.TryIpv46(b, 12, out ip, out reason))
        {
            return OperationStatus.InvalidData;
        }

        if (!SkinnyWire.TryPort(b, portOffset, out ushort port))
        {
            reason = SkinnyInvalidReason.BadValue;
            return OperationStatus.InvalidData;
        }

        value = new SkinnyStartMediaTransmissionAck
        {
            ConferenceId = SkinnyWire.U32(b, 0),
            PassThruPartyId = SkinnyWire.U32(b, 4),
            CallReference = SkinnyWire.U32(b, 8),
            TransmitIp = ip,
            TransmitPort = port,
            Status = SkinnyWire.U32(b, portOffset + 4),
        };
        return OperationStatus.Done;
    }
}

/// <summary>
/// ConnectionStatisticsRes (0x0023), device to CallManager: directory number, call reference, processing mode,
/// packets and octets sent and received, packets lost, jitter, latency (then an optional quality text).
/// Header versions below 0x12 use a 24-byte directory number; from 0x12 it is 25 bytes padded to 28 (as real
/// 7941/7970 dumps in chan-sccp show).
/// </summary>
public readonly ref struct SkinnyConnectionStatisticsRes
{
    private const int DirNumberSize = 24;
    private const int PaddedDynamicDirNumberSize = 28;

    public ReadOnlySpan<byte> DirectoryNumber { get; private init; }
    public uint CallReference { get; private init; }
    public uint PacketsSent { get; private init; }
    public uint OctetsSent { get; private init; }
    public uint PacketsReceived { get; private init; }
    public uint OctetsReceived { get; private init; }
    public uint PacketsLost { get; private init; }
    public uint Jitter { get; private init; }
    public uint Latency { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyConnectionStatisticsRes value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        int at = message.HeaderVersion >= SkinnyHeaderVersion.V18 ? PaddedDynamicDirNumberSize : DirNumberSize;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.ConnectionStatisticsRes, at + 36, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyConnectionStatisticsRes
        {
            DirectoryNumber = SkinnyWire.Fixed(b, 0, at == DirNumberSize ? DirNumberSize : 25),
            CallReference = SkinnyWire.U32(b, at),
            PacketsSent = SkinnyWire.U32(b, at + 8),
            OctetsSent = SkinnyWire.U32(b, at + 12),
            PacketsReceived = SkinnyWire.U32(b, at + 16),
            OctetsReceived = SkinnyWire.U32(b, at + 20),
            PacketsLost = SkinnyWire.U32(b, at + 24),
            Jitter = SkinnyWire.U32(b, at + 28),
            Latency = SkinnyWire.U32(b, at + 32),
        };
        return OperationStatus.Done;
    }
}
