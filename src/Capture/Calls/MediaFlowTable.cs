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
    private readonly Dictionary<IpEndpoint16, FlowOwner> _flows = [];

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

    /// <summary>Every endpoint of the call (its media is over).</summary>
    public void Forget(Call call)
    {
        foreach (IpEndpoint16 endpoint in call.Endpoints)
        {
            if (_flows.TryGetValue(endpoint, out FlowOwner owner) && owner.Call == call)
            {
                _flows.Remove(endpoint);
            }
        }

        call.Endpoints.Clear();
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
        call.Endpoints.Add(source);
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
}
