using System.Buffers.Binary;
using System.Collections.Concurrent;
using Capture.Bindings;
using Capture.Calls;
using Capture.Diagnostics;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
using Capture.Rtp;
using Capture.Signalling;
using Capture.Sip;
using Capture.Skinny;

namespace Capture.Pipeline;

/// <summary>How a capture run ended.</summary>
public enum CaptureEnd
{
    EndOfFile,
    Stopped,
    Error,
}

/// <summary>
/// The capture side of DESIGN section 4: decodes frames in place, classifies media to calls through the call book's
/// one flow table, offers everything else to the signalling protocols (which know their own ports and framing), and
/// hands each recorded call's packets (copied once into a queue slot) to the worker that owns the call.
/// </summary>
public sealed partial class CapturePipeline : ICallSink, IDisposable
{
    private readonly PipelineOptions _options;
    private readonly RecordingOptions _recording;
    private readonly FrameDecoder _decoder = new();
    private readonly CallBook _calls;
    private readonly BindingDirectory? _directory;

    // Offered, in order, each datagram that is no call's media and each new TCP connection.
    private readonly ISignallingProtocol[] _protocols;

    // Offered last: RTP that no call and no signalling claimed.
    private readonly UnsignalledRtpTracker _unsignalled;
    private readonly MediaWorker[] _workers;
    private readonly bool _inline;
    private readonly long _tickNs;
    private long _nextTickNs;

    // Capture time for everything after decoding (signalling, media, ticks, timeouts, the end of the capture): one
    // far-off timestamp cannot move it (a single datagram a minute ahead would otherwise time out every call at once,
    // a mutated one date a call decades away); a real gap or clock step, confirmed by the next packet, does. The packet
    // that opens such a gap is processed at the time before it.
    private CaptureClock _clock = new(forwardBoundNs: 60_000_000_000, backwardBoundNs: 60_000_000_000, continuous: false);
    // Pause and resume requests from other threads (the API), applied by the capture thread at its clock's time, in
    // order with the call's media: a lock-free queue looked at once per frame (IsEmpty allocates nothing), so the
    // per-packet path takes no lock. The recorded calls in progress by recording id, to find a request's call.
    private readonly ConcurrentQueue<PauseRequest> _pauseRequests = new();
    private readonly Dictionary<string, WorkerRoute> _routes = new(StringComparer.Ordinal);
    private static int s_instances;
    private int _nextWorker;
    private int _nextRecordingKey;
    private bool _completed;
    private bool _finished;

    /// <param name="directory">The bindings directory to learn into and attribute calls from; null records without one.</param>
    public CapturePipeline(RecordingOptions recording, PipelineOptions? options = null, SipTrackerOptions? sip = null, ICallResultSink? results = null, BindingDirectory? directory = null)
    {
        recording.Validate();
        _options = options ?? new PipelineOptions();
        _options.Validate();
        _inline = _options.Workers == 0;
        _workers = new MediaWorker[Math.Max(1, _options.Workers)];
        RecordingDisk disk = recording.Disk ?? new RecordingDisk(Path.GetFullPath(recording.OutputDirectory));
        int instance = Interlocked.Increment(ref s_instances); // two sources, two pipelines: their spool files apart
        if (_options.SpoolDirectory is { } spoolDirectory && !_inline)
        {
            WorkSpool.DeleteLeftovers(Path.GetFullPath(spoolDirectory));
        }

        for (int i = 0; i < _workers.Length; i++)
        {
            string? spoolFile = _options.SpoolDirectory is { } dir && _options.SpoolDiskBytes > 0
                ? Path.Combine(Path.GetFullPath(dir), $"worker-{Environment.ProcessId}-{instance}-{i}.spool")
                : null;
            var spool = new WorkSpool(_options.SpoolMemoryBytes / _workers.Length, _options.SpoolDiskBytes / _workers.Length, spoolFile);
            _workers[i] = new MediaWorker(i, _options.QueueCapacity, results, threaded: !_inline, disk, spool);
        }

        _recording = recording;
        _calls = new CallBook(this, directory);
        _unsignalled = new UnsignalledRtpTracker(_calls, _options.UnsignalledRtp);
        _protocols = [new SkinnyProtocol(_calls, directory: directory), new SipProtocol(_calls, sip, directory)];
        _directory = directory;
        _tickNs = _options.TickInterval.Ticks * 100;
        _tcp = new TcpReassembler(this, _options.Tcp);
    }

