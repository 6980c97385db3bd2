using System.Runtime.InteropServices;
using Capture.Bindings;
using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;

namespace Capture.Skinny;

public sealed class SkinnyTrackerOptions
{
    /// <summary>A call neither answered nor ended within this time is closed as a timeout.</summary>
    public TimeSpan SetupTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>An answered call whose media stopped this long ago (and no signalling since) is closed as a timeout.</summary>
    public TimeSpan MediaTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>An answered call without any media or signalling for this long is closed (its end was not seen).</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromHours(4);

    /// <summary>After the last on-hook, how long to wait for the phones' ConnectionStatisticsRes before finishing.</summary>
    public TimeSpan StatisticsWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Two phones' legs of the same call are linked when the second starts within this time of the first.</summary>
    public TimeSpan LinkWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Channel messages that come before their call's CallInfo (a call joined in progress: legacy CallManager sends
    /// StartMediaTransmission and OpenReceiveChannelAck first, CallInfo after them in the same segment) are kept this
    /// long for the phone's call to start; then they count as media without a call.
    /// </summary>
    public TimeSpan EarlyMediaWindow { get; set; } = TimeSpan.FromSeconds(5);

    public int MaxCalls { get; set; } = 100_000;
}

/// <summary>A phone's end-of-call media statistics (ConnectionStatisticsRes).</summary>
public readonly record struct SkinnyConnectionStatistics(uint CallReference, long PacketsSent, long PacketsReceived, long PacketsLost, int JitterMs, int LatencyMs);

/// <summary>
/// Follows Skinny calls as the phones' signalling describes them and tells the <see cref="CallBook"/>: one call per
/// conversation. Each phone's call (device + call reference) is a leg; when both phones of a call are seen (an
/// internal call: the callee's leg starts with the caller's numbers while the caller's leg is open) the two legs are
/// one recording, the first phone left. Media comes from the channel messages: a phone's receive address from
/// OpenReceiveChannelAck, its peer's from the StartMediaTransmission that matches the receive channel (extra
/// StartMediaTransmission targets are recording forks and are ignored). Capture thread only.
/// (A phone's leg is the protocol's state; the call it belongs to is the book's.)
/// </summary>
public sealed class SkinnyCallTracker
{
    private readonly CallBook _book;
    private readonly SkinnyTrackerOptions _options;
    private readonly Dictionary<LegKey, Leg> _legs = [];
    private readonly Dictionary<string, PendingInteraction> _pendingInteractions = new(StringComparer.Ordinal);
    private readonly List<SkinnyCall> _calls = [];
    private readonly List<SkinnyCall> _due = [];
    private readonly Dictionary<string, EarlyMedia> _earlyMedia = new(StringComparer.Ordinal);

    public SkinnyCallTracker(CallBook book, SkinnyTrackerOptions? options = null)
    {
        _book = book;
        _options = options ?? new SkinnyTrackerOptions();
    }

    /// <summary>The sidecar's protocol name.</summary>
    public const string Protocol = "skinny";

    public int ActiveCalls => _calls.Count;

    public long CallsOverLimit { get; private set; }

    /// <summary>Channel messages (media) for which no call started within <see cref="SkinnyTrackerOptions.EarlyMediaWindow"/> (capture started mid-call).</summary>
    public long MediaWithoutCall { get; private set; }

    /// <summary>StartMediaTransmission targets that are not the call's peer (recording forks, built-in bridge).</summary>
    public long MediaForksIgnored { get; private set; }

    /// <summary>
    /// CallInfo / CallInfoV2 for <paramref name="callReference"/> on <paramref name="device"/>'s line: the parties'
    /// numbers and names. Strings are made only when they change.
    /// </summary>
    public void OnCallInfo(string device, IpAddress16 phoneIp, uint callReference, SkinnyCallType type,
        ReadOnlySpan<byte> calling, ReadOnlySpan<byte> callingName, ReadOnlySpan<byte> called, ReadOnlySpan<byte> calledName, long atNs)
    {
        Leg? leg = GetOrStartLeg(device, phoneIp, callReference, atNs);
        if (leg is null)
        {
            return;
        }

        bool changed = Update(ref leg.Calling, calling) | Update(ref leg.CallingName, callingName)
            | Update(ref leg.Called, called) | Update(ref leg.CalledName, calledName) | (leg.Type != type && type != SkinnyCallType.Unknown);
        if (type != SkinnyCallType.Unknown)
        {
            leg.Type = type;
        }

        if (leg.Call is null)
        {
            if (leg.Calling is null && leg.Called is null)
            {
                return; // nothing to call it yet (a CallInfo before dialling)
            }

            StartOrLink(leg, atNs);
        }
        else if (changed)
        {
            RefreshParties(leg.Call, atNs);
        }
    }

