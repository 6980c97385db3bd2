using System.Threading.Channels;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Capture.Rtp;
using Microsoft.Extensions.ObjectPool;

namespace Capture.Calls;

/// <summary>
/// The call domain both protocols feed: every call's start, updates (parties, media, codecs, events) and end; the record
/// decision (recording groups); attribution from the directory (device, user, host, hoteling agent, login kind, group);
/// the logout-during-a-call policy; the one media flow table. Protocol trackers keep only their state machines and
/// tell the book what happened; the book tells the <see cref="ICallSink"/> about recorded calls. Capture thread only.
/// </summary>
public sealed class CallBook
{
    private readonly ICallSink _sink;
    private readonly BindingDirectory? _directory;
    private readonly ChannelReader<DirectoryEvent>? _directoryEvents;
    private readonly HashSet<Call> _active = [];

    // Call handles are reused: a call's setup allocates its metadata and strings, not its handle and lists.
    private readonly DefaultObjectPool<Call> _pool = new(new CallPolicy(), maximumRetained: 4096);
    private long _directoryVersion;

    public CallBook(ICallSink sink, BindingDirectory? directory = null)
    {
        _sink = sink;
        _directory = directory;
        _directoryEvents = directory?.Subscribe(capacity: 65_536);
        Media = new MediaFlowTable(NoteBehindNat);
    }

    public MediaFlowTable Media { get; }

    /// <summary>Parties whose media came from a NAT's public address instead of the private one their signalling named.</summary>
    public long PartiesBehindNat { get; private set; }

    public int ActiveCalls => _active.Count;

    public long CallsStarted { get; private set; }

    /// <summary>Calls seen but not recorded because no recording group of theirs records (DESIGN section 2).</summary>
    public long CallsNotRecorded { get; private set; }

    /// <summary>Recordings stopped by a logout under the <c>stop</c> policy.</summary>
    public long RecordingsStoppedByLogout { get; private set; }

    /// <summary>Recordings ended (once per recording: one stopped by a logout is not counted again at its call's end).</summary>
    public long RecordingsEnded { get; private set; }

    /// <summary>Calls recorded from their RTP alone that signalling took over later (<see cref="TakeOver"/>).</summary>
    public long UnsignalledTakenOver { get; private set; }

    /// <summary>Who <paramref name="extension"/> at <paramref name="address"/> is at <paramref name="atNs"/>; null when not local (or no directory).</summary>
    public PartyBinding? Attribute(string? extension, IpAddress16 address, long atNs) =>
        _directory?.Attribute(extension, address, CaptureTime.ToDateTime(atNs));

    /// <summary>DESIGN section 1: the local party goes left; with both or neither local, the first (the caller) does.</summary>
    public static bool SecondGoesLeft(PartyBinding? first, PartyBinding? second) => first is null && second is not null;

    /// <summary>
    /// Starts a call with its parties as the signalling names them and as the directory attributed them; decides whether
    /// it is recorded. Not recorded: the sink never hears of it, its media is classified and counted only. With the
    /// <paramref name="invite"/> that started it (SIP), the call may join a conversation: a dialog a server started on
    /// behalf of another active call (<see cref="ConversationCorrelator"/>) does not record while its media is compared
    /// with that call's; a call that takes up a REFER joins the transfer's interaction.
    /// </summary>
    public Call Start(string protocol, string callId, long startedNs, PartyInfo left, PartyBinding? leftBinding, PartyInfo right, PartyBinding? rightBinding, string? interactionId = null, DialogInvite? invite = null)
    {
        string? transferredFrom = null;
        Call? relayed = null;
        if (invite is { } i)
        {
            relayed = Conversations.FindRelayed(i, startedNs);
            if (relayed is null && Conversations.TryTakeReferral(i.Caller, i.Callee, startedNs, out string interaction, out string from))
            {
                (interactionId, transferredFrom) = (interaction, from);
            }
        }

        bool record = leftBinding is null && rightBinding is null
            ? _directory?.RecordByDefault ?? true
            : (leftBinding?.Record ?? false) || (rightBinding?.Record ?? false);
        if (relayed is not null && !(relayed.Member?.Conversation.Primary ?? relayed).Recorded && record)
        {
            relayed = null; // the first dialog does not record (its view of the parties found no recording group): this one does
        }

        var metadata = new CallMetadata
        {
            Protocol = protocol,
            CallId = callId,
            StartedAt = CaptureTime.ToDateTime(startedNs),
            Left = Attributed(left, leftBinding),
            Right = Attributed(right, rightBinding),
            InteractionId = interactionId,
            TransferredFrom = transferredFrom,
        };
        Call call = _pool.Get();
        call.Start(Guid.CreateVersion7().ToString(), metadata, startedNs);
        call.Bindings[0] = leftBinding;
        call.Bindings[1] = rightBinding;
        call.Recorded = record && relayed is null;
        _active.Add(call);
        CallsStarted++;
        if (invite is { } noted)
        {
            call.Invite = noted;
            Conversations.NoteInvite(call, noted, startedNs);
        }

        if (relayed is not null)
        {
            JoinRelayed(relayed, call, record);
        }
        else if (!call.Recorded)
        {
            CallsNotRecorded++;
        }

        NoteHosts(call, startedNs);
        if (call.Recorded)
        {
            _sink.CallStarted(call, startedNs);
        }

        return call;
    }

