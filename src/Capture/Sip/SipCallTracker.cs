using System.Text;
using Capture.Bindings;
using Capture.Calls;
using Capture.Packets;
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
/// messages seen passively and tells the <see cref="CallBook"/> what happened: calls starting and ending, parties,
/// each side's media endpoints and payload types from SDP, hold, early media, T.38. Capture thread only.
/// </summary>
public sealed class SipCallTracker
{
    private readonly CallBook _book;
    private readonly SipTrackerOptions _options;
    private readonly Dictionary<string, SipCall> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SipCall>.AlternateLookup<ReadOnlySpan<char>> _callsBySpan;
    private readonly List<SipCall> _expired = [];

    // Call-IDs of calls ended in the last TransactionLifetime, with their highest INVITE CSeq: an INVITE retransmission
    // (or mirror copy) that crossed the final response must not start a phantom call.
    private readonly Dictionary<string, EndedCall> _ended = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EndedCall>.AlternateLookup<ReadOnlySpan<char>> _endedBySpan;

    /// <summary>64 x T1 (RFC 3261 Timer B/F): how long retransmissions of a transaction can still arrive.</summary>
    private static readonly long s_transactionLifetimeNs = 32L * 1_000_000_000;

    public SipCallTracker(CallBook book, SipTrackerOptions? options = null)
    {
        _book = book;
        _options = options ?? new SipTrackerOptions();
        _callsBySpan = _calls.GetAlternateLookup<ReadOnlySpan<char>>();
        _endedBySpan = _ended.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int ActiveCalls => _calls.Count;

    public long MessagesWithoutCall { get; private set; }

    public long CallsOverLimit { get; private set; }

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

        // The directory says who each party is (device, user logged in at the start, host) and which one is local.
        PartyBinding? callerBinding = _book.Attribute(caller.Extension, source.Address, atNs);
        PartyBinding? calleeBinding = _book.Attribute(callee.Extension, destination.Address, atNs);
        bool swap = CallBook.SecondGoesLeft(callerBinding, calleeBinding);
        var dialog = new DialogInvite(caller.Extension, callee.Extension, source.Address, destination.Address, swap ? Channel.Right : Channel.Left);
        Call handle = swap
            ? _book.Start(Protocol, callId, atNs, callee, calleeBinding, caller, callerBinding, invite: dialog)
            : _book.Start(Protocol, callId, atNs, caller, callerBinding, callee, calleeBinding, invite: dialog);
        var call = new SipCall(callId, callerTag, handle)
        {
            InviteCSeq = invite.CSeq,
            MaxInviteCSeq = invite.CSeq,
            CallerChannel = swap ? Channel.Right : Channel.Left,
        };
        _calls.Add(callId, call);

        // The new call of an attended transfer replaces the consultation dialog: it joins that call's interaction.
        Span<char> replacedId = stackalloc char[256];
        if (invite.TryGetHeader("Replaces"u8, out ReadOnlySpan<byte> replaces) && TryReadReplacedCallId(replaces, inUri: false, replacedId, out int length)
            && FindCall(replacedId[..length]) is { } replaced)
        {
            _book.Replace(handle, replaced.Call, atNs);
        }

        return call;
    }

    /// <summary>The sidecar's protocol name.</summary>
    public const string Protocol = "sip";

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
            case SipMethod.Refer:
                OnRefer(call, message, fromCaller, atNs);
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

