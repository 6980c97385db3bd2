using Capture.Recording;

namespace Capture.Pipeline;

/// <summary>
/// Where signalling trackers send what they learn about calls. The pipeline's implementation queues each
/// call's commands to the worker that owns the call, in order; tests may apply them inline.
/// </summary>
public interface ICallSink
{
    void CallStarted(CallRecording call, long atNs);

    void MetadataChanged(CallRecording call, CallMetadata metadata);

    void PayloadMapChanged(CallRecording call, Channel channel, PayloadMap map);

    void CallEvent(CallRecording call, string type, long atNs, string? detail);

    void CallEnded(CallRecording call, string reason, long atNs);
}
