using System.Diagnostics;
using System.Diagnostics.Metrics;
using Appliance.Service;
using Appliance.Systemd;
using Capture.Bindings;
using Capture.Diagnostics;
using Capture.Interop;
using Capture.Pipeline;

namespace Appliance.Metrics;

/// <summary>
/// The appliance's instruments on the meter "Appliance". Everything is read at scrape time from what the pipelines
/// count anyway (<see cref="CapturePipeline.Snapshot"/>, pcap_stats, the workers' and the directory's own fields):
/// nothing is added to the per-packet path. Calls ended and recordings written are counted from the runtime's call
/// notices (once per call). Snapshot counters without an explicit mapping still appear, by the kind their writer
/// declared (<see cref="CounterKind"/>): invalid input by protocol and reason, limits hit by name, levels in
/// <c>appliance_pipeline_levels{counter="name"}</c> and every other event in
/// <c>appliance_pipeline_events_total{counter="name"}</c>, so counters that a protocol adds are exported without more
/// code here.
/// </summary>
public sealed class ApplianceMetrics : IDisposable
{
    public const string MeterName = "Appliance";

    /// <summary>Snapshot counters exported under their own metric (not again in the generic family).</summary>
    private static readonly HashSet<string> s_mapped = new(StringComparer.Ordinal)
    {
        "frames", "bytes", "queue_drops", "capture_errors", "calls_started", "calls_ended",
        "rtp_packets_processed", "rtp_packets_lost", "rtp_duplicates_dropped",
        "recordings_written", "sidecars_written", "recordings_failed",
        "recording_pages_dropped", "recording_bytes_dropped", "sidecars_pending",
        "spooled_packets", "spool_memory_bytes", "spool_disk_bytes",
    };

    private readonly ApplianceRuntime _runtime;
    private readonly Counter<long> _callsEnded;
    private readonly Counter<long> _recordings;
    private readonly Lock _sampleGate = new();
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private Sample[] _sample = [];
    private long _sampleTimestamp;

