using System.Diagnostics;
using System.Globalization;
using Appliance.Service;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Systemd;

/// <summary>
/// Tells systemd how the service is doing (Type=notify): READY=1 once capture runs and the API listens, STATUS= every few
/// seconds (calls, packets, drops), WATCHDOG=1 at half of WATCHDOG_USEC but only while every capture thread makes
/// progress, STOPPING=1 when shutdown starts. Does nothing when NOTIFY_SOCKET is not set.
/// </summary>
public sealed partial class SystemdService(ApplianceRuntime runtime, IHostApplicationLifetime lifetime, ILogger<SystemdService> log) : IHostedService, IDisposable
{
    private static readonly TimeSpan s_statusPeriod = TimeSpan.FromSeconds(5);
    private SystemdNotifier? _notifier;
    private readonly CaptureProgress _progress = new();
    private TimeSpan? _watchdog;
    private Timer? _timer;
    private long _lastStatusTimestamp;
    private string? _stalledSource;
    private volatile bool _stopping;

    /// <summary>Environment lookup (tests replace it).</summary>
    internal Func<string, string?> GetEnvironment { get; init; } = Environment.GetEnvironmentVariable;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _notifier = SystemdNotifier.FromEnvironment(GetEnvironment("NOTIFY_SOCKET"));
        if (_notifier is null)
        {
            return Task.CompletedTask;
        }

        _watchdog = SystemdNotifier.WatchdogInterval(GetEnvironment("WATCHDOG_USEC"), GetEnvironment("WATCHDOG_PID"), Environment.ProcessId);
        LogNotifying(_notifier.SocketPath, _watchdog?.TotalSeconds ?? 0);
        lifetime.ApplicationStarted.Register(OnStarted);
        lifetime.ApplicationStopping.Register(OnStopping);
        return Task.CompletedTask;
    }

    private void OnStarted()
    {
        if (_notifier is null || _stopping)
        {
            return;
        }

        _notifier.Notify((runtime.Ready ? "READY=1\n" : "") + "STATUS=" + Status());
        _lastStatusTimestamp = Stopwatch.GetTimestamp();
        TimeSpan period = _watchdog is { } w ? TimeSpan.FromTicks(Math.Min(w.Ticks / 2, s_statusPeriod.Ticks)) : s_statusPeriod;
        _timer = new Timer(_ => Tick(), null, period, period);
    }

    private void Tick()
    {
        if (_notifier is null || _stopping)
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        var message = new System.Text.StringBuilder();
        if (_watchdog is { } w)
        {
            if (WatchdogHealthy(_progress, runtime.Sources, now, w, out CaptureSourceState? stalled))
            {
                message.Append("WATCHDOG=1\n");
                if (_stalledSource is not null)
                {
                    LogProgressResumed(_stalledSource);
                    _stalledSource = null;
                }
            }
            else if (_stalledSource != stalled!.Name)
            {
                _stalledSource = stalled.Name;
                LogStalled(stalled.Name, CaptureProgress.AgeSeconds(stalled, now));
            }
        }

        if (Stopwatch.GetElapsedTime(_lastStatusTimestamp, now) >= s_statusPeriod - TimeSpan.FromMilliseconds(50))
        {
            message.Append("STATUS=").Append(Status()).Append('\n');
            _lastStatusTimestamp = now;
        }

        if (message.Length > 0)
        {
            _notifier.Notify(message.ToString());
        }
    }

    /// <summary>
    /// Whether to ping the watchdog: every capture thread stamped progress within half the interval, or is idle on a
    /// silent port (so a hung thread stops the pings and systemd restarts the service within about 1.5 intervals).
    /// </summary>
    public static bool WatchdogHealthy(CaptureProgress progress, IReadOnlyList<CaptureSourceState> sources, long nowTimestamp, TimeSpan watchdogInterval, out CaptureSourceState? stalled)
    {
        TimeSpan maxAge = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, watchdogInterval.Ticks / 2));
        stalled = progress.FindStalled(sources, nowTimestamp, maxAge);
        return stalled is null;
    }

    /// <summary>The one-line STATUS systemctl shows.</summary>
    internal string Status()
    {
        if (!runtime.Ready && runtime.Sources.Count == 0)
        {
            return "starting";
        }

        long packets = 0, queueDrops = 0;
        int calls = 0;
        foreach (CaptureSourceState s in runtime.Sources)
        {
            packets += Volatile.Read(ref s.Pipeline.Counters.Frames);
            queueDrops += Volatile.Read(ref s.Pipeline.Counters.QueueDrops);
            calls += s.Pipeline.ActiveCalls;
        }

        string sources = string.Join(", ", runtime.Sources.Select(s => s.Live ? s.Name : Path.GetFileName(s.Name) + (s.Ended ? " (replay ended)" : " (replay)")));
        return string.Create(CultureInfo.InvariantCulture,
            $"capturing {sources}: {calls} call(s) active, {packets} packets, {queueDrops} queue drops, {runtime.RecordingsWritten} recording(s) written");
    }

    private void OnStopping()
    {
        _stopping = true;
        _timer?.Dispose();
        _notifier?.Notify("STOPPING=1\nSTATUS=stopping: finalising recordings, saving the directory");
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _notifier?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "systemd notify socket {Socket}; watchdog every {WatchdogSeconds} s (0: off)")]
    private partial void LogNotifying(string socket, double watchdogSeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "capture on {Source} made no progress for {Seconds:F1} s: watchdog pings withheld, systemd will restart the service")]
    private partial void LogStalled(string source, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "capture on {Source} progresses again: watchdog pings resumed")]
    private partial void LogProgressResumed(string source);
}
