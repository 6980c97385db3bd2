using Capture.Packets;
using Capture.Rtp;

namespace Capture.Calls;

/// <summary>What the signalling says about a dialog's initial request, for correlating dialogs into conversations.</summary>
/// <param name="Caller">The caller's number (From, or P-Asserted-Identity).</param>
/// <param name="Callee">The called number (To).</param>
/// <param name="From">Who sent the INVITE.</param>
/// <param name="To">Who it was sent to.</param>
/// <param name="CallerChannel">The caller's side of the stereo file.</param>
public readonly record struct DialogInvite(string? Caller, string? Callee, IpAddress16 From, IpAddress16 To, Channel CallerChannel);

/// <summary>One dialog a recording covers, as its sidecar lists it.</summary>
/// <param name="CallId">The dialog's Call-ID.</param>
/// <param name="From">The address its INVITE came from.</param>
/// <param name="To">The address its INVITE went to.</param>
/// <param name="Evidence">Why it belongs to this recording (<see cref="DialogEvidence"/>).</param>
public sealed record ConversationDialog(string CallId, string? From, string? To, string Evidence, DateTimeOffset StartedAt);

/// <summary>Values of a dialog's <c>evidence</c> in a sidecar.</summary>
public static class DialogEvidence
{
    /// <summary>The recording's own dialog: the first INVITE of the conversation.</summary>
    public const string First = "first";

    /// <summary>
    /// A server re-sent the first dialog's INVITE (same caller and called numbers, seconds later) as a dialog of its own,
    /// and no media was seen to confirm or refute it.
    /// </summary>
    public const string RelayedInvite = "relayed-invite";

    /// <summary>A relayed INVITE whose media is the first dialog's (same SSRC, sequence and timestamp, or the same payload).</summary>
    public const string RelayedMedia = "relayed-media";
}

/// <summary>How a dialog that relays another one stands (its <see cref="Call"/> never records while it is not <see cref="Copy"/>).</summary>
internal enum RelayState : byte
{
    /// <summary>The conversation's first dialog: it records.</summary>
    Primary,

    /// <summary>A relayed INVITE; its media is compared with the conversation's, not recorded.</summary>
    Pending,

    /// <summary>Its media is the conversation's (relayed): never recorded, listed in the primary's sidecar.</summary>
    Confirmed,

    /// <summary>Its media could not be matched: recorded on its own, marked as a copy, sharing the interaction.</summary>
    Copy,

    /// <summary>The primary ended first: nothing more to decide, nothing recorded.</summary>
    Orphan,
}

/// <summary>A call's part in a conversation of several dialogs, and what its media looked like lately (for the comparison).</summary>
internal sealed class ConversationMember(Conversation conversation, RelayState state)
{
    /// <summary>Recent packets per channel: enough to meet the same packet relayed a few milliseconds later on another leg.</summary>
    private const int Recent = 8;

    private readonly RtpMark[] _recent = new RtpMark[2 * Recent];
    private readonly int[] _next = new int[2];

    public Conversation Conversation { get; } = conversation;
    public RelayState State { get; set; } = state;

    /// <summary>Packets of this dialog seen while pending, and how many were the conversation's.</summary>
    public int Packets { get; set; }

    public int Matches { get; set; }

    /// <summary>The last REFER's target and time (a REFER relayed on another dialog of the conversation is the same).</summary>
    public string? LastReferralTarget { get; set; }

    public long LastReferralNs { get; set; } = long.MinValue / 2;

    /// <summary>How many servers from the first dialog's caller: the deepest confirmed dialog names the far party.</summary>
    public int Depth { get; init; }

    /// <summary>Whether the call would record on its own (its recording groups), should it turn out a copy.</summary>
    public bool RecordsAsCopy { get; init; }

    public void Remember(Channel channel, in RtpMark mark)
    {
        int c = (int)channel;
        _recent[(c * Recent) + _next[c]] = mark;
        _next[c] = (_next[c] + 1) % Recent;
    }

