using System.Collections.Concurrent;
using Appliance.Endpoints;
using Capture.Bindings;
using Capture.Calls;
using Capture.Interop;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;

namespace Appliance.Service;

/// <summary>A call in progress as the API shows it; paused since <see cref="PausedAt"/> by <see cref="PausedBy"/> while <see cref="Paused"/>.</summary>
public sealed record ActiveCall(string RecordingId, CallMetadata Metadata, DateTimeOffset StartedAt)
{
    public bool Paused { get; init; }

    public string? PausedBy { get; init; }

    public DateTimeOffset? PausedAt { get; init; }
}

/// <summary>Something that happened to a call, for the event stream and metrics.</summary>
public sealed record CallNotice(string Kind, string RecordingId, DateTimeOffset At, CallMetadata? Metadata, string? Reason, CallSidecar? Sidecar)
{
    /// <summary>
    /// Who did it: the token or session name (<c>call.paused</c>, <c>call.resumed</c>, <c>recording.held</c>,
    /// <c>recording.released</c>), the system actor (<c>recording.deleted</c>: retention); else null.
    /// </summary>
    public string? By { get; init; }
}

/// <summary>
/// What the running appliance shares with its API, metrics and systemd integration: the directory, the pipelines,
/// the calls in progress and the recordings just written. Filled by <see cref="CaptureService"/> when capture starts.
/// </summary>
public sealed class ApplianceRuntime : ICallObserver, ICallResultSink
{
    private readonly ConcurrentDictionary<string, ActiveCall> _active = new(StringComparer.Ordinal);
    private volatile IReadOnlyList<CaptureSourceState> _sources = [];

    public ApplianceRuntime(ApplianceSettings settings)
    {
        Settings = settings;
        EventClients = new EventStreamClients(settings.MaxEventClients);
        AuthThrottle = new AuthThrottle(settings.AuthThrottle, TimeProvider.System);
    }

    public ApplianceSettings Settings { get; }

    /// <summary>The event stream's clients (limit, refused, dropped), for the API and metrics.</summary>
    public EventStreamClients EventClients { get; }

    /// <summary>Failed authentications per client address and the throttle they trip, for the API and metrics.</summary>
    public AuthThrottle AuthThrottle { get; }

    /// <summary>Null until the directory is open (capture starting).</summary>
    public BindingDirectory? Directory { get; internal set; }

    /// <summary>The shared directory of several appliances (README "Cluster"); null for a single box.</summary>
    public Appliance.Cluster.SharedDirectory? Cluster { get; internal set; }

    /// <summary>The central recordings index in PostgreSQL (README "Cluster"); null without Cluster:Postgres.</summary>
    internal Appliance.Cluster.CentralIndex? Central { get; set; }

    public IReadOnlyList<CaptureSourceState> Sources { get => _sources; internal set => _sources = value; }

    /// <summary>Set once every source is capturing (readyz, systemd READY=1).</summary>
    public bool Ready { get; internal set; }

    public long RecordingsWritten => Interlocked.Read(ref _recordingsWritten);

    /// <summary>Recordings that lost something (audio pages to a full disk, their sidecar, or all to an error): once each.</summary>
    public long RecordingsFailed => Interlocked.Read(ref _recordingsFailed);

    /// <summary>The recordings folder's write health, shared by every source (null until capture starts).</summary>
    public RecordingDisk? RecordingDisk { get; internal set; }

    private long _recordingsWritten;
    private long _recordingsFailed;

    /// <summary>What retention deleted and what is held (README "Retention and legal hold"), for metrics.</summary>
    public RetentionStats Retention { get; } = new();

    public ICollection<ActiveCall> ActiveCalls => _active.Values;

    public bool TryGetActiveCall(string recordingId, out ActiveCall? call) => _active.TryGetValue(recordingId, out call);

    /// <summary>Raised on the thread that saw it (capture or worker thread): handlers must be quick and must not throw.</summary>
    public event Action<CallNotice>? CallNotice;

    void ICallObserver.CallStarted(string recordingId, CallMetadata metadata, long atNs)
    {
        var call = new ActiveCall(recordingId, metadata, metadata.StartedAt);
        _active[recordingId] = call;
        CallNotice?.Invoke(new CallNotice("call.started", recordingId, CaptureTime.ToDateTime(atNs), metadata, null, null));
    }

    void ICallObserver.CallUpdated(string recordingId, CallMetadata metadata)
    {
        if (_active.TryGetValue(recordingId, out ActiveCall? call))
        {
            _active[recordingId] = call with { Metadata = metadata };
        }
    }

    /// <summary>Pauses seen taking effect since the start (a request that found the call already paused is not one).</summary>
    public long Pauses => Interlocked.Read(ref _pauses);

    /// <summary>Seconds of recordings paused, from the sidecars written (each call's <c>pausedSeconds</c>, counted when it is finalised).</summary>
    public double PausedSeconds => Volatile.Read(ref _pausedSeconds);

    private long _pauses;
    private double _pausedSeconds;