    /// <summary>
    /// A REFER (blind transfer, RFC 3515): the party that receives it is to call the Refer-To target; that call joins this
    /// one's interaction. A retransmission (same CSeq) is not a second transfer.
    /// </summary>
    private void OnRefer(SipCall call, in SipMessage message, bool fromCaller, long atNs)
    {
        if (message.CSeq == call.LastReferCSeq || !message.TryGetHeader("Refer-To"u8, out ReadOnlySpan<byte> referTo)
            || !SipNameAddr.TryParse(referTo, out SipNameAddr target))
        {
            return;
        }

        call.LastReferCSeq = message.CSeq;
        CallMetadata m = call.Call.Metadata;
        Channel referrer = call.ChannelOf(fromCaller);
        string? referee = (referrer == Channel.Left ? m.Right : m.Left).Extension;
        string? by = (referrer == Channel.Left ? m.Left : m.Right).Extension;
        string? to = target.User.IsEmpty ? null : Encoding.UTF8.GetString(target.User);

        // An attended transfer names the consultation dialog the new call is to replace (Refer-To's ?Replaces=, RFC 3891).
        Span<char> consultation = stackalloc char[256];
        SipCall? replaced = TryReadReplacedCallId(referTo, inUri: true, consultation, out int length) ? FindCall(consultation[..length]) : null;
        string kind = replaced is null ? "blind" : "attended";
        _book.Refer(call.Call, referee, to, atNs, $"{by ?? "unknown"} referred {referee ?? "unknown"} to {to ?? "unknown"} ({(fromCaller ? "caller" : "callee")}, {kind})", replaced?.Call);
    }

    /// <summary>The active dialog with this Call-ID, if any.</summary>
    private SipCall? FindCall(ReadOnlySpan<char> callId) => _callsBySpan.TryGetValue(callId, out SipCall? call) ? call : null;

