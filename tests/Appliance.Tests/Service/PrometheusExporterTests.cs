using System.Diagnostics.Metrics;
using Appliance.Metrics;
using Appliance.Tests.Support;

namespace Appliance.Tests.Service;

public class PrometheusExporterTests
{
    [Theory]
    [InlineData("appliance.capture.packets", "{packet}", true, "appliance_capture_packets_total")]
    [InlineData("appliance.capture.bytes", "By", true, "appliance_capture_bytes_total")]
    [InlineData("appliance.directory.checkpoint_age", "s", false, "appliance_directory_checkpoint_age_seconds")]
    [InlineData("dotnet.gc.heap.total_allocated", "By", true, "dotnet_gc_heap_total_allocated_bytes_total")]
    [InlineData("dotnet.process.cpu.time", "s", true, "dotnet_process_cpu_time_seconds_total")]
    [InlineData("dotnet.gc.collections", "{collection}", true, "dotnet_gc_collections_total")]
    [InlineData("http.server-duration", "ms", false, "http_server_duration_milliseconds")]
    [InlineData("9lives", null, false, "_9lives")]
    [InlineData("already_total", null, true, "already_total")]
    public void MetricName_FollowsPrometheusConventions(string instrument, string? unit, bool counter, string expected) =>
        Assert.Equal(expected, PrometheusExporter.MetricName(instrument, unit, counter));

    [Fact]
    public void Scrape_WritesValidExposition_WithEscapedLabelsSummedCountersAndObservedGauges()
    {
        using var meter = new Meter("Test.Exporter." + Guid.NewGuid().ToString("N"));
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        Counter<long> calls = meter.CreateCounter<long>("appliance.calls.ended", "{call}", "Calls ended\nby reason \\ protocol");
        Histogram<double> lag = meter.CreateHistogram<double>("appliance.test.lag", "s", "A histogram");
        var sources = new List<string> { "eth1", "odd \"name\"\\with\nbreaks" };
        meter.CreateObservableGauge("appliance.test.depth", () => sources.Select((s, i) => new Measurement<int>(i + 1, new KeyValuePair<string, object?>("source", s))), "{item}");

        calls.Add(1, new KeyValuePair<string, object?>("reason", "bye"), new KeyValuePair<string, object?>("protocol", "sip"));
        calls.Add(2, new KeyValuePair<string, object?>("protocol", "sip"), new KeyValuePair<string, object?>("reason", "bye")); // same series, other tag order
        calls.Add(1, new KeyValuePair<string, object?>("protocol", "skinny"), new KeyValuePair<string, object?>("reason", "timeout"));
        lag.Record(0.5);
        lag.Record(1.5);

        string text = exporter.Scrape();
        Exposition.Document doc = Exposition.Parse(text);
        Assert.Equal("counter", doc.Types["appliance_calls_ended_total"]);
        Assert.Equal("Calls ended\\nby reason \\\\ protocol", doc.Help["appliance_calls_ended_total"]);
        Assert.Equal(3, doc.Sum("appliance_calls_ended_total", ("protocol", "sip"), ("reason", "bye")));
        Assert.Equal(1, doc.Sum("appliance_calls_ended_total", ("protocol", "skinny"), ("reason", "timeout")));
        Assert.Contains("appliance_calls_ended_total{protocol=\"sip\",reason=\"bye\"} 3\n", text, StringComparison.Ordinal);

        Assert.Equal("gauge", doc.Types["appliance_test_depth"]);
        Assert.Equal(2, doc.Sum("appliance_test_depth", ("source", "odd \"name\"\\with\nbreaks")));
        Assert.Contains("{source=\"odd \\\"name\\\"\\\\with\\nbreaks\"} 2\n", text, StringComparison.Ordinal);

        Assert.Equal("summary", doc.Types["appliance_test_lag_seconds"]);
        Assert.Equal(2.0, doc.Sum("appliance_test_lag_seconds_sum"));
        Assert.Equal(2, doc.Sum("appliance_test_lag_seconds_count"));

        // Observable series are read afresh at each scrape: a source that went away disappears.
        sources.RemoveAt(1);
        doc = Exposition.Parse(exporter.Scrape());
        Assert.Single(doc.Find("appliance_test_depth"));
    }

    [Fact]
    public void Scrape_IncludesTheRuntimeMeter_WithPrometheusNames()
    {
        using var exporter = new PrometheusExporter(m => m.Name == "System.Runtime");
        Exposition.Document doc = Exposition.Parse(exporter.Scrape());
        Assert.Equal("counter", doc.Types["dotnet_gc_collections_total"]);
        Assert.Equal("gauge", doc.Types["dotnet_process_memory_working_set_bytes"]);
        Assert.True(doc.Sum("dotnet_process_memory_working_set_bytes") > 0);
        Assert.True(doc.Sum("dotnet_process_cpu_time_seconds_total") > 0);
    }
}
