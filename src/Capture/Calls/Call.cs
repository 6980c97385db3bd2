using Capture.Bindings;
using Capture.Packets;
using Microsoft.Extensions.ObjectPool;

namespace Capture.Calls;

/// <summary>
/// One call as the capture thread knows it, whatever its protocol: its recording id, what the signalling says
/// (<see cref="Metadata"/>), who its parties are in the directory, whether it is recorded, and where its media goes.
/// Owned by the <see cref="CallBook"/>; a protocol tracker keeps its own state beside it and tells the book what
/// happened. Never touched by a media worker.
/// </summary>
public sealed class Call : IResettable
{
    internal Call()
    {
    }

    /// <summary>Generated id (UUIDv7): names the recording's files; nothing from the wire is ever used in a path.</summary>
    public string Id { get; private set; } = string.Empty;

    /// <summary>The latest snapshot; replaced through the book, never mutated.</summary>
    public CallMetadata Metadata { get; internal set; } = null!;

    public long StartedNs { get; private set; }

    /// <summary>Capture time of the call's last media packet (0: none yet). Updated by the <see cref="MediaFlowTable"/> only.</summary>
    public long LastMediaNs { get; internal set; }

    /// <summary>False when no recording group of its parties records, or once a logout stopped its recording.</summary>
    public bool Recorded { get; internal set; }

    public bool Ended { get; internal set; }

    /// <summary>Started from RTP alone (no signalling seen): a SIP call whose SDP names its media takes it over.</summary>
    public bool Unsignalled { get; internal set; }

    /// <summary>Where the sink sends this call's media (set by <see cref="ICallSink.CallStarted"/>; null for sinks that keep none).</summary>
    public CallMediaRoute? Route { get; set; }

    /// <summary>Each channel's party as the directory attributed it (null: not local, or no directory).</summary>
    internal PartyBinding?[] Bindings { get; } = new PartyBinding?[2];

    /// <summary>The host devices told <see cref="BindingDirectory.NoteCallStarted"/>, so each is told the end once.</summary>
    internal List<string> ActiveHosts { get; } = new(2);

    /// <summary>Endpoints the flow table maps to this call (announced and latched).</summary>
    internal List<IpEndpoint16> Endpoints { get; } = new(4);

    /// <summary>The SSRC each channel's party sends now (null: none seen yet); kept by the flow table.</summary>
    internal uint?[] Ssrcs { get; } = new uint?[2];

    /// <summary>
    /// Each channel's announced media endpoint when its media came from a NAT's public address instead (null: not behind
    /// NAT): the same SDP again (a re-INVITE) leaves the party at the public address.
    /// </summary>
    internal IpEndpoint16?[] AnnouncedBehindNat { get; } = new IpEndpoint16?[2];
    /// <summary>The INVITE that started it (SIP; default for Skinny): what a relaying server's INVITE is compared with.</summary>
    internal DialogInvite Invite { get; set; }

    /// <summary>Its part in a conversation of several dialogs (null: a dialog of its own, the common case).</summary>
    internal ConversationMember? Member { get; set; }

    /// <summary>
    /// What each speaker's payload types mean, kept also while the call does not record: a relayed dialog that turns out
    /// a copy starts recording with them.
    /// </summary>
    internal Rtp.PayloadMap?[] PayloadMaps { get; } = new Rtp.PayloadMap?[2];

    internal void Start(string id, CallMetadata metadata, long startedNs)
    {
        Id = id;
        Metadata = metadata;
        StartedNs = startedNs;
    }

    /// <summary>Back to the pool once the call ended: nothing of it may be used after <see cref="ICallSink.CallEnded"/>.</summary>
    public bool TryReset()
    {
        Id = string.Empty;
        Metadata = null!;
        StartedNs = 0;
        LastMediaNs = 0;
        Recorded = false;
        Ended = false;
        Unsignalled = false;
        Route = null;
        Bindings[0] = Bindings[1] = null;
        ActiveHosts.Clear();
        Endpoints.Clear();
        Ssrcs[0] = Ssrcs[1] = null;
        AnnouncedBehindNat[0] = AnnouncedBehindNat[1] = null;
        Invite = default;
        Member = null;
        PayloadMaps[0] = PayloadMaps[1] = null;
        return true;
    }
}

/// <summary>What an <see cref="ICallSink"/> attaches to a call to route its media (the pipeline: the worker and its recording).</summary>
#pragma warning disable CA1052 // a base for the sink's own route type, never instantiated itself
public abstract class CallMediaRoute;
#pragma warning restore CA1052