    public PipelineCounters Counters { get; } = new();

    /// <summary>Told when calls start, change and end (set before the capture starts).</summary>
    public ICallObserver? Observer { get; set; }

    public int ActiveCalls => _calls.ActiveCalls;

    public IReadOnlyList<MediaWorkerStats> WorkerStats()
    {
        var stats = new MediaWorkerStats[_workers.Length];
        for (int i = 0; i < _workers.Length; i++)
        {
            MediaWorker w = _workers[i];
            stats[i] = new MediaWorkerStats(
                Volatile.Read(ref w.RtpPackets),
                Volatile.Read(ref w.PacketsLost),
                Volatile.Read(ref w.DuplicatesDropped),
                Volatile.Read(ref w.RecordingsWritten),
                Volatile.Read(ref w.SidecarsWritten),
                Volatile.Read(ref w.RecordingsFailed),
                Volatile.Read(ref w.PagesDropped),
                Volatile.Read(ref w.BytesDropped),
                Volatile.Read(ref w.SidecarsPending),
                w.Queue.Count,
                Volatile.Read(ref w.LastProgressTicks),
                w.Spool.MemoryBytes,
                w.Spool.DiskBytes,
                w.Spool.DiskBytesWritten,
                Volatile.Read(ref w.Spool.DiskErrors) + Volatile.Read(ref w.Spool.DiskReadErrors),
                Volatile.Read(ref w.Spool.RecordsLost));
        }

        return stats;
    }

    public long CallsStarted => _calls.CallsStarted;

    /// <summary>Every counter by name, each with its kind (metrics, replay --json): the pipeline's, TCP's and each protocol's.</summary>
    public CounterDictionary Snapshot()
    {
        var counters = new CounterWriter();
        Counters.Write(counters, _decoder, WorkerStats());
        counters.Event("clock_outliers", _clock.Outliers);
        counters.Event("clock_jumps", _clock.Jumps);
        counters.Event("calls_started", _calls.CallsStarted);
        counters.Event("calls_ended", _calls.RecordingsEnded);
        counters.Event("calls_not_recorded", _calls.CallsNotRecorded);
        counters.Event("recordings_stopped_by_logout", _calls.RecordingsStoppedByLogout);
        counters.Event("rtp_unsignalled_taken_over", _calls.UnsignalledTakenOver);
        counters.Event("rtp_parties_behind_nat", _calls.PartiesBehindNat);
        ConversationCorrelator conversations = _calls.Conversations;
        counters.Event("relayed_dialogs", conversations.RelayedDialogs);
        counters.Event("relayed_dialogs_confirmed", conversations.RelayedDialogsConfirmed);
        counters.Event("relayed_dialogs_copied", conversations.RelayedDialogsCopied);
        counters.Event("transfers_referred", conversations.Referrals);
        counters.Event("transfers_joined", conversations.ReferralsJoined);
        _tcp.WriteCounters(counters);
        foreach (ISignallingProtocol protocol in _protocols)
        {
            protocol.WriteCounters(counters);
        }

        _unsignalled.WriteCounters(counters);

        return counters.ToSnapshot();
    }

