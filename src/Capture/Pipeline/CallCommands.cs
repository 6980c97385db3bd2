using Capture.Calls;
using Capture.Recording;
using Capture.Rtp;

namespace Capture.Pipeline;

/// <summary>Signalling news for one call, queued to its worker in order. Made at signalling rate, never per packet.</summary>
internal abstract class CallCommand(CallRecording recording)
{
    public CallRecording Recording { get; } = recording;
}

internal sealed class CallStartCommand(CallRecording call) : CallCommand(call);

internal sealed class MetadataCommand(CallRecording call, CallMetadata metadata) : CallCommand(call)
{
    public CallMetadata Metadata { get; } = metadata;
}

internal sealed class PayloadMapCommand(CallRecording call, Channel channel, PayloadMap map) : CallCommand(call)
{
    public Channel Channel { get; } = channel;
    public PayloadMap Map { get; } = map;
}

internal sealed class EventCommand(CallRecording call, string type, long atNs, string? detail) : CallCommand(call)
{
    public string Type { get; } = type;
    public long AtNs { get; } = atNs;
    public string? Detail { get; } = detail;
}

/// <summary>Packets of the call dropped because its worker's ring and spool were full, from one time to another (capture time).</summary>
internal sealed class SpoolDropsCommand(CallRecording call, long packets, long fromNs, long toNs) : CallCommand(call)
{
    public long Packets { get; } = packets;
    public long FromNs { get; } = fromNs;
    public long ToNs { get; } = toNs;
}

/// <summary>Pause (or resume, <paramref name="paused"/> false) the call's recording at capture time <paramref name="atNs"/>, by <paramref name="by"/>.</summary>
internal sealed class PauseCommand(CallRecording call, bool paused, long atNs, string by) : CallCommand(call)
{
    public bool Paused { get; } = paused;
    public long AtNs { get; } = atNs;
    public string By { get; } = by;
}

internal sealed class EndCommand(CallRecording call, string reason, long atNs) : CallCommand(call)
{
    public string Reason { get; } = reason;
    public long AtNs { get; } = atNs;
}

/// <summary>Receives each finished call's sidecar (on a worker thread).</summary>
public interface ICallResultSink
{
    void OnCallFinished(CallSidecar sidecar);

    void OnRecordingError(string recordingId, Exception error);
}