    /// <summary>The call recorded from RTP alone whose party receives at <paramref name="endpoint"/>, and that party's channel.</summary>
    public bool TryFindUnsignalled(IpEndpoint16 endpoint, out Call? call, out Channel receiver)
    {
        if (Media.TryGetReceiver(endpoint, out call, out receiver) && call!.Unsignalled && !call.Ended)
        {
            return true;
        }

        call = null;
        return false;
    }

    /// <summary>
    /// Signalling names a call that was being recorded from its RTP alone: the same call, recording and file go on under
    /// the signalling's protocol, call id and parties (the channels stay as they are: the caller must be put on the
    /// channel of its media), and a <see cref="CallEventTypes.Signalled"/> event marks where. One conversation, one
    /// recording.
    /// </summary>
    public void TakeOver(Call call, string protocol, string callId, long atNs, PartyInfo left, PartyBinding? leftBinding, PartyInfo right, PartyBinding? rightBinding, DialogInvite? invite = null)
    {
        call.Unsignalled = false;
        if (invite is { } noted)
        {
            call.Invite = noted; // a server relaying this dialog later is compared with it, as with any SIP call's
            Conversations.NoteInvite(call, noted, atNs);
        }

        UnsignalledTakenOver++;
        string wasCallId = call.Metadata.CallId;
        call.Bindings[0] = leftBinding;
        call.Bindings[1] = rightBinding;
        NoteHosts(call, atNs);
        Update(call, call.Metadata with
        {
            Protocol = protocol,
            CallId = callId,
            Left = Attributed(left with { Ip = left.Ip ?? call.Metadata.Left.Ip, Port = left.Port ?? call.Metadata.Left.Port }, leftBinding),
            Right = Attributed(right with { Ip = right.Ip ?? call.Metadata.Right.Ip, Port = right.Port ?? call.Metadata.Right.Port }, rightBinding),
        });
        Event(call, CallEventTypes.Signalled, atNs, $"{protocol} took over the media of {wasCallId}");
    }

    /// <summary>A REFER to the same target relayed on another dialog of the conversation within this time is the same REFER.</summary>
    private const long ReferralDuplicateNs = 2_000_000_000;

    /// <summary>Correlates dialogs into conversations (relayed INVITEs and media, transfers).</summary>
    public ConversationCorrelator Conversations { get; } = new();

    /// <summary><paramref name="hop"/> relays <paramref name="upstream"/>: listed in the conversation's recording, compared by media from now on.</summary>
    private void JoinRelayed(Call upstream, Call hop, bool recordsAsCopy)
    {
        Call primary = Conversations.Join(upstream, hop, recordsAsCopy);
        CallMetadata m = primary.Metadata;
        List<ConversationDialog> dialogs = [.. m.Dialogs];
        if (dialogs.Count == 0)
        {
            dialogs.Add(DialogOf(primary, DialogEvidence.First));
        }

        dialogs.Add(DialogOf(hop, DialogEvidence.RelayedInvite));
        Update(primary, m with { Dialogs = dialogs });
    }

    private static ConversationDialog DialogOf(Call call, string evidence) => new(
        call.Metadata.CallId,
        call.Invite.From == default ? null : call.Invite.From.ToString(),
        call.Invite.To == default ? null : call.Invite.To.ToString(),
        evidence,
        call.Metadata.StartedAt);

    /// <summary>
    /// One RTP packet of a call whose conversation still has relayed dialogs to decide (the pipeline asks only then:
    /// <see cref="HasRelayPending"/>). Allocates nothing unless it decides, which happens once per relayed dialog.
    /// </summary>
    public void ObserveRelayedMedia(Call call, Channel speaker, ReadOnlySpan<byte> datagram, long atNs)
    {
        switch (Conversations.Observe(call, speaker, datagram, out Call? decided))
        {
            case RelayVerdict.Relayed:
                ConfirmRelayed(decided!);
                break;
            case RelayVerdict.NotRelayed:
                RecordAsCopy(decided!, atNs);
                break;
        }
    }

