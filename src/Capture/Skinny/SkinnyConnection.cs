using Capture.Packets;

namespace Capture.Skinny;

/// <summary>Where a line of a Skinny device was learned.</summary>
public enum SkinnyLineOrigin : byte
{
    /// <summary>LineStatRes / LineStatResV2: the CallManager's answer for the line.</summary>
    LineStat,

    /// <summary>CallInfo / CallInfoV2 on the line (the device never registered in the capture).</summary>
    CallInfo,
}

/// <summary>One line of a device: line instance (1 = primary), directory number exactly as sent, display name.</summary>
public sealed record SkinnyLine(uint Instance, string Extension, string? DisplayName, SkinnyLineOrigin Origin);

/// <summary>
/// The state of one TCP connection between a Skinny device and its CallManager: which side is which, what the
/// device said about itself, its lines, and the per-direction stream state. Owned by the capture thread (no
/// locks); the pipeline keeps one per connection and may pool it (<see cref="Reset"/>).
/// </summary>
/// <remarks>
/// Orientation: the CallManager is the side on TCP port 2000 (<see cref="FromEndpoints"/>). When neither or both
/// sides are, the guess may be wrong; a Register seen from the "server" side swaps the sides, so compute
/// <c>fromPhone</c> with <see cref="IsFromPhone"/> for each segment rather than once per connection.
/// </remarks>
public sealed class SkinnyConnection
{
    private readonly List<SkinnyLine> _lines = [];

    public SkinnyConnection()
    {
    }

    public SkinnyConnection(IpEndpoint16 phone, IpEndpoint16 server) => Reset(phone, server);

    /// <summary>The device's side (the one that sends Register).</summary>
    public IpEndpoint16 Phone { get; private set; }

    /// <summary>The CallManager's side (TCP port 2000).</summary>
    public IpEndpoint16 Server { get; private set; }

    /// <summary>The device name from the Register that was acknowledged (null until then).</summary>
    public string? DeviceName { get; internal set; }

    /// <summary>The id the directory knows the device by: its device name, or <c>skinny:&lt;ip&gt;</c> while the name is unknown.</summary>
    public string? DirectoryId { get; internal set; }

    public uint DeviceType { get; internal set; }

    /// <summary>The protocol version in the device's Register (0 when unknown).</summary>
    public byte ProtocolVersion { get; internal set; }

    /// <summary>The protocol version the CallManager's RegisterAck carries (0 when it carries none: legacy CallManagers).</summary>
    public byte ServerProtocolVersion { get; internal set; }

    /// <summary>The header version of the last message read on this connection.</summary>
    public uint HeaderVersion { get; internal set; }

    /// <summary>The address the device put in its Register (it may differ from <see cref="Phone"/> behind NAT).</summary>
    public IpAddress16 StationIp { get; internal set; }

    public bool Registered { get; internal set; }

    /// <summary>A conference bridge, MTP, transcoder, music-on-hold server...: registered, but never given extensions.</summary>
    public bool IsMediaResource { get; internal set; }

    /// <summary>"skinny:&lt;ip&gt;" of the device side, made once: names a device whose registration was not seen.</summary>
    public string AddressKey => _addressKey ??= "skinny:" + Phone.Address;

    private string? _addressKey;

    /// <summary>The device's lines, by line instance.</summary>
    public IReadOnlyList<SkinnyLine> Lines => _lines;

    // ---- Learner state -----------------------------------------------------------------------------------------

    internal string? PendingName;
    internal uint PendingDeviceType;
    internal byte PendingProtocolVersion;
    internal IpAddress16 PendingStationIp;

    /// <summary>A registration's LineStatRes answers, collected until the round is complete, then published at once.</summary>
    internal readonly List<SkinnyLine> RoundLines = [];
    internal bool RoundOpen;
    internal long RoundStartedNs;
    internal int RoundExpectedLines;
    internal int RoundAnswered;

    /// <summary>Lines given up by an Unregister, restored if the CallManager refuses it (UnregisterAck NAK).</summary>
    internal List<SkinnyLine>? LinesBeforeUnregister;
    internal bool ServerNoted;

    private bool _resyncFromPhone;
    private bool _resyncFromServer;

    /// <summary>Orients a connection: the endpoint on TCP port 2000 is the CallManager (else the destination of the first segment seen).</summary>
    public static SkinnyConnection FromEndpoints(IpEndpoint16 source, IpEndpoint16 destination) =>
        source.Port == SkinnyFramer.DefaultPort && destination.Port != SkinnyFramer.DefaultPort
            ? new SkinnyConnection(destination, source)
            : new SkinnyConnection(source, destination);

    /// <summary>Whether a segment from <paramref name="source"/> was sent by the device.</summary>
    public bool IsFromPhone(IpEndpoint16 source) => source == Phone;

    /// <summary>The pipeline saw a gap (lost bytes) in one direction: find the next message boundary before reading on.</summary>
    public void NoteGap(bool fromPhone) => SetResynchronising(fromPhone, true);

    public bool TryGetLine(uint instance, out SkinnyLine line)
    {
        foreach (SkinnyLine l in _lines)
        {
            if (l.Instance == instance)
            {
                line = l;
                return true;
            }
        }

        line = null!;
        return false;
    }

    /// <summary>Clears everything for reuse from a pool.</summary>
    public void Reset(IpEndpoint16 phone, IpEndpoint16 server)
    {
        Phone = phone;
        Server = server;
        _addressKey = null;
        DeviceName = null;
        DirectoryId = null;
        DeviceType = 0;
        ProtocolVersion = 0;
        ServerProtocolVersion = 0;
        HeaderVersion = 0;
        StationIp = default;
        Registered = false;
        IsMediaResource = false;
        _lines.Clear();
        PendingName = null;
        PendingDeviceType = 0;
        PendingProtocolVersion = 0;
        PendingStationIp = default;
        RoundLines.Clear();
        RoundOpen = false;
        RoundStartedNs = 0;
        RoundExpectedLines = 0;
        RoundAnswered = 0;
        LinesBeforeUnregister = null;
        ServerNoted = false;
        _resyncFromPhone = false;
        _resyncFromServer = false;
    }

    internal bool IsResynchronising(bool fromPhone) => fromPhone ? _resyncFromPhone : _resyncFromServer;

    internal void SetResynchronising(bool fromPhone, bool value)
    {
        if (fromPhone)
        {
            _resyncFromPhone = value;
        }
        else
        {
            _resyncFromServer = value;
        }
    }

    /// <summary>The Register came from the side taken for the server: the guess was wrong.</summary>
    internal void SwapSides()
    {
        (Phone, Server) = (Server, Phone);
        _addressKey = null;
        (_resyncFromPhone, _resyncFromServer) = (_resyncFromServer, _resyncFromPhone);
    }

    /// <summary>Replaces the lines; true when they differ from before.</summary>
    internal bool SetLines(List<SkinnyLine> lines)
    {
        lines.Sort(static (a, b) => a.Instance.CompareTo(b.Instance));
        bool same = lines.Count == _lines.Count;
        for (int i = 0; same && i < lines.Count; i++)
        {
            same = lines[i] == _lines[i];
        }

        if (same)
        {
            return false;
        }

        _lines.Clear();
        _lines.AddRange(lines);
        return true;
    }

    internal void AddLine(SkinnyLine line)
    {
        _lines.Add(line);
        _lines.Sort(static (a, b) => a.Instance.CompareTo(b.Instance));
    }

    internal void ClearLines() => _lines.Clear();
}
