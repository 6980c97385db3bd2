using System.Runtime.InteropServices;
using Capture.Packets;

namespace Capture.Calls;

/// <summary>
/// The one media table for every protocol: which call and which party an RTP datagram belongs to. Signalling maps
/// each party's receive endpoint (SDP, Skinny channel messages); a datagram sent to a party's endpoint is the other
/// party speaking, one sent from it is that party speaking. A speaker's real source address behind NAT (or an
/// asymmetric source port) is latched when its packets reach the other party's announced endpoint. One lookup per
/// packet in the common case, no allocation; capture thread only.
/// </summary>
public sealed class MediaFlowTable
{
    /// <summary>RTP to or from an ended call's endpoint this soon after its end is that call's trailing media, not a new call.</summary>
    public static readonly long TrailingMediaNs = 10L * 1_000_000_000;

    /// <summary>How long a recording fork's target stays known after signalling last named it.</summary>
    public static readonly long ForkTargetNs = 3600L * 1_000_000_000;

    private readonly Dictionary<IpEndpoint16, FlowOwner> _flows = [];

    // Endpoints whose unclaimed RTP is known not to be a call of its own (unsignalled RTP is not recorded there).
    private readonly Dictionary<IpEndpoint16, QuietEndpoint> _quiet = [];
    private readonly List<IpEndpoint16> _expired = [];

    // The SSRC each recorded call's parties send now: a media relay forwards a stream keeping its SSRC, so an unclaimed
    // flow carrying it is the relay's other leg of that call.
    private readonly Dictionary<uint, SsrcOwner> _ssrcs = [];

    // Told when a speaker's latched source is on another address than the one its party announced (behind NAT).
    private readonly Action<Call, Channel, IpEndpoint16, IpEndpoint16>? _speakerBehindNat;

    /// <param name="speakerBehindNat">
    /// Called with the call, the speaker, its announced endpoint and the source it really sends from, when its first packet
    /// from another address than it announced is latched (a phone behind NAT): once per latch, never per packet.
    /// </param>
    public MediaFlowTable(Action<Call, Channel, IpEndpoint16, IpEndpoint16>? speakerBehindNat = null) => _speakerBehindNat = speakerBehindNat;

    /// <summary>Endpoints mapped (announced and latched).</summary>
    public int Count => _flows.Count;

    /// <summary>
    /// The call and the speaking party of a datagram from <paramref name="source"/> to <paramref name="destination"/>;
    /// marks the call's media as seen at <paramref name="atNs"/>.
    /// </summary>
    public bool TryClassify(IpEndpoint16 source, IpEndpoint16 destination, long atNs, out Call? call, out Channel speaker)
    {
        if (_flows.TryGetValue(destination, out FlowOwner owner))
        {
            call = owner.Call;
            speaker = owner.Receiver.Other();
            Latch(source, owner.Call, speaker);
        }
        else if (_flows.TryGetValue(source, out owner))
        {
            call = owner.Call;
            speaker = owner.Receiver;
        }
        else
        {
            call = null;
            speaker = default;
            return false;
        }

        call.LastMediaNs = atNs;
        return true;
    }

    /// <summary>The call and party that receive at <paramref name="endpoint"/> (announced or latched), if any.</summary>
    public bool TryGetReceiver(IpEndpoint16 endpoint, out Call? call, out Channel receiver)
    {
        bool found = _flows.TryGetValue(endpoint, out FlowOwner owner);
        call = owner.Call;
        receiver = owner.Receiver;
        return found;
    }

    /// <summary>
    /// Signalling says <paramref name="receiver"/> of <paramref name="call"/> receives at <paramref name="endpoint"/>. A
    /// newer call reusing an address and port takes it from an older call whose end was not seen; that call's latched
    /// addresses go too (they would otherwise catch the new call's packets sent back to the same peer).
    /// </summary>
    public void Map(Call call, IpEndpoint16 endpoint, Channel receiver)
    {
        ref FlowOwner slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_flows, endpoint, out bool exists);
        Call? previous = exists && slot.Call != call ? slot.Call : null;
        slot = new FlowOwner(call, receiver, Latched: false);
        if (previous is not null)
        {
            previous.Endpoints.Remove(endpoint);
            ForgetLatched(previous);
        }