    /// <summary>Whether the call's packets are still compared with another dialog's (one check per packet otherwise).</summary>
    public static bool HasRelayPending(Call call) => call.Member is { Conversation.Pending: > 0 };

    /// <summary>
    /// The dialog's media is the conversation's: it stays unrecorded, the primary's sidecar says so, and the party at its
    /// far end (nearer that party than the primary's view through the server) names the primary's party.
    /// </summary>
    private void ConfirmRelayed(Call hop)
    {
        ConversationMember member = hop.Member!;
        member.State = RelayState.Confirmed;
        member.Conversation.Pending--;
        Conversations.RelayedDialogsConfirmed++;
        Call primary = member.Conversation.Primary!;
        CallMetadata m = primary.Metadata;
        var dialogs = new List<ConversationDialog>(m.Dialogs.Count);
        foreach (ConversationDialog d in m.Dialogs)
        {
            dialogs.Add(d.CallId == hop.Metadata.CallId ? d with { Evidence = DialogEvidence.RelayedMedia } : d);
        }

        Update(primary, m with { Dialogs = dialogs });

        // A relayed dialog is downstream, started by a server on the way to the callee: the deepest one confirmed sees the
        // callee itself rather than a server.
        Channel hopCallee = hop.Invite.CallerChannel.Other(), primaryCallee = primary.Invite.CallerChannel.Other();
        PartyInfo far = hopCallee == Channel.Left ? hop.Metadata.Left : hop.Metadata.Right;
        PartyBinding? farBinding = hop.Bindings[(int)hopCallee];
        if (far.Ip is not null && member.Depth > member.Conversation.FarPartyDepth)
        {
            member.Conversation.FarPartyDepth = member.Depth;
            Channel caller = primaryCallee.Other();
            PartyInfo callerParty = caller == Channel.Left ? primary.Metadata.Left : primary.Metadata.Right;
            PartyBinding? callerBinding = primary.Bindings[(int)caller];
            if (primaryCallee == Channel.Right)
            {
                SetParties(primary, callerParty, callerBinding, far, farBinding ?? primary.Bindings[1], primary.StartedNs);
            }
            else
            {
                SetParties(primary, far, farBinding ?? primary.Bindings[0], callerParty, callerBinding, primary.StartedNs);
            }
        }
    }

    /// <summary>
    /// The dialog's media could not be matched with the conversation's: it records on its own from now on (the packets
    /// compared are not in it), marked as a probable copy of the primary, both sharing one interaction.
    /// </summary>
    private void RecordAsCopy(Call hop, long atNs)
    {
        ConversationMember member = hop.Member!;
        member.State = RelayState.Copy;
        member.Conversation.Pending--;
        Conversations.RelayedDialogsCopied++;
        Call primary = member.Conversation.Primary!;
        string interaction = primary.Metadata.InteractionId ?? primary.Id;
        var dialogs = new List<ConversationDialog>(primary.Metadata.Dialogs);
        dialogs.RemoveAll(d => d.CallId == hop.Metadata.CallId);
        Update(primary, primary.Metadata with { InteractionId = interaction, Dialogs = dialogs.Count > 1 ? dialogs : [] });
        hop.Metadata = hop.Metadata with { InteractionId = interaction, CopyOf = primary.Id };
        if (!member.RecordsAsCopy)
        {
            CallsNotRecorded++;
            return;
        }

        hop.Recorded = true;
        _sink.CallStarted(hop, atNs);
        for (int c = 0; c < 2; c++)
        {
            if (hop.PayloadMaps[c] is { } map)
            {
                _sink.PayloadMapChanged(hop, (Channel)c, map);
            }
        }

        if (hop.Metadata.AnsweredAt is { } answered)
        {
            _sink.CallEvent(hop, CallEventTypes.Answered, (answered - DateTimeOffset.UnixEpoch).Ticks * 100, null);
        }
    }

