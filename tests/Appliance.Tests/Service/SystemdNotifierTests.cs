using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Appliance.Service;
using Appliance.Systemd;
using Capture.Pipeline;
using Capture.Recording;

namespace Appliance.Tests.Service;

public class SystemdNotifierTests
{
    [Fact]
    public void Notify_SendsOneDatagram_ToAPathAndToTheAbstractNamespace()
    {
        string path = Path.Combine(Path.GetTempPath(), "appl-notify-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        string name = "appl-notify-" + Guid.NewGuid().ToString("N");
        try
        {
            foreach ((string env, string bind) in new[] { (path, path), ("@" + name, "\0" + name) })
            {
                using var listener = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
                listener.Bind(new UnixDomainSocketEndPoint(bind));
                using SystemdNotifier notifier = SystemdNotifier.FromEnvironment(env)!;
                Assert.True(notifier.Notify("READY=1\nSTATUS=capturing eth1"));
                byte[] buffer = new byte[4096];
                listener.ReceiveTimeout = 5000;
                int n = listener.Receive(buffer);
                Assert.Equal("READY=1\nSTATUS=capturing eth1", Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Notify_ToAMissingSocket_ReturnsFalseAndCounts()
    {
        using SystemdNotifier notifier = SystemdNotifier.FromEnvironment("/nonexistent/appl-notify.sock")!;
        Assert.False(notifier.Notify("WATCHDOG=1"));
        Assert.Equal(1, notifier.SendFailures);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("x")]
    [InlineData("relative/path")]
    [InlineData("vsock:2:1234")]
    public void FromEnvironment_WithoutAUsableSocket_IsNull(string? value) => Assert.Null(SystemdNotifier.FromEnvironment(value));

    [Theory]
    [InlineData("30000000", null, 30.0)]
    [InlineData("30000000", "", 30.0)]
    [InlineData("2000000", "4242", 2.0)]
    [InlineData("2000000", "4243", null)] // meant for another process
    [InlineData("0", null, null)]
    [InlineData("abc", null, null)]
    [InlineData(null, null, null)]
    public void WatchdogInterval_HonoursWatchdogUsecAndPid(string? usec, string? pid, double? seconds) =>
        Assert.Equal(seconds, SystemdNotifier.WatchdogInterval(usec, pid, ownPid: 4242)?.TotalSeconds);
}

/// <summary>The watchdog follows the capture threads' progress stamps, not a timer.</summary>
public sealed class CaptureProgressTests : IDisposable
{
    private static readonly TimeSpan s_watchdog = TimeSpan.FromSeconds(10); // pings need a stamp within 5 s
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appl-progress-" + Guid.NewGuid().ToString("N"));
    private readonly List<CapturePipeline> _pipelines = [];

    private CaptureSourceState Source(bool live, double ageSeconds)
    {
        var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = _dir }, new PipelineOptions { Workers = 0 });
        _pipelines.Add(pipeline);
        return new CaptureSourceState(live ? "eth1" : "replay.pcap", live, pipeline)
        {
            LastFrameTicks = Stopwatch.GetTimestamp() - (long)(ageSeconds * Stopwatch.Frequency),
        };
    }

    [Fact]
    public void StuckCaptureThread_StaleStamp_StopsThePings()
    {
        var progress = new CaptureProgress(_ => null);
        CaptureSourceState fresh = Source(live: false, ageSeconds: 0.1);
        CaptureSourceState stuck = Source(live: false, ageSeconds: 6);
        long now = Stopwatch.GetTimestamp();

        Assert.True(SystemdService.WatchdogHealthy(progress, [fresh], now, s_watchdog, out _));
        Assert.False(SystemdService.WatchdogHealthy(progress, [fresh, stuck], now, s_watchdog, out CaptureSourceState? stalled));
        Assert.Same(stuck, stalled);

        // The thread comes back: pings resume.
        stuck.LastFrameTicks = Stopwatch.GetTimestamp();
        Assert.True(SystemdService.WatchdogHealthy(progress, [fresh, stuck], Stopwatch.GetTimestamp(), s_watchdog, out _));
    }

    [Fact]
    public void LiveSource_OldStamp_IsIdleWhileNothingArrives_AndStuckOncePacketsArriveUntaken()
    {
        long received = 1000;
        var progress = new CaptureProgress(_ => received);
        CaptureSourceState eth1 = Source(live: true, ageSeconds: 0.1);
        Assert.True(SystemdService.WatchdogHealthy(progress, [eth1], Stopwatch.GetTimestamp(), s_watchdog, out _));

        // A silent SPAN port: the read blocks, the stamp ages, the kernel receives nothing: idle, keep pinging.
        eth1.LastFrameTicks -= 60 * Stopwatch.Frequency;
        Assert.True(SystemdService.WatchdogHealthy(progress, [eth1], Stopwatch.GetTimestamp(), s_watchdog, out _));

        // Packets arrive (ps_recv grows) and the thread does not take them: stuck.
        received += 50;
        Assert.False(SystemdService.WatchdogHealthy(progress, [eth1], Stopwatch.GetTimestamp(), s_watchdog, out CaptureSourceState? stalled));
        Assert.Same(eth1, stalled);
    }

    [Fact]
    public void EndedSources_ReplayIsDone_LiveIsAFailure()
    {
        var progress = new CaptureProgress(_ => 0);
        CaptureSourceState replay = Source(live: false, ageSeconds: 100);
        replay.Ended = true;
        Assert.True(SystemdService.WatchdogHealthy(progress, [replay], Stopwatch.GetTimestamp(), s_watchdog, out _));

        CaptureSourceState eth1 = Source(live: true, ageSeconds: 0);
        eth1.Ended = true; // the interface went away: let systemd restart the service
        Assert.False(SystemdService.WatchdogHealthy(progress, [replay, eth1], Stopwatch.GetTimestamp(), s_watchdog, out _));
    }

    public void Dispose()
    {
        foreach (CapturePipeline p in _pipelines)
        {
            p.Dispose();
        }

        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
