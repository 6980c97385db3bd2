using System.Buffers;
using Capture.Packets;

namespace Capture.Skinny;

/// <summary>
/// RegisterReq (0x0001), device to CallManager. Layout (all versions): device name (16, null-padded), station user
/// id, instance, station IPv4 (network order), device type, max streams; then, when the body is long enough, active
/// streams, the protocol version (one byte) with three bytes of phone features, max conferences... The device
/// name identifies the device in the directory; the station IP is what the device believes its address is (it
/// may sit behind NAT), so the learner binds the address the packets come from.
/// </summary>
public readonly ref struct SkinnyRegister
{
    private const int DeviceNameSize = 16;
    private const int MinBody = 36;
    private const int ProtocolVersionOffset = 40;
    private const int MinBodyWithProtocolVersion = 44;

    public ReadOnlySpan<byte> DeviceName { get; private init; }
    public uint StationUserId { get; private init; }
    public uint Instance { get; private init; }
    public IpAddress16 StationIp { get; private init; }
    public uint DeviceType { get; private init; }
    public uint MaxStreams { get; private init; }
    public uint ActiveStreams { get; private init; }

    /// <summary>The protocol version the device speaks; 0 when the body is too short to say (very old devices).</summary>
    public byte ProtocolVersion { get; private init; }

    public uint MaxConferences { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyRegister value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.Register, MinBody, out reason))
        {
            return OperationStatus.InvalidData;
        }

        ReadOnlySpan<byte> name = SkinnyWire.Fixed(b, 0, DeviceNameSize);
        if (name.IsEmpty)
        {
            reason = SkinnyInvalidReason.BadValue;
            return OperationStatus.InvalidData;
        }

        value = new SkinnyRegister
        {
            DeviceName = name,
            StationUserId = SkinnyWire.U32(b, 16),
            Instance = SkinnyWire.U32(b, 20),
            StationIp = SkinnyWire.Ipv4(b, 24),
            DeviceType = SkinnyWire.U32(b, 28),
            MaxStreams = SkinnyWire.U32(b, 32),
            ActiveStreams = SkinnyWire.U32OrZero(b, 36),
            ProtocolVersion = b.Length >= MinBodyWithProtocolVersion ? b[ProtocolVersionOffset] : (byte)0,
            MaxConferences = SkinnyWire.U32OrZero(b, 44),
        };
        return OperationStatus.Done;
    }
}

/// <summary>
/// RegisterAck (0x0081), CallManager to device: keep-alive interval, date template (6 bytes) and 2 bytes of
/// padding, secondary keep-alive interval, then the negotiated protocol version (one byte). Legacy CallManagers
/// (cm2_register.pcapng) send only the first 12 bytes, the last of them uninitialised.
/// </summary>
public readonly ref struct SkinnyRegisterAck
{
    private const int DateTemplateSize = 6;
    private const int ProtocolVersionOffset = 16;

    public uint KeepAliveInterval { get; private init; }
    public ReadOnlySpan<byte> DateTemplate { get; private init; }
    public uint SecondaryKeepAliveInterval { get; private init; }

    /// <summary>The protocol version the CallManager will use; 0 when the body does not carry it (legacy).</summary>
    public byte ProtocolVersion { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyRegisterAck value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.RegisterAck, 4, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyRegisterAck
        {
            KeepAliveInterval = SkinnyWire.U32(b, 0),
            DateTemplate = SkinnyWire.Fixed(b, 4, DateTemplateSize),
            SecondaryKeepAliveInterval = SkinnyWire.U32OrZero(b, 12),
            ProtocolVersion = b.Length > ProtocolVersionOffset ? b[ProtocolVersionOffset] : (byte)0,
        };
        return OperationStatus.Done;
    }
}

/// <summary>RegisterReject (0x009D), CallManager to device: a 32-byte text ("Error: No License").</summary>
public readonly ref struct SkinnyRegisterReject
{
    private const int TextSize = 32;

    public ReadOnlySpan<byte> Text { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyRegisterReject value, out SkinnyInvalidReason reason)
    {
        value = default;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.RegisterReject, 0, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyRegisterReject { Text = SkinnyWire.Fixed(message.Body, 0, TextSize) };
        return OperationStatus.Done;
    }
}

/// <summary>Unregister (0x0027), device to CallManager: empty in old versions, a reason code in newer ones.</summary>
public readonly ref struct SkinnyUnregister
{
    public bool HasReason { get; private init; }
    public uint Reason { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyUnregister value, out SkinnyInvalidReason reason)
    {
        value = default;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.Unregister, 0, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyUnregister { HasReason = message.Body.Length >= 4, Reason = SkinnyWire.U32OrZero(message.Body, 0) };
        return OperationStatus.Done;
    }
}

/// <summary>UnregisterAck (0x0118), CallManager to device: 0 = OK, 1 = error, 2 = NAK (the device stays registered).</summary>
public readonly ref struct SkinnyUnregisterAck
{
    public const uint StatusOk = 0;

    public uint Status { get; private init; }

    public bool Accepted => Status == StatusOk;

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyUnregisterAck value, out SkinnyInvalidReason reason)
    {
        value = default;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.UnregisterAck, 4, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyUnregisterAck { Status = SkinnyWire.U32(message.Body, 0) };
        return OperationStatus.Done;
    }
}

/// <summary>IpPort (0x0002), device to CallManager: the RTP port it will receive on (0 for media resources that pick later).</summary>
public readonly ref struct SkinnyIpPort
{
    public ushort RtpPort { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyIpPort value, out SkinnyInvalidReason reason)
    {
        value = default;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.IpPort, 4, out reason))
        {
            return OperationStatus.InvalidData;
        }

        if (!SkinnyWire.TryPort(message.Body, 0, out ushort port))
        {
            reason = SkinnyInvalidReason.BadValue;
            return OperationStatus.InvalidData;
        }

        value = new SkinnyIpPort { RtpPort = port };
        return OperationStatus.Done;
    }
}

/// <summary>Common checks of the readers.</summary>
internal static class SkinnyReaders
{
    /// <summary>The message has the expected id and at least <paramref name="minBody"/> bytes of body.</summary>
    public static bool Check(in SkinnyMessage message, uint id, int minBody, out SkinnyInvalidReason reason)
    {
        reason = message.Id != id ? SkinnyInvalidReason.WrongMessage
            : message.Body.Length < minBody ? SkinnyInvalidReason.BodyTooShort
            : SkinnyInvalidReason.None;
        return reason == SkinnyInvalidReason.None;
    }
}