    /// <summary>
    /// A REFER in <paramref name="call"/> (a blind transfer): a <see cref="CallEventTypes.Transfer"/> event, and the call
    /// that <paramref name="referee"/> places to <paramref name="target"/> next joins this call's interaction.
    /// </summary>
    public void Refer(Call call, string? referee, string? target, long atNs, string detail, Call? replaced = null)
    {
        if (call.Member is { State: RelayState.Pending or RelayState.Confirmed } relay && relay.Conversation.Primary is { } primary)
        {
            call = primary; // a relayed dialog's REFER is the conversation's: its recording is the first dialog's
        }

        if (call.Member is { } member)
        {
            // The same REFER relayed on the conversation's other dialogs (other Call-IDs, moments apart) is one transfer.
            if (member.LastReferralTarget == target && atNs - member.LastReferralNs < ReferralDuplicateNs)
            {
                return;
            }

            (member.LastReferralTarget, member.LastReferralNs) = (target, atNs);
        }

        if (call.Metadata.InteractionId is null)
        {
            Update(call, call.Metadata with { InteractionId = call.Id });
        }

        Event(call, CallEventTypes.Transfer, atNs, detail);
        if (replaced is not null && replaced != call)
        {
            // An attended transfer: the consultation call is part of the interaction too.
            string interaction = call.Metadata.InteractionId!;
            if (replaced.Metadata.InteractionId != interaction)
            {
                Update(replaced, replaced.Metadata with { InteractionId = interaction });
            }

            Event(replaced, CallEventTypes.Transfer, atNs, "consultation of: " + detail);
        }

        if (referee is not null && target is not null)
        {
            Conversations.NoteReferral(call, referee, target, atNs);
        }
    }

    /// <summary>
    /// <paramref name="call"/> replaces <paramref name="replaced"/> (an INVITE with Replaces: the new call of an attended
    /// transfer, or a call pickup): it joins that call's interaction and, unless a REFER already said, names it as the
    /// call it was transferred from.
    /// </summary>
    public void Replace(Call call, Call replaced, long atNs)
    {
        if (replaced == call)
        {
            return;
        }

        string interaction = replaced.Metadata.InteractionId ?? replaced.Id;
        if (replaced.Metadata.InteractionId is null)
        {
            Update(replaced, replaced.Metadata with { InteractionId = interaction });
        }

        CallMetadata m = call.Metadata;
        Update(call, m with { InteractionId = m.InteractionId ?? interaction, TransferredFrom = m.TransferredFrom ?? replaced.Id });
        Event(replaced, CallEventTypes.Transfer, atNs, $"replaced by {m.Left.Extension ?? "unknown"} - {m.Right.Extension ?? "unknown"}");
    }

    /// <summary>A party as the directory names it: device, host, user and how they logged in, recording group.</summary>
    private static PartyInfo Attributed(PartyInfo party, PartyBinding? binding) => binding is null ? party : party with
    {
        Device = binding.Device,
        HostDevice = binding.HostDevice,
        User = binding.User,
        Login = binding.HotelingAgent ? LoginKinds.HotelingAgent : binding.LoginKind,
        RecordingGroup = binding.RecordingGroup,
    };

    /// <summary>The parties changed (a second phone of the same call, numbers learnt later): re-attributed, announced when different.</summary>
    public void SetParties(Call call, PartyInfo left, PartyBinding? leftBinding, PartyInfo right, PartyBinding? rightBinding, long atNs)
    {
        call.Bindings[0] = leftBinding;
        call.Bindings[1] = rightBinding;
        NoteHosts(call, atNs);
        left = Attributed(left, leftBinding);
        right = Attributed(right, rightBinding);
        if (left != call.Metadata.Left || right != call.Metadata.Right)
        {
            Update(call, call.Metadata with { Left = left, Right = right });
        }
    }

    /// <summary>
    /// <paramref name="speaker"/> announced <paramref name="announced"/> but sends from <paramref name="real"/>, another
    /// address (latched by the flow table): behind NAT. The party is where its media really is, not at a private address
    /// the mirror never sees; unless its metadata names another address than it announced (a relay's hop recorded).
    /// </summary>
    private void NoteBehindNat(Call call, Channel speaker, IpEndpoint16 announced, IpEndpoint16 real)
    {
        CallMetadata metadata = call.Metadata;
        PartyInfo party = speaker == Channel.Left ? metadata.Left : metadata.Right;
        if (party.Ip != announced.Address.ToString() || party.Port != announced.Port)
        {
            return;
        }

        PartiesBehindNat++;
        call.AnnouncedBehindNat[(int)speaker] = announced;
        party = party with { Ip = real.Address.ToString(), Port = real.Port };
        Update(call, speaker == Channel.Left ? metadata with { Left = party } : metadata with { Right = party });
    }

    /// <summary>A new snapshot of what the signalling knows (nothing happens when it is the same object).</summary>
    public void Update(Call call, CallMetadata metadata)
    {
        if (ReferenceEquals(metadata, call.Metadata))
        {
            return;
        }

        call.Metadata = metadata;
        if (call.Recorded)
        {
            _sink.MetadataChanged(call);
        }
    }