    /// <summary>
    /// Any thread: pauses (or resumes, <paramref name="pause"/> false) the recording of the call in progress
    /// <paramref name="recordingId"/>, by <paramref name="by"/>. The capture thread applies it with its next frame or
    /// read timeout, at its clock's time; the task then says whether this pipeline had that call (a pause of a paused call
    /// changes nothing and is true). <see cref="ICallObserver.CallPauseChanged"/> is told of each change.
    /// </summary>
    public Task<bool> RequestPause(string recordingId, bool pause, string by)
    {
        var request = new PauseRequest(recordingId, pause, by);
        _pauseRequests.Enqueue(request);
        if (Volatile.Read(ref _completed))
        {
            request.Applied.TrySetResult(false); // no capture thread will look again
        }

        return request.Applied.Task;
    }

    /// <summary>Capture thread: the pause requests waiting, at capture time <paramref name="now"/>.</summary>
    private void ApplyPauseRequests(long now)
    {
        while (_pauseRequests.TryDequeue(out PauseRequest? request))
        {
            if (!_routes.TryGetValue(request.RecordingId, out WorkerRoute? route))
            {
                request.Applied.TrySetResult(false);
                continue;
            }

            if (route.Paused != request.Pause)
            {
                route.Paused = request.Pause;
                Enqueue(route.Worker, WorkKind.Command, default, now, default, new PauseCommand(route.Recording, request.Pause, now, request.By));
                Observer?.CallPauseChanged(request.RecordingId, request.Pause, now, request.By);
            }

            request.Applied.TrySetResult(true);
        }
    }

    private sealed class PauseRequest(string recordingId, bool pause, string by)
    {
        public string RecordingId { get; } = recordingId;
        public bool Pause { get; } = pause;
        public string By { get; } = by;

        // Completed by the capture thread; whoever waits continues on its own thread, never on the capture thread.
        public TaskCompletionSource<bool> Applied { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Reads a source until it ends or <paramref name="ct"/> asks to stop (live sources are stopped with BreakLoop).</summary>
    public CaptureEnd Run(IPacketSource source, CancellationToken ct = default)
    {
        using CancellationTokenRegistration reg = ct.Register(source.BreakLoop);
        while (true)
        {
            PcapReadStatus status = source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame);
            switch (status)
            {
                case PcapReadStatus.Packet:
                    ProcessFrame(source.LinkType, ts, frame);
                    break;
                case PcapReadStatus.Timeout:
                    if (ct.IsCancellationRequested)
                    {
                        return CaptureEnd.Stopped;
                    }

                    FlushSpools(); // a quiet source: what waits for the spool disk becomes readable
                    if (!_pauseRequests.IsEmpty)
                    {
                        ApplyPauseRequests(_clock.Now);
                    }

                    break;
                case PcapReadStatus.EndOfFile:
                    return ct.IsCancellationRequested ? CaptureEnd.Stopped : CaptureEnd.EndOfFile;
                default:
                    Counters.CaptureErrors++;
                    return ct.IsCancellationRequested ? CaptureEnd.Stopped : CaptureEnd.Error;
            }
        }
    }

    /// <summary>One captured frame: decode, classify, dispatch. Allocates nothing in steady state.</summary>
    public void ProcessFrame(int linkType, long timestampNs, ReadOnlySpan<byte> frame)
    {
        Counters.Frames++;
        Counters.Bytes += frame.Length;
        long before = _clock.Now;
        long now = _clock.Advance(timestampNs);
        if (now < before)
        {
            _nextTickNs = now; // the clock stepped back (confirmed): tick on the new timeline
        }

        if (now >= _nextTickNs)
        {
            Tick(now);
        }

        _calls.ApplyDirectoryChanges(); // a logout (API, schedule, another phone's REGISTER) reaches its calls at once
        if (!_pauseRequests.IsEmpty)
        {
            ApplyPauseRequests(now); // before this frame's media: a pause takes effect at this time
        }

        DecodeResult result = _decoder.Decode(linkType, now, frame, out DecodedPacket packet, out _);
        if (result != DecodeResult.Packet)
        {
            return; // the decoder counts its drops by reason; held fragments come back completed later
        }

        if (packet.Protocol == TransportProtocol.Tcp)
        {
            ProcessTcpSegment(packet);
            return;
        }

        Counters.UdpDatagrams++;
        if (TryMedia(packet, now))
        {
            return;
        }

        foreach (ISignallingProtocol protocol in _protocols)
        {
            if (protocol.TryTakeDatagram(packet))
            {
                return;
            }
        }

        switch (_unsignalled.Offer(packet))
        {
            case UnsignalledRtpResult.Recognised:
                TryMedia(packet, now); // the packet that proved its stream is the recording's first
                break;
            case UnsignalledRtpResult.NotRtp:
                Counters.UdpUnclassified++;
                break;
            default:
                break; // counted by the tracker: a stream on probation, one it cannot record, trailing media or a fork
        }
    }

