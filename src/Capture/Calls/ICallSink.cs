using Capture.Rtp;

namespace Capture.Calls;

/// <summary>
/// Where the <see cref="CallBook"/> sends what happens to recorded calls (never to calls that are not recorded). The
/// pipeline's implementation routes each call to the media worker that owns it, in order; tests may just keep it.
/// Capture thread, at signalling rate.
/// </summary>
public interface ICallSink
{
    /// <summary>A recorded call started; the sink may set <see cref="Call.Route"/>.</summary>
    void CallStarted(Call call, long atNs);

    /// <summary><see cref="Call.Metadata"/> is a new snapshot.</summary>
    void MetadataChanged(Call call);

    /// <summary>What the payload types of <paramref name="speaker"/>'s packets mean from now on.</summary>
    void PayloadMapChanged(Call call, Channel speaker, PayloadMap map);

    void CallEvent(Call call, string type, long atNs, string? detail);

    /// <summary>The recording ends (the call ended, or a logout stopped its recording); nothing follows for it.</summary>
    void CallEnded(Call call, string reason, long atNs);
}