    /// <summary>CallState: off-hook, ringing, connected, hold, on-hook... for a call reference on a phone.</summary>
    public void OnCallState(string device, IpAddress16 phoneIp, SkinnyCallStateKind state, uint callReference, long atNs)
    {
        if (state == SkinnyCallStateKind.OnHook)
        {
            if (_legs.TryGetValue(new LegKey(device, callReference), out Leg? ending))
            {
                EndLeg(ending, atNs);
            }

            return;
        }

        Leg? leg = GetOrStartLeg(device, phoneIp, callReference, atNs);
        if (leg is null)
        {
            return;
        }

        SkinnyCallStateKind previous = leg.State;
        leg.State = state;
        SkinnyCall? call = leg.Call;
        if (call is null)
        {
            return; // no parties yet: becomes a call with its first CallInfo
        }

        switch (state)
        {
            case SkinnyCallStateKind.Connected:
                if (!call.Answered)
                {
                    call.Answered = true;
                    _book.Answer(call.Call, atNs);
                }
                else if (previous is SkinnyCallStateKind.Hold or SkinnyCallStateKind.RemoteHold && call.OnHold)
                {
                    call.OnHold = false;
                    _book.Event(call.Call, CallEventTypes.Resume, atNs, leg.Device);
                }

                break;
            case SkinnyCallStateKind.Hold:
            case SkinnyCallStateKind.RemoteHold:
                // The holding phone gets Hold; the held one, on CallManagers that tell it, RemoteHold: with both phones
                // on the mirror that is one hold, reported once (by whichever arrives first).
                if (!call.OnHold)
                {
                    call.OnHold = true;
                    _book.Event(call.Call, CallEventTypes.Hold, atNs, state == SkinnyCallStateKind.RemoteHold ? leg.Device + " (held by the other party)" : leg.Device);
                }

                break;
            case SkinnyCallStateKind.Busy:
            case SkinnyCallStateKind.Congestion:
            case SkinnyCallStateKind.InvalidNumber:
                if (!call.Answered)
                {
                    call.Refusal = state;
                }

                break;
        }
    }

    /// <summary>OpenReceiveChannel (CallManager to phone): which codec the phone will receive for a pass-through party.</summary>
    public void OnOpenReceiveChannel(string device, uint callReference, uint passThruPartyId, uint compressionType, long atNs)
    {
        if (FindLeg(device, callReference) is { } leg)
        {
            leg.ReceivePassThru = passThruPartyId;
            leg.Compression = compressionType;
            leg.LastActivityNs = atNs;
        }
    }

    /// <summary>OpenReceiveChannelAck (phone to CallManager): the phone's own RTP receive address.</summary>
    public void OnOpenReceiveChannelAck(string device, uint callReference, uint passThruPartyId, IpAddress16 address, ushort port, long atNs)
    {
        Leg? leg = FindLeg(device, callReference, withoutCall: true);
        if (leg is null)
        {
            if (port != 0)
            {
                EarlyMedia early = HoldEarly(device, callReference, atNs);
                early.Local = new IpEndpoint16(address, port);
                early.ReceivePassThru = passThruPartyId;
            }

            return;
        }

        leg.ReceivePassThru = passThruPartyId != 0 ? passThruPartyId : leg.ReceivePassThru;
        leg.LastActivityNs = atNs;
        if (port != 0)
        {
            leg.Local = new IpEndpoint16(address, port);
            if (leg.Call is { } call)
            {
                MapLocal(leg, call, atNs);
            }
        }
    }

    private void MapLocal(Leg leg, SkinnyCall call, long atNs)
    {
        _book.Media.Map(call.Call, leg.Local!.Value, leg.Channel);
        ApplyCodec(call, leg.Compression);
        RefreshParties(call, atNs);
    }

