using System.Diagnostics;
using System.Text.RegularExpressions;
using Appliance.Metrics;
using Appliance.Service;
using Appliance.Tests.Support;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Diagnostics;
using Capture.Interop;
using Capture.Pipeline;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>The appliance's metrics read the pipelines at scrape time: replaying real captures moves them.</summary>
public sealed class ApplianceMetricsTests(ITestOutputHelper output) : IDisposable
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
    }

    /// <summary>
    /// The Grafana dashboard (linux/grafana) uses only metrics that running appliances expose, and shows every metric of
    /// README's metrics table (a metric added there without a panel fails here). Two `appliance run` processes: one
    /// replaying the fuzzed capture (calls ended, recordings written, invalid input), one capturing lo live (the
    /// interface metrics; root) with Cluster:Redis and Cluster:Postgres at a port nobody listens on: the cluster and
    /// central families exist only with those set, and with their servers unreachable they are exposed, degraded.
    /// </summary>
    [Fact]
    public void Dashboard_UsesOnlyMetricsRunningAppliancesExpose_AndShowsEveryMetricOfTheReadmeTable()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: not root (the live capture of lo that exposes the interface metrics needs it)");
            return;
        }

        var unreachable = new Dictionary<string, string?>
        {
            ["APPLIANCE_CLUSTER__NAME"] = "metrics-test",
            ["APPLIANCE_CLUSTER__SECRET"] = "metrics-test-cluster-secret",
            ["APPLIANCE_CLUSTER__REDIS"] = "127.0.0.1:1",
            ["APPLIANCE_CLUSTER__POSTGRES"] = "Host=127.0.0.1;Port=1;Username=appliance;Password=none;Database=appliance",
        };
        using ServiceProcess replay = ServiceProcess.Start(new Dictionary<string, string?>(), "--replay", Captures.PathOf("fuzz-2006-06-26-2594.pcap"), "--no-pacing",
            "--recordings", Path.Combine(_dir, "replay", "rec"), "--state", Path.Combine(_dir, "replay", "state"), "--workers", "1");
        using ServiceProcess live = ServiceProcess.Start(unreachable, "--interface", "lo",
            "--recordings", Path.Combine(_dir, "live", "rec"), "--state", Path.Combine(_dir, "live", "state"), "--workers", "1");

        Exposition.Document replayed = replay.WaitForMetrics(d => d.Types.ContainsKey("appliance_recordings_written_total"), TimeSpan.FromSeconds(60));
        Assert.True(replayed.Types.ContainsKey("appliance_recordings_written_total"), "the replay's recordings never written: " + replay.Log);
        Exposition.Document clustered = live.WaitForMetrics(d => d.Sum("appliance_cluster_degraded") == 1 && d.Sum("appliance_central_degraded") == 1, TimeSpan.FromSeconds(60));
        Assert.True(clustered.Sum("appliance_cluster_degraded") == 1 && clustered.Sum("appliance_central_degraded") == 1, "not degraded with its servers unreachable: " + live.Log);
        Assert.Equal(0, clustered.Sum("appliance_cluster_connected"));
        Assert.Equal(1, clustered.Sum("appliance_capture_interface_up", ("source", "lo")));

        string dashboard = File.ReadAllText(Path.Combine(Repo.Root, "linux", "grafana", "appliance-dashboard.json"));
        string[] used = [.. Regex.Matches(dashboard, @"\b(appliance|dotnet)_[a-z_]+").Select(m => m.Value).Distinct()];
        Assert.True(used.Length > 50);
        Assert.All(used, name => Assert.True(replayed.Types.ContainsKey(name) || clustered.Types.ContainsKey(name), $"the dashboard uses {name}, which /metrics does not have"));

        string[] documented = ReadmeMetrics();
        Assert.True(documented.Length > 50);
        Assert.All(documented, name => Assert.True(used.Contains(name), $"README's metrics table lists {name}, which no dashboard panel shows"));
    }

    /// <summary>The metric names of README's metrics table (first column); `_extensions` after `appliance_directory_devices` is appliance_directory_extensions.</summary>
    private static string[] ReadmeMetrics()
    {
        string[] lines = File.ReadAllLines(Path.Combine(Repo.Root, "README.md"));
        int header = Array.IndexOf(lines, "| metric | type | labels | what |");
        Assert.True(header > 0, "README's metrics table");
        var names = new List<string>();
        foreach (string line in lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|')))
        {
            string? prefix = null;
            foreach (Match m in Regex.Matches(line.Split('|')[1], @"`([a-z_]+)`"))
            {
                string name = m.Groups[1].Value;
                if (name.StartsWith("appliance_", StringComparison.Ordinal))
                {
                    names.Add(name);
                    prefix = name[..name.LastIndexOf('_')];
                }
                else if (name.StartsWith('_') && prefix is not null)
                {
                    names.Add(prefix + name);
                }
            }
        }

        return [.. names.Distinct()];
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
