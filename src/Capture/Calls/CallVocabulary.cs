namespace Capture.Calls;

/// <summary>Values of the sidecar's endReason.</summary>
public static class CallEndReasons
{
    /// <summary>A BYE ended an answered call.</summary>
    public const string Bye = "bye";

    /// <summary>A phone went on-hook and ended an answered Skinny call.</summary>
    public const string Hangup = "hangup";

    /// <summary>The caller cancelled before an answer.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The call was refused with a final error response (the code is in signalledEnd's event).</summary>
    public const string Rejected = "rejected";

    /// <summary>Neither signalling nor media was seen for the configured time.</summary>
    public const string Timeout = "timeout";

    /// <summary>The capture ended (end of file, or shutdown) while the call was open.</summary>
    public const string CaptureEnded = "capture-ended";

    /// <summary>The call was answered but no RTP of a recordable codec was seen.</summary>
    public const string NoMedia = "no-media";

    /// <summary>The party's user logged out during the call under the <c>stop</c> policy: recording ended there.</summary>
    public const string Logout = "logout";

    /// <summary>
    /// The appliance stopped without finalising the call (killed, power lost): the sidecar was rebuilt at the next start
    /// from the audio file, which plays up to about the last second written.
    /// </summary>
    public const string Interrupted = "interrupted";
}

/// <summary>Types of the events a call's sidecar and event stream carry, one vocabulary for every protocol.</summary>
public static class CallEventTypes
{
    /// <summary>The call was answered (SIP 2xx to the INVITE, Skinny Connected).</summary>
    public const string Answered = "answered";

    /// <summary>A provisional response carried the callee's media before the answer (the detail is the status code).</summary>
    public const string EarlyMedia = "early-media";

    /// <summary>A party put the call on hold (the detail says which: caller/callee, or the Skinny device).</summary>
    public const string Hold = "hold";

    public const string Resume = "resume";

    /// <summary>A party switched the call to T.38 fax (media no longer audio).</summary>
    public const string T38 = "t38";

    /// <summary>The T.38 offer was refused (488): audio goes on.</summary>
    public const string T38Refused = "t38-refused";

    public const string T38Ended = "t38-ended";

    public const string Transfer = "transfer";

    /// <summary>A conference, join or meet-me started from this call.</summary>
    public const string Conference = "conference";

    public const string Park = "park";

    /// <summary>A DTMF digit sent in signalling (Skinny KeypadButton); the detail is the digit. Goes to the sidecar's dtmf list.</summary>
    public const string Dtmf = "dtmf";

    /// <summary>
    /// A party's SDP offered or chose secure RTP (RTP/SAVP, DTLS-SRTP): its media is encrypted, so the mirror cannot
    /// record it; the packets are counted (<c>packetsDropped.encrypted</c>), not decoded into noise. The detail is the profile.
    /// </summary>
    public const string EncryptedMedia = "encrypted-media";

    /// <summary>
    /// The signalling of a call recorded from its RTP alone was seen (a SIP INVITE whose SDP names its media): from here
    /// the recording carries that call's id and parties; the detail names the protocol.
    /// </summary>
    public const string Signalled = "signalled";

    /// <summary>A party's login ended during the call (DESIGN section 2, logout during a call).</summary>
    public const string Logout = "logout";

    /// <summary>
    /// The call's media had timestamps far from their neighbours (placed with them) or a gap longer than the longest
    /// silence filled (cut); the detail counts both and the seconds cut.
    /// </summary>
    public const string MediaTimeJumps = "media-time-jumps";

    /// <summary>
    /// Audio that could not be written (the recordings disk was full or failing): the event's offset is where the lost
    /// span starts in the call's media, its durationSeconds how much was lost; the file leaves that span out (it plays
    /// the audio before and after it back to back), so the recording is incomplete.
    /// </summary>
    public const string WriteFailed = "write-failed";

    /// <summary>
    /// The call's packets were dropped because its media worker was behind and the spool (memory and disk) was full:
    /// the event's offset is when dropping started, its durationSeconds how long it lasted, the detail how many; the
    /// same name is the reason under <c>packetsDropped</c>. Live capture only (a replay waits).
    /// </summary>
    public const string SpoolFull = "spool-full";

    /// <summary>
    /// The recording was paused (PCI DSS: a card number is read): from here both channels of the file are silence, the
    /// audio is neither encoded nor written. The event's <c>by</c> names who paused it (an API token or session).
    /// </summary>
    public const string Pause = "pause";

    /// <summary>
    /// The pause ended: audio is written again from here. <c>by</c> names who resumed it, or <see cref="CallPause.AutomaticAtEnd"/>
    /// when the call ended while paused. Not <c>resume</c>: that name is the end of a hold.
    /// </summary>
    public const string PauseEnd = "pause-end";
}

/// <summary>Pausing a call's recording (PCI DSS).</summary>
public static class CallPause
{
    /// <summary>Who ended a pause that was still on when the call ended.</summary>
    public const string AutomaticAtEnd = "automatic: call ended";
}

/// <summary>How a party's user came to be at its device, beside the directory's login kinds (mobility, cross-cluster, explicit).</summary>
public static class LoginKinds
{
    /// <summary>Nobody logged in: the device's default hoteling agent is named.</summary>
    public const string HotelingAgent = "hoteling-agent";
}