    public ApplianceMetrics(ApplianceRuntime runtime)
    {
        _runtime = runtime;
        Meter = new Meter(MeterName, typeof(ApplianceMetrics).Assembly.GetName().Version?.ToString());
        Meter m = Meter;

        m.CreateObservableGauge("appliance.ready", () => _runtime.Ready ? 1 : 0, null, "1 once every capture source runs (readyz), 0 while starting or stopping");
        m.CreateObservableGauge("appliance.start_time", () => _startedAt.ToUnixTimeMilliseconds() / 1000.0, "s", "When the appliance started (Unix time)");

        // Capture
        m.CreateObservableCounter("appliance.capture.packets", () => PerSource(s => s.Counter("frames")), "{packet}", "Frames read from the capture source");
        m.CreateObservableCounter("appliance.capture.bytes", () => PerSource(s => s.Counter("bytes")), "By", "Bytes of the frames read (captured length)");
        m.CreateObservableCounter("appliance.capture.dropped_packets", Drops, "{packet}",
            "Packets lost, by stage: kernel and interface (pcap_stats ps_drop, ps_ifdrop; live only), queue (a media worker was behind with its queue and spool full)");
        m.CreateObservableCounter("appliance.capture.spooled_packets", () => PerSource(s => s.Counter("spooled_packets")), "{packet}",
            "RTP packets that waited in a media worker's spool (memory, then disk) because its queue was full (live capture)");
        m.CreateObservableCounter("appliance.capture.errors", () => PerSource(s => s.Counter("capture_errors")), "{error}", "Read errors that ended a replayed file (a live interface is reopened instead)");
        m.CreateObservableGauge("appliance.capture.interface_up", InterfaceUp, null,
            "Live interfaces: 1 while captured with the link up, 0 while the interface is missing (reopened every second) or its link is down");
        m.CreateObservableCounter("appliance.capture.interface_reopens", () => PerSource(s => s.State.InterfaceReopens), "{reopen}",
            "Times a live interface was opened again after it was removed, replaced or failed");
        m.CreateObservableGauge("appliance.capture.progress_age", () => PerSource(s => s.ProgressAgeSeconds), "s",
            "Seconds since the capture thread last stamped progress (a frame, a read timeout or a paced wait); grows on a silent live port while the read waits");
        m.CreateObservableCounter("appliance.invalid_input", InvalidInput, "{packet}",
            "Bad input counted and skipped, by protocol (frame decoder, sip, tcp, skinny, ...) and reason");
        m.CreateObservableCounter("appliance.limits_hit", () => OfKind(CounterKind.Limit, "limit"), "{event}", "Work refused at a configured limit (fragment reassembly, TCP streams, open calls), by the pipeline counter's name");
        m.CreateObservableCounter("appliance.pipeline.events", () => OfKind(CounterKind.Event, "counter"), "{event}", "Every other pipeline counter, by its name in CapturePipeline.Snapshot()");
        m.CreateObservableGauge("appliance.pipeline.levels", () => OfKind(CounterKind.Gauge, "counter"), "{item}", "Pipeline levels that go up and down (open TCP connections, buffered bytes), by name");

        // Calls and recordings
        m.CreateObservableGauge("appliance.active_calls", () => PerSource(s => (double)s.ActiveCalls), "{call}", "Calls in progress");
        m.CreateObservableCounter("appliance.calls.started", () => PerSource(s => s.Counter("calls_started")), "{call}", "Calls seen starting");
        m.CreateObservableCounter("appliance.calls.pauses", () => _runtime.Pauses, "{pause}", "Recordings paused (PCI DSS) through the API: pauses that took effect (not a request for a call already paused)");
        m.CreateObservableGauge("appliance.calls.paused", () => _runtime.ActiveCalls.Count(c => c.Paused), "{call}", "Calls in progress whose recording is paused now");
        m.CreateObservableCounter("appliance.calls.paused_seconds", () => _runtime.PausedSeconds, "s",
            "Seconds of recordings paused (silence in the file), from the sidecars of the recordings finalised (their pausedSeconds)");
        _callsEnded = m.CreateCounter<long>("appliance.calls.ended", "{call}", "Calls ended, by protocol and end reason");
        _recordings = m.CreateCounter<long>("appliance.recordings.written", "{recording}", "Recordings finalised (audio and sidecar), by protocol and end reason");
        m.CreateObservableCounter("appliance.recordings.failed", () => _runtime.RecordingsFailed, "{recording}",
            "Recordings that lost something (audio pages to failed writes such as a full disk, their sidecar, or everything to an error), counted once per recording when it first happens");
        m.CreateObservableCounter("appliance.recordings.dropped_pages", () => PerSource(s => s.Counter("recording_pages_dropped")), "{page}", "Ogg pages of audio (about 1 s of a call each) that could not be written");
        m.CreateObservableCounter("appliance.recordings.dropped", () => PerSource(s => s.Counter("recording_bytes_dropped")), "By", "Bytes of the audio pages that could not be written");
        m.CreateObservableGauge("appliance.recordings.sidecars_pending", () => PerSource(s => s.Counter("sidecars_pending")), "{sidecar}", "Sidecars of ended calls waiting for the disk (retried about once a second)");
        m.CreateObservableGauge("appliance.recordings.write_failing", () => _runtime.RecordingDisk?.Failing == true ? 1 : 0, null, "1 while writes to the recordings folder are failing (an episode: from the first failed write to a write after 3 s without failure)");
        m.CreateObservableCounter("appliance.rtp.packets", () => PerSource(s => s.Counter("rtp_packets_processed")), "{packet}", "RTP packets the media workers processed");
        m.CreateObservableCounter("appliance.rtp.packets_lost", () => PerSource(s => s.Counter("rtp_packets_lost")), "{packet}", "RTP packets missing from the sequence (concealed or silence)");
        m.CreateObservableCounter("appliance.rtp.duplicates_dropped", () => PerSource(s => s.Counter("rtp_duplicates_dropped")), "{packet}", "Duplicate RTP packets removed (mirror ports see packets twice)");

        // Retention (README "Retention and legal hold")
        m.CreateObservableCounter("appliance.retention.deleted", RetentionDeleted, "{recording}",
            "Recordings deleted by retention, by reason (keep-days, low-water)");
        m.CreateObservableCounter("appliance.retention.freed", () => _runtime.Retention.BytesFreed, "By", "Bytes of audio and sidecars retention deleted");
        m.CreateObservableGauge("appliance.retention.held", () => _runtime.Retention.Held, "{recording}", "Recordings under legal hold now (never deleted)");

        // Encoder lag
        m.CreateObservableGauge("appliance.worker.queue_depth", () => PerWorker(w => w.QueueDepth), "{item}", "Packets and commands waiting in a media worker's queue");
        m.CreateObservableGauge("appliance.worker.spool_memory", () => PerWorker(w => w.SpoolMemoryBytes), "By", "Bytes of items waiting in a media worker's spool in memory");
        m.CreateObservableGauge("appliance.worker.spool_disk", () => PerWorker(w => w.SpoolDiskBytes), "By", "Bytes of items waiting in a media worker's spool file");
        m.CreateObservableGauge("appliance.worker.progress_age", () => PerWorker(w => Math.Max(0, Environment.TickCount64 - w.LastProgressTicks) / 1000.0), "s",
            "Seconds since the media worker last had an empty queue (its lag behind capture)");

        // Control API
        m.CreateObservableGauge("appliance.api.event_clients", () => _runtime.EventClients.Active, "{client}", "Event-stream (GET /api/events) clients connected");
        m.CreateObservableCounter("appliance.api.event_clients_refused", () => _runtime.EventClients.Refused, "{client}",
            "Event-stream clients refused with 503 because MaxEventClients were connected");
        m.CreateObservableCounter("appliance.api.event_clients_dropped", () => _runtime.EventClients.Dropped, "{client}",
            "Event-stream clients disconnected because they fell 256 events behind (slow or not reading)");
        m.CreateObservableCounter("appliance.api.auth_failures", AuthFailures, "{attempt}",
            "Failed authentications by kind: sign-in (POST /api/session), bearer (a wrong API token on any route), appliance (a wrong peer credential)");
        m.CreateObservableCounter("appliance.api.auth_throttled", () => _runtime.AuthThrottle.Refused, "{attempt}",
            "Authentication attempts refused unchecked (429) because their address had too many failures (AuthThrottle)");

        // Directory
        m.CreateObservableGauge("appliance.directory.devices", () => FromDirectory(d => d.DeviceCount), "{device}", "Devices the directory knows");
        m.CreateObservableGauge("appliance.directory.extensions", () => FromDirectory(d => d.ExtensionCount), "{extension}", "Extensions with at least one line appearance");
        m.CreateObservableGauge("appliance.directory.logged_in", () => FromDirectory(d => d.LoggedInCount), "{user}", "Users logged in somewhere");
        m.CreateObservableGauge("appliance.directory.conflicts", () => FromDirectory(d => d.OpenConflictCount), "{conflict}", "Open line-1 conflicts");
        m.CreateObservableGauge("appliance.directory.checkpoint_age", CheckpointAge, "s", "Seconds since the directory state was last persisted and checkpointed");
        m.CreateObservableCounter("appliance.directory.persist_failures", () => FromDirectory(d => d.PersistFailures), "{failure}", "Failed checkpoints of the directory state");
        m.CreateObservableGauge("appliance.directory.persist_failing", () => FromDirectory(d => d.PersistFailing ? 1 : 0), "",
            "1 while the directory state cannot be persisted (changes kept in memory, retried every checkpoint interval)");

        // Cluster (README "Cluster"): nothing while it is off
        m.CreateObservableGauge("appliance.cluster.connected", () => FromCluster(c => c.Connected ? 1 : 0), "", "1 while the shared directory's server answers");
        m.CreateObservableGauge("appliance.cluster.degraded", () => FromCluster(c => c.Degraded ? 1 : 0), "",
            "1 while the shared directory is unreachable or not yet reconciled (recording goes on, changes are queued)");
        m.CreateObservableGauge("appliance.cluster.pending_changes", () => FromCluster(c => c.PendingChanges), "{change}", "Directory changes waiting for the shared server");
        m.CreateObservableCounter("appliance.cluster.published", () => FromCluster(c => c.Published), "{change}", "Directory changes this appliance wrote to the shared server");
        m.CreateObservableCounter("appliance.cluster.applied", () => FromCluster(c => c.Applied), "{change}", "Other appliances' directory changes applied here");
        m.CreateObservableCounter("appliance.cluster.failures", () => FromCluster(c => c.Failures), "{failure}", "Failed exchanges with the shared server");

        // The central recordings index (README "Cluster"): nothing while Cluster:Postgres is unset
        m.CreateObservableGauge("appliance.central.degraded", () => FromCentral(c => c.Degraded ? 1 : 0), "",
            "1 while the central recordings index (PostgreSQL) is unreachable or its schema not prepared (recording goes on, rows are queued)");
        m.CreateObservableGauge("appliance.central.pending", () => FromCentral(c => c.Pending), "{change}", "Recording changes queued in the local index for the central index");
        m.CreateObservableCounter("appliance.central.sent", () => FromCentral(c => c.Sent), "{recording}", "Recordings written to (or deleted from) the central index");
        m.CreateObservableCounter("appliance.central.failures", () => FromCentral(c => c.Failures), "{failure}", "Failed exchanges with the central index");

        _runtime.CallNotice += OnCallNotice;
    }

