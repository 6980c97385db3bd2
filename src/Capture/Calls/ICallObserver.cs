namespace Capture.Calls;

/// <summary>
/// Told about recorded calls as the signalling sees them (active-call lists, event streams). Called on the capture
/// thread at signalling rate (never per RTP packet); implementations must be quick and thread-safe towards their readers.
/// </summary>
public interface ICallObserver
{
    void CallStarted(string recordingId, CallMetadata metadata, long atNs);

    void CallUpdated(string recordingId, CallMetadata metadata);

    /// <summary>
    /// The call's recording was paused (<paramref name="paused"/>) or resumed at capture time <paramref name="atNs"/> by
    /// <paramref name="by"/> (a pause still on at the end is closed by the end: no call here, <see cref="CallEnded"/> says it).
    /// </summary>
    void CallPauseChanged(string recordingId, bool paused, long atNs, string by)
    {
    }

    /// <summary>The call ended (or stopped being recorded); its sidecar follows from the worker.</summary>
    void CallEnded(string recordingId, string reason, long atNs);
}
