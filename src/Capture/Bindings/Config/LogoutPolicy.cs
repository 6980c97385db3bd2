namespace Capture.Bindings.Config;

/// <summary>What happens to a user's recording when they are logged out during a call (JSON <c>"continue"</c> / <c>"stop"</c>).</summary>
public enum LogoutPolicy
{
    /// <summary>Keep recording to the call's end and mark the logout in the metadata (our default).</summary>
    Continue,

    /// <summary>End that user's recording at the logout, as commercial recorders do.</summary>
    Stop,
}
