using System.Diagnostics;
using Appliance.Cluster;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;
using Capture.Interop;
using Capture.Pipeline;
using Capture.Recording;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Service;

/// <summary>
/// Runs the capture: opens the directory, one pipeline and capture thread per source (live interface, or a file
/// replayed as if live), and on shutdown stops capture, finalises every open recording and checkpoints the directory.
/// </summary>
public sealed partial class CaptureService(ApplianceRuntime runtime, ILogger<CaptureService> log, ILoggerFactory loggers) : IHostedService, IDisposable, IRecordingDiskListener
{
    /// <summary>The directory configuration the control API saves in the state folder when no DirectoryConfig file is set.</summary>
    public const string StateConfigFile = "directory.json";

    private readonly List<(IPacketSource Source, CaptureSourceState State, Thread Thread)> _captures = [];
    private readonly CancellationTokenSource _stop = new();
    private BindingDirectory? _directory;
    private SharedDirectory? _cluster;
    private Timer? _clock;
    private string _statePath = "";
    private string _recordingsPath = "";
    private RecordingDisk? _disk;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ApplianceSettings s = runtime.Settings;
        // Without a configured file, the configuration the control API saved under the state folder (if any).
        string? configFile = s.DirectoryConfig ?? (File.Exists(Path.Combine(s.State, StateConfigFile)) ? Path.Combine(s.State, StateConfigFile) : null);
        DirectoryConfig config = configFile is null ? DirectoryConfig.Empty : DirectoryConfig.Load(configFile);
        DirectoryStore store = DirectoryStore.Open(new DirectoryStoreOptions { Path = s.State });
        try
        {
            _directory = BindingDirectory.Open(store, config, DateTimeOffset.UtcNow);
        }
        catch
        {
            store.Dispose();
            throw;
        }

        _statePath = Path.GetFullPath(s.State);
        _directory.PersistNotice += OnPersistNotice;
        _directory.StartAutoPersist(TimeSpan.FromSeconds(s.CheckpointSeconds));
        runtime.Directory = _directory;
        _recordingsPath = Path.GetFullPath(s.Recordings);
        _disk = new RecordingDisk(_recordingsPath, this);
        runtime.RecordingDisk = _disk;
        LogDirectoryOpened(_statePath, _directory.DeviceCount, _directory.LoggedInCount);
        if (s.Cluster.Enabled)
        {
            // Several appliances, one directory (README "Cluster"): logins made elsewhere are known before capture
            // starts when the server answers within 3 s; otherwise capture starts anyway, degraded.
            _directory.LocalSite = s.Cluster.Site; // idle logout only where this appliance sees the calls
            string machine = File.Exists("/etc/machine-id") ? File.ReadAllText("/etc/machine-id").Trim() : Environment.MachineName;
            _cluster = new SharedDirectory(s.Cluster, _directory, loggers.CreateLogger<SharedDirectory>(), machine + ":" + _statePath);
            _cluster.Start(TimeSpan.FromSeconds(3));
            runtime.Cluster = _cluster;
        }

