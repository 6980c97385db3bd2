namespace Capture.Skinny;

/// <summary>
/// SCCP message ids (the u32 after the length and header version). Ids below 0x80 go from the device to the
/// CallManager, 0x80 and above from the CallManager to the device, except the few marked otherwise.
/// Names follow Wireshark's Skinny dissector; only the ones the appliance reads or mentions are listed.
/// </summary>
public static class SkinnyMessageId
{
    // ---- Device -> CallManager -----------------------------------------------------------------------------

    public const uint KeepAlive = 0x0000;

    /// <summary>RegisterReq: device name, station IP, device type, max streams, protocol version.</summary>
    public const uint Register = 0x0001;

    /// <summary>The RTP port the device will receive on (superseded by OpenReceiveChannelAck).</summary>
    public const uint IpPort = 0x0002;

    /// <summary>A keypad key (DTMF digit) pressed on a line / call.</summary>
    public const uint KeypadButton = 0x0003;

    public const uint Stimulus = 0x0005;
    public const uint OffHook = 0x0006;
    public const uint OnHook = 0x0007;

    /// <summary>The device asks for one line's directory number; answered by <see cref="LineStatRes"/>.</summary>
    public const uint LineStatReq = 0x000B;

    public const uint ButtonTemplateReq = 0x000E;

    /// <summary>Where the device will receive RTP: status, IP, port, passThruPartyId (and callReference later).</summary>
    public const uint OpenReceiveChannelAck = 0x0022;

    /// <summary>RTP statistics of a call leg: packets sent/received/lost, jitter, latency.</summary>
    public const uint ConnectionStatisticsRes = 0x0023;

    /// <summary>A soft key (Hold, Resume, Transfer, Confrn...) pressed on a line / call.</summary>
    public const uint SoftKeyEvent = 0x0026;

    /// <summary>The device unregisters (a reason code follows in newer versions).</summary>
    public const uint Unregister = 0x0027;

    /// <summary>Highest device-to-CallManager id known (MwiNotification).</summary>
    public const uint LastDeviceMessage = 0x004C;

    // ---- CallManager -> device -----------------------------------------------------------------------------

    /// <summary>Registration accepted: keep-alive intervals, date template and (newer) the negotiated protocol version.</summary>
    public const uint RegisterAck = 0x0081;

    /// <summary>Where the device must send its RTP: remote IP, port, packet size, codec.</summary>
    public const uint StartMediaTransmission = 0x008A;

    public const uint StopMediaTransmission = 0x008B;

    /// <summary>
    /// Old StartMediaReception (no name in Wireshark 4.0), seen from the legacy CallManager in cm2_register.pcapng.
    /// Known but ignored: <see cref="OpenReceiveChannel"/> carries what a recorder needs in every newer version.
    /// </summary>
    public const uint StartMediaReceptionLegacy = 0x008C;

    /// <summary>Old StopMediaReception (no name in Wireshark 4.0); known but ignored like <see cref="StartMediaReceptionLegacy"/>.</summary>
    public const uint StopMediaReceptionLegacy = 0x008D;

    /// <summary>Calling/called numbers and names of a call (fixed-size fields).</summary>
    public const uint CallInfo = 0x008F;

    /// <summary>One line's directory number and display names (fixed-size fields).</summary>
    public const uint LineStatRes = 0x0092;

    /// <summary>The device's buttons; the line buttons tell how many LineStatRes to expect.</summary>
    public const uint ButtonTemplateRes = 0x0097;

    /// <summary>Registration refused, with a text.</summary>
    public const uint RegisterReject = 0x009D;

    public const uint Reset = 0x009F;

    public const uint KeepAliveAck = 0x0100;

    /// <summary>Open a receive channel: conferenceId, passThruPartyId, packet size, codec, callReference.</summary>
    public const uint OpenReceiveChannel = 0x0105;

    public const uint CloseReceiveChannel = 0x0106;

    /// <summary>State of a call on a line: off hook, ring in/out, connected, hold...</summary>
    public const uint CallState = 0x0111;

    /// <summary>Unregistration answered (status 0 = OK; otherwise the device stays registered, e.g. with a call up).</summary>
    public const uint UnregisterAck = 0x0118;

    /// <summary>LineStatRes with variable-length null-terminated strings (dynamic messages).</summary>
    public const uint LineStatResV2 = 0x0147;

    /// <summary>CallInfo with variable-length null-terminated strings (dynamic messages).</summary>
    public const uint CallInfoV2 = 0x014A;

    /// <summary>Device -> CallManager despite the id: where the device transmits from, per StartMediaTransmission.</summary>
    public const uint StartMediaTransmissionAck = 0x0154;

    /// <summary>Highest id known (RecordingStatus).</summary>
    public const uint LastServerMessage = 0x0160;

    /// <summary>
    /// Whether the id lies in one of the ranges the protocol defines (0x0000-0x004C, 0x0081-0x009F,
    /// 0x0100-0x0160). Used to count unknown ids and to judge a header plausible when resynchronising.
    /// </summary>
    public static bool IsKnown(uint id) =>
        id <= LastDeviceMessage || id - RegisterAck <= Reset - RegisterAck || id - KeepAliveAck <= LastServerMessage - KeepAliveAck;
}
