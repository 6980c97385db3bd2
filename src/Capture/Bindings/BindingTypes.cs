using Capture.Bindings.Config;

namespace Capture.Bindings;

/// <summary>Where a device's line came from.</summary>
public enum LineSource
{
    /// <summary>The administrator's configuration (a static device, or the home set before any signalling).</summary>
    Configured,

    /// <summary>A SIP REGISTER accepted with a 2xx (or seen without an answer).</summary>
    Registered,

    /// <summary>Another SIP message the device sent (a phone whose REGISTER the capture never saw).</summary>
    Signalling,

    /// <summary>Skinny LineStatRes or CallInfo on a line.</summary>
    Skinny,
}

/// <summary>One line appearance of a device: line number (1 = primary), extension exactly as signalled.</summary>
public sealed record LineBinding(int Number, string Extension, string? DisplayName, LineSource Source, DateTimeOffset? ExpiresAt)
{
    /// <summary>Line 1 of this device, but another device held the extension as line 1 first (DESIGN section 2).</summary>
    public bool Conflict { get; init; }
}

/// <summary>How a user came to be logged in at a device.</summary>
public enum LoginKind
{
    /// <summary>Extension mobility: the device's extension set became a profile's set.</summary>
    Mobility,

    /// <summary>A visiting (phantom) device whose set matches a cross-cluster profile.</summary>
    CrossCluster,

    /// <summary>Hot desking through the API (or a library call).</summary>
    Explicit,
}

/// <summary>
/// One login, open (<see cref="Until"/> null) or closed. The host is the physical device; the guest is the extension
/// set the user brought (the profile's set, or the device's lines for an explicit login).
/// </summary>
public sealed record LoginEntry(long Seq, string HostDevice, string User, string? Profile, LoginKind Kind, IReadOnlyList<string> Guest, DateTimeOffset Since)
{
    public DateTimeOffset? Until { get; init; }

    /// <summary>Why it ended: see <see cref="LogoutReasons"/>.</summary>
    public string? EndReason { get; init; }

    public bool IsOpen => Until is null;

    /// <summary>Whether the login covered the instant <paramref name="at"/>.</summary>
    public bool Covers(DateTimeOffset at) => Since <= at && (Until is null || at < Until);
}

/// <summary>Values of <see cref="LoginEntry.EndReason"/>.</summary>
public static class LogoutReasons
{
    /// <summary>The device's extension set no longer matches the profile.</summary>
    public const string SetChanged = "set-changed";

    /// <summary>Another profile or user logged in at the same device.</summary>
    public const string Replaced = "replaced";

    /// <summary>The same user (or profile) logged in at another device.</summary>
    public const string Moved = "moved";

    /// <summary>Explicit logout at the device.</summary>
    public const string Logout = "logout";

    /// <summary>Logout of the user wherever they were.</summary>
    public const string RemoteLogout = "remote-logout";

    public const string Scheduled = "scheduled";
    public const string Idle = "idle";

    /// <summary>The device unregistered (or its registrations expired).</summary>
    public const string Unregistered = "unregistered";

    /// <summary>The configuration no longer has the user or profile.</summary>
    public const string Reconfigured = "reconfigured";
}

/// <summary>
/// A device as the directory knows it now: an immutable snapshot, replaced whenever the device changes, so readers on
/// any thread never see half an update.
/// </summary>
/// <summary>What showed an address to be infrastructure rather than a phone.</summary>
public enum ServerEvidence : byte
{
    /// <summary>Named in the configuration's <c>servers</c>.</summary>
    Configured,

    /// <summary>Phones send it REGISTERs: a registrar (or a proxy in front of one).</summary>
    ReceivesRegisters,

    /// <summary>It sends requests with more than one Via: a proxy forwarding them.</summary>
    ForwardsRequests,

    /// <summary>It sends on an INVITE from a caller it just received one from: a back-to-back user agent (PBX, SBC).</summary>
    RelaysCalls,

    /// <summary>Skinny phones register with it: a CallManager.</summary>
    CallManager,
}

/// <summary>An infrastructure address: never a phone, never a line's owner, never a party's device.</summary>
/// <param name="Port">Null for a configured address (every port).</param>
public sealed record ServerBinding(string Ip, int? Port, ServerEvidence Evidence);

public sealed record DeviceBinding(string Id, DeviceProtocol Protocol, IReadOnlyList<string> Ips, IReadOnlyList<LineBinding> Lines)
{
    /// <summary>The administrator configured it (as opposed to learned only from traffic).</summary>
    public bool Configured { get; init; }

    /// <summary>A visiting cross-cluster device, disposed when it unregisters.</summary>
    public bool Phantom { get; init; }