        if (!call.Endpoints.Contains(endpoint))
        {
            call.Endpoints.Add(endpoint);
        }
    }

    /// <summary>The call no longer receives at <paramref name="endpoint"/> (a closed channel whose port may be reused).</summary>
    public void Unmap(Call call, IpEndpoint16 endpoint)
    {
        if (_flows.TryGetValue(endpoint, out FlowOwner owner) && owner.Call == call)
        {
            _flows.Remove(endpoint);
        }

        call.Endpoints.Remove(endpoint);
    }

    /// <summary>
    /// Every endpoint of the call (its media is over at <paramref name="atNs"/>): its trailing packets are not taken for a
    /// new call's for <see cref="TrailingMediaNs"/>.
    /// </summary>
    public void Forget(Call call, long atNs)
    {
        foreach (IpEndpoint16 endpoint in call.Endpoints)
        {
            if (_flows.TryGetValue(endpoint, out FlowOwner owner) && owner.Call == call)
            {
                _flows.Remove(endpoint);
                Quiet(endpoint, QuietReason.AfterCallEnd, atNs + TrailingMediaNs);
            }
            else if (_quiet.TryGetValue(endpoint, out QuietEndpoint q) && q.Reason == QuietReason.OtherHop)
            {
                Quiet(endpoint, QuietReason.AfterCallEnd, atNs + TrailingMediaNs);
            }
        }

        call.Endpoints.Clear();
        for (int i = 0; i < 2; i++)
        {
            if (call.Ssrcs[i] is { } ssrc && _ssrcs.TryGetValue(ssrc, out SsrcOwner o) && o.Call == call)
            {
                _ssrcs.Remove(ssrc);
            }

            call.Ssrcs[i] = null;
        }
    }

    /// <summary>
    /// Signalling names <paramref name="endpoint"/> as the media of another hop of <paramref name="call"/> than the one
    /// recorded (a relay's far side): its packets are not a call of their own, until the call ends.
    /// </summary>
    public void NoteOtherHop(Call call, IpEndpoint16 endpoint)
    {
        Quiet(endpoint, QuietReason.OtherHop, long.MaxValue);
        if (!call.Endpoints.Contains(endpoint))
        {
            call.Endpoints.Add(endpoint);
        }
    }

    /// <summary>Signalling says <paramref name="endpoint"/> receives a recording fork (a copy of a call's media), until told again.</summary>
    public void NoteForkTarget(IpEndpoint16 endpoint, long atNs) => Quiet(endpoint, QuietReason.ForkTarget, atNs + ForkTargetNs);

    /// <summary>Why unclaimed RTP from <paramref name="source"/> to <paramref name="destination"/> is no call of its own (None: it may be).</summary>
    public QuietReason QuietReasonOf(IpEndpoint16 source, IpEndpoint16 destination, long atNs)
    {
        if (_quiet.Count == 0)
        {
            return QuietReason.None;
        }

        if (_quiet.TryGetValue(destination, out QuietEndpoint q) && q.UntilNs >= atNs)
        {
            return q.Reason;
        }

        return _quiet.TryGetValue(source, out q) && q.UntilNs >= atNs ? q.Reason : QuietReason.None;
    }

    /// <summary>Forgets quiet endpoints whose time is up (capture time, about once a second).</summary>
    public void ExpireQuiet(long nowNs)
    {
        foreach (KeyValuePair<IpEndpoint16, QuietEndpoint> q in _quiet)
        {
            if (q.Value.UntilNs < nowNs)
            {
                _expired.Add(q.Key);
            }
        }

        foreach (IpEndpoint16 endpoint in _expired)
        {
            _quiet.Remove(endpoint);
        }

        _expired.Clear();
    }

    private void Quiet(IpEndpoint16 endpoint, QuietReason reason, long untilNs)
    {
        ref QuietEndpoint slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_quiet, endpoint, out bool exists);
        if (!exists || slot.Reason != QuietReason.ForkTarget || reason == QuietReason.ForkTarget)
        {
            slot = new QuietEndpoint(reason, untilNs); // a fork target stays one until its own time is up
        }
    }

    /// <summary>
    /// The SSRC <paramref name="speaker"/> of <paramref name="call"/> sends now (read from each classified packet: a compare,
    /// and a table write only when it changes).
    /// </summary>
    public void NoteSsrc(Call call, Channel speaker, uint ssrc)
    {
        ref uint? current = ref call.Ssrcs[(int)speaker];
        if (current == ssrc)
        {
            return;
        }

        if (current is { } old && _ssrcs.TryGetValue(old, out SsrcOwner o) && o.Call == call)
        {
            _ssrcs.Remove(old);
        }

        current = ssrc;
        _ssrcs[ssrc] = new SsrcOwner(call, speaker);
    }

    /// <summary>The live call whose party sends <paramref name="ssrc"/>, and that party's channel.</summary>
    public bool TryFindSsrc(uint ssrc, out Call? call, out Channel speaker)
    {
        bool found = _ssrcs.TryGetValue(ssrc, out SsrcOwner o) && !o.Call.Ended;
        call = found ? o.Call : null;
        speaker = o.Speaker;
        return found;
    }

    /// <summary>Symmetric RTP behind NAT: the speaker's real address answers for its announced one from now on.</summary>
    private void Latch(IpEndpoint16 source, Call call, Channel speaker)
    {
        ref FlowOwner slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_flows, source, out bool exists);
        if (exists && (slot.Call == call || !slot.Latched))
        {
            return; // already this call's, or another call's announced endpoint (signalling outranks a guess)
        }

        Call? previous = exists ? slot.Call : null;
        slot = new FlowOwner(call, speaker, Latched: true);
        previous?.Endpoints.Remove(source); // latched for an older call whose end was not seen: this call's media proves the move
        if (_speakerBehindNat is not null && TryGetAnnounced(call, speaker, out IpEndpoint16 announced) && announced.Address != source.Address)
        {
            // Another port on the announced address is an asymmetric sender; another address is a NAT's public side.
            _speakerBehindNat(call, speaker, announced, source);
        }

        call.Endpoints.Add(source);
    }

    /// <summary>The endpoint signalling announced for <paramref name="party"/> of <paramref name="call"/> (its SDP's, say).</summary>
    private bool TryGetAnnounced(Call call, Channel party, out IpEndpoint16 announced)
    {
        foreach (IpEndpoint16 endpoint in call.Endpoints)
        {
            if (_flows.TryGetValue(endpoint, out FlowOwner owner) && owner.Call == call && owner.Receiver == party && !owner.Latched)
            {
                announced = endpoint;
                return true;
            }
        }

        announced = default;
        return false;
    }

    private void ForgetLatched(Call call)
    {
        for (int i = call.Endpoints.Count - 1; i >= 0; i--)
        {
            IpEndpoint16 endpoint = call.Endpoints[i];
            if (_flows.TryGetValue(endpoint, out FlowOwner owner) && owner.Call == call && owner.Latched)
            {
                _flows.Remove(endpoint);
                call.Endpoints.RemoveAt(i);
            }
        }
    }

    /// <summary>Who receives at an endpoint; <c>Latched</c> when learnt from RTP rather than announced by signalling.</summary>
    private readonly record struct FlowOwner(Call Call, Channel Receiver, bool Latched);

    private readonly record struct QuietEndpoint(QuietReason Reason, long UntilNs);

    private readonly record struct SsrcOwner(Call Call, Channel Speaker);
}

/// <summary>Why RTP that no signalling claims is known not to be a call of its own.</summary>
public enum QuietReason : byte
{
    None,

    /// <summary>The endpoint was a call's until moments ago: trailing packets after a BYE or a refusal.</summary>
    AfterCallEnd,

    /// <summary>Signalling sent a copy of a call's media there (a Skinny built-in-bridge recording fork).</summary>
    ForkTarget,

    /// <summary>Another hop of a signalled call than the one its recording follows (a proxy's or SBC's far side).</summary>
    OtherHop,
}