    private IEnumerable<Measurement<double>> FromCentral(Func<Appliance.Cluster.CentralIndex, double> read)
    {
        if (_runtime.Central is { } c)
        {
            yield return new Measurement<double>(read(c));
        }
    }

    private IEnumerable<Measurement<double>> FromCluster(Func<Appliance.Cluster.SharedDirectory, double> read)
    {
        if (_runtime.Cluster is { } c)
        {
            yield return new Measurement<double>(read(c));
        }
    }

    public Meter Meter { get; }

    private void OnCallNotice(CallNotice notice)
    {
        switch (notice.Kind)
        {
            case "call.ended":
                _callsEnded.Add(1, new KeyValuePair<string, object?>("protocol", notice.Metadata?.Protocol ?? "unknown"), new KeyValuePair<string, object?>("reason", notice.Reason ?? "unknown"));
                break;
            case "recording.written":
                _recordings.Add(1, new KeyValuePair<string, object?>("protocol", notice.Sidecar?.Protocol ?? "unknown"), new KeyValuePair<string, object?>("reason", notice.Reason ?? "unknown"));
                break;
        }
    }

    private IEnumerable<Measurement<long>> RetentionDeleted()
    {
        yield return new Measurement<long>(_runtime.Retention.DeletedKeepDays, new KeyValuePair<string, object?>("reason", "keep-days"));
        yield return new Measurement<long>(_runtime.Retention.DeletedLowWater, new KeyValuePair<string, object?>("reason", "low-water"));
    }

