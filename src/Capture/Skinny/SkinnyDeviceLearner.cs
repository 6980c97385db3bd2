using System.Buffers;
using System.Globalization;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Skinny;

/// <summary>
/// Learns Skinny devices from their signalling (DESIGN section 2) and keeps the directory up to date: a Register is
/// remembered and applied when the CallManager acknowledges it (a RegisterReject binds nothing); the LineStatRes
/// answers of a registration are collected and published as one extension set (so a device re-registering with a
/// profile's lines is one change, and extension mobility is detected exactly as for SIP); Unregister unregisters
/// the device. A device whose registration the capture never saw is learned from CallInfo on a line: its own number
/// is the calling party of an outbound call and the called party of an inbound one. Runs on the capture thread.
/// </summary>
/// <remarks>
/// Devices are keyed by device name (SEP&lt;mac&gt; for phones), never by address; until the name is known (no
/// Register in the capture) the id is <c>skinny:&lt;ip&gt;</c>, whose lines are dropped once the device registers
/// under its name. Media resources (conference bridges, MTPs, music on hold; see
/// <see cref="SkinnyDeviceTypes.IsMediaResource"/>) are followed on the connection but not put in the directory:
/// they have no extensions, and a device without lines there would read as an unregistered phone.
/// A registration's line round ends when every line button of the ButtonTemplateRes has its LineStatRes, when a call
/// starts (CallState, CallInfo), when the device unregisters or the connection closes, or <see cref="LineRoundTimeout"/> after it began
/// (<see cref="Expire"/>). A closed connection does not unregister the device: the CallManager only drops it after
/// missed keep-alives, and its next Register (on a new connection) updates the directory anyway.
/// </remarks>
public sealed class SkinnyDeviceLearner(BindingDirectory directory) : ISkinnyMessageSink
{
    /// <summary>How long after a registration its LineStatRes answers may still come in.</summary>
    public static readonly TimeSpan LineRoundTimeout = TimeSpan.FromSeconds(2);

    private const string PlaceholderPrefix = "skinny:";

    private readonly BindingDirectory _directory = directory;
    private readonly List<SkinnyConnection> _openRounds = [];
    private readonly List<(int Number, string Extension, string? DisplayName)> _publish = [];

    /// <summary>Framing and reader counts (invalid input by reason, unknown ids, resynchronisations).</summary>
    public SkinnyCounters Counters { get; } = new();

    public long Registers { get; private set; }
    public long RegisterAcks { get; private set; }
    public long RegisterRejects { get; private set; }
    public long Unregisters { get; private set; }

    /// <summary>UnregisterAck with a non-OK status: the device stayed registered and got its lines back.</summary>
    public long UnregistersRefused { get; private set; }

    /// <summary>Registrations of conference bridges, MTPs and other media resources (not put in the directory).</summary>
    public long MediaResourceRegistrations { get; private set; }

    /// <summary>Extension sets published to the directory.</summary>
    public long LineSetsPublished { get; private set; }

    /// <summary>Lines learned from CallInfo (devices whose registration the capture did not see).</summary>
    public long CallInfoLines { get; private set; }

    /// <summary>Directory numbers that cannot be extensions (spaces, separators, too long).</summary>
    public long BadExtensions { get; private set; }

    /// <summary>The pipeline's entry point: reads one direction's contiguous bytes and returns how many were consumed.</summary>
    public int OnStream(SkinnyConnection connection, bool fromPhone, ReadOnlySpan<byte> data, long timestampNs) =>
        SkinnyStreamReader.Read(connection, fromPhone, data, timestampNs, this, Counters);

