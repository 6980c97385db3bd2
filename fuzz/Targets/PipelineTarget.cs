using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Interop;
using Capture.Pipeline;
using Capture.Recording;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>
/// The whole appliance on a mutated pcap file (headers, link type, record timestamps and lengths included): libpcap
/// reads it, <see cref="CapturePipeline"/> decodes, reassembles, learns into a <see cref="BindingDirectory"/>, follows SIP
/// and Skinny calls and records them inline (no worker threads), then completes. A recording error is a finding.
/// </summary>
internal sealed class PipelineTarget : FuzzTarget, ICallResultSink, IDisposable
{
    private readonly string _directory = FuzzPaths.ScratchDirectory("pipeline");
    private readonly string _file;
    private readonly string _recordings;
    private Exception? _recordingError;

    public PipelineTarget()
    {
        _file = Path.Combine(_directory, "input.pcap");
        _recordings = Path.Combine(_directory, "recordings");
    }

    public override string Name => "pipeline";

    public override string Description => "a pcap file (timestamps included) through libpcap and CapturePipeline with a directory: decoding, TCP, SIP, Skinny, calls, recordings";

    public override int MaxInputLength => 64 * 1024;

    public override void Execute(ReadOnlySpan<byte> input)
    {
        File.WriteAllBytes(_file, input);
        PcapSource source;
        try
        {
            source = PcapSource.OpenOffline(_file);
        }
        catch (PcapException)
        {
            return; // libpcap refuses the file header: the CLI reports it as an unreadable file (exit 2)
        }

        _recordingError = null;
        using (source)
        using (BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.FromUnixTimeSeconds(1_600_000_000)))
        using (var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = _recordings, Complexity = 0 }, new PipelineOptions { Workers = 0 }, results: this, directory: directory))
        {
            _ = pipeline.Run(source);
            Invariant.Check(pipeline.Complete(), "an inline pipeline always finishes its recordings");
        }

        if (Directory.Exists(_recordings))
        {
            Directory.Delete(_recordings, recursive: true);
        }

        if (_recordingError is { } error)
        {
            throw new InvalidOperationException("a recording failed", error);
        }
    }

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus) => corpus.SmallPcaps;

    public void OnCallFinished(CallSidecar sidecar)
    {
    }

    public void OnRecordingError(string recordingId, Exception error) => _recordingError ??= error;

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