    /// <summary>
    /// The Call-ID a Replaces names: an INVITE's Replaces header (<c>call-id;to-tag=..;from-tag=..</c>), or the escaped
    /// <c>Replaces=</c> of a Refer-To URI (<c>?Replaces=call-id%3Bto-tag%3D..</c>).
    /// </summary>
    private static bool TryReadReplacedCallId(ReadOnlySpan<byte> value, bool inUri, Span<char> callId, out int length)
    {
        length = 0;
        if (inUri)
        {
            int start = value.IndexOf("Replaces="u8);
            if (start < 0 && (start = value.IndexOf("replaces="u8)) < 0)
            {
                return false; // a blind transfer
            }

            value = value[(start + "Replaces=".Length)..];
        }

        value = value.TrimStart(" \t"u8);
        for (int i = 0; i < value.Length && length < callId.Length; i++)
        {
            byte b = value[i];
            if (inUri && b == '%' && i + 2 < value.Length && HexValue(value[i + 1]) is >= 0 and var hi && HexValue(value[i + 2]) is >= 0 and var lo)
            {
                b = (byte)((hi << 4) | lo);
                i += 2;
            }

            if (b is (byte)';' or (byte)'&' or (byte)'>' or (byte)' ' or (byte)'\t')
            {
                break;
            }

            callId[length++] = (char)b;
        }

        return length > 0;

        static int HexValue(byte c) => c switch
        {
            >= (byte)'0' and <= (byte)'9' => c - '0',
            >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
            >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
            _ => -1,
        };
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
                _book.Event(call.Call, CallEventTypes.EarlyMedia, atNs, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            return;
        }

        if (status is >= 200 and < 300)
        {
            ApplySdp(call, message, responder, atNs);
            if (method == SipMethod.Invite && !call.Answered)
            {
                call.Answered = true;
                _book.Answer(call.Call, atNs);
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
            _book.Event(call.Call, CallEventTypes.T38Refused, atNs, "488");
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
            _book.Event(call.Call, CallEventTypes.T38, atNs, owner == call.CallerChannel ? "caller" : "callee");
        }
        else if (!t38 && call.T38 && hasAudio)
        {
            call.T38 = false;
            _book.Event(call.Call, CallEventTypes.T38Ended, atNs);
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
                _book.Event(call.Call, hold ? CallEventTypes.Hold : CallEventTypes.Resume, atNs, owner == call.CallerChannel ? "caller" : "callee");
            }
        }

        // Packets the owner receives are encoded with the owner's payload numbers: that map decodes the other leg.
        var map = new PayloadMap();
        CallMetadata metadata = call.Call.Metadata;
        var codecs = new List<string>(metadata.Codecs);
        for (int i = 0; i < media.CodecCount; i++)
        {
            SdpCodec c = media.GetCodec(i);
            map.Set(c.PayloadType, c.Codec, c.ClockRate);
            if (i == 0 && c.Codec != AudioCodec.Unknown && !codecs.Contains(c.Codec.Name()))
            {
                codecs.Add(c.Codec.Name());
            }
        }

        Channel speaker = owner.Other();
        _book.SetPayloadMap(call.Call, speaker, map);
        if (!call.HasSdp[(int)speaker])
        {
            // Until the other side answers, assume it uses the same numbering (true for nearly every offer/answer).
            _book.SetPayloadMap(call.Call, owner, map);
        }

        if (holdAddress)
        {
            return;
        }

        _book.Media.Map(call.Call, new IpEndpoint16(media.Connection, media.Port), owner);
        PartyInfo party = owner == Channel.Left ? metadata.Left : metadata.Right;
        string ip = media.Connection.ToString();
        if (party.Ip != ip || party.Port != media.Port || !SameCodecs(codecs, metadata.Codecs))
        {
            party = party with { Ip = ip, Port = media.Port };
            _book.Update(call.Call, owner == Channel.Left
                ? metadata with { Left = party, Codecs = codecs }
                : metadata with { Right = party, Codecs = codecs });
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

    /// <summary>Ends calls whose end was not seen within the configured times.</summary>
    public void Expire(long nowNs)
    {
        foreach (SipCall call in _calls.Values)
        {
            long idleSignal = nowNs - call.LastActivityNs;
            long idleMedia = call.Call.LastMediaNs > 0 ? nowNs - call.Call.LastMediaNs : long.MaxValue;
            long idle = Math.Min(idleSignal, idleMedia);
            TimeSpan limit = !call.Answered ? _options.InviteTimeout : call.Call.LastMediaNs > 0 ? _options.MediaTimeout : _options.SessionTimeout;
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
            End(call, CancelledUnanswered(call) ? CallEndReasons.Cancelled : CallEndReasons.Timeout, Math.Max(call.LastActivityNs, call.Call.LastMediaNs), null);
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
        _book.End(call.Call, reason, atNs, detail);
        _calls.Remove(call.CallId);
        _ended[call.CallId] = new EndedCall(atNs, call.MaxInviteCSeq);
    }

    private static readonly IpAddress16 s_zeroAddress = IpAddress16.FromIPv4(0u);

    /// <summary>A call that ended recently: its Call-ID and highest INVITE CSeq, against retransmissions.</summary>
    private readonly record struct EndedCall(long EndedNs, uint MaxInviteCSeq);

    /// <summary>One dialog's state; the call itself is the book's.</summary>
    private sealed class SipCall(string callId, string callerTag, Call call)
    {
        public string CallId { get; } = callId;
        public string CallerTag { get; } = callerTag;
        public Call Call { get; } = call;
        public uint InviteCSeq { get; set; }
        public uint MaxInviteCSeq { get; set; }
        public bool CancelSeen { get; set; }
        public long LastActivityNs { get; set; }
        public bool Answered { get; set; }
        public bool EarlyMedia { get; set; }
        public bool Terminated { get; set; }
        public bool T38 { get; set; }
        public bool PendingT38 { get; set; }
        public uint LastReferCSeq { get; set; }
        public bool[] OnHold { get; } = new bool[2];
        public bool[] HasSdp { get; } = new bool[2];
        public ulong[] LastSdpVersion { get; } = new ulong[2];

        /// <summary>The caller's channel: left unless only the callee is local.</summary>
        public Channel CallerChannel { get; init; }

        public Channel ChannelOf(bool fromCaller) => fromCaller ? CallerChannel : CallerChannel.Other();
    }
}
