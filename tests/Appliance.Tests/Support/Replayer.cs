using System.Collections.Concurrent;
using Capture.Interop;
using Capture.Pipeline;
using Capture.Recording;

namespace Appliance.Tests.Support;

/// <summary>Replays a capture through the real pipeline into a temporary folder and collects the sidecars.</summary>
public sealed class Replayer : ICallResultSink, IDisposable
{
    private readonly ConcurrentQueue<CallSidecar> _calls = new();

    public Replayer()
    {
        OutputDirectory = Path.Combine(Path.GetTempPath(), "appliance-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(OutputDirectory);
    }

    public string OutputDirectory { get; }

    public List<CallSidecar> Calls => [.. _calls.OrderBy(c => c.StartedAt)];

    public ConcurrentQueue<string> Errors { get; } = new();

    public IReadOnlyDictionary<string, long> Counters { get; private set; } = new Dictionary<string, long>();

    public Replayer Run(string capture, int workers = 2, Action<PipelineOptions>? configure = null)
    {
        using PcapSource source = PcapSource.OpenOffline(capture);
        var options = new PipelineOptions { Workers = workers };
        configure?.Invoke(options);
        using var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = OutputDirectory }, options, results: this);
        pipeline.Run(source);
        pipeline.Complete();
        Counters = pipeline.Snapshot();
        return this;
    }

    public string PathOf(CallSidecar call) => Path.Combine(OutputDirectory, call.File ?? throw new InvalidOperationException($"call {call.CallId} has no recording"));

    public DecodedAudio Decode(CallSidecar call) => DecodedAudio.Decode(PathOf(call));

    public void OnCallFinished(CallSidecar sidecar) => _calls.Enqueue(sidecar);

    public void OnRecordingError(string recordingId, Exception error) => Errors.Enqueue($"{recordingId}: {error}");

    public void Dispose()
    {
        try
        {
            Directory.Delete(OutputDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