        // Expiries, schedules and idle logouts run on the wall clock even when no packet arrives; live interfaces are
        // checked for removal and link changes on the same tick.
        _clock = new Timer(_ => OnClock(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        var states = new List<CaptureSourceState>();
        if (s.Interfaces.Count > 0)
        {
            foreach (string iface in s.Interfaces)
            {
                LiveInterface source = LiveInterface.Open(new LiveCaptureOptions
                {
                    Interface = iface,
                    Filter = s.Filter,
                    Snaplen = s.Snaplen,
                    BufferSizeBytes = s.BufferMb * 1024 * 1024,
                    Immediate = s.Immediate,
                    Promiscuous = s.Promiscuous,
                }, LogInterfaceChange);
                states.Add(StartSource(source, iface, live: true));
            }
        }
        else
        {
            PcapSource source = PcapSource.OpenOffline(s.Replay!);
            states.Add(StartSource(source, s.Replay!, live: false));
        }

        runtime.Sources = states;
        runtime.Ready = true;
        return Task.CompletedTask;
    }

    private CaptureSourceState StartSource(IPacketSource source, string name, bool live)
    {
        if (!global::Capture.Packets.LinkTypes.IsSupported(source.LinkType))
        {
            source.Dispose();
            throw new InvalidOperationException($"{name}: link type {source.LinkType} is not supported (Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback are)");
        }

        ApplianceSettings s = runtime.Settings;
        RecordingOptions recording = s.RecordingOptions();
        recording.Disk = _disk; // one folder, one account of its failed writes, whichever source writes
        var pipeline = new CapturePipeline(recording, s.PipelineOptions(), results: runtime, directory: _directory) { Observer = runtime };
        var state = new CaptureSourceState(name, live, pipeline) { LastFrameTicks = Stopwatch.GetTimestamp(), PcapSource = source };
        var thread = new Thread(() => CaptureLoop(source, state)) { Name = "capture " + name, IsBackground = true };
        _captures.Add((source, state, thread));
        thread.Start();
        LogCapturing(name, live ? "live" : "replayed as if live", source.LinkType, _recordingsPath);
        return state;
    }

    /// <summary>The capture thread: every loop iteration (a frame or a read timeout) is progress for the watchdog.</summary>
    private void CaptureLoop(IPacketSource source, CaptureSourceState state)
    {
        CapturePipeline pipeline = state.Pipeline;
        bool paced = !state.Live && runtime.Settings.ReplayPaced;
        long firstNs = long.MinValue;
        long shiftNs = 0;
        long startTicks = Stopwatch.GetTimestamp();
        CancellationToken ct = _stop.Token;
        using CancellationTokenRegistration reg = ct.Register(source.BreakLoop);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                PcapReadStatus status = source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame);
                state.LastFrameTicks = Stopwatch.GetTimestamp();
                if (status == PcapReadStatus.Timeout)
                {
                    pipeline.FlushSpools(); // a quiet port: media that waited for the spool file becomes readable
                    continue;
                }

                if (status != PcapReadStatus.Packet)
                {
                    if (status != PcapReadStatus.EndOfFile && !ct.IsCancellationRequested)
                    {
                        pipeline.Counters.CaptureErrors++;
                        LogCaptureError(state.Name, source.LastError);
                    }

                    break;
                }

                if (!state.Live)
                {
                    // A replayed file is shifted to now, so its calls look (and are searchable) like live ones.
                    if (firstNs == long.MinValue)
                    {
                        firstNs = ts;
                        shiftNs = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100 - ts;
                    }

                    if (paced && !WaitUntil(state, startTicks, ts - firstNs, ct))
                    {
                        break;
                    }

                    ts += shiftNs;
                }

                pipeline.ProcessFrame(source.LinkType, ts, frame);
            }
        }
        finally
        {
            state.Ended = true;
            if (!ct.IsCancellationRequested)
            {
                LogSourceEnded(state.Name);
            }
        }
    }

    /// <summary>Paced replay: waits (in steps of at most a second, each stamped as progress) until the frame is due.</summary>
    private static bool WaitUntil(CaptureSourceState state, long startTicks, long offsetNs, CancellationToken ct)
    {
        while (true)
        {
            state.LastFrameTicks = Stopwatch.GetTimestamp();
            long elapsedNs = (long)((Stopwatch.GetTimestamp() - startTicks) * (1e9 / Stopwatch.Frequency));
            long waitMs = (offsetNs - elapsedNs) / 1_000_000;
            if (waitMs <= 0)
            {
                return true;
            }

            if (ct.WaitHandle.WaitOne((int)Math.Min(waitMs, 1000)))
            {
                return false;
            }
        }
    }

    /// <summary>
    /// SIGTERM/SIGINT: stops capture at once, ends every open call (capture-ended) and lets the workers finalise every
    /// recording and sidecar, then checkpoints the directory, all within ShutdownSeconds (2 s kept for the rest).
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        long recordingsBefore = runtime.RecordingsWritten;
        long errorsBefore = runtime.RecordingsFailed;
        runtime.Ready = false;
        _stop.Cancel();
        foreach ((_, _, Thread thread) in _captures)
        {
            thread.Join();
        }

        TimeSpan budget = TimeSpan.FromSeconds(Math.Max(1, runtime.Settings.ShutdownSeconds - 2));
        int finalised = 0;
        foreach ((IPacketSource source, CaptureSourceState state, _) in _captures)
        {
            int open = state.Pipeline.ActiveCalls;
            TimeSpan left = budget - Stopwatch.GetElapsedTime(started);
            if (!state.Pipeline.Complete(CallEndReasons.CaptureEnded, left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1)))
            {
                LogWorkersOutOfTime(state.Name);
            }
            finalised += open;
            LogSourceStopped(state.Name, open, source.TryGetStatistics(out PcapStatistics st) ? st.DroppedByKernel : 0);
        }

        _disk?.Close(); // an episode of failed writes still open is told now

        _clock?.Dispose();
        _cluster?.Stop(TimeSpan.FromSeconds(1)); // what is still queued is offered again at the next start
        bool saved = false;
        if (_directory is not null)
        {
            long failuresBefore = _directory.PersistFailures;
            _directory.PersistNotice -= OnPersistNotice; // the final save is reported below, without "retrying"
            _directory.Close();
            saved = _directory.PersistFailures == failuresBefore;
            if (saved)
            {
                LogDirectorySaved(_statePath, _directory.DeviceCount, _directory.LoggedInCount);
            }
            else
            {
                LogDirectoryNotSaved(_statePath, _directory.LastPersistError ?? "unknown error");
            }
        }

        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        long written = runtime.RecordingsWritten - recordingsBefore;
        long failed = runtime.RecordingsFailed - errorsBefore;
        LogStopped(seconds, finalised, written, failed, saved ? "saved" : "NOT saved (see the errors above)");
        return Task.CompletedTask;
    }

    private void OnClock()
    {
        _directory?.Tick(DateTimeOffset.UtcNow);
        foreach (CaptureSourceState state in runtime.Sources) // set once every source runs: never changes under the timer
        {
            state.CheckInterface();
        }
    }

    private void LogInterfaceChange(LiveInterfaceChange change, string message)
    {
        if (change is LiveInterfaceChange.Lost or LiveInterfaceChange.LinkDown)
        {
            LogInterfaceDown(message);
        }
        else
        {
            LogInterfaceUp(message);
        }
    }

    /// <summary>Once when persisting starts failing, once when it works again: never a line per interval.</summary>
    private void OnPersistNotice(DirectoryPersistNotice n)
    {
        if (!n.Failing)
        {
            LogPersistRecovered(_statePath, n.Failures, (DateTimeOffset.UtcNow - n.Since).TotalSeconds);
        }
        else if (n.Broken)
        {
            LogPersistBroken(_statePath, n.Error);
        }
        else
        {
            LogPersistFailing(_statePath, n.Error, runtime.Settings.CheckpointSeconds);
        }
    }

    public void Dispose()
    {
        foreach ((IPacketSource source, CaptureSourceState state, _) in _captures)
        {
            state.Pipeline.Dispose();
            source.Dispose();
        }

        _captures.Clear();
        _clock?.Dispose();
        _cluster?.Dispose();
        _directory?.Dispose();
        _stop.Dispose();
    }

    void IRecordingDiskListener.WritesFailing(string folder, string error) => LogWritesFailing(folder, error);

    void IRecordingDiskListener.WritesRecovered(string folder, RecordingWriteEpisode e) =>
        LogWritesRecovered(folder, e.Duration.TotalSeconds, e.Recordings, e.Pages, e.Bytes, e.Sidecars);

    void IRecordingDiskListener.WritesStillFailing(string folder, RecordingWriteEpisode e) =>
        LogWritesStillFailing(folder, e.Duration.TotalSeconds, e.Recordings, e.Pages, e.Bytes, e.FirstError);

    void IRecordingDiskListener.SidecarNotWritten(string path, CallSidecar sidecar, string error) =>
        LogSidecarNotWritten(sidecar.Id, path, error, System.Text.Json.JsonSerializer.Serialize(sidecar, SidecarJsonContext.Default.CallSidecar).ReplaceLineEndings(" "));

    [LoggerMessage(Level = LogLevel.Warning, Message = "recordings: writes to {Folder} are failing ({Error}); the audio of the calls in progress is lost until they work again (each file stays playable, each lost span is marked in its sidecar), sidecars are kept and retried")]
    private partial void LogWritesFailing(string folder, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "recordings: writes to {Folder} work again after {Seconds:F1} s: {Recordings} recording(s) lost {Pages} page(s) ({Bytes} bytes) of audio, {Sidecars} sidecar(s) were delayed")]
    private partial void LogWritesRecovered(string folder, double seconds, int recordings, long pages, long bytes, int sidecars);

    [LoggerMessage(Level = LogLevel.Warning, Message = "recordings: writes to {Folder} were still failing at shutdown, for {Seconds:F1} s: {Recordings} recording(s) lost {Pages} page(s) ({Bytes} bytes) of audio; first error: {Error}")]
    private partial void LogWritesStillFailing(string folder, double seconds, int recordings, long pages, long bytes, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "recordings: the sidecar of recording {Id} could not be written to {Path} ({Error}); it was: {Json}")]
    private partial void LogSidecarNotWritten(string id, string path, string error, string json);

    [LoggerMessage(Level = LogLevel.Information, Message = "directory opened from {State}: {Devices} device(s), {LoggedIn} logged in")]
    private partial void LogDirectoryOpened(string state, int devices, int loggedIn);

    [LoggerMessage(Level = LogLevel.Information, Message = "capturing {Source} ({Mode}, link type {LinkType}); recordings under {Recordings}")]
    private partial void LogCapturing(string source, string mode, int linkType, string recordings);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private partial void LogInterfaceDown(string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Message}")]
    private partial void LogInterfaceUp(string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "capture on {Source} failed: {Error}")]
    private partial void LogCaptureError(string source, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Source}: the media workers ran out of shutdown time; what they had not processed is lost, the open recordings were finalised as far as written")]
    private partial void LogWorkersOutOfTime(string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Source} ended; the API stays up")]
    private partial void LogSourceEnded(string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "stopped {Source}: {Open} open call(s) finalised, {KernelDrops} dropped by the kernel")]
    private partial void LogSourceStopped(string source, int open, long kernelDrops);

    [LoggerMessage(Level = LogLevel.Information, Message = "shutdown took {Seconds:F1} s: {Calls} call(s) finalised, {Recordings} recording(s) written, {Errors} failed, directory {Directory}")]
    private partial void LogStopped(double seconds, int calls, long recordings, long errors, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "directory cannot be saved to {State}: {Error} Retrying every {Seconds} s; the directory keeps working in memory (appliance_directory_persist_failing is 1 until a save works).")]
    private partial void LogPersistFailing(string state, string error, int seconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "directory store in {State} gave up: {Error}")]
    private partial void LogPersistBroken(string state, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "directory saved to {State} again, after {Failures} failed attempt(s) over {Seconds:F0} s; nothing was lost")]
    private partial void LogPersistRecovered(string state, long failures, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "directory could not be saved to {State}: {Error}")]
    private partial void LogDirectoryNotSaved(string state, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "directory checkpointed to {State}: {Devices} device(s), {LoggedIn} logged in")]
    private partial void LogDirectorySaved(string state, int devices, int loggedIn);
}
