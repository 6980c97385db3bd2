using System.Collections.Concurrent;
using Capture.Calls;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Tests.Support;

namespace Capture.Tests.Pipeline;

/// <summary>
/// Live capture never waits for a worker: a real capture fed as fast as the test can (far faster than a worker encoding
/// at complexity 10) into a 16-slot queue spools what the worker cannot take, in memory and on disk, and the recording
/// is the one a waiting replay makes; with a spool too small, what is dropped is counted in that call's sidecar.
/// </summary>
public sealed class SpoolPipelineTests : IDisposable
{
    // SIP_CALL_RTP_G711.pcap: one G.711 call (this Call-ID), 1439 RTP packets each way (tshark), about 600 KB of RTP;
    // and 3 packets of a stream no signalling claims (recorded as its own call).
    private const string Capture = "SIP_CALL_RTP_G711.pcap";
    private const string CallId = "12013223@200.57.7.195";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "spool-pipeline-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void LiveReplay_WithATinyQueueAndASlowWorker_SpoolsInMemoryAndOnDisk_AndRecordsWhatAWaitingReplayRecords()
    {
        var capture = CaptureReplay.ReadCapture(Capture);
        (List<CallSidecar> waitedCalls, IReadOnlyDictionary<string, long> waitedCounters) = Run(capture, "waited", live: false, memory: 256L << 20, disk: 0);
        (List<CallSidecar> spooledCalls, IReadOnlyDictionary<string, long> counters) = Run(capture, "spooled", live: true, memory: 128 << 10, disk: 64L << 20);
        CallSidecar waited = Assert.Single(waitedCalls, c => c.CallId == CallId);
        CallSidecar spooled = Assert.Single(spooledCalls, c => c.CallId == CallId);
        Assert.Equal(waitedCalls.Count, spooledCalls.Count);

        Assert.Equal(0, waitedCounters["spooled_packets"]);
        Assert.True(counters["spooled_packets"] > 1000, $"{counters["spooled_packets"]} packets spooled");
        Assert.True(counters["spool_disk_written_bytes"] > 128 << 10, $"{counters["spool_disk_written_bytes"]} bytes went to disk");
        Assert.Equal(0, counters["queue_drops"]);
        Assert.Equal(0, counters["queue_waits"]);
        Assert.Equal(0, counters["spool_memory_bytes"]);
        Assert.Equal(0, counters["spool_disk_bytes"]);

        Assert.Equal(1439, waited.Packets);
        Assert.Equal(1439, waited.DuplicatesDropped);
        Assert.Equal(waited.DuplicatesDropped, spooled.DuplicatesDropped);
        Assert.Equal(waited.Packets, spooled.Packets);
        Assert.Equal(waited.PacketsLost, spooled.PacketsLost);
        Assert.Equal(waited.MediaDurationSeconds, spooled.MediaDurationSeconds);
        Assert.Equal(waited.DurationSeconds, spooled.DurationSeconds);
        Assert.Equal(waited.EndReason, spooled.EndReason);
        Assert.Equal(waited.PacketsDropped, spooled.PacketsDropped);
        Assert.DoesNotContain(spooled.Events, e => e.Type == CallEventTypes.SpoolFull);
        Assert.Equal(
            new FileInfo(Path.Combine(_dir, "waited", waited.File!)).Length,
            new FileInfo(Path.Combine(_dir, "spooled", spooled.File!)).Length); // the same audio, encoded alike
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "spooled-spool"))); // the spool file goes with the pipeline
    }

    [Fact]
    public void LiveReplay_WithASpoolTooSmall_CountsTheDropsInTheCallsSidecar_WithAnEventWhenTheyHappened()
    {
        var capture = CaptureReplay.ReadCapture(Capture);
        (List<CallSidecar> calls, IReadOnlyDictionary<string, long> counters) = Run(capture, "dropped", live: true, memory: 128 << 10, disk: 0);
        CallSidecar call = Assert.Single(calls, c => c.CallId == CallId);

        long drops = call.PacketsDropped[CallEventTypes.SpoolFull];
        Assert.True(drops > 0, "the spool (two 64 KiB chunks, ~700 packets) overflowed");
        Assert.Equal(counters["queue_drops"], calls.Sum(c => c.PacketsDropped.GetValueOrDefault(CallEventTypes.SpoolFull))); // the global count is the calls' counts
        Assert.Equal(1439 * 2, call.Packets + call.DuplicatesDropped + drops); // each packet recorded or counted as dropped, none lost silently

        CallEventSidecar[] episodes = [.. call.Events.Where(e => e.Type == CallEventTypes.SpoolFull)];
        Assert.NotEmpty(episodes);
        Assert.Equal(drops, episodes.Sum(e => long.Parse(e.Detail!.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(episodes, e => Assert.True(e.DurationSeconds >= 0 && e.OffsetSeconds >= 0, $"{e.At} +{e.DurationSeconds} s"));
        Assert.All(episodes, e => Assert.True(e.OffsetSeconds + e.DurationSeconds <= call.DurationSeconds, "an episode lies within the call (capture time)"));
        Assert.Contains("\"spool-full\"", CallSidecar.Serialize(call), StringComparison.Ordinal);
    }

    /// <summary>The capture fed as fast as possible to one worker (encoding at complexity 10) behind a 16-slot queue.</summary>
    private (List<CallSidecar> Calls, IReadOnlyDictionary<string, long> Counters) Run((int LinkType, List<(long Ts, byte[] Frame)> Frames) capture, string name, bool live, long memory, long disk)
    {
        var results = new Results();
        var options = new PipelineOptions
        {
            Workers = 1,
            QueueCapacity = 16,
            WaitWhenQueueFull = !live,
            SpoolMemoryBytes = memory,
            SpoolDiskBytes = disk,
            SpoolDirectory = Path.Combine(_dir, name + "-spool"),
        };
        IReadOnlyDictionary<string, long> counters;
        using (var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = Path.Combine(_dir, name), Complexity = 10 }, options, results: results))
        {
            foreach ((long ts, byte[] frame) in capture.Frames)
            {
                pipeline.ProcessFrame(capture.LinkType, ts, frame);
            }

            Assert.True(pipeline.Complete());
            counters = pipeline.Snapshot();
        }

        Assert.Empty(results.Errors);
        return ([.. results.Calls], counters);
    }

    private sealed class Results : ICallResultSink
    {
        public ConcurrentBag<CallSidecar> Calls { get; } = [];

        public ConcurrentBag<string> Errors { get; } = [];

        public void OnCallFinished(CallSidecar sidecar) => Calls.Add(sidecar);

        public void OnRecordingError(string recordingId, Exception error) => Errors.Add($"{recordingId}: {error}");
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
