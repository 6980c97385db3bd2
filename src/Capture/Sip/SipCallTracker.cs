using System.Runtime.InteropServices;
using System.Text;
using Capture.Bindings;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Rtp;

namespace Capture.Sip;

/// <summary>Time limits for SIP calls whose end is never seen.</summary>
public sealed class SipTrackerOptions
{
    /// <summary>An INVITE with no final answer after this long is given up.</summary>
    public TimeSpan InviteTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>An answered call whose media stopped, with no signalling either, ends after this long.</summary>
    public TimeSpan MediaTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>An answered call that never had media ends after this long without signalling.</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromHours(4);

    /// <summary>At most this many calls are tracked at once; more are counted and ignored.</summary>
    public int MaxCalls { get; set; } = 100_000;
}

/// <summary>
/// Follows SIP dialogs (INVITE, provisional and final responses, ACK, BYE, CANCEL, re-INVITE, UPDATE) from
/// messages seen passively, learns each side's media endpoints from SDP, and classifies RTP datagrams to a call
/// and a channel. Runs on the capture thread; the per-packet classification allocates nothing.
/// </summary>
public sealed class SipCallTracker
{
    private readonly ICallSink _sink;
    private readonly SipTrackerOptions _options;
    private readonly RecordingOptions _recording;
    private readonly Dictionary<string, SipCall> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SipCall>.AlternateLookup<ReadOnlySpan<char>> _callsBySpan;
    private readonly Dictionary<IpEndpoint16, MediaOwner> _media = [];
    private readonly List<SipCall> _expired = [];

    // Call-IDs of calls ended in the last TransactionLifetime, with their highest INVITE CSeq: an INVITE retransmission
    // (or mirror copy) that crossed the final response must not start a phantom call.
    private readonly Dictionary<string, EndedCall> _ended = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EndedCall>.AlternateLookup<ReadOnlySpan<char>> _endedBySpan;

    /// <summary>64 x T1 (RFC 3261 Timer B/F): how long retransmissions of a transaction can still arrive.</summary>
    private static readonly long s_transactionLifetimeNs = 32L * 1_000_000_000;

    private readonly BindingDirectory? _directory;

