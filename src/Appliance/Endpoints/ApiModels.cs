using Appliance.Service;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;
using Capture.Recording;

namespace Appliance.Endpoints;

/// <summary>A device as the directory knows it now (learned and/or configured), with its configuration if it has one.</summary>
public sealed record DeviceView(
    string Id,
    DeviceProtocol Protocol,
    IReadOnlyList<string> Ips,
    IReadOnlyList<LineBinding> Lines,
    bool Configured,
    bool Phantom,
    bool Registered,
    string? Name,
    string? Site,
    string? RecordingGroup,
    string? HotelingAgent,
    string? Contact,
    string? UserAgent,
    DateTimeOffset? FirstSeen,
    DateTimeOffset? LastSeen,
    LoginEntry? Login,
    IReadOnlyList<string> ConfiguredExtensions,
    DeviceConfig? Configuration)
{
    public static DeviceView From(DeviceBinding d, DeviceConfig? configuration) => new(
        d.Id, d.Protocol, d.Ips, d.Lines, d.Configured, d.Phantom, d.Registered, d.Name, d.Site, d.RecordingGroup,
        d.HotelingAgent, d.Contact, d.UserAgent, d.FirstSeen, d.LastSeen, d.Login, d.ConfiguredExtensions, configuration);

    /// <summary>In a cluster: the other appliance that learned this device from its traffic (null: this appliance's own).</summary>
    public string? Appliance { get; init; }

    /// <summary>Another appliance's learned device (README "Cluster"): its site is that appliance's.</summary>
    public static DeviceView From(Cluster.SharedDevice d) => new(
        d.Id, d.Protocol, d.Ips, d.Lines, false, false, d.Registered, null, d.Site, null, null, d.Contact, d.UserAgent,
        d.FirstSeen, d.LastSeen, null, [], null) { Appliance = d.Appliance };

    /// <summary>A configured device the directory has not (yet) built a binding for.</summary>
    public static DeviceView From(DeviceConfig c) => new(
        c.Id, c.Protocol, c.Ips, [], true, false, false, c.Name, c.Site, c.RecordingGroup, c.HotelingAgent, null, null,
        null, null, null, c.Extensions, c);
}

/// <summary>A configured user. The PIN is write-only: only whether there is one is shown.</summary>
public sealed record UserView(
    string Id,
    string? Name,
    bool External,
    string? RecordingGroup,
    bool HasPin,
    bool WaitingForSeat,
    IReadOnlyList<string> Profiles,
    Location? Location)
{
    /// <summary>Properties a client may send back from a GET that are not part of the configuration (ignored on PUT).</summary>
    internal static readonly string[] ReadOnlyProperties = ["hasPin", "waitingForSeat", "profiles", "location"];
}

/// <summary>POST /api/logins: log <see cref="User"/> in at <see cref="Device"/> (hot desking).</summary>
public sealed record LoginRequest(string? User, string? Device, string? Pin, bool Replace = false);

/// <summary>POST /api/logins/logout-all: log out every explicit login of users in <see cref="Scope"/>.</summary>
/// <summary>The scope is required: an empty body must not log everyone out.</summary>
public sealed record LogoutAllRequest(UserScope? Scope);

public sealed record LogoutAllResult(int LoggedOut);

/// <summary>A call in progress.</summary>
public sealed record CallView(
    string Id,
    string Protocol,
    string CallId,
    DateTimeOffset StartedAt,
    DateTimeOffset? AnsweredAt,
    PartyInfo Left,
    PartyInfo Right,
    IReadOnlyList<string> Codecs)
{
    /// <summary>The recording is paused (PCI DSS): both channels are silence until it is resumed or the call ends.</summary>
    public bool Paused { get; init; }

    /// <summary>Who paused it (token or session name), while paused; else null.</summary>
    public string? PausedBy { get; init; }

    /// <summary>Since when (capture time), while paused; else null.</summary>
    public DateTimeOffset? PausedAt { get; init; }

    public static CallView From(string id, CallMetadata m) =>
        new(id, m.Protocol, m.CallId, m.StartedAt, m.AnsweredAt, m.Left, m.Right, m.Codecs);

    public static CallView From(ActiveCall call) =>
        From(call.RecordingId, call.Metadata) with { Paused = call.Paused, PausedBy = call.PausedBy, PausedAt = call.PausedAt };
}

/// <summary>One recording in a search result (the sidecar's summary; GET /api/recordings/{id} returns the whole sidecar).</summary>
public sealed record RecordingSummary(
    string Id,
    string Protocol,
    string CallId,
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt,
    double DurationSeconds,
    double MediaDurationSeconds,
    IReadOnlyList<PartySidecar> Parties,
    IReadOnlyList<string> Codecs,
    string EndReason,
    bool HasAudio)
{
    /// <summary>Every Call-ID the recording covers (the sidecar's <c>callIds</c>): a search by Call-ID finds each.</summary>
    public IReadOnlyList<string> CallIds { get; init; } = [];

    /// <summary>Under legal hold (PUT /api/recordings/{id}/hold): retention never deletes it. Kept by the index, not the sidecar.</summary>
    public bool LegalHold { get; init; }

    /// <summary>The appliance holding the recording (a search of the central index, README "Cluster"); null on a single box.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Appliance { get; init; }

    /// <summary>The site of the appliance holding it (with <see cref="Appliance"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Site { get; init; }

    public static RecordingSummary From(CallSidecar s) => new(
        s.Id, s.Protocol, s.CallId, s.StartedAt, s.EndedAt, s.DurationSeconds, s.MediaDurationSeconds, s.Parties,
        s.Codecs, s.EndReason, s.File is not null) { CallIds = s.CallIds };
}

/// <summary>
/// A page of recordings in the order asked (newest first by default). <see cref="Indexing"/>: the index is being built
/// or reconciled, older recordings may be missing. <see cref="Next"/>: pass as <c>after</c> for the next page; null on the last.
/// </summary>
public sealed record RecordingList(IReadOnlyList<RecordingSummary> Items, int Count, bool Indexing, string? Next = null)
{
    /// <summary>What was searched: "local" (this appliance's index) or "estate" (the central index, README "Cluster"); null on a single box.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Scope { get; init; }
}

/// <summary>
/// A call or recording event on the event stream (call.started, call.ended, call.paused, call.resumed, recording.written,
/// recording.failed, recording.held, recording.released, recording.deleted).
/// </summary>
public sealed record CallEventView(string Kind, string RecordingId, DateTimeOffset At, CallView? Call, string? Reason, RecordingSummary? Recording)
{
    /// <summary>
    /// Who paused or resumed the call, or held or released the recording (the token or session name); who deleted it
    /// (<c>retention</c>); else null.
    /// </summary>
    public string? By { get; init; }
}
