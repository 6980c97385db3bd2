using System.Collections.Concurrent;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Pipeline;
using Capture.Recording;

namespace Appliance.Tests;

/// <summary>Stopping with work still queued: bounded, never two threads on one recording, every open call finalised.</summary>
public sealed class ShutdownTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("appl-shutdown-").FullName;

    [Fact]
    public void OutOfTime_TheWorkerStops_AndTheOpenRecordingIsFinalisedAsFarAsWritten()
    {
        (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"));
        var results = new Results();
        var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = _dir }, new PipelineOptions { Workers = 1 }, results: results);
        foreach ((long ns, byte[] frame) in frames.Take(frames.Count - 40)) // the call without its end: it is still open
        {
            pipeline.ProcessFrame(link, ns, frame);
        }

        // Something written before the stop (on a loaded box the worker thread may not have run yet: the recording would
        // then rightly have no media), and tens of milliseconds of encoding still queued; it gets one.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (pipeline.Snapshot()["rtp_packets_processed"] == 0 && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(1);
        }

        bool finished = pipeline.Complete(CallEndReasons.CaptureEnded, TimeSpan.FromMilliseconds(1));
        pipeline.Dispose();

        Assert.False(finished);
        Assert.Empty(results.Errors);
        CallSidecar call = Assert.Single(results.Calls);
        Assert.Equal(CallEndReasons.CaptureEnded, call.EndReason);
        Assert.NotNull(call.File);
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(_dir, call.File));
        Assert.InRange(audio.DurationSeconds, 0, call.DurationSeconds + 0.1); // what was written, never more than the call
        Assert.InRange(audio.DurationSeconds, call.MediaDurationSeconds - 0.1, call.MediaDurationSeconds + 0.1);
    }

    [Fact]
    public void WithoutALimit_CompleteWaitsForEveryRecording()
    {
        (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"));
        var results = new Results();
        using var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = _dir }, new PipelineOptions { Workers = 1 }, results: results);
        foreach ((long ns, byte[] frame) in frames)
        {
            pipeline.ProcessFrame(link, ns, frame);
        }

        Assert.True(pipeline.Complete());
        CallSidecar call = Assert.Single(results.Calls);
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Equal(call.Packets, pipeline.Snapshot()["media_packets"]);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Results : ICallResultSink
    {
        public ConcurrentQueue<CallSidecar> Calls { get; } = new();

        public ConcurrentQueue<string> Errors { get; } = new();

        public void OnCallFinished(CallSidecar sidecar) => Calls.Enqueue(sidecar);

        public void OnRecordingError(string recordingId, Exception error) => Errors.Enqueue($"{recordingId}: {error}");
    }
}
