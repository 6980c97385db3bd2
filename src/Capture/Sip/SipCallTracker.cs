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
/// One Call-ID can cross the mirror several times: caller to proxy, proxy to callee (a record-routing proxy, an SBC or a
/// B2BUA keeping the Call-ID). Each crossing is a hop (<see cref="SipHop"/>) with its own offer and answer: the caller's
/// own SDP is the upstream side of the first hop, the callee's the downstream side of the deepest, and what lies between
/// belongs to the infrastructure (a relay's addresses). Parties and their hold and resume come from their own hops; the
/// recording follows the hop nearest the left (recorded) party, so each party's voice is classified as the recorded
/// party's phone sends and receives it, and the copies a relay forwards on the other hops are not recorded again.
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

        SipHop hop = HopOf(call, message, source, destination);
        bool fromCaller = IsFromCaller(hop, message);
        if (message.IsRequest)
        {
            OnRequest(call, hop, message, fromCaller, atNs);
        }
        else if (method is SipMethod.Invite or SipMethod.Update or SipMethod.Prack)
        {
            OnSessionResponse(call, hop, message, fromCaller, method, atNs);
        }
    }

    /// <summary>
    /// The hop a message was seen on, by its signalling addresses; a new one for a copy of the dialog-forming INVITE on a
    /// new pair (the next hop of a proxy, an SBC or a fork). An in-dialog message on a new pair is a path that bypasses
    /// the hops (a proxy that did not record-route): between the caller's and the callee's own addresses it becomes the
    /// call's only party hop; elsewhere it is followed for the dialog (answer, BYE) but its SDP speaks for no party.
    /// With a single hop everything is that hop's (a phone answering from another address than it was sent to).
    /// </summary>
    private SipHop HopOf(SipCall call, in SipMessage message, IpEndpoint16 source, IpEndpoint16 destination)
    {
        foreach (SipHop known in call.Hops)
        {
            if (known.Carries(source, destination))
            {
                return known;
            }
        }

        bool dialogForming = message.IsRequest && message.Method == SipMethod.Invite && !HasTag(message.To);
        if ((!dialogForming && call.Hops.Count == 1) || call.Hops.Count >= MaxHops)
        {
            return call.Hops.Count == 1 ? call.Hops[0] : call.RecordedHop;
        }

        var hop = new SipHop(source, destination, CallerTagOf(call, message, dialogForming));
        call.Hops.Add(hop);
        if (dialogForming)
        {
            // The node that relays the INVITE received it on the hop it is the downstream end of; an SBC with an address
            // per side matches none, and its outgoing hop is then taken as the deepest yet.
            int depth = -1, deepest = 0;
            foreach (SipHop known in call.Hops)
            {
                deepest = Math.Max(deepest, known.Depth);
                if (known != hop && known.Downstream.Address == source.Address && known.Upstream.Address != source.Address)
                {
                    depth = Math.Max(depth, known.Depth + 1);
                }
            }

            hop.Depth = depth >= 0 ? depth : deepest + 1;
            if (hop.Depth > call.CalleeHop.Depth && !call.Answered && call.SetCalleeHop(hop) is { } before)
            {
                Rebind(call, before);
            }
        }
        else if (hop.Joins(call.CallerHop.Upstream.Address, call.CalleeHop.Downstream.Address))
        {
            // The phones now talk to each other: each side of the direct path starts from that phone's own last SDP.
            hop.Depth = 0;
            hop.CopySide(SipHop.CallerSide, call.CallerHop);
            hop.CopySide(SipHop.CalleeSide, call.CalleeHop);
            if (call.SetDirectHop(hop) is { } before)
            {
                Rebind(call, before);
            }
        }
        else
        {
            hop.Depth = -1; // no party's own hop
        }

        return hop;
    }

    /// <summary>Hops kept per call: a proxy chain with forks is a handful; more is wire noise, not new state.</summary>
    private const int MaxHops = 16;

    private static bool HasTag(ReadOnlySpan<byte> header) => SipNameAddr.TryParse(header, out SipNameAddr addr) && !addr.Tag.IsEmpty;

    /// <summary>The From tag of requests from a new hop's upstream side (an SBC may give each hop tags of its own).</summary>
    private static string CallerTagOf(SipCall call, in SipMessage message, bool dialogForming)
    {
        ReadOnlySpan<byte> fromTag = SipNameAddr.TryParse(message.From, out SipNameAddr from) ? from.Tag : default;
        if (dialogForming)
        {
            return Encoding.Latin1.GetString(fromTag);
        }

        // In-dialog: the tags are the dialog's; whichever is a known caller tag names the upstream side.
        ReadOnlySpan<byte> toTag = SipNameAddr.TryParse(message.To, out SipNameAddr to) ? to.Tag : default;
        foreach (SipHop known in call.Hops)
        {
            if (TagEquals(fromTag, known.CallerTag) || TagEquals(toTag, known.CallerTag))
            {
                return known.CallerTag;
            }
        }

        return call.Hops[0].CallerTag;
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
        Call handle;
        if (UnsignalledCallOf(invite, out Call? unsignalled, out Channel callerChannel))
        {
            // Its media was being recorded from RTP alone: the same recording goes on, the caller on its media's channel.
            swap = callerChannel == Channel.Right;
            handle = unsignalled!;
            if (swap)
            {
                _book.TakeOver(handle, Protocol, callId, atNs, callee, calleeBinding, caller, callerBinding, dialog with { CallerChannel = Channel.Right });
            }
            else
            {
                _book.TakeOver(handle, Protocol, callId, atNs, caller, callerBinding, callee, calleeBinding, dialog with { CallerChannel = Channel.Left });
            }
        }
        else
        {
            handle = swap
                ? _book.Start(Protocol, callId, atNs, callee, calleeBinding, caller, callerBinding, invite: dialog)
                : _book.Start(Protocol, callId, atNs, caller, callerBinding, callee, calleeBinding, invite: dialog);
        }

        var call = new SipCall(callId, handle, new SipHop(source, destination, callerTag) { InviteCSeq = invite.CSeq })
        {
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

    /// <summary>The call recorded from RTP alone that receives at the INVITE's own audio endpoint (its sender's), if any.</summary>
    private bool UnsignalledCallOf(in SipMessage invite, out Call? call, out Channel senderChannel)
    {
        call = null;
        senderChannel = default;
        if (invite.Body.IsEmpty || !SipBody.TryFindSdp(invite.ContentType, invite.Body, out ReadOnlySpan<byte> sdpBytes)
            || SdpSession.TryParse(sdpBytes, out SdpSession sdp, out _) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        for (int i = 0; i < sdp.MediaCount; i++)
        {
            SdpMedia m = sdp.GetMedia(i);
            if (m.Kind == SdpMediaKind.Audio && m.Port != 0 && m.HasConnection)
            {
                return _book.TryFindUnsignalled(new IpEndpoint16(m.Connection, m.Port), out call, out senderChannel);
            }
        }

        return false;
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

    private static bool IsFromCaller(SipHop hop, in SipMessage message)
    {
        // From names who sent the request; a response comes from the other side of that request.
        if (!SipNameAddr.TryParse(message.From, out SipNameAddr from))
        {
            return message.IsRequest;
        }

        bool requestFromCaller = TagEquals(from.Tag, hop.CallerTag);
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

    private void OnRequest(SipCall call, SipHop hop, in SipMessage message, bool fromCaller, long atNs)
    {
        switch (message.Method)
        {
            case SipMethod.Invite:
                if (!call.Answered)
                {
                    hop.InviteCSeq = message.CSeq; // a re-sent INVITE after a 401/407 challenge has a new CSeq
                }

                call.MaxInviteCSeq = Math.Max(call.MaxInviteCSeq, message.CSeq);

                ApplySdp(call, hop, message, SideOf(fromCaller), atNs);
                break;
            case SipMethod.Update:
            case SipMethod.Ack:
            case SipMethod.Prack:
                ApplySdp(call, hop, message, SideOf(fromCaller), atNs);
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
        Channel referrer = fromCaller ? call.CallerChannel : call.CallerChannel.Other();
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

    private void OnSessionResponse(SipCall call, SipHop hop, in SipMessage message, bool fromCaller, SipMethod method, long atNs)
    {
        int status = message.StatusCode;
        int responder = SideOf(fromCaller);
        if (status is > 100 and < 200)
        {
            if (ApplySdp(call, hop, message, responder, atNs) && !call.EarlyMedia && !call.Answered)
            {
                call.EarlyMedia = true;
                _book.Event(call.Call, CallEventTypes.EarlyMedia, atNs, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            return;
        }

        if (status is >= 200 and < 300)
        {
            if (method == SipMethod.Invite && responder == SipHop.CalleeSide && hop != call.CalleeHop && hop.Depth == call.CalleeHop.Depth && !call.Answered)
            {
                // Of two forks as deep, the one that answers leads to the callee.
                if (call.SetCalleeHop(hop) is { } before)
                {
                    Rebind(call, before);
                }
            }

            ApplySdp(call, hop, message, responder, atNs);
            if (method == SipMethod.Invite && !call.Answered)
            {
                call.Answered = true;
                _book.Answer(call.Call, atNs);
            }

            return;
        }

        if (status >= 300 && method == SipMethod.Invite && !call.Answered && message.CSeq == hop.InviteCSeq)
        {
            // 401/407 challenges are answered by a new INVITE with a higher CSeq in the same dialog: keep waiting.
            if (status is 401 or 407)
            {
                hop.InviteCSeq = uint.MaxValue; // the next INVITE (new CSeq) becomes the one to watch
                return;
            }

            // A proxy that tries the next contact after a busy one goes on: the call failed when the caller is told so
            // (its own hop), or when every hop has failed (the caller's hop was not captured).
            hop.Failed = true;
            if (hop != call.Hops[0] && !call.Hops.TrueForAll(h => h.Failed || h.Depth < 0))
            {
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

    private static int SideOf(bool fromCaller) => fromCaller ? SipHop.CallerSide : SipHop.CalleeSide;

    /// <summary>Reads an SDP body sent by <paramref name="side"/> of <paramref name="hop"/>; returns true when it had audio.</summary>
    private bool ApplySdp(SipCall call, SipHop hop, in SipMessage message, int side, long atNs)
    {
        if (message.Body.IsEmpty || !SipBody.TryFindSdp(message.ContentType, message.Body, out ReadOnlySpan<byte> sdpBytes))
        {
            return false;
        }

        if (SdpSession.TryParse(sdpBytes, out SdpSession sdp, out _) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        if (hop.LastSdpVersion[side] == sdp.OriginVersion + 1 && hop.HasSdp[side])
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
                ApplyAudio(call, hop, side, m, atNs);
            }
        }

        if (t38 && !call.T38)
        {
            call.PendingT38 = true;
            call.T38 = true;
            _book.Event(call.Call, CallEventTypes.T38, atNs, side == SipHop.CallerSide ? "caller" : "callee");
        }
        else if (!t38 && call.T38 && hasAudio)
        {
            call.T38 = false;
            _book.Event(call.Call, CallEventTypes.T38Ended, atNs);
        }

        hop.LastSdpVersion[side] = sdp.OriginVersion + 1;
        hop.HasSdp[side] = true;
        return hasAudio;
    }

    private void ApplyAudio(SipCall call, SipHop hop, int side, in SdpMedia media, long atNs)
    {
        Channel owner = side == SipHop.CallerSide ? call.CallerChannel : call.CallerChannel.Other();
        bool partyHop = hop == (side == SipHop.CallerSide ? call.CallerHop : call.CalleeHop);
        bool holdAddress = media.Connection == s_zeroAddress;
        bool hold = holdAddress || media.Direction is MediaDirection.SendOnly or MediaDirection.Inactive;
        if (partyHop && hold != call.OnHold[(int)owner])
        {
            // Only the party's own SDP says it holds: the same hold relayed over the other hops is not another one.
            call.OnHold[(int)owner] = hold;
            if (call.Answered)
            {
                _book.Event(call.Call, hold ? CallEventTypes.Hold : CallEventTypes.Resume, atNs, side == SipHop.CallerSide ? "caller" : "callee");
            }
        }

        // Packets the owner receives are encoded with the owner's payload numbers: that map decodes the other leg.
        var map = new PayloadMap { Encrypted = media.IsSecure };
        if (media.IsSecure && !call.Encrypted)
        {
            call.Encrypted = true;
            _book.Event(call.Call, CallEventTypes.EncryptedMedia, atNs, owner == call.CallerChannel ? "caller" : "callee");
        }

        CallMetadata metadata = call.Call.Metadata;
        var codecs = new List<string>(metadata.Codecs);
        for (int i = 0; i < media.CodecCount; i++)
        {
            SdpCodec c = media.GetCodec(i);
            map.Set(c.PayloadType, c.Codec, c.ClockRate);
            if (i == 0 && c.Codec != AudioCodec.Unknown && !codecs.Contains(c.Codec.Name()) && (partyHop || hop == call.RecordedHop))
            {
                codecs.Add(c.Codec.Name());
            }
        }

        hop.Maps[side] = map;
        if (!holdAddress)
        {
            hop.Media[side] = new IpEndpoint16(media.Connection, media.Port);
        }

        if (hop == call.RecordedHop)
        {
            Bind(call, hop, side);
        }
        else if (hop.Media[side] is { } elsewhere)
        {
            _book.Media.NoteOtherHop(call.Call, elsewhere); // not recorded, and not a call of its own either
        }

        if (holdAddress || !partyHop)
        {
            return;
        }

        metadata = call.Call.Metadata;
        PartyInfo party = owner == Channel.Left ? metadata.Left : metadata.Right;
        string? ip = media.Connection.ToString();
        int? port = media.Port;
        if (call.Call.AnnouncedBehindNat[(int)owner] == new IpEndpoint16(media.Connection, media.Port))
        {
            (ip, port) = (party.Ip, party.Port); // the same private endpoint again: the party stays at its NAT's public one
        }

        if (party.Ip != ip || party.Port != port || !SameCodecs(codecs, metadata.Codecs))
        {
            party = party with { Ip = ip, Port = port };
            _book.Update(call.Call, owner == Channel.Left
                ? metadata with { Left = party, Codecs = codecs }
                : metadata with { Right = party, Codecs = codecs });
        }
    }

    /// <summary>The recorded hop's <paramref name="side"/> receives at its SDP's endpoint, with its payload numbering.</summary>
    private void Bind(SipCall call, SipHop hop, int side)
    {
        Channel owner = side == SipHop.CallerSide ? call.CallerChannel : call.CallerChannel.Other();
        if (hop.Maps[side] is { } map)
        {
            Channel speaker = owner.Other();
            _book.SetPayloadMap(call.Call, speaker, map);
            if (!hop.HasSdp[1 - side])
            {
                // Until the other side answers, assume it uses the same numbering (true for nearly every offer/answer).
                _book.SetPayloadMap(call.Call, owner, map);
            }
        }

        if (hop.Media[side] is { } endpoint)
        {
            _book.Media.Map(call.Call, endpoint, owner);
        }
    }

    /// <summary>The recording moves to another hop (a deeper hop nearer the recorded callee, a direct path).</summary>
    private void Rebind(SipCall call, SipHop from)
    {
        for (int side = 0; side < 2; side++)
        {
            if (from.Media[side] is { } endpoint)
            {
                _book.Media.Unmap(call.Call, endpoint);
                _book.Media.NoteOtherHop(call.Call, endpoint);
            }
        }

        for (int side = 0; side < 2; side++)
        {
            Bind(call, call.RecordedHop, side);
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
    private sealed class SipCall
    {
        public SipCall(string callId, Call call, SipHop first)
        {
            CallId = callId;
            Call = call;
            Hops.Add(first);
            CallerHop = first;
            CalleeHop = first;
        }

        public string CallId { get; }
        public Call Call { get; }
        public uint MaxInviteCSeq { get; set; }
        public bool CancelSeen { get; set; }
        public long LastActivityNs { get; set; }
        public bool Answered { get; set; }
        public bool EarlyMedia { get; set; }
        public bool Terminated { get; set; }
        public bool T38 { get; set; }
        public bool PendingT38 { get; set; }
        public bool Encrypted { get; set; }
        public uint LastReferCSeq { get; set; }

        /// <summary>Each party's hold state (by channel), as its own SDP says.</summary>
        public bool[] OnHold { get; } = new bool[2];

        /// <summary>Every hop the dialog was seen on, the first one first.</summary>
        public List<SipHop> Hops { get; } = [];

        /// <summary>The caller's own hop: its upstream side is the caller's phone.</summary>
        public SipHop CallerHop { get; private set; }

        /// <summary>The callee's own hop (the deepest): its downstream side is the callee's phone.</summary>
        public SipHop CalleeHop { get; private set; }

        /// <summary>The hop nearest the left party, whose media the recording follows.</summary>
        public SipHop RecordedHop => CallerChannel == Channel.Left ? CallerHop : CalleeHop;

        /// <summary>The caller's channel: left unless only the callee is local.</summary>
        public Channel CallerChannel { get; init; }

        /// <summary>A hop nearer the callee; returns the recorded hop before when the recording moves.</summary>
        public SipHop? SetCalleeHop(SipHop hop) => Move(CallerHop, hop);

        /// <summary>An in-dialog path between the two phones: the hops between them are no longer in the call's path.</summary>
        public SipHop? SetDirectHop(SipHop hop) => Move(hop, hop);

        private SipHop? Move(SipHop callerHop, SipHop calleeHop)
        {
            SipHop before = RecordedHop;
            CallerHop = callerHop;
            CalleeHop = calleeHop;
            return RecordedHop != before ? before : null;
        }
    }

    /// <summary>
    /// One crossing of the dialog over the mirror: its signalling ends (upstream sent the dialog-forming INVITE), the
    /// From tag of its upstream side, and each side's latest SDP.
    /// </summary>
    private sealed class SipHop(IpEndpoint16 upstream, IpEndpoint16 downstream, string callerTag)
    {
        /// <summary>Index of the upstream side (sent the INVITE: the caller or the node relaying for it) in the arrays below.</summary>
        public const int CallerSide = 0;

        /// <summary>Index of the downstream side.</summary>
        public const int CalleeSide = 1;

        /// <summary>Where the hop's dialog-forming INVITE came from.</summary>
        public IpEndpoint16 Upstream { get; } = upstream;

        /// <summary>Where the hop's dialog-forming INVITE went.</summary>
        public IpEndpoint16 Downstream { get; } = downstream;
        public string CallerTag { get; } = callerTag;

        /// <summary>0 for the first hop, one more per node the INVITE was relayed through; -1 for a hop of no party.</summary>
        public int Depth { get; set; }
        public uint InviteCSeq { get; set; }
        public bool Failed { get; set; }
        public bool[] HasSdp { get; } = new bool[2];
        public ulong[] LastSdpVersion { get; } = new ulong[2];
        public IpEndpoint16?[] Media { get; } = new IpEndpoint16?[2];
        public PayloadMap?[] Maps { get; } = new PayloadMap?[2];

        /// <summary>
        /// Whether a message between these two addresses is on this hop. Hosts are the hop's ends (TCP messages come
        /// from other ports than the listening one); two ends on one host are told apart by port.
        /// </summary>
        public bool Carries(IpEndpoint16 a, IpEndpoint16 b) => Upstream.Address != Downstream.Address
            ? (a.Address == Upstream.Address && b.Address == Downstream.Address) || (a.Address == Downstream.Address && b.Address == Upstream.Address)
            : (a == Upstream && b == Downstream) || (a == Downstream && b == Upstream);

        public void CopySide(int side, SipHop from)
        {
            HasSdp[side] = from.HasSdp[side];
            LastSdpVersion[side] = from.LastSdpVersion[side];
            Media[side] = from.Media[side];
            Maps[side] = from.Maps[side];
        }

        public bool Joins(IpAddress16 a, IpAddress16 b) =>
            (Upstream.Address == a && Downstream.Address == b) || (Upstream.Address == b && Downstream.Address == a);
    }
}
