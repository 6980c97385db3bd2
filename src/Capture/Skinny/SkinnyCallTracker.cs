using System.Runtime.InteropServices;
using Capture.Bindings;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
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

    public int MaxCalls { get; set; } = 100_000;
}

/// <summary>A phone's end-of-call media statistics (ConnectionStatisticsRes).</summary>
public readonly record struct SkinnyConnectionStatistics(uint CallReference, long PacketsSent, long PacketsReceived, long PacketsLost, int JitterMs, int LatencyMs);

/// <summary>
/// Follows Skinny calls as the phones' signalling describes them and turns them into recordings: one recording per
/// conversation. Each phone's call (device + call reference) is a leg; when both phones of a call are seen (an
/// internal call: the callee's leg starts with the caller's numbers while the caller's leg is open) the two legs are
/// one recording, the first phone left. Media comes from the channel messages: a phone's receive address from
/// OpenReceiveChannelAck, its peer's from the StartMediaTransmission that matches the receive channel (extra
/// StartMediaTransmission targets are recording forks and are ignored). Capture thread only.
/// </summary>
public sealed class SkinnyCallTracker
{
    private readonly ICallSink _sink;
    private readonly RecordingOptions _recording;
    private readonly SkinnyTrackerOptions _options;
    private readonly BindingDirectory? _directory;
    private readonly Dictionary<LegKey, Leg> _legs = [];
    private readonly Dictionary<IpEndpoint16, MediaOwner> _media = [];
    private readonly Dictionary<string, PendingInteraction> _pendingInteractions = new(StringComparer.Ordinal);
    private readonly List<SkinnyCall> _calls = [];
    private readonly List<SkinnyCall> _due = [];

    public SkinnyCallTracker(ICallSink sink, RecordingOptions recording, SkinnyTrackerOptions? options = null, BindingDirectory? directory = null)
    {
        _sink = sink;
        _recording = recording;
        _options = options ?? new SkinnyTrackerOptions();
        _directory = directory;
    }

    public int ActiveCalls => _calls.Count;

    public long CallsStarted { get; private set; }

    public long CallsNotRecorded { get; private set; }

    public long CallsOverLimit { get; private set; }

    /// <summary>Channel messages (media) for a call reference the tracker does not know (capture started mid-call).</summary>
    public long MediaWithoutCall { get; private set; }

    /// <summary>StartMediaTransmission targets that are not the call's peer (recording forks, built-in bridge).</summary>
    public long MediaForksIgnored { get; private set; }

    public long RecordingsStoppedByLogout { get; private set; }

    /// <summary>Which call and channel an RTP datagram belongs to (same rules as SIP: sent to a party's receive address, the other party speaks).</summary>
    public bool TryClassifyMedia(IpEndpoint16 source, IpEndpoint16 destination, out CallRecording? call, out Channel channel)
    {
        if (_media.TryGetValue(destination, out MediaOwner owner))
        {
            call = owner.Call.Recording;
            channel = Other(owner.Channel);
            return true;
        }

        if (_media.TryGetValue(source, out owner))
        {
            call = owner.Call.Recording;
            channel = owner.Channel;
            return true;
        }

        call = null;
        channel = default;
        return false;
    }