    /// <summary>
    /// StartMediaTransmission (CallManager to phone): where the phone sends its audio. The leg is found by conference id
    /// (CUCM sets it to the phone's call reference), else the message's call reference, else (old layouts with neither)
    /// the phone's newest call. A target whose own call reference differs from the conference id, or whose
    /// pass-through party is not the phone's receive channel, is a recording fork (built-in bridge) and is ignored.
    /// </summary>
    public void OnStartMediaTransmission(string device, uint conferenceId, uint passThruPartyId, uint callReference, IpAddress16 remote, ushort remotePort, uint compressionType, long atNs)
    {
        if (conferenceId != 0 && callReference != 0 && callReference != conferenceId)
        {
            MediaForksIgnored++;
            _book.Media.NoteForkTarget(new IpEndpoint16(remote, remotePort), atNs); // its copies are not a call of their own
            return;
        }

        uint reference = conferenceId != 0 ? conferenceId : callReference;
        Leg? leg = FindLeg(device, reference, withoutCall: true);
        if (leg is null)
        {
            EarlyMedia early = HoldEarly(device, reference, atNs);
            if (early.Remote is null || passThruPartyId == early.TransmitPassThru)
            {
                early.Remote = new IpEndpoint16(remote, remotePort);
                early.TransmitPassThru = passThruPartyId;
                early.Compression = compressionType != 0 ? compressionType : early.Compression;
            }

            return;
        }

        leg.LastActivityNs = atNs;
        bool primary = leg.Remote is null
            ? passThruPartyId == 0 || leg.ReceivePassThru == 0 || passThruPartyId == leg.ReceivePassThru
            : passThruPartyId != 0 && passThruPartyId == leg.TransmitPassThru; // a repeat of the same channel
        if (!primary)
        {
            MediaForksIgnored++;
            _book.Media.NoteForkTarget(new IpEndpoint16(remote, remotePort), atNs);
            return;
        }

        leg.Remote = new IpEndpoint16(remote, remotePort);
        leg.TransmitPassThru = passThruPartyId;
        if (compressionType != 0)
        {
            leg.Compression = compressionType;
        }

        if (leg.Call is { } call)
        {
            MapRemote(leg, call);
        }
    }

    private void MapRemote(Leg leg, SkinnyCall call)
    {
        IpEndpoint16 endpoint = leg.Remote!.Value;

        // The peer's receive address: if the peer's own phone is a linked leg it maps the same endpoint to the same channel.
        _book.Media.Map(call.Call, endpoint, leg.Channel.Other());
        ApplyCodec(call, leg.Compression);
        PartyInfo remoteParty = leg.Channel == Channel.Left ? call.Metadata.Right : call.Metadata.Left;
        if (call.Legs.Count == 1)
        {
            string ip = endpoint.Address.ToString();
            if (remoteParty.Ip != ip || remoteParty.Port != endpoint.Port)
            {
                remoteParty = remoteParty with { Ip = ip, Port = endpoint.Port };
                _book.Update(call.Call, leg.Channel == Channel.Left ? call.Metadata with { Right = remoteParty } : call.Metadata with { Left = remoteParty });
            }
        }
    }

    /// <summary>StopMediaTransmission / CloseReceiveChannel: the channel is gone (hold, transfer, end); its ports may be reused.</summary>
    public void OnMediaClosed(string device, uint callReference, bool transmit, long atNs)
    {
        if (FindLeg(device, callReference) is not { } leg)
        {
            return;
        }

        leg.LastActivityNs = atNs;
        IpEndpoint16? endpoint = transmit ? leg.Remote : leg.Local;
        // Keep the mapping while the linked peer leg still uses the same endpoint.
        if (endpoint is { } e && leg.Call is { } call && !call.Legs.Exists(l => l != leg && (l.Local == e || l.Remote == e)))
        {
            _book.Media.Unmap(call.Call, e);
        }

        if (transmit)
        {
            leg.Remote = null;
            leg.TransmitPassThru = 0;
        }
        else
        {
            leg.Local = null;
        }
    }

    /// <summary>SoftKeyEvent: transfers and conferences link the next call on the phone to this one (one interaction id).</summary>
    public void OnSoftKeyEvent(string device, uint softKey, uint callReference, long atNs)
    {
        if (softKey is not (SkinnySoftKeyEvents.Transfer or SkinnySoftKeyEvents.Conference or SkinnySoftKeyEvents.Join or SkinnySoftKeyEvents.MeetMe or SkinnySoftKeyEvents.Park))
        {
            return;
        }

        if (FindLeg(device, callReference)?.Call is not { } call)
        {
            return;
        }

        string kind = softKey switch
        {
            SkinnySoftKeyEvents.Transfer => CallEventTypes.Transfer,
            SkinnySoftKeyEvents.Park => CallEventTypes.Park,
            _ => CallEventTypes.Conference,
        };
        _book.Event(call.Call, kind, atNs, device);
        if (softKey != SkinnySoftKeyEvents.Park)
        {
            SetInteraction(call, call.Metadata.InteractionId ?? call.Call.Id);
            _pendingInteractions[device] = new PendingInteraction(call.Metadata.InteractionId!, atNs);
        }
    }