    /// <summary>
    /// Any thread: pauses (or resumes) the recording of the call in progress <paramref name="recordingId"/> on whichever
    /// source captures it; true once a capture thread applied it (the call's <see cref="ActiveCall"/> then shows it),
    /// false when no source has that call or none answered within <paramref name="timeout"/> (a source that reads no frame).
    /// </summary>
    public async Task<bool> RequestPause(string recordingId, bool pause, string by, TimeSpan timeout)
    {
        Task<bool>[] asked = [.. Sources.Select(s => s.Pipeline.RequestPause(recordingId, pause, by))];
        Task<bool[]> all = Task.WhenAll(asked);
        if (await Task.WhenAny(all, Task.Delay(timeout)) != all)
        {
            return asked.Any(t => t.IsCompletedSuccessfully && t.Result);
        }

        return (await all).Any(found => found);
    }

    void ICallObserver.CallPauseChanged(string recordingId, bool paused, long atNs, string by)
    {
        DateTimeOffset at = CaptureTime.ToDateTime(atNs);
        if (_active.TryGetValue(recordingId, out ActiveCall? call))
        {
            _active[recordingId] = call with { Paused = paused, PausedBy = paused ? by : null, PausedAt = paused ? at : null };
        }

        if (paused)
        {
            Interlocked.Increment(ref _pauses);
        }

        CallNotice?.Invoke(new CallNotice(paused ? "call.paused" : "call.resumed", recordingId, at, call?.Metadata, null, null) { By = by });
    }

    /// <summary>A recording put under legal hold (<c>recording.held</c>) or released (<c>recording.released</c>) by a token.</summary>
    internal void RecordingHoldChanged(string recordingId, bool held, DateTimeOffset at, string by) =>
        CallNotice?.Invoke(new CallNotice(held ? "recording.held" : "recording.released", recordingId, at, null, null, null) { By = by });

    /// <summary>A recording deleted (<c>recording.deleted</c>): by whom (retention) and why.</summary>
    internal void RecordingDeleted(string recordingId, string by, string reason) =>
        CallNotice?.Invoke(new CallNotice("recording.deleted", recordingId, DateTimeOffset.UtcNow, null, reason, null) { By = by });

    void ICallObserver.CallEnded(string recordingId, string reason, long atNs)
    {
        _active.TryRemove(recordingId, out ActiveCall? call);
        CallNotice?.Invoke(new CallNotice("call.ended", recordingId, CaptureTime.ToDateTime(atNs), call?.Metadata, reason, null));
    }

    void ICallResultSink.OnCallFinished(CallSidecar sidecar)
    {
        Interlocked.Increment(ref _recordingsWritten);
        if (sidecar.PausedSeconds > 0)
        {
            AddPausedSeconds(sidecar.PausedSeconds);
        }
        CallNotice?.Invoke(new CallNotice("recording.written", sidecar.Id, DateTimeOffset.UtcNow, null, sidecar.EndReason, sidecar));
    }

    private void AddPausedSeconds(double seconds)
    {
        double seen = Volatile.Read(ref _pausedSeconds);
        while (Interlocked.CompareExchange(ref _pausedSeconds, seen + seconds, seen) is var now && now != seen)
        {
            seen = now;
        }
    }

    void ICallResultSink.OnRecordingError(string recordingId, Exception error)
    {
        Interlocked.Increment(ref _recordingsFailed); // the workers tell each recording once
        CallNotice?.Invoke(new CallNotice("recording.failed", recordingId, DateTimeOffset.UtcNow, null, error.Message, null));
    }
}

/// <summary>One capture source (interface or replayed file) and its pipeline.</summary>
public sealed class CaptureSourceState(string name, bool live, CapturePipeline pipeline)
{
    public string Name { get; } = name;

    public bool Live { get; } = live;

    public CapturePipeline Pipeline { get; } = pipeline;

    /// <summary>Set by the capture thread when its source ended (replay finished, interface error).</summary>
    public volatile bool Ended;

    /// <summary>Stopwatch timestamp of the capture thread's last read (a frame, a read timeout or a paced wait): watchdog progress, not a timer.</summary>
    public long LastFrameTicks;

    /// <summary>The capture source, for pcap_stats (kernel and interface drops) and a live interface's state.</summary>
    internal IPacketSource? PcapSource { get; init; }

    /// <summary>A live interface: 1 while it is open and its link is up, 0 while lost or down; null for a replayed file.</summary>
    public bool? InterfaceUp => PcapSource is LiveInterface live ? live.IsUp : null;

    /// <summary>A live interface: notices its removal or replacement and link changes (a timer, about once a second).</summary>
    internal void CheckInterface() => (PcapSource as LiveInterface)?.Check();

    /// <summary>How many times a live interface was opened again after it was lost (0 for a file).</summary>
    public int InterfaceReopens => PcapSource is LiveInterface live ? live.Reopens : 0;

    /// <summary>pcap_stats of a live source (false for a replayed file or once closed); any thread.</summary>
    public bool TryGetStatistics(out PcapStatistics statistics)
    {
        statistics = default;
        try
        {
            return PcapSource is { } source && source.TryGetStatistics(out statistics);
        }
        catch (ObjectDisposedException)
        {
            return false; // closed at shutdown while a scrape read it
        }
    }
}