    public bool Saw(in RtpMark mark)
    {
        foreach (ref readonly RtpMark seen in _recent.AsSpan())
        {
            if (seen.Length != 0 && seen.SameAs(mark))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>The dialogs of one conversation: the first (which records) and those relaying it.</summary>
internal sealed class Conversation(Call primary)
{
    /// <summary>Null once the primary ended.</summary>
    public Call? Primary { get; set; } = primary;

    public List<Call> Members { get; } = [primary];

    /// <summary>Relayed dialogs whose media is still compared: while 0, packets cost one check.</summary>
    public int Pending { get; set; }

    /// <summary>The depth of the confirmed dialog that named the primary's far party (0: the primary's own view).</summary>
    public int FarPartyDepth { get; set; }
}

/// <summary>What identifies a relayed RTP packet: SSRC, sequence and timestamp, and a hash of the payload.</summary>
internal readonly record struct RtpMark(uint Ssrc, ushort Sequence, uint Timestamp, uint PayloadHash, int Length, bool Uniform)
{
    /// <summary>
    /// The same packet: a relay that forwards keeps SSRC, sequence and timestamp; one that renumbers keeps the payload
    /// (but a payload of one repeated byte, digital silence, is the same in every call and proves nothing).
    /// </summary>
    public bool SameAs(in RtpMark other) =>
        (Ssrc == other.Ssrc && Sequence == other.Sequence && Timestamp == other.Timestamp)
        || (!Uniform && PayloadHash == other.PayloadHash && Length == other.Length);

    public static bool TryRead(ReadOnlySpan<byte> datagram, out RtpMark mark)
    {
        if (RtpPacket.TryRead(datagram, out RtpPacket rtp, out _) != System.Buffers.OperationStatus.Done || rtp.Payload.IsEmpty)
        {
            mark = default;
            return false;
        }

        ReadOnlySpan<byte> payload = rtp.Payload;
        uint hash = 2166136261; // FNV-1a: cheap, no allocation, good enough to tell audio frames apart
        bool uniform = true;
        byte first = payload[0];
        foreach (byte b in payload)
        {
            hash = (hash ^ b) * 16777619;
            uniform &= b == first;
        }

        mark = new RtpMark(rtp.Ssrc, rtp.SequenceNumber, rtp.Timestamp, hash, payload.Length, uniform);
        return true;
    }
}

/// <summary>What one packet decided about a relayed dialog.</summary>
internal enum RelayVerdict : byte
{
    None,

    /// <summary>The dialog's media is the conversation's.</summary>
    Relayed,

    /// <summary>Enough of its media was seen and none of it was the conversation's.</summary>
    NotRelayed,
}

/// <summary>
/// Correlates dialogs that carry one conversation (DESIGN section 2, "infrastructure is not a phone"): an SBC's or PBX's
/// two sides with different Call-IDs, and transfers. A dialog whose INVITE a server sent on seconds after receiving one
/// with the same caller and called numbers is a relayed dialog of that conversation; its media is then compared packet by
/// packet with the conversation's (same SSRC, sequence and timestamp, or the same payload) until it is shown relayed or
/// not. REFERs leave a referral that the transferee's next INVITE to the target takes up. Capture thread only; the
/// per-packet comparison allocates nothing.
/// </summary>
public sealed class ConversationCorrelator
{
    /// <summary>A B2BUA sends its side's INVITE within this time of receiving the caller's.</summary>
    private const long RelayWindowNs = 10L * 1_000_000_000;

    /// <summary>A transferee calls the transfer target within this time of the REFER.</summary>
    private const long ReferralWindowNs = 60L * 1_000_000_000;

    /// <summary>Matching packets that prove a dialog relayed (one could be chance: a repeated payload).</summary>
    internal const int MatchesToConfirm = 3;

    /// <summary>Packets of a relayed dialog (about half a second of both directions) with none matching: not the same media.</summary>
    internal const int PacketsToRefute = 50;

    private const int MaxRecent = 10_000;

    // Initial INVITEs of the last seconds by who received them: the relaying server looks itself up.
    private readonly Dictionary<(IpAddress16 Receiver, string Caller, string Callee), RecentInvite> _invites = [];

    // REFERs waiting for the transferee's INVITE to the target.
    private readonly Dictionary<(string Referee, string Target), Referral> _referrals = [];
    private readonly List<(IpAddress16, string, string)> _staleInvites = [];
    private readonly List<(string, string)> _staleReferrals = [];
    private long _nextPruneNs;

    /// <summary>Dialogs found to relay another (their INVITE), shown relayed by their media, and recorded as copies.</summary>
    public long RelayedDialogs { get; internal set; }

    public long RelayedDialogsConfirmed { get; internal set; }

    public long RelayedDialogsCopied { get; internal set; }

    /// <summary>REFERs seen, and new calls that took one up (joined the transfer's interaction).</summary>
    public long Referrals { get; internal set; }

    public long ReferralsJoined { get; internal set; }

    /// <summary>The active call whose INVITE the server sending this one received moments ago (the dialog it relays), or null.</summary>
    internal Call? FindRelayed(in DialogInvite invite, long atNs)
    {
        if (invite.Caller is null || invite.Callee is null
            || !_invites.TryGetValue((invite.From, invite.Caller, invite.Callee), out RecentInvite received)
            || received.Sender == invite.To || atNs - received.AtNs > RelayWindowNs
            || received.Call.Id != received.RecordingId || received.Call.Ended)
        {
            return null; // unknown, sent back where it came from (a spiral, not a relay), too old, or that call is over
        }

        return received.Call;
    }

    /// <summary>An initial INVITE seen: a server that sends it on is found by <see cref="FindRelayed"/>.</summary>
    internal void NoteInvite(Call call, in DialogInvite invite, long atNs)
    {
        Prune(atNs);
        if (invite.Caller is null || invite.Callee is null)
        {
            return;
        }

        (IpAddress16, string, string) key = (invite.To, invite.Caller, invite.Callee);
        if (_invites.Count < MaxRecent || _invites.ContainsKey(key))
        {
            _invites[key] = new RecentInvite(call, call.Id, invite.From, atNs);
        }
    }

    /// <summary>
    /// <paramref name="hop"/> relays <paramref name="upstream"/> (a dialog of a conversation, or a call that becomes one):
    /// its media is compared from now on. Returns the conversation's primary (the call that records).
    /// </summary>
    internal Call Join(Call upstream, Call hop, bool recordsAsCopy)
    {
        if (upstream.Member is null)
        {
            var conversation = new Conversation(upstream);
            upstream.Member = new ConversationMember(conversation, RelayState.Primary);
        }

        Conversation c = upstream.Member.Conversation;
        c.Members.Add(hop);
        c.Pending++;
        hop.Member = new ConversationMember(c, RelayState.Pending) { RecordsAsCopy = recordsAsCopy, Depth = upstream.Member.Depth + 1 };
        RelayedDialogs++;
        return c.Primary!;
    }

    /// <summary>
    /// One RTP packet of a call in a conversation with relayed dialogs still pending: remembered, compared with the other
    /// dialogs' recent packets. Returns what it decided and for which dialog (<paramref name="decided"/>).
    /// </summary>
    internal RelayVerdict Observe(Call call, Channel speaker, ReadOnlySpan<byte> datagram, out Call? decided)
    {
        decided = null;
        ConversationMember member = call.Member!;
        if (member.State is RelayState.Copy or RelayState.Orphan || !RtpMark.TryRead(datagram, out RtpMark mark))
        {
            return RelayVerdict.None;
        }

        Call? matched = null;
        foreach (Call other in member.Conversation.Members)
        {
            if (other != call && other.Member!.State is not (RelayState.Copy or RelayState.Orphan) && other.Member.Saw(mark))
            {
                matched = other;
                break;
            }
        }

        member.Remember(speaker, mark);
        if (member.State == RelayState.Pending)
        {
            member.Packets++;
            if (matched is not null && ++member.Matches >= MatchesToConfirm)
            {
                decided = call;
                return RelayVerdict.Relayed;
            }

            if (member.Matches == 0 && member.Packets >= PacketsToRefute)
            {
                decided = call;
                return RelayVerdict.NotRelayed;
            }
        }
        else if (matched?.Member!.State == RelayState.Pending && ++matched.Member.Matches >= MatchesToConfirm)
        {
            decided = matched; // the relayed copy came first (the relay's side is nearer this mirror)
            return RelayVerdict.Relayed;
        }

        return RelayVerdict.None;
    }

    /// <summary>The call ended: it leaves its conversation; when it was the primary, pending dialogs are orphaned.</summary>
    internal void Leave(Call call)
    {
        if (call.Member is not { } member)
        {
            return;
        }

        Conversation c = member.Conversation;
        c.Members.Remove(call);
        if (member.State == RelayState.Pending)
        {
            c.Pending--;
        }

        if (c.Primary == call)
        {
            c.Primary = null;
            foreach (Call other in c.Members)
            {
                if (other.Member!.State == RelayState.Pending)
                {
                    other.Member.State = RelayState.Orphan;
                    c.Pending--;
                }
            }
        }

        call.Member = null;
    }

    /// <summary>A REFER in <paramref name="call"/>: <paramref name="referee"/> is asked to call <paramref name="target"/>.</summary>
    internal void NoteReferral(Call call, string referee, string target, long atNs)
    {
        Prune(atNs);
        Referrals++;
        if (_referrals.Count < MaxRecent || _referrals.ContainsKey((referee, target)))
        {
            _referrals[(referee, target)] = new Referral(call.Metadata.InteractionId ?? call.Id, call.Id, atNs);
        }
    }

    /// <summary>A new call from <paramref name="caller"/> to <paramref name="callee"/> that takes up a recent REFER (once).</summary>
    internal bool TryTakeReferral(string? caller, string? callee, long atNs, out string interactionId, out string transferredFrom)
    {
        if (caller is not null && callee is not null && _referrals.Remove((caller, callee), out Referral r) && atNs - r.AtNs <= ReferralWindowNs)
        {
            ReferralsJoined++;
            (interactionId, transferredFrom) = (r.InteractionId, r.RecordingId);
            return true;
        }

        interactionId = transferredFrom = string.Empty;
        return false;
    }

    /// <summary>Forgets what is too old to correlate, at most once a second (signalling rate, never per packet).</summary>
    private void Prune(long nowNs)
    {
        if (nowNs < _nextPruneNs)
        {
            return;
        }

        _nextPruneNs = nowNs + 1_000_000_000;
        foreach (KeyValuePair<(IpAddress16, string, string), RecentInvite> kv in _invites)
        {
            if (nowNs - kv.Value.AtNs > RelayWindowNs)
            {
                _staleInvites.Add(kv.Key);
            }
        }

        foreach (KeyValuePair<(string, string), Referral> kv in _referrals)
        {
            if (nowNs - kv.Value.AtNs > ReferralWindowNs)
            {
                _staleReferrals.Add(kv.Key);
            }
        }

        foreach ((IpAddress16, string, string) key in _staleInvites)
        {
            _invites.Remove(key);
        }

        foreach ((string, string) key in _staleReferrals)
        {
            _referrals.Remove(key);
        }

        _staleInvites.Clear();
        _staleReferrals.Clear();
    }

    /// <summary>An INVITE a receiver got: the call it started (checked by id: handles are pooled) and who sent it.</summary>
    private readonly record struct RecentInvite(Call Call, string RecordingId, IpAddress16 Sender, long AtNs);

    private readonly record struct Referral(string InteractionId, string RecordingId, long AtNs);
}