    /// <summary>A datagram of a call's media goes to its recording's worker (or is counted when the call is not recorded).</summary>
    private bool TryMedia(in DecodedPacket packet, long now)
    {
        if (!_calls.Media.TryClassify(packet.Source, packet.Destination, now, out Call? call, out Channel speaker))
        {
            return false;
        }

        Counters.MediaPackets++;
        ReadOnlySpan<byte> rtp = packet.Payload;
        if (rtp.Length >= 12 && (rtp[0] >> 6) == 2)
        {
            _calls.Media.NoteSsrc(call!, speaker, BinaryPrimitives.ReadUInt32BigEndian(rtp[8..])); // a relay's other leg is found by it
        }

        if (CallBook.HasRelayPending(call!))
        {
            _calls.ObserveRelayedMedia(call!, speaker, packet.Payload, now); // a relayed dialog's media is the conversation's, or not
        }

        if (!call!.Recorded)
        {
            Counters.MediaNotRecorded++;
            return true;
        }

        var route = (WorkerRoute)call.Route!;
        if (Enqueue(route.Worker, WorkKind.Rtp, speaker, now, packet.Payload, route.Recording))
        {
            if (route.DropsSinceNs >= 0)
            {
                EndDropEpisode(route);
            }
        }
        else
        {
            Counters.QueueDrops++;
            if (route.DropsSinceNs < 0)
            {
                route.DropsSinceNs = now;
            }

            route.DropsUntilNs = now;
            route.Drops++;
        }

        return true;
    }

    /// <summary>The call's packets get through again (or it ends): its worker learns how many were dropped, and when.</summary>
    private void EndDropEpisode(WorkerRoute route)
    {
        long from = route.DropsSinceNs;
        route.DropsSinceNs = -1;
        Enqueue(route.Worker, WorkKind.Command, default, from, default, new SpoolDropsCommand(route.Recording, route.Drops, from, route.DropsUntilNs));
        route.Drops = 0;
    }

    /// <summary>
    /// Makes every spooled record readable (end of capture, a quiet source: a read timeout). Capture thread only; while
    /// packets arrive the spool does this itself (the next item for a worker writes what waited once memory frees up).
    /// </summary>
    public void FlushSpools()
    {
        foreach (MediaWorker worker in _workers)
        {
            if (worker.Spool.Spooling)
            {
                worker.Spool.Flush();
                worker.Queue.WakeIfSleeping();
            }
        }
    }

    private void Tick(long nowNs)
    {
        _nextTickNs = nowNs + _tickNs;
        _decoder.ExpireFragments(nowNs);
        _tcp.Expire(nowNs);
        foreach (ISignallingProtocol protocol in _protocols)
        {
            protocol.Expire(nowNs);
        }

        _unsignalled.Expire(nowNs);

        _directory?.Tick(CaptureTime.ToDateTime(nowNs));

        _calls.ApplyDirectoryChanges();

        foreach (MediaWorker worker in _workers)
        {
            Enqueue(worker, WorkKind.Tick, default, nowNs, default, null); // a tick refused by a full spool is not missed: the next one mixes as far
        }
    }

    /// <summary>A signalling command for a recorded call's worker; never dropped (losing an end would lose a recording).</summary>
    private void Command(Call call, long ts, CallCommand command)
    {
        var route = (WorkerRoute)call.Route!;
        Enqueue(route.Worker, WorkKind.Command, default, ts, default, command);
    }

