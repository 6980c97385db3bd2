using Capture.Bindings;
using Capture.Recording;

namespace Capture.Pipeline;

/// <summary>DESIGN section 2, logout during a call: the same for every signalling protocol's calls.</summary>
public static class CallLogout
{
    /// <summary>
    /// When <paramref name="logout"/> ended the login one of the call's parties was attributed to, marks the call with a
    /// "logout" event and, under <see cref="LogoutPolicy.Stop"/>, ends its recording there (the call itself is still
    /// followed, unrecorded). Returns true when the recording was stopped.
    /// </summary>
    public static bool Apply(ICallSink sink, CallRecording recording, PartyBinding?[] bindings, DirectoryEvent logout, LogoutPolicy policy)
    {
        if (logout.LoginSeq is not { } seq || recording.Suppressed || (bindings[0]?.LoginSeq != seq && bindings[1]?.LoginSeq != seq))
        {
            return false;
        }

        long atNs = (logout.At - DateTimeOffset.UnixEpoch).Ticks * 100;
        sink.CallEvent(recording, "logout", atNs, $"{logout.User} logged out of {logout.HostDevice} ({logout.Detail}); policy {(policy == LogoutPolicy.Stop ? "stop" : "continue")}");
        if (policy != LogoutPolicy.Stop)
        {
            return false;
        }

        sink.CallEnded(recording, CallEndReasons.Logout, atNs);
        recording.Suppressed = true;
        return true;
    }
}
