using System.Buffers;
using Capture.Bindings;
using Capture.Calls;
using Capture.Diagnostics;
using Capture.Packets;
using Capture.Signalling;

namespace Capture.Skinny;

/// <summary>
/// Cisco Skinny as the pipeline feeds it: TCP connections on the SCCP port, framed and read message by message; the
/// device learner (when there is a directory) learns devices and lines, and the call and channel messages go to the
/// <see cref="SkinnyCallTracker"/>. Capture thread only; allocates nothing per message (strings only when a call's
/// parties change).
/// </summary>
public sealed class SkinnyProtocol : ISignallingProtocol, ISkinnyMessageSink
{
    private static readonly string[] s_reasonNames = CounterWriter.ReasonNames<SkinnyInvalidReason>();

    private readonly SkinnyDeviceLearner? _learner;

    public SkinnyProtocol(CallBook book, SkinnyTrackerOptions? options = null, BindingDirectory? directory = null)
    {
        Calls = new SkinnyCallTracker(book, options);
        if (directory is not null)
        {
            _learner = new SkinnyDeviceLearner(directory);
        }

        Counters = _learner?.Counters ?? new SkinnyCounters();
    }

    public SkinnyCallTracker Calls { get; }

    /// <summary>Framing and reader counts (invalid input by reason, unknown ids, resynchronisations).</summary>
    public SkinnyCounters Counters { get; }

    /// <summary>UDP is not Skinny.</summary>
    public bool TryTakeDatagram(in DecodedPacket packet) => false;

    /// <summary>By port: either side on the SCCP port (<see cref="SkinnyFramer.DefaultPort"/>).</summary>
    public TcpApplication ClaimStream(in TcpFlowKey flow, ReadOnlySpan<byte> firstBytes) =>
        flow.Source.Port == SkinnyFramer.DefaultPort || flow.Destination.Port == SkinnyFramer.DefaultPort ? TcpApplication.Claimed : TcpApplication.None;

    /// <summary>One direction's reassembled SCCP bytes: whole messages are read; the rest stays buffered.</summary>
    public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        if (stream.Connection.State is not SkinnyConnection connection)
        {
            connection = SkinnyConnection.FromEndpoints(stream.Source, stream.Destination);
            stream.Connection.State = connection;
        }

        bool fromPhone = connection.IsFromPhone(stream.Source);
        if (afterGap)
        {
            connection.NoteGap(fromPhone); // lost bytes or a mid-connection join: find the next message boundary first
        }