    /// <summary>
    /// Hands an item to its worker: to the ring, or, while the ring is full or the worker still has spooled items (order),
    /// to the worker's spool (live capture) or a wait (replay). False when the item was dropped: the ring and the spool
    /// were full (a command never is).
    /// </summary>
    private bool Enqueue(MediaWorker worker, WorkKind kind, Channel channel, long ts, ReadOnlySpan<byte> payload, object? target)
    {
        WorkQueue queue = worker.Queue;
        WorkSpool spool = worker.Spool;
        if (spool.Spooling)
        {
            if (!spool.Drained)
            {
                return Spool(worker, kind, channel, ts, payload, target);
            }

            spool.Spooling = false; // the worker has read everything spooled: the ring again
        }

        if (!queue.TryReserve(out int index))
        {
            if (_inline)
            {
                worker.DrainInline();
                queue.TryReserve(out index);
            }
            else if (_options.WaitWhenQueueFull)
            {
                var spin = new SpinWait();
                while (!queue.TryReserve(out index))
                {
                    Counters.QueueWaits++;
                    spin.SpinOnce();
                }
            }
            else
            {
                spool.Spooling = true;
                return Spool(worker, kind, channel, ts, payload, target);
            }
        }

        ref WorkItem item = ref queue.Slot(index);
        item.Kind = kind;
        item.Channel = channel;
        item.TimestampNs = ts;
        item.Target = target;
        if (kind == WorkKind.Rtp)
        {
            queue.CopyPayload(index, payload);
        }

        queue.Publish();
        if (_inline)
        {
            worker.DrainInline();
        }

        return true;
    }

    private bool Spool(MediaWorker worker, WorkKind kind, Channel channel, long ts, ReadOnlySpan<byte> payload, object? target)
    {
        int key = kind == WorkKind.Rtp ? ((CallRecording)target!).SpoolKey : 0;
        if (!worker.Spool.TryAppend(kind, channel, ts, payload, key, kind == WorkKind.Command ? target : null))
        {
            return false;
        }

        if (kind == WorkKind.Rtp)
        {
            Counters.SpooledPackets++;
        }

        worker.Queue.WakeIfSleeping();
        return true;
    }

    void ICallSink.CallStarted(Call call, long atNs)
    {
        MediaWorker worker = _workers[_nextWorker];
        _nextWorker = (_nextWorker + 1) % _workers.Length;
        var recording = new CallRecording(call.Id, call.Metadata, _recording, worker) { SpoolKey = ++_nextRecordingKey };
        var route = new WorkerRoute(worker, recording);
        call.Route = route;
        _routes[call.Id] = route;
        Observer?.CallStarted(call.Id, call.Metadata, atNs);
        Command(call, atNs, new CallStartCommand(recording));
    }

    void ICallSink.MetadataChanged(Call call)
    {
        Observer?.CallUpdated(call.Id, call.Metadata);
        Command(call, _clock.Now, new MetadataCommand(((WorkerRoute)call.Route!).Recording, call.Metadata));
    }

    void ICallSink.PayloadMapChanged(Call call, Channel speaker, PayloadMap map) =>
        Command(call, _clock.Now, new PayloadMapCommand(((WorkerRoute)call.Route!).Recording, speaker, map));

    void ICallSink.CallEvent(Call call, string type, long atNs, string? detail) =>
        Command(call, atNs, new EventCommand(((WorkerRoute)call.Route!).Recording, type, atNs, detail));

    void ICallSink.CallEnded(Call call, string reason, long atNs)
    {
        Observer?.CallEnded(call.Id, reason, atNs);
        var route = (WorkerRoute)call.Route!;
        _routes.Remove(call.Id); // a pause still on ends with the recording (its sidecar says so)
        if (route.DropsSinceNs >= 0)
        {
            EndDropEpisode(route); // dropping until the end: the sidecar still says so
        }

        Command(call, atNs, new EndCommand(route.Recording, reason, atNs));
    }