    public void OnMessage(SkinnyConnection connection, bool fromPhone, in SkinnyMessage message, long timestampNs)
    {
        switch (message.Id)
        {
            case SkinnyMessageId.Register:
                if (!fromPhone)
                {
                    connection.SwapSides(); // only devices register: the side guessed to be the server is the device
                }

                OnRegister(connection, message);
                break;
            case SkinnyMessageId.RegisterAck when !fromPhone:
                OnRegisterAck(connection, message, timestampNs);
                break;
            case SkinnyMessageId.RegisterReject when !fromPhone:
                if (Read(SkinnyRegisterReject.TryRead(message, out _, out SkinnyInvalidReason reason), reason))
                {
                    RegisterRejects++;
                    connection.PendingName = null;
                }

                break;
            case SkinnyMessageId.Unregister when fromPhone:
                OnUnregister(connection, message, timestampNs);
                break;
            case SkinnyMessageId.UnregisterAck when !fromPhone:
                OnUnregisterAck(connection, message, timestampNs);
                break;
            case SkinnyMessageId.ButtonTemplateRes when !fromPhone:
                OnButtonTemplate(connection, message, timestampNs);
                break;
            case SkinnyMessageId.LineStatRes or SkinnyMessageId.LineStatResV2 when !fromPhone:
                OnLineStat(connection, message, timestampNs);
                break;
            case SkinnyMessageId.CallInfo or SkinnyMessageId.CallInfoV2 when !fromPhone:
                CompleteRound(connection, timestampNs);
                OnCallInfo(connection, message, timestampNs);
                break;
            case SkinnyMessageId.CallState when !fromPhone:
                CompleteRound(connection, timestampNs); // a call is starting: the registration is over
                break;
            case SkinnyMessageId.KeepAlive when fromPhone && connection.Registered && connection.DirectoryId is not null:
                _directory.TryTouchDevice(connection.DirectoryId, connection.Phone.Address, CaptureTime.ToDateTime(timestampNs));
                break;
            default:
                break; // tones, lamps, soft key sets, media: the call tracker's business, not the directory's
        }
    }

    /// <summary>Publishes line rounds that have waited <see cref="LineRoundTimeout"/>; the pipeline calls it periodically.</summary>
    public void Expire(long nowNs)
    {
        long timeoutNs = LineRoundTimeout.Ticks * 100;
        for (int i = _openRounds.Count - 1; i >= 0; i--)
        {
            SkinnyConnection c = _openRounds[i];
            if (nowNs - c.RoundStartedNs >= timeoutNs)
            {
                CompleteRound(c, nowNs);
            }
        }
    }

    /// <summary>The TCP connection ended (FIN/RST or idle): publishes a pending line round and forgets the connection.</summary>
    public void OnConnectionClosed(SkinnyConnection connection, long timestampNs) => CompleteRound(connection, timestampNs);

    private void OnRegister(SkinnyConnection c, in SkinnyMessage message)
    {
        if (!Read(SkinnyRegister.TryRead(message, out SkinnyRegister register, out SkinnyInvalidReason reason), reason))
        {
            return;
        }

        Registers++;
        NoteServer(c);
        c.PendingName = c.DeviceName is { } known && SkinnyText.Matches(register.DeviceName, known) ? known : SkinnyText.Decode(register.DeviceName);
        c.PendingDeviceType = register.DeviceType;
        c.PendingProtocolVersion = register.ProtocolVersion;
        c.PendingStationIp = register.StationIp;
    }