    private IEnumerable<Measurement<long>> AuthFailures()
    {
        Appliance.Endpoints.AuthThrottle throttle = _runtime.AuthThrottle;
        yield return new Measurement<long>(throttle.Failures(Appliance.Endpoints.AuthKind.SignIn), new KeyValuePair<string, object?>("kind", "sign-in"));
        yield return new Measurement<long>(throttle.Failures(Appliance.Endpoints.AuthKind.Bearer), new KeyValuePair<string, object?>("kind", "bearer"));
        yield return new Measurement<long>(throttle.Failures(Appliance.Endpoints.AuthKind.Appliance), new KeyValuePair<string, object?>("kind", "appliance"));
    }

    /// <summary>One read of every source, shared by all instruments of one scrape (at most 200 ms old).</summary>
    private Sample[] Samples()
    {
        lock (_sampleGate)
        {
            long now = Stopwatch.GetTimestamp();
            if (_sampleTimestamp != 0 && Stopwatch.GetElapsedTime(_sampleTimestamp, now) < TimeSpan.FromMilliseconds(200))
            {
                return _sample;
            }

            IReadOnlyList<CaptureSourceState> sources = _runtime.Sources;
            var fresh = new Sample[sources.Count];
            for (int i = 0; i < sources.Count; i++)
            {
                CaptureSourceState s = sources[i];
                Sample? previous = i < _sample.Length && ReferenceEquals(_sample[i].State, s) ? _sample[i] : null;
                fresh[i] = Sample.Take(s, now, previous);
            }

            _sample = fresh;
            _sampleTimestamp = now;
            return fresh;
        }
    }

