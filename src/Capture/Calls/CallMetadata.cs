namespace Capture.Calls;

/// <summary>One party of a call as the signalling describes it. Strings are made when signalling changes, never per packet.</summary>
public sealed record PartyInfo
{
    public string? Extension { get; init; }
    public string? Name { get; init; }
    public string? Ip { get; init; }
    public int? Port { get; init; }
    public string? Device { get; init; }
    public string? User { get; init; }
    public string? HostDevice { get; init; }

    /// <summary>How the user came to be at the device: mobility, cross-cluster, explicit, hoteling-agent (null: nobody).</summary>
    public string? Login { get; init; }

    public string? RecordingGroup { get; init; }
}

/// <summary>A snapshot of what the signalling knows about a call; replaced, never mutated.</summary>
public sealed record CallMetadata
{
    public required string Protocol { get; init; }
    public required string CallId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? AnsweredAt { get; init; }
    public required PartyInfo Left { get; init; }
    public required PartyInfo Right { get; init; }
    public IReadOnlyList<string> Codecs { get; init; } = [];

    /// <summary>
    /// Links the recordings of one interaction (a transfer's or conference's legs share the first call's id); null for
    /// a plain call.
    /// </summary>
    public string? InteractionId { get; init; }

    /// <summary>
    /// Every dialog this recording covers when a conversation crossed a server that gave it other Call-IDs (an SBC's or
    /// PBX's sides), the first one first; empty for a call of one dialog.
    /// </summary>
    public IReadOnlyList<ConversationDialog> Dialogs { get; init; } = [];

    /// <summary>
    /// The recording this one probably duplicates: its INVITE relayed that call's, but its media could not be matched
    /// (transcoded, or unseen on the other side), so both were kept; they share <see cref="InteractionId"/>.
    /// </summary>
    public string? CopyOf { get; init; }

    /// <summary>The recording of the call this one was transferred from (the REFER's dialog); shares its <see cref="InteractionId"/>.</summary>
    public string? TransferredFrom { get; init; }

    /// <summary>End-of-call quality as the phones reported it (Skinny ConnectionStatisticsRes).</summary>
    public IReadOnlyList<EndpointQuality> Quality { get; init; } = [];
}

/// <summary>One phone's own statistics for a call's media, as it reported them at the end.</summary>
public sealed record EndpointQuality(string Device, string? Extension, long PacketsSent, long PacketsReceived, long PacketsLost, int JitterMs, int LatencyMs);