    /// <summary>Media arrived for a call: keeps it from timing out.</summary>
    public static void Touch(CallRecording call, long atNs)
    {
        if (call.Owner is SkinnyCall skinny)
        {
            skinny.LastMediaNs = atNs;
        }
    }

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
            RefreshParties(leg.Call);
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
                    call.Metadata = call.Metadata with { AnsweredAt = CaptureTime.ToDateTime(atNs) };
                    _sink.MetadataChanged(call.Recording, call.Metadata);
                    _sink.CallEvent(call.Recording, "answered", atNs, null);
                }
                else if (previous == SkinnyCallStateKind.Hold)
                {
                    _sink.CallEvent(call.Recording, "resume", atNs, leg.Device);
                }

                break;
            case SkinnyCallStateKind.Hold:
                if (previous != SkinnyCallStateKind.Hold)
                {
                    _sink.CallEvent(call.Recording, "hold", atNs, leg.Device);
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
        Leg? leg = FindLeg(device, callReference);
        if (leg is null)
        {
            MediaWithoutCall++;
            return;
        }

        leg.ReceivePassThru = passThruPartyId != 0 ? passThruPartyId : leg.ReceivePassThru;
        leg.LastActivityNs = atNs;
        var endpoint = new IpEndpoint16(address, port);
        if (leg.Call is { } call && port != 0)
        {
            Map(call, endpoint, leg.Channel);
            leg.Local = endpoint;
            ApplyCodec(call, leg.Compression);
            RefreshParties(call);
        }
    }

    /// <summary>
    /// StartMediaTransmission (CallManager to phone): where the phone sends its audio. The leg is found by conference id
    /// (CUCM sets it to the phone's call reference), else the message's call reference, else (old layouts with neither)
    /// the phone's newest call. A target whose own call reference differs from the conference id, or whose
    /// pass-through party is not the phone's receive channel, is a recording fork (built-in bridge) and is ignored.
    /// </summary>
    public void OnStartMediaTransmission(string device, uint conferenceId, uint passThruPartyId, uint callReference, IpAddress16 remote, ushort remotePort, uint compressionType, long atNs)
    {
        Leg? leg = FindLeg(device, conferenceId != 0 ? conferenceId : callReference);
        if (leg?.Call is not { } call)
        {
            MediaWithoutCall++;
            return;
        }

        if (conferenceId != 0 && callReference != 0 && callReference != conferenceId)
        {
            MediaForksIgnored++;
            return;
        }

        leg.LastActivityNs = atNs;
        bool primary = leg.Remote is null
            ? passThruPartyId == 0 || leg.ReceivePassThru == 0 || passThruPartyId == leg.ReceivePassThru
            : passThruPartyId != 0 && passThruPartyId == leg.TransmitPassThru; // a repeat of the same channel
        if (!primary)
        {
            MediaForksIgnored++;
            return;
        }

        var endpoint = new IpEndpoint16(remote, remotePort);
        leg.Remote = endpoint;
        leg.TransmitPassThru = passThruPartyId;
        if (compressionType != 0)
        {
            leg.Compression = compressionType;
        }

        // The peer's receive address: if the peer's own phone is a linked leg it maps the same endpoint to the same channel.
        Map(call, endpoint, Other(leg.Channel));
        ApplyCodec(call, leg.Compression);
        PartyInfo remoteParty = leg.Channel == Channel.Left ? call.Metadata.Right : call.Metadata.Left;
        if (call.Legs.Count == 1)
        {
            string ip = remote.ToString();
            if (remoteParty.Ip != ip || remoteParty.Port != remotePort)
            {
                remoteParty = remoteParty with { Ip = ip, Port = remotePort };
                call.Metadata = leg.Channel == Channel.Left ? call.Metadata with { Right = remoteParty } : call.Metadata with { Left = remoteParty };
                _sink.MetadataChanged(call.Recording, call.Metadata);
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
        if (endpoint is { } e && leg.Call is { } call && _media.TryGetValue(e, out MediaOwner owner) && owner.Call == call)
        {
            // Keep the mapping while the linked peer leg still uses the same endpoint.
            if (!call.Legs.Exists(l => l != leg && (l.Local == e || l.Remote == e)))
            {
                _media.Remove(e);
            }
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
            SkinnySoftKeyEvents.Transfer => "transfer",
            SkinnySoftKeyEvents.Park => "park",
            _ => "conference",
        };
        _sink.CallEvent(call.Recording, kind, atNs, device);
        if (softKey != SkinnySoftKeyEvents.Park)
        {
            SetInteraction(call, call.Metadata.InteractionId ?? call.Recording.Id);
            _pendingInteractions[device] = new PendingInteraction(call.Metadata.InteractionId!, atNs);
        }
    }

    /// <summary>KeypadButton during an answered call (its digit as <see cref="SkinnyKeypadButton.Digit"/> reads it): DTMF sent in signalling.</summary>
    public void OnKeypadButton(string device, char digit, uint callReference, long atNs)
    {
        if (digit != '\0' && FindLeg(device, callReference) is { Call: { Answered: true } call } && s_digits.TryGetValue(digit, out string? text))
        {
            _sink.CallEvent(call.Recording, CallRecording.SignalledDtmfEvent, atNs, text);
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
        call.Metadata = call.Metadata with { Quality = quality };
        _sink.MetadataChanged(call.Recording, call.Metadata);
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

    /// <summary>A login ended: calls of that login get a "logout" event; under <see cref="LogoutPolicy.Stop"/> their recording ends there.</summary>
    public void OnLogout(DirectoryEvent logout, LogoutPolicy policy)
    {
        foreach (SkinnyCall call in _calls)
        {
            if (!call.Terminated && CallLogout.Apply(_sink, call.Recording, call.Bindings, logout, policy))
            {
                RecordingsStoppedByLogout++;
            }
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

            long idle = nowNs - Math.Max(lastSignal, call.LastMediaNs);
            TimeSpan limit = !call.Answered ? _options.SetupTimeout : call.LastMediaNs > 0 ? _options.MediaTimeout : _options.SessionTimeout;
            if (idle > limit.Ticks * 100)
            {
                call.EndReason = CallEndReasons.Timeout;
                call.EndNs = Math.Max(lastSignal, call.LastMediaNs);
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
        _media.Clear();
    }

    private Leg? GetOrStartLeg(string device, IpAddress16 phoneIp, uint callReference, long atNs)
    {
        ref Leg? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_legs, new LegKey(device, callReference), out bool exists);
        if (!exists)
        {
            slot = new Leg(device, phoneIp, callReference) { StartedNs = atNs };
        }
        else if (slot!.Ended)
        {
            return null; // a late message of a call that is over
        }

        slot!.LastActivityNs = atNs;
        return slot;
    }

    /// <summary>The leg a channel message belongs to: by call reference, else (old layouts without one) the phone's newest open leg.</summary>
    private Leg? FindLeg(string device, uint callReference)
    {
        if (callReference != 0 && _legs.TryGetValue(new LegKey(device, callReference), out Leg? leg))
        {
            return leg.Ended ? null : leg;
        }

        Leg? newest = null;
        foreach (Leg candidate in _legs.Values)
        {
            if (candidate.Device == device && !candidate.Ended && candidate.Call is not null
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
                if (leg.Type == SkinnyCallType.Outbound && candidate.Endpoints.Count == 0)
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

                RefreshParties(candidate);
                return;
            }
        }

        if (_calls.Count >= _options.MaxCalls)
        {
            CallsOverLimit++;
            return;
        }

        DateTimeOffset startedAt = CaptureTime.ToDateTime(leg.StartedNs);
        string? interaction = _pendingInteractions.Remove(leg.Device, out PendingInteraction pending) ? pending.Id : null;
        var metadata = new CallMetadata
        {
            Protocol = "skinny",
            CallId = $"{leg.Device}/{leg.CallReference}",
            StartedAt = startedAt,
            Left = new PartyInfo(),
            Right = new PartyInfo(),
            InteractionId = interaction,
        };
        var call = new SkinnyCall(new CallRecording(Guid.CreateVersion7().ToString(), metadata, _recording)) { Metadata = metadata, StartedNs = leg.StartedNs };
        call.Recording.Owner = call;
        leg.Call = call;
        leg.Channel = Channel.Left;
        call.Legs.Add(leg);
        ComputeParties(call);
        call.Recording.Metadata = call.Metadata;
        bool record = call.Bindings[0] is null && call.Bindings[1] is null
            ? _directory?.RecordByDefault ?? true
            : (call.Bindings[0]?.Record ?? false) || (call.Bindings[1]?.Record ?? false);
        call.Recording.Suppressed = !record;
        _calls.Add(call);
        CallsStarted++;
        if (!record)
        {
            CallsNotRecorded++;
        }

        foreach (PartyBinding? b in call.Bindings)
        {
            if (b is not null)
            {
                _directory!.NoteCallStarted(b.HostDevice, startedAt);
            }
        }

        _sink.CallStarted(call.Recording, leg.StartedNs);
    }

    private void RefreshParties(SkinnyCall call)
    {
        CallMetadata before = call.Metadata;
        ComputeParties(call);
        if (!ReferenceEquals(before, call.Metadata))
        {
            _sink.MetadataChanged(call.Recording, call.Metadata);
        }
    }

    /// <summary>Left is the first phone; right is the second phone when linked, else the far party from the first phone's CallInfo.</summary>
    private void ComputeParties(SkinnyCall call)
    {
        Leg first = call.Legs[0];
        DateTimeOffset at = call.Metadata.StartedAt;
        PartyInfo left = PhoneParty(first, at);
        PartyInfo right;
        if (call.Legs.Count > 1)
        {
            right = PhoneParty(call.Legs[1], at);
        }
        else
        {
            bool outbound = first.Type != SkinnyCallType.Inbound;
            right = call.Metadata.Right with
            {
                Extension = outbound ? first.Called : first.Calling,
                Name = outbound ? first.CalledName : first.CallingName,
            };
        }

        call.Bindings[0] = first.Binding;
        call.Bindings[1] = call.Legs.Count > 1 ? call.Legs[1].Binding : null;
        if (left != call.Metadata.Left || right != call.Metadata.Right)
        {
            call.Metadata = call.Metadata with { Left = left, Right = right };
        }
    }

    /// <summary>A phone's own party: its number on this call (calling when it called out, called when it rang), its address, the directory's view.</summary>
    private PartyInfo PhoneParty(Leg leg, DateTimeOffset at)
    {
        string? own = leg.OwnNumber;
        if (_directory is not null && leg.BindingFor != own)
        {
            leg.Binding = _directory.Attribute(own, leg.PhoneIp, at);
            leg.BindingFor = own;
        }

        PartyBinding? b = leg.Binding;
        return new PartyInfo
        {
            Extension = own,
            Name = leg.Type == SkinnyCallType.Inbound ? leg.CalledName : leg.CallingName,
            Ip = leg.PhoneIpText,
            Port = leg.Local?.Port,
            Device = b?.Device ?? leg.Device,
            HostDevice = b?.HostDevice ?? leg.Device,
            User = b?.User,
            Login = b is null ? null : b.HotelingAgent ? "hoteling-agent" : b.LoginKind,
            RecordingGroup = b?.RecordingGroup,
        };
    }

    private void SetInteraction(SkinnyCall call, string id)
    {
        if (call.Metadata.InteractionId != id)
        {
            call.Metadata = call.Metadata with { InteractionId = id };
            _sink.MetadataChanged(call.Recording, call.Metadata);
        }
    }

    private void Map(SkinnyCall call, IpEndpoint16 endpoint, Channel owner)
    {
        ref MediaOwner slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_media, endpoint, out bool exists);
        if (exists && slot.Call != call)
        {
            slot.Call.Endpoints.Remove(endpoint); // a newer call reuses the port: the older call's media is gone
        }

        slot = new MediaOwner(call, owner);
        if (!call.Endpoints.Contains(endpoint))
        {
            call.Endpoints.Add(endpoint);
        }
    }

    private void ApplyCodec(SkinnyCall call, uint compression)
    {
        (AudioCodec codec, byte payloadType, int rate) = compression switch
        {
            2 or 3 => (AudioCodec.Pcma, (byte)8, 8000),
            4 or 5 => (AudioCodec.Pcmu, (byte)0, 8000),
            6 or 7 or 8 => (AudioCodec.G722, (byte)9, 8000),
            11 or 12 or 15 or 16 => (AudioCodec.G729, (byte)18, 8000),
            _ => (AudioCodec.Unknown, (byte)0, 0),
        };
        if (codec == AudioCodec.Unknown || call.Codec == codec)
        {
            return;
        }

        call.Codec = codec;
        var map = new PayloadMap();
        map.Set(payloadType, codec, rate); // Skinny phones send the codec's static payload type
        _sink.PayloadMapChanged(call.Recording, Channel.Left, map);
        _sink.PayloadMapChanged(call.Recording, Channel.Right, map);
        call.Metadata = call.Metadata with { Codecs = [codec.Name()] };
        _sink.MetadataChanged(call.Recording, call.Metadata);
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
        foreach (IpEndpoint16 endpoint in call.Endpoints)
        {
            if (_media.TryGetValue(endpoint, out MediaOwner owner) && owner.Call == call)
            {
                _media.Remove(endpoint);
            }
        }

        call.Endpoints.Clear();
    }

    private void Finish(SkinnyCall call)
    {
        if (call.Terminated)
        {
            return;
        }

        call.Terminated = true;
        string reason = call.EndReason ?? CallEndReasons.CaptureEnded;
        long endNs = call.EndNs > 0 ? call.EndNs : call.StartedNs;
        foreach (PartyBinding? b in call.Bindings)
        {
            if (b is not null)
            {
                _directory!.NoteCallEnded(b.HostDevice, CaptureTime.ToDateTime(endNs));
            }
        }

        if (reason == CallEndReasons.Rejected && call.Refusal is { } refusal)
        {
            _sink.CallEvent(call.Recording, reason, endNs, refusal.ToString().ToLowerInvariant());
        }

        _sink.CallEnded(call.Recording, reason, endNs);
        foreach (IpEndpoint16 endpoint in call.Endpoints)
        {
            if (_media.TryGetValue(endpoint, out MediaOwner owner) && owner.Call == call)
            {
                _media.Remove(endpoint);
            }
        }

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

    private static Channel Other(Channel c) => c == Channel.Left ? Channel.Right : Channel.Left;

    private readonly record struct LegKey(string Device, uint CallReference);

    private readonly record struct MediaOwner(SkinnyCall Call, Channel Channel);

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

    /// <summary>One recording: one or two legs (the two phones of an internal call).</summary>
    private sealed class SkinnyCall(CallRecording recording)
    {
        public CallRecording Recording { get; } = recording;
        public required CallMetadata Metadata { get; set; }
        public List<Leg> Legs { get; } = new(2);
        public List<IpEndpoint16> Endpoints { get; } = new(4);
        public PartyBinding?[] Bindings { get; } = new PartyBinding?[2];
        public long StartedNs { get; init; }
        public long LastMediaNs { get; set; }
        public bool Answered { get; set; }
        public SkinnyCallStateKind? Refusal { get; set; }
        public AudioCodec Codec { get; set; }
        public long ClosingSinceNs { get; set; }
        public long EndNs { get; set; }
        public string? EndReason { get; set; }
        public bool Terminated { get; set; }
    }
}
