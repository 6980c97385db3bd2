using System.Diagnostics;
using Appliance.Metrics;
using Appliance.Service;
using Appliance.Tests.Support;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Diagnostics;
using Capture.Interop;
using Capture.Pipeline;

namespace Appliance.Tests.Service;

/// <summary>The appliance's metrics read the pipelines at scrape time: replaying real captures moves them.</summary>
public sealed class ApplianceMetricsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appl-metrics-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("frames", CounterKind.Event)]
    [InlineData("tcp_segments_skipped", CounterKind.Event)]
    [InlineData("skinny_messages", CounterKind.Event)]
    [InlineData("sip_calls_over_limit", CounterKind.Limit)]
    [InlineData("tcp_flows_over_limit", CounterKind.Limit)]
    [InlineData("tcp_connections", CounterKind.Gauge)]
    [InlineData("tcp_buffered_bytes", CounterKind.Gauge)]
    public void Counters_DeclareTheirKind_WhereTheyAreWritten(string counter, CounterKind kind)
    {
        using var pipeline = new CapturePipeline(new Capture.Recording.RecordingOptions { OutputDirectory = _dir }, new PipelineOptions { Workers = 0 });
        Assert.True(pipeline.Snapshot().TryGetCounter(counter, out CounterValue value));
        Assert.Equal(kind, value.Kind);
    }

    [Fact]
    public void InvalidInput_IsCountedByProtocolAndReason_FromRealBadInput()
    {
        // The fuzzed capture holds malformed frames and SIP: each counter names its protocol and reason.
        using var pipeline = new CapturePipeline(new Capture.Recording.RecordingOptions { OutputDirectory = _dir }, new PipelineOptions { Workers = 0 });
        using (PcapSource source = PcapSource.OpenOffline(Captures.PathOf("fuzz-2006-06-26-2594.pcap")))
        {
            pipeline.Run(source);
        }

        CounterValue[] invalid = [.. pipeline.Snapshot().All.Where(c => c.Kind == CounterKind.Invalid)];
        Assert.NotEmpty(invalid);
        Assert.All(invalid, c => Assert.False(string.IsNullOrEmpty(c.Protocol) || string.IsNullOrEmpty(c.Reason), c.Name));
        Assert.Contains(invalid, c => c.Protocol == "sip" && c.Name == "sip_invalid_" + c.Reason);
    }

    [Fact]
    public void Scrape_AfterReplayingRealCaptures_ShowsPacketsInvalidInputCallsRecordingsAndDirectory()
    {
        var settings = new ApplianceSettings { Recordings = Path.Combine(_dir, "rec"), State = Path.Combine(_dir, "state"), Workers = 1 };
        var runtime = new ApplianceRuntime(settings);
        using var metrics = new ApplianceMetrics(runtime);
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, metrics.Meter) || m.Name == "System.Runtime");
        DirectoryStore store = DirectoryStore.Open(new DirectoryStoreOptions { Path = settings.State });
        using BindingDirectory directory = BindingDirectory.Open(store, DirectoryConfig.Empty, DateTimeOffset.UtcNow);
        runtime.Directory = directory;

        using var g711 = new CapturePipeline(settings.RecordingOptions(), new PipelineOptions { Workers = 1 }, results: runtime, directory: directory) { Observer = runtime };
        using var fuzz = new CapturePipeline(settings.RecordingOptions(), new PipelineOptions { Workers = 1 }, results: runtime, directory: directory) { Observer = runtime };
        runtime.Sources = [new CaptureSourceState("SIP_CALL_RTP_G711.pcap", false, g711), new CaptureSourceState("fuzz-2006-06-26-2594.pcap", false, fuzz)];

        Exposition.Document before = Exposition.Parse(exporter.Scrape());
        var sinceBefore = Stopwatch.StartNew();
        Assert.Equal(0, before.Sum("appliance_capture_packets_total"));
        Assert.Equal(0, before.Sum("appliance_directory_devices"));

        foreach ((CapturePipeline pipeline, string file) in new[] { (g711, "SIP_CALL_RTP_G711.pcap"), (fuzz, "fuzz-2006-06-26-2594.pcap") })
        {
            using PcapSource source = PcapSource.OpenOffline(Captures.PathOf(file));
            pipeline.Run(source);
            pipeline.Complete();
        }

        directory.Persist();

        // A scrape reuses the sources' sample for up to 200 ms (ApplianceMetrics.Samples): once the code is warm (the
        // whole suite) both replays can finish within that, and this scrape would read the sample taken before them.
        TimeSpan wait = TimeSpan.FromMilliseconds(210) - sinceBefore.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            Thread.Sleep(wait);
        }

        Exposition.Document doc = Exposition.Parse(exporter.Scrape());

        // tshark: 4,269 frames in SIP_CALL_RTP_G711.pcap; 691 frames in the fuzzed file.
        Assert.Equal(4269, doc.Sum("appliance_capture_packets_total", ("source", "SIP_CALL_RTP_G711.pcap")));
        Assert.Equal(691, doc.Sum("appliance_capture_packets_total", ("source", "fuzz-2006-06-26-2594.pcap")));
        Assert.Equal(855508 + 99997, doc.Sum("appliance_capture_bytes_total"));
        // tshark's RTP heuristic finds 2,884 RTP packets: the answered call's 1,439, the relay's copies of them on its leg
        // with 200.57.7.199 (the same call: dropped there as duplicates), and 6 of an MGCP gateway's stream (no SIP), 3 of
        // which are recorded after the first 3 proved it RTP.
        Assert.Equal(1439 + 1439 + 3, doc.Sum("appliance_rtp_packets_total"));
        Assert.Equal(0, doc.Sum("appliance_capture_dropped_packets_total", ("stage", "queue")));

        // Bad input by protocol and reason (what replay --json counts for the fuzzed file).
        Assert.Equal(18, doc.Sum("appliance_invalid_input_total", ("protocol", "sip"), ("reason", "truncated")));
        Assert.Equal(15, doc.Sum("appliance_invalid_input_total", ("protocol", "sip"), ("reason", "bad_header")));
        Assert.Equal(25, doc.Sum("appliance_invalid_input_total", ("protocol", "frame"), ("reason", "bad_udp_header")));
        Assert.Equal(164 + 78, doc.Sum("appliance_invalid_input_total", ("protocol", "frame"), ("reason", "not_ip")));

        // New snapshot counters appear through the generic family (tcp_* here, skinny_* later).
        // tshark: 198 + 26 segments with tcp.len > 0, none SIP or Skinny; 2 of the fuzzed ones run past the captured bytes
        // and are dropped as truncated frames before TCP.
        Assert.Equal(198 + 24, doc.Sum("appliance_pipeline_events_total", ("counter", "tcp_segments_skipped")));

        // Calls by end reason, from the call notices; one recording (and sidecar) per call.
        // (The MGCP gateway's stream in SIP_CALL_RTP_G711 has no SIP: it is a call of protocol rtp.)
        Assert.Equal(2, doc.Sum("appliance_calls_ended_total", ("protocol", "sip"), ("reason", "capture-ended")));
        Assert.Equal(1, doc.Sum("appliance_calls_ended_total", ("protocol", "sip"), ("reason", "cancelled")));
        Assert.Equal(1, doc.Sum("appliance_calls_ended_total", ("protocol", "rtp"), ("reason", "capture-ended")));
        Assert.Equal(4, doc.Sum("appliance_calls_started_total"));
        Assert.Equal(4, doc.Sum("appliance_recordings_written_total"));

        // Nothing lost on a disk with room: the disk-full family is there, at zero.
        Assert.Equal(0, doc.Sum("appliance_recordings_failed_total"));
        Assert.Equal(0, doc.Sum("appliance_recordings_dropped_pages_total"));
        Assert.Equal(0, doc.Sum("appliance_recordings_dropped_bytes_total"));
        Assert.Equal(0, doc.Sum("appliance_recordings_sidecars_pending"));
        Assert.Equal("gauge", doc.Types["appliance_recordings_write_failing"]);
        Assert.Equal(0, doc.Sum("appliance_active_calls"));

        Assert.Equal(directory.DeviceCount, doc.Sum("appliance_directory_devices"));
        Assert.True(directory.DeviceCount > 0);
        Assert.InRange(doc.Sum("appliance_directory_checkpoint_age_seconds"), 0, 30);
        Assert.Equal(2, doc.Find("appliance_worker_queue_depth").Count());
        Assert.Equal("counter", doc.Types["appliance_invalid_input_total"]);
        Assert.Equal("gauge", doc.Types["appliance_worker_progress_age_seconds"]);

        // The Grafana dashboard uses only metrics that exist.
        string dashboard = File.ReadAllText(Path.Combine(Repo.Root, "linux", "grafana", "appliance-dashboard.json"));
        string[] used = [.. System.Text.RegularExpressions.Regex.Matches(dashboard, @"\b(appliance|dotnet)_[a-z_]+").Select(m => m.Value).Distinct()];
        Assert.True(used.Length > 20);
        Assert.All(used, name => Assert.True(doc.Types.ContainsKey(name), $"the dashboard uses {name}, which /metrics does not have"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