        return OnStream(connection, fromPhone, data, timestampNs);
    }

    /// <summary>
    /// The connection is gone (FIN, RST, idle): the phone's calls end; the device stays in the directory. At the end of the
    /// capture the phone is still connected: its calls are left to <see cref="EndAll"/> (capture-ended, not a hangup).
    /// </summary>
    public void OnClosed(TcpConnection connection, long nowNs)
    {
        if (connection.State is SkinnyConnection skinny && connection.CloseReason != TcpCloseReason.CaptureEnded)
        {
            OnConnectionClosed(skinny, nowNs);
        }

        connection.State = null;
    }

    /// <summary>One direction's contiguous bytes; returns how many were consumed (the rest is kept for the next call).</summary>
    public int OnStream(SkinnyConnection connection, bool fromPhone, ReadOnlySpan<byte> data, long timestampNs) =>
        SkinnyStreamReader.Read(connection, fromPhone, data, timestampNs, this, Counters);

    /// <summary>The TCP connection closed (FIN/RST) or was dropped: the phone's calls are over.</summary>
    public void OnConnectionClosed(SkinnyConnection connection, long timestampNs)
    {
        _learner?.OnConnectionClosed(connection, timestampNs);
        Calls.OnDeviceGone(DeviceKey(connection), timestampNs);
    }

    public void Expire(long nowNs)
    {
        _learner?.Expire(nowNs);
        Calls.Expire(nowNs);
    }

    public void EndAll(long nowNs, string reason) => Calls.EndAll(nowNs, reason);

    public void WriteCounters(CounterWriter counters)
    {
        SkinnyCounters k = Counters;
        counters.Event("skinny_messages", k.Messages);
        counters.Event("skinny_unknown_messages", k.UnknownMessages);
        counters.Event("skinny_resyncs", k.Resyncs);
        counters.Event("skinny_bytes_skipped", k.BytesSkipped);
        counters.InvalidByReason("skinny", s_reasonNames, k.Invalid);

        counters.Event("skinny_media_forks_ignored", Calls.MediaForksIgnored);
        counters.Event("skinny_media_without_call", Calls.MediaWithoutCall);
        counters.Limit("skinny_calls_over_limit", Calls.CallsOverLimit);
        if (_learner is { } l)
        {
            counters.Event("skinny_registers", l.Registers);
            counters.Event("skinny_registers_acked", l.RegisterAcks);
            counters.Event("skinny_registers_rejected", l.RegisterRejects);
            counters.Event("skinny_unregisters", l.Unregisters);
            counters.Event("skinny_media_resource_registrations", l.MediaResourceRegistrations);
            counters.Event("skinny_line_sets_published", l.LineSetsPublished);
            counters.Event("skinny_call_info_lines", l.CallInfoLines);
            counters.Event("skinny_bad_extensions", l.BadExtensions);
        }
    }

    public void OnMessage(SkinnyConnection connection, bool fromPhone, in SkinnyMessage message, long timestampNs)
    {
        _learner?.OnMessage(connection, fromPhone, message, timestampNs);
        if (connection.IsMediaResource)
        {
            return; // a conference bridge's or MTP's channels are not a phone's calls
        }

        // Bad bodies are counted by the readers' callers elsewhere; a call message that does not read is just skipped.
        switch (message.Id)
        {
            case SkinnyMessageId.CallInfo or SkinnyMessageId.CallInfoV2 when !fromPhone:
                if (SkinnyCallInfo.TryRead(message, out SkinnyCallInfo info, out _) == OperationStatus.Done)
                {
                    SkinnyCallType type = info.CallType != SkinnyCallType.Unknown ? info.CallType : GuessCallType(connection, info);
                    Calls.OnCallInfo(DeviceKey(connection), connection.Phone.Address, info.CallReference, type,
                        info.CallingParty, info.CallingPartyName, info.CalledParty, info.CalledPartyName, timestampNs);
                }

                break;
            case SkinnyMessageId.CallState when !fromPhone:
                if (SkinnyCallState.TryRead(message, out SkinnyCallState state, out _) == OperationStatus.Done)
                {
                    Calls.OnCallState(DeviceKey(connection), connection.Phone.Address, state.State, state.CallReference, timestampNs);
                }

                break;
            case SkinnyMessageId.OpenReceiveChannel when !fromPhone:
                if (SkinnyOpenReceiveChannel.TryRead(message, out SkinnyOpenReceiveChannel orc, out _) == OperationStatus.Done)
                {
                    Calls.OnOpenReceiveChannel(DeviceKey(connection), orc.HasCallReference ? orc.CallReference : orc.ConferenceId, orc.PassThruPartyId, orc.CompressionType, timestampNs);
                }

                break;
            case SkinnyMessageId.OpenReceiveChannelAck when fromPhone:
                if (SkinnyOpenReceiveChannelAck.TryRead(message, out SkinnyOpenReceiveChannelAck ack, out _) == OperationStatus.Done && ack.Status == 0)
                {
                    Calls.OnOpenReceiveChannelAck(DeviceKey(connection), ack.HasCallReference ? ack.CallReference : 0, ack.PassThruPartyId, ack.Ip, ack.Port, timestampNs);
                }

                break;
            case SkinnyMessageId.StartMediaTransmission when !fromPhone:
                if (SkinnyStartMediaTransmission.TryRead(message, out SkinnyStartMediaTransmission smt, out _) == OperationStatus.Done)
                {
                    Calls.OnStartMediaTransmission(DeviceKey(connection), smt.ConferenceId, smt.PassThruPartyId, smt.HasCallReference ? smt.CallReference : 0,
                        smt.RemoteIp, smt.RemotePort, smt.CompressionType, timestampNs);
                }

                break;
            case SkinnyMessageId.StopMediaTransmission when !fromPhone:
                if (SkinnyStopMediaTransmission.TryRead(message, out SkinnyStopMediaTransmission stop, out _) == OperationStatus.Done)
                {
                    Calls.OnMediaClosed(DeviceKey(connection), stop.HasCallReference ? stop.CallReference : stop.ConferenceId, transmit: true, timestampNs);
                }

                break;
            case SkinnyMessageId.CloseReceiveChannel when !fromPhone:
                if (SkinnyCloseReceiveChannel.TryRead(message, out SkinnyCloseReceiveChannel close, out _) == OperationStatus.Done)
                {
                    Calls.OnMediaClosed(DeviceKey(connection), close.HasCallReference ? close.CallReference : close.ConferenceId, transmit: false, timestampNs);
                }

                break;
            case SkinnyMessageId.SoftKeyEvent when fromPhone:
                if (SkinnySoftKeyEvent.TryRead(message, out SkinnySoftKeyEvent key, out _) == OperationStatus.Done)
                {
                    Calls.OnSoftKeyEvent(DeviceKey(connection), key.Event, key.CallReference, timestampNs);
                }

                break;
            case SkinnyMessageId.KeypadButton when fromPhone:
                if (SkinnyKeypadButton.TryRead(message, out SkinnyKeypadButton button, out _) == OperationStatus.Done)
                {
                    Calls.OnKeypadButton(DeviceKey(connection), button.Digit, button.CallReference, timestampNs);
                }

                break;
            case SkinnyMessageId.ConnectionStatisticsRes when fromPhone && message.HeaderVersion <= SkinnyHeaderVersion.V20:
                if (SkinnyConnectionStatisticsRes.TryRead(message, out SkinnyConnectionStatisticsRes stats, out _) == OperationStatus.Done)
                {
                    Calls.OnConnectionStatistics(DeviceKey(connection),
                        new SkinnyConnectionStatistics(stats.CallReference, stats.PacketsSent, stats.PacketsReceived, stats.PacketsLost, (int)Math.Min(stats.Jitter, int.MaxValue), (int)Math.Min(stats.Latency, int.MaxValue)),
                        timestampNs);
                }

                break;
            case SkinnyMessageId.Unregister when fromPhone:
                Calls.OnDeviceGone(DeviceKey(connection), timestampNs);
                break;
        }
    }

    /// <summary>The device a call belongs to: its name once registered, else the directory's placeholder, else its address.</summary>
    private static string DeviceKey(SkinnyConnection connection) => connection.DeviceName ?? connection.DirectoryId ?? connection.AddressKey;

    /// <summary>Legacy CallInfo has no call type: the phone's own line tells which party it is.</summary>
    private static SkinnyCallType GuessCallType(SkinnyConnection connection, in SkinnyCallInfo info)
    {
        foreach (SkinnyLine line in connection.Lines)
        {
            if (SkinnyText.Matches(info.CalledParty, line.Extension))
            {
                return SkinnyCallType.Inbound;
            }
        }

        return SkinnyCallType.Outbound;
    }
}