    private IEnumerable<Measurement<double>> PerSource(Func<Sample, double> read)
    {
        foreach (Sample s in Samples())
        {
            yield return new Measurement<double>(read(s), s.SourceTag);
        }
    }

    private IEnumerable<Measurement<double>> PerWorker(Func<MediaWorkerStats, double> read)
    {
        foreach (Sample s in Samples())
        {
            for (int i = 0; i < s.Workers.Count; i++)
            {
                yield return new Measurement<double>(read(s.Workers[i]), s.SourceTag, new KeyValuePair<string, object?>("worker", i));
            }
        }
    }

    private IEnumerable<Measurement<long>> Drops()
    {
        foreach (Sample s in Samples())
        {
            if (s.Pcap is { } st)
            {
                yield return new Measurement<long>(st.DroppedByKernel, s.SourceTag, new KeyValuePair<string, object?>("stage", "kernel"));
                yield return new Measurement<long>(st.DroppedByInterface, s.SourceTag, new KeyValuePair<string, object?>("stage", "interface"));
            }

            yield return new Measurement<long>((long)s.Counter("queue_drops"), s.SourceTag, new KeyValuePair<string, object?>("stage", "queue"));
        }
    }

    private IEnumerable<Measurement<int>> InterfaceUp()
    {
        foreach (Sample s in Samples())
        {
            if (s.State.InterfaceUp is bool up)
            {
                yield return new Measurement<int>(up ? 1 : 0, s.SourceTag);
            }
        }
    }

    private IEnumerable<Measurement<long>> InvalidInput()
    {
        foreach (Sample s in Samples())
        {
            foreach (CounterValue c in s.Counters.All)
            {
                if (c.Kind == CounterKind.Invalid)
                {
                    yield return new Measurement<long>(c.Value, s.SourceTag, new("protocol", c.Protocol), new("reason", c.Reason));
                }
            }
        }
    }

    /// <summary>Every counter of <paramref name="kind"/> not exported under a metric of its own, labelled by its name.</summary>
    private IEnumerable<Measurement<long>> OfKind(CounterKind kind, string label)
    {
        foreach (Sample s in Samples())
        {
            foreach (CounterValue c in s.Counters.All)
            {
                if (c.Kind == kind && !s_mapped.Contains(c.Name))
                {
                    yield return new Measurement<long>(c.Value, s.SourceTag, new KeyValuePair<string, object?>(label, c.Name));
                }
            }
        }
    }

    private IEnumerable<Measurement<double>> FromDirectory(Func<BindingDirectory, double> read)
    {
        if (_runtime.Directory is { } d)
        {
            yield return new Measurement<double>(read(d));
        }
    }

    private IEnumerable<Measurement<double>> CheckpointAge()
    {
        if (_runtime.Directory?.LastPersistedAt is { } at)
        {
            yield return new Measurement<double>(Math.Max(0, (DateTimeOffset.UtcNow - at).TotalSeconds));
        }
    }

    public void Dispose()
    {
        _runtime.CallNotice -= OnCallNotice;
        Meter.Dispose();
    }

    /// <summary>What one scrape reads of a source.</summary>
    private sealed class Sample
    {
        public required CaptureSourceState State { get; init; }

        public required KeyValuePair<string, object?> SourceTag { get; init; }

        public required CounterDictionary Counters { get; init; }

        public required IReadOnlyList<MediaWorkerStats> Workers { get; init; }

        public PcapStatistics? Pcap { get; init; }

        public int ActiveCalls { get; init; }

        public double ProgressAgeSeconds { get; init; }

        public double Counter(string name) => Counters.TryGetValue(name, out long v) ? v : 0;

        public static Sample Take(CaptureSourceState s, long now, Sample? previous)
        {
            // Counters are plain fields and fixed arrays written by the capture thread: reading them never throws.
            CounterDictionary counters = s.Pipeline.Snapshot();

            return new Sample
            {
                State = s,
                SourceTag = new("source", s.Name),
                Counters = counters,
                Workers = s.Pipeline.WorkerStats(),
                Pcap = s.TryGetStatistics(out PcapStatistics st) ? st : null,
                ActiveCalls = s.Pipeline.ActiveCalls,
                ProgressAgeSeconds = s.Ended ? 0 : CaptureProgress.AgeSeconds(s, now),
            };
        }
    }
}