    public SipCallTracker(ICallSink sink, RecordingOptions recording, SipTrackerOptions? options = null, BindingDirectory? directory = null)
    {
        _sink = sink;
        _directory = directory;
        _recording = recording;
        _options = options ?? new SipTrackerOptions();
        _callsBySpan = _calls.GetAlternateLookup<ReadOnlySpan<char>>();
        _endedBySpan = _ended.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int ActiveCalls => _calls.Count;

    public long CallsStarted { get; private set; }

    public long MessagesWithoutCall { get; private set; }

    public long CallsOverLimit { get; private set; }

    /// <summary>Calls seen but not recorded because no recording group of theirs records (DESIGN section 2).</summary>
    public long CallsNotRecorded { get; private set; }

    /// <summary>Recordings stopped by a logout under the <c>stop</c> policy.</summary>
    public long RecordingsStoppedByLogout { get; private set; }

    /// <summary>Which call and channel an RTP datagram from <paramref name="source"/> to <paramref name="destination"/> belongs to.</summary>
    public bool TryClassifyMedia(IpEndpoint16 source, IpEndpoint16 destination, out CallRecording? call, out Channel channel)
    {
        // Sent to a party's announced endpoint: the other party speaks.
        if (_media.TryGetValue(destination, out MediaOwner owner))
        {
            call = owner.Call.Recording;
            channel = Other(owner.Channel);
            LatchSource(source, owner.Call, channel);
            return true;
        }

        // Sent from a party's announced (or latched) endpoint: that party speaks, wherever it sends to (NAT).
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

    private void LatchSource(IpEndpoint16 source, SipCall call, Channel speaker)
    {
        // Symmetric RTP behind NAT: the speaker's real address answers for its SDP address from now on.
        ref MediaOwner slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_media, source, out bool exists);
        if (exists && (slot.Call == call || !slot.Latched))
        {
            return; // already this call's, or another call's announced endpoint (SDP outranks a guess)
        }

        if (exists)
        {
            // Latched for an older call whose end was not seen: media to this call's announced endpoint proves the move.
            slot.Call.Endpoints.Remove(source);
        }

        slot = new MediaOwner(call, speaker, Latched: true);
        call.Endpoints.Add(source);
    }

    /// <summary>Handles one SIP message seen from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public void OnMessage(in SipMessage message, IpEndpoint16 source, IpEndpoint16 destination, long atNs)
    {
        if (message.CallId.IsEmpty)
        {
            MessagesWithoutCall++;
            return;
        }

        Span<char> idChars = stackalloc char[Math.Min(message.CallId.Length, 512)];
        Encoding.Latin1.GetChars(message.CallId[..idChars.Length], idChars);
        _callsBySpan.TryGetValue(idChars, out SipCall? call);

        SipMethod method = message.IsRequest ? message.Method : message.CSeqMethod;
        if (call is null)
        {
            if (!message.IsRequest || message.Method != SipMethod.Invite
                || (_endedBySpan.TryGetValue(idChars, out EndedCall ended) && message.CSeq <= ended.MaxInviteCSeq))
            {
                MessagesWithoutCall++;
                return;
            }

            if (_calls.Count >= _options.MaxCalls)
            {
                CallsOverLimit++;
                return;
            }

            call = StartCall(message, new string(idChars), source, destination, atNs);
        }

        call.LastActivityNs = atNs;
        if (call.Terminated)
        {
            return;
        }

        bool fromCaller = IsFromCaller(call, message);
        if (message.IsRequest)
        {
            OnRequest(call, message, fromCaller, atNs);
        }
        else if (method is SipMethod.Invite or SipMethod.Update or SipMethod.Prack)
        {
            OnSessionResponse(call, message, fromCaller, method, atNs);
        }
    }

    private SipCall StartCall(in SipMessage invite, string callId, IpEndpoint16 source, IpEndpoint16 destination, long atNs)
    {
        PartyInfo caller = PartyFrom(invite.PAssertedIdentity.IsEmpty ? invite.From : invite.PAssertedIdentity, source.Address);
        PartyInfo callee = PartyFrom(invite.To, default);
        string callerTag = SipNameAddr.TryParse(invite.From, out SipNameAddr from) ? Encoding.Latin1.GetString(from.Tag) : string.Empty;
        DateTimeOffset startedAt = CaptureTime.ToDateTime(atNs);

        // The directory says who each party is (device, user logged in at the start, host) and which one is local:
        // the local party goes left (DESIGN section 1); with both or neither local, the caller does.
        PartyBinding? callerBinding = _directory?.Attribute(caller.Extension, source.Address, startedAt);
        PartyBinding? calleeBinding = _directory?.Attribute(callee.Extension, destination.Address, startedAt);
        caller = WithBinding(caller, callerBinding);
        callee = WithBinding(callee, calleeBinding);
        bool swap = callerBinding is null && calleeBinding is not null;
        bool record = callerBinding is null && calleeBinding is null
            ? _directory?.RecordByDefault ?? true
            : (callerBinding?.Record ?? false) || (calleeBinding?.Record ?? false);

        var metadata = new CallMetadata
        {
            Protocol = "sip",
            CallId = callId,
            StartedAt = startedAt,
            Left = swap ? callee : caller,
            Right = swap ? caller : callee,
        };
        var call = new SipCall(callId, callerTag, new CallRecording(Guid.CreateVersion7().ToString(), metadata, _recording))
        {
            Metadata = metadata,
            InviteCSeq = invite.CSeq,
            MaxInviteCSeq = invite.CSeq,
            StartedNs = atNs,
            CallerChannel = swap ? Channel.Right : Channel.Left,
        };
        call.Bindings[(int)call.CallerChannel] = callerBinding;
        call.Bindings[(int)Other(call.CallerChannel)] = calleeBinding;
        call.Recording.Owner = call;
        call.Recording.Suppressed = !record;
        _calls.Add(callId, call);
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

        _sink.CallStarted(call.Recording, atNs);
        return call;
    }

    private static PartyInfo WithBinding(PartyInfo party, PartyBinding? binding) => binding is null ? party : party with
    {
        Device = binding.Device,
        HostDevice = binding.HostDevice,
        User = binding.User,
        Login = binding.HotelingAgent ? "hoteling-agent" : binding.LoginKind,
        RecordingGroup = binding.RecordingGroup,
    };

    /// <summary>
    /// A login ended (DESIGN section 2, logout during a call): calls whose party was that login get a "logout" event;
    /// under <see cref="LogoutPolicy.Stop"/> their recording ends there (the call itself is still followed, unrecorded).
    /// </summary>
    public void OnLogout(DirectoryEvent logout, LogoutPolicy policy)
    {
        foreach (SipCall call in _calls.Values)
        {
            if (!call.Terminated && CallLogout.Apply(_sink, call.Recording, call.Bindings, logout, policy))
            {
                RecordingsStoppedByLogout++;
            }
        }
    }

    private static PartyInfo PartyFrom(ReadOnlySpan<byte> header, IpAddress16 signallingAddress)
    {
        if (!SipNameAddr.TryParse(header, out SipNameAddr addr))
        {
            return new PartyInfo();
        }

        // Extensions are kept exactly as the PBX sends them (DESIGN section 2).
        return new PartyInfo
        {
            Extension = addr.User.IsEmpty ? null : Encoding.UTF8.GetString(addr.User),
            Name = addr.DisplayName.IsEmpty ? null : Encoding.UTF8.GetString(addr.DisplayName),
            Ip = signallingAddress == default ? null : signallingAddress.ToString(),
        };
    }

    private static bool IsFromCaller(SipCall call, in SipMessage message)
    {
        // From names who sent the request; a response comes from the other side of that request.
        if (!SipNameAddr.TryParse(message.From, out SipNameAddr from))
        {
            return message.IsRequest;
        }

        bool requestFromCaller = TagEquals(from.Tag, call.CallerTag);
        return message.IsRequest ? requestFromCaller : !requestFromCaller;
    }

    private static bool TagEquals(ReadOnlySpan<byte> tag, string expected)
    {
        if (tag.Length != expected.Length)
        {
            return false;
        }

        for (int i = 0; i < tag.Length; i++)
        {
            if (tag[i] != expected[i])
            {
                return false;
            }
        }

        return true;
    }

    private void OnRequest(SipCall call, in SipMessage message, bool fromCaller, long atNs)
    {
        switch (message.Method)
        {
            case SipMethod.Invite:
                if (!call.Answered)
                {
                    call.InviteCSeq = message.CSeq; // a re-sent INVITE after a 401/407 challenge has a new CSeq
                }

                call.MaxInviteCSeq = Math.Max(call.MaxInviteCSeq, message.CSeq);

                ApplySdp(call, message, call.ChannelOf(fromCaller), atNs);
                break;
            case SipMethod.Update:
            case SipMethod.Ack:
            case SipMethod.Prack:
                ApplySdp(call, message, call.ChannelOf(fromCaller), atNs);
                break;
            case SipMethod.Bye:
                End(call, CallEndReasons.Bye, atNs, fromCaller ? "caller" : "callee");
                break;
            case SipMethod.Cancel:
                // Not the end yet: a 200 may cross the CANCEL and establish the call (RFC 3261 9.1). The INVITE's
                // final response (normally 487) ends it as cancelled; see OnSessionResponse and Expire.
                if (!call.Answered)
                {
                    call.CancelSeen = true;
                }

                break;
        }
    }

    private void OnSessionResponse(SipCall call, in SipMessage message, bool fromCaller, SipMethod method, long atNs)
    {
        int status = message.StatusCode;
        Channel responder = call.ChannelOf(fromCaller);
        if (status is > 100 and < 200)
        {
            if (ApplySdp(call, message, responder, atNs) && !call.EarlyMedia && !call.Answered)
            {
                call.EarlyMedia = true;
                _sink.CallEvent(call.Recording, "early-media", atNs, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            return;
        }

        if (status is >= 200 and < 300)
        {
            ApplySdp(call, message, responder, atNs);
            if (method == SipMethod.Invite && !call.Answered)
            {
                call.Answered = true;
                call.Metadata = call.Metadata with { AnsweredAt = CaptureTime.ToDateTime(atNs) };
                _sink.MetadataChanged(call.Recording, call.Metadata);
                _sink.CallEvent(call.Recording, "answered", atNs, null);
            }

            return;
        }

        if (status >= 300 && method == SipMethod.Invite && !call.Answered && message.CSeq == call.InviteCSeq)
        {
            // 401/407 challenges are answered by a new INVITE with a higher CSeq in the same dialog: keep waiting.
            if (status is 401 or 407)
            {
                call.InviteCSeq = uint.MaxValue; // the next INVITE (new CSeq) becomes the one to watch
                return;
            }

            string reason = status == 487 || call.CancelSeen ? CallEndReasons.Cancelled : CallEndReasons.Rejected;
            End(call, reason, atNs, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else if (status == 488 && call.PendingT38)
        {
            call.PendingT38 = false;
            _sink.CallEvent(call.Recording, "t38-refused", atNs, "488");
        }
    }

    /// <summary>Reads an SDP body sent by <paramref name="owner"/>'s side; returns true when it had audio.</summary>
    private bool ApplySdp(SipCall call, in SipMessage message, Channel owner, long atNs)
    {
        if (message.Body.IsEmpty || !SipBody.TryFindSdp(message.ContentType, message.Body, out ReadOnlySpan<byte> sdpBytes))
        {
            return false;
        }

        if (SdpSession.TryParse(sdpBytes, out SdpSession sdp, out _) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        if (call.LastSdpVersion[(int)owner] == sdp.OriginVersion + 1 && call.HasSdp[(int)owner])
        {
            return true; // retransmission or mirror duplicate of an SDP already applied
        }

        bool hasAudio = false;
        bool t38 = false;
        for (int i = 0; i < sdp.MediaCount; i++)
        {
            SdpMedia m = sdp.GetMedia(i);
            if (m.IsT38)
            {
                t38 = true;
            }
            else if (m.Kind == SdpMediaKind.Audio && m.Port != 0 && m.HasConnection && !hasAudio)
            {
                hasAudio = true;
                ApplyAudio(call, owner, m, atNs);
            }
        }

        if (t38 && !call.T38)
        {
            call.PendingT38 = true;
            call.T38 = true;
            _sink.CallEvent(call.Recording, "t38", atNs, owner == call.CallerChannel ? "caller" : "callee");
        }
        else if (!t38 && call.T38 && hasAudio)
        {
            call.T38 = false;
            _sink.CallEvent(call.Recording, "t38-ended", atNs, null);
        }

        call.LastSdpVersion[(int)owner] = sdp.OriginVersion + 1;
        call.HasSdp[(int)owner] = true;
        return hasAudio;
    }

    private void ApplyAudio(SipCall call, Channel owner, in SdpMedia media, long atNs)
    {
        bool holdAddress = media.Connection == s_zeroAddress;
        bool hold = holdAddress || media.Direction is MediaDirection.SendOnly or MediaDirection.Inactive;
        if (hold != call.OnHold[(int)owner])
        {
            call.OnHold[(int)owner] = hold;
            if (call.Answered)
            {
                _sink.CallEvent(call.Recording, hold ? "hold" : "resume", atNs, owner == call.CallerChannel ? "caller" : "callee");
            }
        }

        // Packets the owner receives are encoded with the owner's payload numbers: that map decodes the other leg.
        var map = new PayloadMap();
        var codecs = new List<string>(call.Metadata.Codecs);
        for (int i = 0; i < media.CodecCount; i++)
        {
            SdpCodec c = media.GetCodec(i);
            map.Set(c.PayloadType, c.Codec, c.ClockRate);
            if (i == 0 && c.Codec != AudioCodec.Unknown && !codecs.Contains(c.Codec.Name()))
            {
                codecs.Add(c.Codec.Name());
            }
        }

        Channel speaker = Other(owner);
        _sink.PayloadMapChanged(call.Recording, speaker, map);
        if (!call.HasSdp[(int)speaker])
        {
            // Until the other side answers, assume it uses the same numbering (true for nearly every offer/answer).
            _sink.PayloadMapChanged(call.Recording, owner, map);
        }

        if (holdAddress)
        {
            return;
        }

        var endpoint = new IpEndpoint16(media.Connection, media.Port);
        ref MediaOwner slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_media, endpoint, out bool exists);
        SipCall? previous = exists && slot.Call != call ? slot.Call : null;
        slot = new MediaOwner(call, owner, Latched: false);
        if (previous is not null)
        {
            // A newer call reuses the address and port: the older call's media is gone (its end was not seen). Its
            // NAT-latched addresses would otherwise keep catching the new call's packets sent back to the same peer.
            previous.Endpoints.Remove(endpoint);
            ForgetLatched(previous);
        }

        if (!call.Endpoints.Contains(endpoint))
        {
            call.Endpoints.Add(endpoint);
        }

        PartyInfo party = owner == Channel.Left ? call.Metadata.Left : call.Metadata.Right;
        string ip = media.Connection.ToString();
        if (party.Ip != ip || party.Port != media.Port || !SameCodecs(codecs, call.Metadata.Codecs))
        {
            party = party with { Ip = ip, Port = media.Port };
            call.Metadata = owner == Channel.Left
                ? call.Metadata with { Left = party, Codecs = codecs }
                : call.Metadata with { Right = party, Codecs = codecs };
            _sink.MetadataChanged(call.Recording, call.Metadata);
        }
    }

    private void ForgetLatched(SipCall call)
    {
        for (int i = call.Endpoints.Count - 1; i >= 0; i--)
        {
            IpEndpoint16 endpoint = call.Endpoints[i];
            if (_media.TryGetValue(endpoint, out MediaOwner owner) && owner.Call == call && owner.Latched)
            {
                _media.Remove(endpoint);
                call.Endpoints.RemoveAt(i);
            }
        }
    }

    private static bool SameCodecs(List<string> a, IReadOnlyList<string> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Media arrived for a call: keeps it from timing out.</summary>
    public static void Touch(CallRecording call, long atNs)
    {
        if (call.Owner is SipCall sip)
        {
            sip.LastMediaNs = atNs;
        }
    }

    /// <summary>Ends calls whose end was not seen within the configured times.</summary>
    public void Expire(long nowNs)
    {
        foreach (SipCall call in _calls.Values)
        {
            long idleSignal = nowNs - call.LastActivityNs;
            long idleMedia = call.LastMediaNs > 0 ? nowNs - call.LastMediaNs : long.MaxValue;
            long idle = Math.Min(idleSignal, idleMedia);
            TimeSpan limit = !call.Answered ? _options.InviteTimeout : call.LastMediaNs > 0 ? _options.MediaTimeout : _options.SessionTimeout;
            long limitNs = limit.Ticks * 100;
            if (call.CancelSeen && !call.Answered)
            {
                limitNs = Math.Min(limitNs, s_transactionLifetimeNs); // the final response to a cancelled INVITE was missed
            }

            if (idle > limitNs)
            {
                _expired.Add(call);
            }
        }

        foreach (KeyValuePair<string, EndedCall> ended in _ended)
        {
            if (nowNs - ended.Value.EndedNs > s_transactionLifetimeNs)
            {
                _ended.Remove(ended.Key); // allowed while enumerating since .NET Core 3.0
            }
        }

        foreach (SipCall call in _expired)
        {
            // The call ended when it was last heard of, not when the timer noticed: the wait is not call time.
            End(call, CancelledUnanswered(call) ? CallEndReasons.Cancelled : CallEndReasons.Timeout, Math.Max(call.LastActivityNs, call.LastMediaNs), null);
        }

        _expired.Clear();
    }

    /// <summary>Ends every open call (end of a capture file, or shutdown).</summary>
    public void EndAll(long nowNs, string reason)
    {
        _expired.AddRange(_calls.Values);
        foreach (SipCall call in _expired)
        {
            End(call, CancelledUnanswered(call) ? CallEndReasons.Cancelled : reason, Math.Max(nowNs, call.LastActivityNs), null);
        }

        _expired.Clear();
    }

    private static bool CancelledUnanswered(SipCall call) => call.CancelSeen && !call.Answered;

    private void End(SipCall call, string reason, long atNs, string? detail)
    {
        if (call.Terminated)
        {
            return;
        }

        call.Terminated = true;
        foreach (PartyBinding? b in call.Bindings)
        {
            if (b is not null)
            {
                _directory!.NoteCallEnded(b.HostDevice, CaptureTime.ToDateTime(atNs));
            }
        }

        if (detail is not null)
        {
            _sink.CallEvent(call.Recording, reason, atNs, detail);
        }

        _sink.CallEnded(call.Recording, reason, atNs);
        foreach (IpEndpoint16 endpoint in call.Endpoints)
        {
            if (_media.TryGetValue(endpoint, out MediaOwner owner) && owner.Call == call)
            {
                _media.Remove(endpoint);
            }
        }

        _calls.Remove(call.CallId);
        _ended[call.CallId] = new EndedCall(atNs, call.MaxInviteCSeq);
    }

    private static Channel Other(Channel c) => c == Channel.Left ? Channel.Right : Channel.Left;

    private static readonly IpAddress16 s_zeroAddress = IpAddress16.FromIPv4(0u);

    /// <summary>Who receives at an endpoint; <c>Latched</c> when learnt from RTP (NAT) rather than announced in SDP.</summary>
    private readonly record struct EndedCall(long EndedNs, uint MaxInviteCSeq);

    private readonly record struct MediaOwner(SipCall Call, Channel Channel, bool Latched);

    private sealed class SipCall(string callId, string callerTag, CallRecording recording)
    {
        public string CallId { get; } = callId;
        public string CallerTag { get; } = callerTag;
        public CallRecording Recording { get; } = recording;
        public required CallMetadata Metadata { get; set; }
        public uint InviteCSeq { get; set; }
        public uint MaxInviteCSeq { get; set; }
        public bool CancelSeen { get; set; }
        public long StartedNs { get; init; }
        public long LastActivityNs { get; set; }
        public long LastMediaNs { get; set; }
        public bool Answered { get; set; }
        public bool EarlyMedia { get; set; }
        public bool Terminated { get; set; }
        public bool T38 { get; set; }
        public bool PendingT38 { get; set; }
        public bool[] OnHold { get; } = new bool[2];
        public bool[] HasSdp { get; } = new bool[2];
        public ulong[] LastSdpVersion { get; } = new ulong[2];
        public List<IpEndpoint16> Endpoints { get; } = [];

        /// <summary>The caller's channel: left unless only the callee is local.</summary>
        public Channel CallerChannel { get; init; }

        /// <summary>Each channel's party as the directory saw it at the start (null: not local).</summary>
        public PartyBinding?[] Bindings { get; } = new PartyBinding?[2];

        public Channel ChannelOf(bool fromCaller) => fromCaller ? CallerChannel : Other(CallerChannel);
    }
}