    private void OnRegisterAck(SkinnyConnection c, in SkinnyMessage message, long timestampNs)
    {
        if (!Read(SkinnyRegisterAck.TryRead(message, out SkinnyRegisterAck ack, out SkinnyInvalidReason reason), reason))
        {
            return;
        }

        RegisterAcks++;
        c.ServerProtocolVersion = ack.ProtocolVersion;
        if (c.PendingName is not { } name)
        {
            return; // the capture began after the Register: nothing to apply
        }

        c.PendingName = null;
        c.DeviceName = name;
        c.DeviceType = c.PendingDeviceType;
        c.ProtocolVersion = c.PendingProtocolVersion;
        c.StationIp = c.PendingStationIp;
        c.Registered = true;
        c.IsMediaResource = SkinnyDeviceTypes.IsMediaResource(c.DeviceType);
        c.LinesBeforeUnregister = null;
        if (c.IsMediaResource)
        {
            MediaResourceRegistrations++;
            return;
        }

        DateTimeOffset now = CaptureTime.ToDateTime(timestampNs);
        if (c.DirectoryId is { } old && old.StartsWith(PlaceholderPrefix, StringComparison.Ordinal))
        {
            _directory.UnregisterDevice(old, now); // its lines were guessed from calls; the named device takes over
            c.ClearLines();
        }

        string userAgent = string.Create(CultureInfo.InvariantCulture, $"SCCP device type {c.DeviceType}, protocol {c.ProtocolVersion}");
        c.DirectoryId = _directory.ObserveDevice(name, DeviceProtocol.Skinny, c.Phone.Address, now, userAgent: userAgent);
        OpenRound(c, timestampNs, seedFromLines: false);
    }

    private void OnUnregister(SkinnyConnection c, in SkinnyMessage message, long timestampNs)
    {
        if (!Read(SkinnyUnregister.TryRead(message, out _, out SkinnyInvalidReason reason), reason))
        {
            return;
        }

        Unregisters++;
        CompleteRound(c, timestampNs); // the lines it registered with were its lines until now
        if (!c.Registered || c.IsMediaResource || c.DirectoryId is null)
        {
            c.Registered = false;
            return;
        }

        c.Registered = false;
        c.LinesBeforeUnregister = [.. c.Lines];
        c.ClearLines();
        _directory.UnregisterDevice(c.DirectoryId, CaptureTime.ToDateTime(timestampNs));
    }

    private void OnUnregisterAck(SkinnyConnection c, in SkinnyMessage message, long timestampNs)
    {
        if (!Read(SkinnyUnregisterAck.TryRead(message, out SkinnyUnregisterAck ack, out SkinnyInvalidReason reason), reason)
            || ack.Accepted || c.LinesBeforeUnregister is not { } lines || c.DirectoryId is null)
        {
            c.LinesBeforeUnregister = null;
            return;
        }

        // Refused (a call is up): the device is still registered with the lines it had.
        UnregistersRefused++;
        c.LinesBeforeUnregister = null;
        c.Registered = true;
        c.SetLines(lines);
        Publish(c, timestampNs);
    }

    private void OnButtonTemplate(SkinnyConnection c, in SkinnyMessage message, long timestampNs)
    {
        if (!c.RoundOpen || !Read(SkinnyButtonTemplate.TryRead(message, out SkinnyButtonTemplate template, out SkinnyInvalidReason reason), reason))
        {
            return;
        }

        c.RoundExpectedLines = (template.ButtonOffset == 0 ? 0 : c.RoundExpectedLines) + template.LineCount;
        if (c.RoundExpectedLines > 0 && c.RoundAnswered >= c.RoundExpectedLines)
        {
            CompleteRound(c, timestampNs);
        }
    }

    private void OnLineStat(SkinnyConnection c, in SkinnyMessage message, long timestampNs)
    {
        if (!Read(SkinnyLineStatRes.TryRead(message, out SkinnyLineStatRes line, out SkinnyInvalidReason reason), reason) || c.IsMediaResource)
        {
            return;
        }

        if (!c.RoundOpen)
        {
            OpenRound(c, timestampNs, seedFromLines: true); // an update outside a registration: merge into what is known
        }

        c.RoundAnswered++;
        if (line.DirectoryNumber.IsEmpty || line.LineNumber == 0)
        {
            // a line button without a number: answered, nothing to bind
        }
        else if (!ExtensionText.IsLearnable(line.DirectoryNumber))
        {
            BadExtensions++;
        }
        else
        {
            RemoveRoundLine(c, line.LineNumber);
            c.RoundLines.Add(new SkinnyLine(line.LineNumber, SkinnyText.Decode(line.DirectoryNumber), SkinnyText.DecodeOrNull(line.DisplayName), SkinnyLineOrigin.LineStat));
        }

        if (c.RoundExpectedLines > 0 && c.RoundAnswered >= c.RoundExpectedLines)
        {
            CompleteRound(c, timestampNs);
        }
    }

