using Capture.Calls;
using Capture.Rtp;

namespace Capture.Tests.Support;

/// <summary>Keeps what a protocol tracker tells the pipeline through the call book (a test double of <see cref="ICallSink"/>).</summary>
internal sealed class RecordingSink : ICallSink
{
    /// <summary>What the sink was told of one call (the handle itself is reused once the call ended).</summary>
    public sealed class Started(Call call)
    {
        public string Id { get; } = call.Id;
        public CallMetadata Metadata { get; set; } = call.Metadata;
    }

    public List<Started> Calls { get; } = [];
    public List<(string Reason, long At)> Ended { get; } = [];
    public List<(string Type, string? Detail)> Events { get; } = [];

    public void CallStarted(Call call, long atNs) => Calls.Add(new Started(call));

    public int MetadataChanges { get; private set; }

    public void MetadataChanged(Call call)
    {
        Calls.Single(c => c.Id == call.Id).Metadata = call.Metadata;
        MetadataChanges++;
    }

    public void PayloadMapChanged(Call call, Channel speaker, PayloadMap map)
    {
    }

    public void CallEvent(Call call, string type, long atNs, string? detail) => Events.Add((type, detail));

    public void CallEnded(Call call, string reason, long atNs) => Ended.Add((reason, atNs));
}