    /// <summary>KeypadButton during an answered call (its digit as <see cref="SkinnyKeypadButton.Digit"/> reads it): DTMF sent in signalling.</summary>
    public void OnKeypadButton(string device, char digit, uint callReference, long atNs)
    {
        if (digit != '\0' && FindLeg(device, callReference) is { Call: { Answered: true } call } && s_digits.TryGetValue(digit, out string? text))
        {
            _book.Event(call.Call, CallEventTypes.Dtmf, atNs, text);
        }
    }

    private static readonly Dictionary<char, string> s_digits = "0123456789*#ABCD".ToDictionary(c => c, c => c.ToString());

    /// <summary>ConnectionStatisticsRes: the phone's own view of the call's media, into the sidecar.</summary>
    public void OnConnectionStatistics(string device, in SkinnyConnectionStatistics stats, long atNs)
    {
        if (!_legs.TryGetValue(new LegKey(device, stats.CallReference), out Leg? leg) || leg.Call is not { } call)
        {
            return;
        }

        leg.StatisticsSeen = true;
        var quality = new List<EndpointQuality>(call.Metadata.Quality)
        {
            new(leg.Device, leg.OwnNumber, stats.PacketsSent, stats.PacketsReceived, stats.PacketsLost, stats.JitterMs, stats.LatencyMs),
        };
        _book.Update(call.Call, call.Metadata with { Quality = quality });
        if (call.ClosingSinceNs > 0 && call.Legs.TrueForAll(l => l.Ended && l.StatisticsSeen))
        {
            Finish(call);
        }
    }

    /// <summary>A phone unregistered or its connection closed: its calls are over.</summary>
    public void OnDeviceGone(string device, long atNs)
    {
        List<Leg>? legs = null;
        foreach (Leg leg in _legs.Values)
        {
            if (leg.Device == device && !leg.Ended)
            {
                (legs ??= []).Add(leg);
            }
        }

        foreach (Leg leg in legs ?? [])
        {
            EndLeg(leg, atNs);
        }
    }

    /// <summary>Closes calls whose end (or statistics) did not come in time.</summary>
    public void Expire(long nowNs)
    {
        long statsWait = _options.StatisticsWait.Ticks * 100;
        foreach (SkinnyCall call in _calls)
        {
            if (call.ClosingSinceNs > 0)
            {
                if (nowNs - call.ClosingSinceNs >= statsWait)
                {
                    _due.Add(call);
                }

                continue;
            }

            long lastSignal = 0;
            foreach (Leg leg in call.Legs)
            {
                lastSignal = Math.Max(lastSignal, leg.LastActivityNs);
            }

            long idle = nowNs - Math.Max(lastSignal, call.Call.LastMediaNs);
            TimeSpan limit = !call.Answered ? _options.SetupTimeout : call.Call.LastMediaNs > 0 ? _options.MediaTimeout : _options.SessionTimeout;
            if (idle > limit.Ticks * 100)
            {
                call.EndReason = CallEndReasons.Timeout;
                call.EndNs = Math.Max(lastSignal, call.Call.LastMediaNs);
                _due.Add(call);
            }
        }

        foreach (SkinnyCall call in _due)
        {
            Finish(call);
        }

        _due.Clear();
        long setup = _options.SetupTimeout.Ticks * 100;
        foreach (KeyValuePair<LegKey, Leg> entry in _legs)
        {
            if (entry.Value.Call is null && nowNs - entry.Value.LastActivityNs > setup)
            {
                _legs.Remove(entry.Key); // off-hook without a call whose on-hook was not seen
            }
        }

        foreach (KeyValuePair<string, EarlyMedia> e in _earlyMedia)
        {
            if (nowNs - e.Value.AtNs > _options.EarlyMediaWindow.Ticks * 100)
            {
                _earlyMedia.Remove(e.Key);
                MediaWithoutCall++;
            }
        }

        foreach (KeyValuePair<string, PendingInteraction> p in _pendingInteractions)
        {
            if (nowNs - p.Value.AtNs > _options.LinkWindow.Ticks * 100)
            {
                _pendingInteractions.Remove(p.Key);
            }
        }
    }