    /// <summary>Has live registrations (SIP) or registered (Skinny); false for configured-only devices.</summary>
    public bool Registered { get; init; }

    public string? Name { get; init; }
    public string? Site { get; init; }
    public string? RecordingGroup { get; init; }
    public string? HotelingAgent { get; init; }
    public string? Contact { get; init; }
    public string? UserAgent { get; init; }
    public DateTimeOffset? FirstSeen { get; init; }
    public DateTimeOffset? LastSeen { get; init; }

    /// <summary>Who is logged in now, if anyone.</summary>
    public LoginEntry? Login { get; init; }

    /// <summary>Configured (home) extensions, in line order.</summary>
    public IReadOnlyList<string> ConfiguredExtensions { get; init; } = [];
}

/// <summary>A second device claiming an extension as line 1 while another holds it (DESIGN section 2).</summary>
public sealed record LineConflict(long Seq, string Extension, string Holder, string Claimant, DateTimeOffset Since)
{
    public DateTimeOffset? ResolvedAt { get; init; }

    /// <summary>How it ended: the holder released the line ("holder-released") or the claimant withdrew ("withdrawn").</summary>
    public string? Resolution { get; init; }

    public bool IsOpen => ResolvedAt is null;
}

/// <summary>The answer to "where is this extension / user?": host and guest named together.</summary>
public sealed record Location(bool Found, bool LoggedIn)
{
    public string? Extension { get; init; }
    public string? User { get; init; }
    public string? Profile { get; init; }

    /// <summary>The physical device.</summary>
    public string? HostDevice { get; init; }

    /// <summary>The logged-in user's extensions at the host.</summary>
    public IReadOnlyList<string> Guest { get; init; } = [];

    public IReadOnlyList<string> Ips { get; init; } = [];
    public DateTimeOffset? Since { get; init; }
    public LoginKind? Kind { get; init; }
}

/// <summary>Who a call's party is, as the directory saw it at the call's start.</summary>
public sealed record PartyBinding(string Device, string HostDevice)
{
    /// <summary>The device's first line (learned, else configured): names a party known only by its address.</summary>
    public string? Extension { get; init; }

    /// <summary>The logged-in user, else the device's default hoteling agent, else null.</summary>
    public string? User { get; init; }

    public string? Profile { get; init; }

    /// <summary>The login in force (null for a hoteling agent or nobody).</summary>
    public long? LoginSeq { get; init; }

    /// <summary>mobility, cross-cluster or explicit: how the user logged in (null for a hoteling agent or nobody).</summary>
    public string? LoginKind { get; init; }

    /// <summary>The user is the device's default hoteling agent (nobody logged in).</summary>
    public bool HotelingAgent { get; init; }

    public string? RecordingGroup { get; init; }

    /// <summary>Whether the recording groups say this party's calls are recorded.</summary>
    public bool Record { get; init; }
}

public enum DirectoryEventKind
{
    DeviceRegistered,
    DeviceUnregistered,

    /// <summary>A known device was seen at a new IP (DHCP) and re-bound.</summary>
    DeviceMoved,

    /// <summary>
    /// A device was removed: a phantom cross-cluster device after it unregistered, or a device learned from a server's
    /// messages.
    /// </summary>
    DeviceDisposed,
    LinesChanged,
    LoginEstablished,
    LoginCancelled,
    ConflictDetected,
    ConflictResolved,
}

/// <summary>One change in the directory. Host and guest are named on every event that concerns a login.</summary>
public sealed record DirectoryEvent(long Seq, DirectoryEventKind Kind, DateTimeOffset At, string Device)
{
    public string? HostDevice { get; init; }
    public string? User { get; init; }
    public string? Profile { get; init; }
    public IReadOnlyList<string>? Guest { get; init; }
    public string? Extension { get; init; }
    public IReadOnlyList<string>? Extensions { get; init; }
    public string? Ip { get; init; }
    public string? Detail { get; init; }
    public long? LoginSeq { get; init; }
}

/// <summary>Result of a directory operation asked for by an administrator or user (the API maps it to HTTP).</summary>
public enum DirectoryStatus
{
    Ok,
    NotFound,
    Invalid,
    Forbidden,
    Conflict,
}

public readonly record struct DirectoryOutcome(DirectoryStatus Status, string? Problem = null)
{
    public bool Ok => Status == DirectoryStatus.Ok;

    public static DirectoryOutcome Success { get; } = new(DirectoryStatus.Ok);

    public static DirectoryOutcome NotFound(string problem) => new(DirectoryStatus.NotFound, problem);

    public static DirectoryOutcome Invalid(string problem) => new(DirectoryStatus.Invalid, problem);

    public static DirectoryOutcome Forbidden(string problem) => new(DirectoryStatus.Forbidden, problem);
}