    /// <summary>A recorded call's media goes to this worker's queue, for this recording.</summary>
    private sealed class WorkerRoute(MediaWorker worker, CallRecording recording) : CallMediaRoute
    {
        public MediaWorker Worker { get; } = worker;
        public CallRecording Recording { get; } = recording;

        // Capture thread: packets of this call dropped since the last one that got through (spool full), and when.
        public long DropsSinceNs = -1;
        public long DropsUntilNs;
        public long Drops;

        // Capture thread: the pause state last sent to the worker (a request that changes nothing sends nothing).
        public bool Paused;
    }

    /// <summary>
    /// Ends every open call with <paramref name="reason"/>, lets the workers finish their queues (finalising every
    /// recording and sidecar) and stops them. <paramref name="timeout"/> bounds the wait (a service under systemd); by
    /// default there is none: a replay waits however slow the machine is. Returns false when a worker ran out of time
    /// (what it had not processed is lost; the recordings still open were finalised as far as written). Idempotent.
    /// </summary>
    public bool Complete(string reason = CallEndReasons.CaptureEnded, TimeSpan? timeout = null)
    {
        if (_completed)
        {
            return _finished;
        }

        _calls.ApplyDirectoryChanges(); // a logout just before the end still marks (or stops) its calls
        ApplyPauseRequests(_clock.Now);
        _completed = true;
        Interlocked.MemoryBarrier(); // against RequestPause's enqueue-then-read: one of the two sees the other
        ApplyPauseRequests(_clock.Now); // one that came in between: answered (the calls end below, each pause with them)

        _tcp.Clear(_clock.Now); // what TCP streams still hold behind a gap is read before the calls end
        foreach (ISignallingProtocol protocol in _protocols)
        {
            protocol.EndAll(_clock.Now, reason);
        }

        _unsignalled.EndAll(_clock.Now, reason);
        FlushSpools(); // the workers read their spools to the end before they finalise (nothing spooled is lost)

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        bool finished = true;
        foreach (MediaWorker worker in _workers)
        {
            TimeSpan left = timeout is { } t ? t - System.Diagnostics.Stopwatch.GetElapsedTime(started) : Timeout.InfiniteTimeSpan;
            finished &= worker.CompleteAndJoin(timeout is null || left > TimeSpan.Zero ? left : TimeSpan.Zero, reason, _clock.Now);
        }

        _finished = finished;
        return finished;
    }

    public void Dispose()
    {
        Complete();
        foreach (MediaWorker worker in _workers)
        {
            worker.Dispose();
        }
    }
}

/// <param name="RecordingsFailed">Recordings that lost audio pages, their sidecar or everything to an error: once each.</param>
/// <param name="PagesDropped">Audio pages that could not be written (a full disk), and their bytes.</param>
/// <param name="SidecarsPending">Sidecars of ended calls waiting for the disk.</param>
/// <param name="SpoolMemoryBytes">Bytes of items waiting in the worker's spool in memory, and on disk (<paramref name="SpoolDiskBytes"/>).</param>
/// <param name="SpoolDiskWrittenBytes">Bytes the worker's spool wrote to its file since the start.</param>
/// <param name="SpoolDiskErrors">Writes or reads of the worker's spool file that failed.</param>
/// <param name="SpoolRecordsLost">Spooled media records (RTP, ticks) lost with chunks the spool file could not give back.</param>
public readonly record struct MediaWorkerStats(long RtpPackets, long PacketsLost, long DuplicatesDropped, long RecordingsWritten, long SidecarsWritten,
    long RecordingsFailed, long PagesDropped, long BytesDropped, int SidecarsPending, int QueueDepth, long LastProgressTicks,
    long SpoolMemoryBytes = 0, long SpoolDiskBytes = 0, long SpoolDiskWrittenBytes = 0, long SpoolDiskErrors = 0, long SpoolRecordsLost = 0);