    /// <summary>Ends every open call (end of a capture file, or shutdown).</summary>
    public void EndAll(long nowNs, string reason)
    {
        _due.AddRange(_calls);
        foreach (SkinnyCall call in _due)
        {
            if (call.ClosingSinceNs == 0)
            {
                call.EndReason = reason;
                call.EndNs = nowNs;
            }

            Finish(call);
        }

        _due.Clear();
        _legs.Clear();
        MediaWithoutCall += _earlyMedia.Count;
        _earlyMedia.Clear();
    }

    private Leg? GetOrStartLeg(string device, IpAddress16 phoneIp, uint callReference, long atNs)
    {
        ref Leg? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_legs, new LegKey(device, callReference), out bool exists);
        if (!exists)
        {
            slot = new Leg(device, phoneIp, callReference) { StartedNs = atNs };
            TakeEarlyMedia(slot, atNs);
        }
        else if (slot!.Ended)
        {
            return null; // a late message of a call that is over
        }

        slot!.LastActivityNs = atNs;
        return slot;
    }

    /// <summary>
    /// The leg a channel message belongs to: by call reference, else (old layouts without one) the phone's newest open leg
    /// with a call (or without one: <paramref name="withoutCall"/>, for channel messages that may precede the CallInfo).
    /// </summary>
    private Leg? FindLeg(string device, uint callReference, bool withoutCall = false)
    {
        if (callReference != 0 && _legs.TryGetValue(new LegKey(device, callReference), out Leg? leg))
        {
            return leg.Ended ? null : leg;
        }

        Leg? newest = null;
        foreach (Leg candidate in _legs.Values)
        {
            if (candidate.Device == device && !candidate.Ended && (withoutCall || candidate.Call is not null)
                && (newest is null || candidate.State == SkinnyCallStateKind.Connected && newest.State != SkinnyCallStateKind.Connected || candidate.StartedNs > newest.StartedNs && candidate.State == newest.State))
            {
                newest = candidate;
            }
        }

        return newest;
    }

    /// <summary>A leg got its parties: it joins the other phone's open leg of the same call, or starts a recording.</summary>
    private void StartOrLink(Leg leg, long atNs)
    {
        long window = _options.LinkWindow.Ticks * 100;
        foreach (SkinnyCall candidate in _calls)
        {
            if (candidate.Terminated || candidate.ClosingSinceNs > 0 || candidate.Legs.Count != 1)
            {
                continue;
            }

            Leg first = candidate.Legs[0];
            if (first.Device != leg.Device && atNs - first.StartedNs <= window && first.Calling == leg.Calling && first.Called == leg.Called
                && first.Type != leg.Type && first.Type != SkinnyCallType.Unknown && leg.Type != SkinnyCallType.Unknown)
            {
                leg.Call = candidate;
                if (leg.Type == SkinnyCallType.Outbound && candidate.Call.Endpoints.Count == 0)
                {
                    // The caller's phone goes left, as for SIP calls between two local phones (no media mapped yet).
                    leg.Channel = Channel.Left;
                    first.Channel = Channel.Right;
                    candidate.Legs.Insert(0, leg);
                }
                else
                {
                    leg.Channel = Channel.Right;
                    candidate.Legs.Add(leg);
                }

                RefreshParties(candidate, atNs);
                ApplyEarlyMedia(leg, candidate, atNs);
                return;
            }
        }

        if (_calls.Count >= _options.MaxCalls)
        {
            CallsOverLimit++;
            return;
        }

        string? interaction = _pendingInteractions.Remove(leg.Device, out PendingInteraction pending) ? pending.Id : null;
        leg.Channel = Channel.Left;
        PartyInfo left = PhoneParty(leg, leg.StartedNs, out PartyBinding? binding);
        PartyInfo right = FarParty(leg, new PartyInfo());
        Call handle = _book.Start(Protocol, $"{leg.Device}/{leg.CallReference}", leg.StartedNs, left, binding, right, null, interaction);
        var call = new SkinnyCall(handle);
        leg.Call = call;
        call.Legs.Add(leg);
        _calls.Add(call);
        ApplyEarlyMedia(leg, call, atNs);
    }

    /// <summary>A leg's channel messages that came before its call: mapped now that the call exists.</summary>
    private void ApplyEarlyMedia(Leg leg, SkinnyCall call, long atNs)
    {
        if (leg.Local is not null)
        {
            MapLocal(leg, call, atNs);
        }

        if (leg.Remote is not null)
        {
            MapRemote(leg, call);
        }
    }

    /// <summary>The phone's channel messages held before any leg of it existed, for the phone's call that starts now.</summary>
    private void TakeEarlyMedia(Leg leg, long atNs)
    {
        if (_earlyMedia.TryGetValue(leg.Device, out EarlyMedia? early)
            && (early.CallReference == 0 || leg.CallReference == 0 || early.CallReference == leg.CallReference)
            && atNs - early.AtNs <= _options.EarlyMediaWindow.Ticks * 100)
        {
            _earlyMedia.Remove(leg.Device);
            leg.Local = early.Local;
            leg.ReceivePassThru = early.ReceivePassThru;
            leg.Remote = early.Remote;
            leg.TransmitPassThru = early.TransmitPassThru;
            leg.Compression = early.Compression;
        }
    }

    /// <summary>The phone's held channel messages (one set per phone: a newer call reference replaces an older one).</summary>
    private EarlyMedia HoldEarly(string device, uint callReference, long atNs)
    {
        ref EarlyMedia? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_earlyMedia, device, out bool exists);
        if (!exists || slot!.CallReference != callReference)
        {
            if (exists)
            {
                MediaWithoutCall++;
            }

            slot = new EarlyMedia { CallReference = callReference };
        }

        slot.AtNs = atNs;
        return slot;
    }

    /// <summary>Left is the first phone; right is the second phone when linked, else the far party from the first phone's CallInfo.</summary>
    private void RefreshParties(SkinnyCall call, long atNs)
    {
        // Parties are attributed as the directory stood when the call started (who was logged in then).
        Leg first = call.Legs[0];
        long startedNs = call.Call.StartedNs;
        PartyInfo left = PhoneParty(first, startedNs, out PartyBinding? leftBinding);
        PartyBinding? rightBinding = null;
        PartyInfo right = call.Legs.Count > 1 ? PhoneParty(call.Legs[1], startedNs, out rightBinding) : FarParty(first, call.Metadata.Right);
        _book.SetParties(call.Call, left, leftBinding, right, rightBinding, atNs);
    }

    /// <summary>The far party as a lone phone's CallInfo names it (its address comes from StartMediaTransmission).</summary>
    private static PartyInfo FarParty(Leg leg, PartyInfo current)
    {
        bool outbound = leg.Type != SkinnyCallType.Inbound;
        return current with
        {
            Extension = outbound ? leg.Called : leg.Calling,
            Name = outbound ? leg.CalledName : leg.CallingName,
        };
    }

    /// <summary>
    /// A phone's own party: its number on this call (calling when it called out, called when it rang), its address,
    /// and who the directory says it is (attributed again only when its number changes).
    /// </summary>
    private PartyInfo PhoneParty(Leg leg, long atNs, out PartyBinding? binding)
    {
        string? own = leg.OwnNumber;
        if (leg.BindingFor != own)
        {
            leg.Binding = _book.Attribute(own, leg.PhoneIp, atNs);
            leg.BindingFor = own;
        }

        binding = leg.Binding;
        return new PartyInfo
        {
            Extension = own,
            Name = leg.Type == SkinnyCallType.Inbound ? leg.CalledName : leg.CallingName,
            Ip = leg.PhoneIpText,
            Port = leg.Local?.Port,
            Device = leg.Device,
            HostDevice = leg.Device,
        };
    }

    private void SetInteraction(SkinnyCall call, string id)
    {
        if (call.Metadata.InteractionId != id)
        {
            _book.Update(call.Call, call.Metadata with { InteractionId = id });
        }
    }

    private void ApplyCodec(SkinnyCall call, uint compression)
    {
        AudioCodec codec = AudioCodecs.FromSkinnyCompression(compression);
        if (codec == AudioCodec.Unknown || call.Codec == codec)
        {
            return;
        }

        call.Codec = codec;
        var map = new PayloadMap();
        map.Set((byte)codec.Info().StaticPayloadType, codec, 8000); // Skinny phones send the codec's static payload type
        _book.SetPayloadMap(call.Call, Channel.Left, map);
        _book.SetPayloadMap(call.Call, Channel.Right, map);
        _book.Update(call.Call, call.Metadata with { Codecs = [codec.Name()] });
    }

    private void EndLeg(Leg leg, long atNs)
    {
        if (leg.Ended)
        {
            return;
        }

        leg.Ended = true;
        leg.LastActivityNs = atNs;
        SkinnyCall? call = leg.Call;
        if (call is null)
        {
            _legs.Remove(new LegKey(leg.Device, leg.CallReference)); // went off-hook and back: no call
            return;
        }

        if (!call.Legs.TrueForAll(l => l.Ended))
        {
            return; // the other phone is still in the call (e.g. it is being transferred)
        }

        call.EndNs = atNs;
        call.EndReason = call.Answered ? CallEndReasons.Hangup
            : call.Refusal is not null ? CallEndReasons.Rejected
            : CallEndReasons.Cancelled;
        call.ClosingSinceNs = atNs; // wait briefly for ConnectionStatisticsRes
        _book.Media.Forget(call.Call, atNs); // its ports may be reused at once
    }

    private void Finish(SkinnyCall call)
    {
        if (call.Terminated)
        {
            return;
        }

        call.Terminated = true;
        string reason = call.EndReason ?? CallEndReasons.CaptureEnded;
        long endNs = call.EndNs > 0 ? call.EndNs : call.Call.StartedNs;
        string? detail = reason == CallEndReasons.Rejected && call.Refusal is { } refusal ? refusal.ToString().ToLowerInvariant() : null;
        _book.End(call.Call, reason, endNs, detail);
        foreach (Leg leg in call.Legs)
        {
            _legs.Remove(new LegKey(leg.Device, leg.CallReference));
        }

        _calls.Remove(call);
    }

    private static bool Update(ref string? field, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty || (field is not null && SkinnyText.Matches(value, field)))
        {
            return false; // unchanged; an empty field in a repeated CallInfo does not erase what an earlier one said
        }

        field = SkinnyText.Decode(value);
        return true;
    }

    private readonly record struct LegKey(string Device, uint CallReference);

    private readonly record struct PendingInteraction(string Id, long AtNs);

    /// <summary>One phone's view of a call (device + call reference).</summary>
    private sealed class Leg(string device, IpAddress16 phoneIp, uint callReference)
    {
        public string Device { get; } = device;
        public IpAddress16 PhoneIp { get; } = phoneIp;
        public string PhoneIpText { get; } = phoneIp.ToString();
        public uint CallReference { get; } = callReference;
        public long StartedNs;
        public long LastActivityNs;
        public SkinnyCallType Type;
        public SkinnyCallStateKind State;
        public string? Calling;
        public string? CallingName;
        public string? Called;
        public string? CalledName;
        public SkinnyCall? Call;
        public Channel Channel;
        public uint ReceivePassThru;
        public uint TransmitPassThru;
        public uint Compression;
        public IpEndpoint16? Local;
        public IpEndpoint16? Remote;
        public bool Ended;
        public bool StatisticsSeen;
        public PartyBinding? Binding;
        public string? BindingFor;

        /// <summary>The phone's own number on this call: the calling party when it called out, the called one when it rang.</summary>
        public string? OwnNumber => Type == SkinnyCallType.Inbound ? Called : Calling;
    }

    /// <summary>A phone's channel messages seen before any leg of it (see <see cref="SkinnyTrackerOptions.EarlyMediaWindow"/>).</summary>
    private sealed class EarlyMedia
    {
        public uint CallReference;
        public long AtNs;
        public IpEndpoint16? Local;
        public uint ReceivePassThru;
        public IpEndpoint16? Remote;
        public uint TransmitPassThru;
        public uint Compression;
    }

    /// <summary>One call's Skinny state: one or two legs (the two phones of an internal call).</summary>
    private sealed class SkinnyCall(Call call)
    {
        public Call Call { get; } = call;
        public CallMetadata Metadata => Call.Metadata;
        public List<Leg> Legs { get; } = new(2);
        public bool Answered { get; set; }

        /// <summary>A phone of the call holds it (Hold on the holder, RemoteHold on the held phone): one hold, one resume.</summary>
        public bool OnHold { get; set; }
        public SkinnyCallStateKind? Refusal { get; set; }
        public AudioCodec Codec { get; set; }
        public long ClosingSinceNs { get; set; }
        public long EndNs { get; set; }
        public string? EndReason { get; set; }
        public bool Terminated { get; set; }
    }
}