    /// <summary>The call was answered: its answer time and an <see cref="CallEventTypes.Answered"/> event, once.</summary>
    public bool Answer(Call call, long atNs)
    {
        if (call.Metadata.AnsweredAt is not null)
        {
            return false;
        }

        Update(call, call.Metadata with { AnsweredAt = CaptureTime.ToDateTime(atNs) });
        Event(call, CallEventTypes.Answered, atNs);
        return true;
    }

    public void Event(Call call, string type, long atNs, string? detail = null)
    {
        if (call.Recorded)
        {
            _sink.CallEvent(call, type, atNs, detail);
        }
    }

    /// <summary>What <paramref name="speaker"/>'s payload types mean from now on.</summary>
    public void SetPayloadMap(Call call, Channel speaker, PayloadMap map)
    {
        call.PayloadMaps[(int)speaker] = map;
        if (call.Recorded)
        {
            _sink.PayloadMapChanged(call, speaker, map);
        }
    }

    /// <summary>
    /// Ends the call at <paramref name="atNs"/> (an <paramref name="detail"/> adds an event named after the reason, e.g.
    /// who sent the BYE): its media is forgotten, its hosts are told, its recording is finalised, and the handle goes
    /// back to the pool: the caller must drop its reference.
    /// </summary>
    public void End(Call call, string reason, long atNs, string? detail = null)
    {
        if (call.Ended)
        {
            return;
        }

        call.Ended = true;
        Conversations.Leave(call);
        Media.Forget(call, atNs);
        _active.Remove(call);
        if (_directory is not null)
        {
            foreach (string host in call.ActiveHosts)
            {
                _directory.NoteCallEnded(host, CaptureTime.ToDateTime(atNs));
            }
        }

        call.ActiveHosts.Clear();
        if (call.Recorded)
        {
            if (detail is not null)
            {
                _sink.CallEvent(call, reason, atNs, detail);
            }

            EndRecording(call, reason, atNs);
        }

        _pool.Return(call);
    }

    /// <summary>
    /// Logins the directory ended since the last look (API, schedules, another phone's registration) reach their calls:
    /// cheap when nothing changed, so the pipeline asks at every frame.
    /// </summary>
    public void ApplyDirectoryChanges()
    {
        if (_directory is null || _directory.EventVersion == _directoryVersion)
        {
            return;
        }

        _directoryVersion = _directory.EventVersion;
        while (_directoryEvents!.TryRead(out DirectoryEvent? e))
        {
            if (e.Kind == DirectoryEventKind.LoginCancelled)
            {
                OnLogout(e, _directory.LogoutDuringCall);
            }
        }
    }

    /// <summary>
    /// DESIGN section 2, logout during a call: calls whose party was attributed to the ended login get a
    /// <see cref="CallEventTypes.Logout"/> event; under <see cref="LogoutPolicy.Stop"/> their recording ends there (the
    /// call itself is still followed, unrecorded).
    /// </summary>
    private void OnLogout(DirectoryEvent logout, LogoutPolicy policy)
    {
        if (logout.LoginSeq is not { } seq)
        {
            return;
        }

        long atNs = (logout.At - DateTimeOffset.UnixEpoch).Ticks * 100;
        foreach (Call call in _active)
        {
            if (!call.Recorded || (call.Bindings[0]?.LoginSeq != seq && call.Bindings[1]?.LoginSeq != seq))
            {
                continue;
            }

            _sink.CallEvent(call, CallEventTypes.Logout, atNs, $"{logout.User} logged out of {logout.HostDevice} ({logout.Detail}); policy {(policy == LogoutPolicy.Stop ? "stop" : "continue")}");
            if (policy == LogoutPolicy.Stop)
            {
                EndRecording(call, CallEndReasons.Logout, atNs);
                RecordingsStoppedByLogout++;
            }
        }
    }

    private void EndRecording(Call call, string reason, long atNs)
    {
        call.Recorded = false;
        RecordingsEnded++;
        _sink.CallEnded(call, reason, atNs);
    }

    private sealed class CallPolicy : PooledObjectPolicy<Call>
    {
        public override Call Create() => new();

        public override bool Return(Call obj) => obj.TryReset();
    }

    /// <summary>Each attributed host device is told of the call once (idle logout never takes a user out of a call).</summary>
    private void NoteHosts(Call call, long atNs)
    {
        foreach (PartyBinding? b in call.Bindings)
        {
            if (b is not null && !call.ActiveHosts.Contains(b.HostDevice))
            {
                call.ActiveHosts.Add(b.HostDevice);
                _directory!.NoteCallStarted(b.HostDevice, CaptureTime.ToDateTime(atNs));
            }
        }
    }
}