    private void OnCallInfo(SkinnyConnection c, in SkinnyMessage message, long timestampNs)
    {
        if (!Read(SkinnyCallInfo.TryRead(message, out SkinnyCallInfo info, out SkinnyInvalidReason reason), reason)
            || c.IsMediaResource || info.LineInstance == 0 || info.LocalNumber.IsEmpty || c.TryGetLine(info.LineInstance, out _))
        {
            return; // a line already known is not second-guessed: calls may show translated or masked numbers
        }

        if (!ExtensionText.IsLearnable(info.LocalNumber))
        {
            BadExtensions++;
            return;
        }

        if (c.DirectoryId is null)
        {
            // Never saw this device register: name it by its address until it does.
            NoteServer(c);
            c.DirectoryId = _directory.ObserveDevice(PlaceholderPrefix + c.Phone.Address.ToString(), DeviceProtocol.Skinny, c.Phone.Address, CaptureTime.ToDateTime(timestampNs));
        }

        CallInfoLines++;
        c.AddLine(new SkinnyLine(info.LineInstance, SkinnyText.Decode(info.LocalNumber), SkinnyText.DecodeOrNull(info.LocalName), SkinnyLineOrigin.CallInfo));
        Publish(c, timestampNs);
    }

    private void OpenRound(SkinnyConnection c, long timestampNs, bool seedFromLines)
    {
        c.RoundLines.Clear();
        if (seedFromLines)
        {
            c.RoundLines.AddRange(c.Lines);
        }

        c.RoundAnswered = 0;
        c.RoundStartedNs = timestampNs;
        if (!c.RoundOpen)
        {
            c.RoundOpen = true;
            _openRounds.Add(c);
        }
    }

    private void CloseRound(SkinnyConnection c)
    {
        if (c.RoundOpen)
        {
            c.RoundOpen = false;
            c.RoundLines.Clear();
            c.RoundExpectedLines = 0;
            _openRounds.Remove(c);
        }
    }

    /// <summary>Publishes a registration's lines as one set. A round with no line answered leaves the directory as it was.</summary>
    private void CompleteRound(SkinnyConnection c, long timestampNs)
    {
        if (!c.RoundOpen)
        {
            return;
        }

        bool changed = c.RoundLines.Count > 0 && c.SetLines(c.RoundLines);
        CloseRound(c);
        if (changed)
        {
            Publish(c, timestampNs);
        }
    }

    private void Publish(SkinnyConnection c, long timestampNs)
    {
        if (c.DirectoryId is not { } id)
        {
            return;
        }

        _publish.Clear();
        foreach (SkinnyLine l in c.Lines)
        {
            _publish.Add(((int)Math.Min(l.Instance, int.MaxValue), l.Extension, l.DisplayName));
        }

        LineSetsPublished++;
        _directory.ReplaceLines(id, _publish, LineSource.Skinny, CaptureTime.ToDateTime(timestampNs));
    }

    private void NoteServer(SkinnyConnection c)
    {
        if (!c.ServerNoted)
        {
            c.ServerNoted = true;
            _directory.NoteServer(c.Server, ServerEvidence.CallManager);
        }
    }

    private static void RemoveRoundLine(SkinnyConnection c, uint instance)
    {
        for (int i = c.RoundLines.Count - 1; i >= 0; i--)
        {
            if (c.RoundLines[i].Instance == instance)
            {
                c.RoundLines.RemoveAt(i);
            }
        }
    }

    /// <summary>True when a reader accepted the message; otherwise counts why not.</summary>
    private bool Read(OperationStatus status, SkinnyInvalidReason reason)
    {
        if (status == OperationStatus.Done)
        {
            return true;
        }

        Counters.CountInvalid(reason);
        return false;
    }
}
