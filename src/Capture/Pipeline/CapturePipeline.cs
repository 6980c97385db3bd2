using System.Buffers;
using Capture.Bindings;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
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
/// The capture side of DESIGN section 4: decodes frames in place, follows signalling, classifies media to calls,
/// and hands each call's packets (copied once into a queue slot) to the worker that owns the call.
/// </summary>
public sealed partial class CapturePipeline : ICallSink, IDisposable
{
    private readonly PipelineOptions _options;
    private readonly FrameDecoder _decoder = new();
    private readonly SipCallTracker _sip;
    private readonly BindingDirectory? _directory;
    private readonly SipDeviceLearner? _learner;
    private readonly SkinnyMessageDispatcher _skinny;
    private readonly System.Threading.Channels.ChannelReader<DirectoryEvent>? _directoryEvents;
    private long _directoryVersion;
    private readonly MediaWorker[] _workers;
    private readonly bool _inline;
    private readonly long _tickNs;
    private long _nextTickNs;
    private long _lastNs;
    private int _nextWorker;
    private bool _completed;

    /// <param name="directory">The bindings directory to learn into and attribute calls from; null records without one.</param>
    public CapturePipeline(RecordingOptions recording, PipelineOptions? options = null, SipTrackerOptions? sip = null, ICallResultSink? results = null, BindingDirectory? directory = null)
    {
        recording.Validate();
        _options = options ?? new PipelineOptions();
        _options.Validate();
        _inline = _options.Workers == 0;
        _workers = new MediaWorker[Math.Max(1, _options.Workers)];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new MediaWorker(i, _options.QueueCapacity, results, threaded: !_inline);
        }

        _sip = new SipCallTracker(this, recording, sip, directory);
        _skinny = new SkinnyMessageDispatcher(new SkinnyCallTracker(this, recording, directory: directory), directory);
        _directory = directory;
        if (directory is not null)
        {
            _learner = new SipDeviceLearner(directory);
            _directoryEvents = directory.Subscribe(capacity: 65_536);
        }
        _tickNs = _options.TickInterval.Ticks * 100;
        _tcp = new TcpReassembler(this, _options.Tcp);
    }

    public PipelineCounters Counters { get; } = new();

    /// <summary>Told when calls start, change and end (set before the capture starts).</summary>
    public ICallObserver? Observer { get; set; }

    public FrameDecoder Decoder => _decoder;

    public int ActiveCalls => _sip.ActiveCalls + _skinny.Calls.ActiveCalls;

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
                Volatile.Read(ref w.RecordingErrors),
                w.Queue.Count,
                Volatile.Read(ref w.LastProgressTicks));
        }

        return stats;
    }

    public long CallsStarted => _sip.CallsStarted + _skinny.Calls.CallsStarted;

    /// <summary>INVITEs ignored because <see cref="SipTrackerOptions.MaxCalls"/> calls were already open.</summary>
    public long CallsOverLimit => _sip.CallsOverLimit;

    /// <summary>SIP messages that belong to no tracked call (REGISTER, OPTIONS, strays after a call's end).</summary>
    public long SipMessagesWithoutCall => _sip.MessagesWithoutCall;

    /// <summary>Every counter by name (metrics, replay --json), the SIP tracker's included.</summary>
    public SortedDictionary<string, long> Snapshot()
    {
        SortedDictionary<string, long> counters = Counters.Snapshot(_decoder, WorkerStats(), CallsStarted);
        counters["sip_calls_over_limit"] = _sip.CallsOverLimit;
        counters["sip_messages_without_call"] = _sip.MessagesWithoutCall;
        counters["calls_not_recorded"] = _sip.CallsNotRecorded + _skinny.Calls.CallsNotRecorded;
        counters["recordings_stopped_by_logout"] = _sip.RecordingsStoppedByLogout + _skinny.Calls.RecordingsStoppedByLogout;
        counters["media_packets_not_recorded"] = Counters.MediaNotRecorded;
        if (_learner is not null)
        {
            counters["sip_registers_applied"] = _learner.RegistersApplied;
            counters["sip_registers_refused"] = _learner.RegistersRefused;
            counters["sip_unregisters"] = _learner.Unregisters;
            counters["sip_registers_proxied"] = _learner.ProxiedRegisters;
            counters["sip_bad_extensions"] = _learner.BadExtensions;
        }

        AddTcpCounters(counters);
        return counters;
    }

    /// <summary>Reads a source until it ends or <paramref name="ct"/> asks to stop (live sources are stopped with BreakLoop).</summary>
    public CaptureEnd Run(PcapSource source, CancellationToken ct = default)
    {
        int linkType = source.LinkType;
        using CancellationTokenRegistration reg = ct.Register(source.BreakLoop);
        while (true)
        {
            PcapReadStatus status = source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame);
            switch (status)
            {
                case PcapReadStatus.Packet:
                    ProcessFrame(linkType, ts, frame);
                    break;
                case PcapReadStatus.Timeout:
                    if (ct.IsCancellationRequested)
                    {
                        return CaptureEnd.Stopped;
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
        if (timestampNs > _lastNs)
        {
            _lastNs = timestampNs;
        }

        if (timestampNs >= _nextTickNs)
        {
            Tick(timestampNs);
        }

        if (_directory is not null && _directory.EventVersion != _directoryVersion)
        {
            DrainDirectoryEvents(); // a logout (API, schedule, another phone's REGISTER) reaches its calls at once
        }

        DecodeResult result = _decoder.Decode(linkType, timestampNs, frame, out DecodedPacket packet, out _);
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
        if (_sip.TryClassifyMedia(packet.Source, packet.Destination, out CallRecording? call, out Channel channel)
            || _skinny.Calls.TryClassifyMedia(packet.Source, packet.Destination, out call, out channel))
        {
            Counters.MediaPackets++;
            SipCallTracker.Touch(call!, timestampNs);
            SkinnyCallTracker.Touch(call!, timestampNs);
            if (call!.Suppressed)
            {
                Counters.MediaNotRecorded++;
                return;
            }

            Dispatch(call!, WorkKind.Rtp, channel, timestampNs, packet.Payload, null);
            return;
        }

        if (!SipSniffer.LooksLikeSip(packet.Payload))
        {
            Counters.UdpUnclassified++;
            return;
        }

        OperationStatus status = SipMessage.TryRead(packet.Payload, out SipMessage message, out SipInvalidReason reason);
        if (status != OperationStatus.Done)
        {
            // Over UDP a message that needs more data is a truncated datagram.
            Counters.CountSipInvalid(status == OperationStatus.NeedMoreData ? "truncated" : SipReasonName(reason));
            return;
        }

        OnSipMessage(message, packet.Source, packet.Destination, timestampNs);
    }

    /// <summary>A whole SIP message (UDP datagram or framed from a TCP stream): the directory learns from it, then the call tracker follows it.</summary>
    private void OnSipMessage(in SipMessage message, IpEndpoint16 source, IpEndpoint16 destination, long timestampNs)
    {
        Counters.SipMessages++;
        _learner?.OnMessage(message, source, destination, timestampNs);
        _sip.OnMessage(message, source, destination, timestampNs);
    }

    private static string SipReasonName(SipInvalidReason reason) => s_sipReasonNames[(int)reason < s_sipReasonNames.Length ? (int)reason : 0];

    private static readonly string[] s_sipReasonNames = BuildReasonNames();

    private static string[] BuildReasonNames()
    {
        SipInvalidReason[] values = Enum.GetValues<SipInvalidReason>();
        int max = 0;
        foreach (SipInvalidReason v in values)
        {
            max = Math.Max(max, (int)v);
        }

        string[] names = new string[max + 1];
        foreach (SipInvalidReason v in values)
        {
            names[(int)v] = PipelineCounters.SnakeCase(v.ToString());
        }

        for (int i = 0; i < names.Length; i++)
        {
            names[i] ??= "unknown";
        }

        return names;
    }

    private void Tick(long nowNs)
    {
        _nextTickNs = nowNs + _tickNs;
        _decoder.ExpireFragments(nowNs);
        _tcp.Expire(nowNs);
        _sip.Expire(nowNs);
        _skinny.Expire(nowNs);
        if (_directory is not null)
        {
            _learner!.Expire(nowNs);
            _directory.Tick(CaptureTime.ToDateTime(nowNs));
            DrainDirectoryEvents();
        }

        foreach (MediaWorker worker in _workers)
        {
            Enqueue(worker, WorkKind.Tick, default, nowNs, default, null, essential: false);
        }
    }

    /// <summary>Logouts reach open calls here (the directory may change on any thread: API logins, schedules).</summary>
    private void DrainDirectoryEvents()
    {
        _directoryVersion = _directory!.EventVersion;
        while (_directoryEvents!.TryRead(out DirectoryEvent? e))
        {
            if (e.Kind == DirectoryEventKind.LoginCancelled)
            {
                _sip.OnLogout(e, _directory!.LogoutDuringCall);
                _skinny.Calls.OnLogout(e, _directory!.LogoutDuringCall);
            }
        }
    }

    private void Dispatch(CallRecording call, WorkKind kind, Channel channel, long ts, ReadOnlySpan<byte> payload, object? command)
    {
        if (call.Suppressed)
        {
            return; // not recorded: no file, no sidecar, no worker time
        }

        MediaWorker worker = _workers[call.WorkerIndex];
        Enqueue(worker, kind, channel, ts, payload, command ?? call, essential: kind == WorkKind.Command);
    }

    private void Enqueue(MediaWorker worker, WorkKind kind, Channel channel, long ts, ReadOnlySpan<byte> payload, object? target, bool essential)
    {
        WorkQueue queue = worker.Queue;
        int index;
        if (!queue.TryReserve(out index))
        {
            if (_inline)
            {
                worker.DrainInline();
                queue.TryReserve(out index);
            }
            else if (_options.WaitWhenQueueFull || essential)
            {
                // Signalling commands are never dropped: losing an end would lose a recording.
                var spin = new SpinWait();
                while (!queue.TryReserve(out index))
                {
                    Counters.QueueWaits++;
                    spin.SpinOnce();
                }
            }
            else
            {
                Counters.QueueDrops++;
                return;
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
    }

    void ICallSink.CallStarted(CallRecording call, long atNs)
    {
        call.WorkerIndex = _nextWorker;
        _nextWorker = (_nextWorker + 1) % _workers.Length;
        if (!call.Suppressed)
        {
            Observer?.CallStarted(call.Id, call.Metadata, atNs);
        }

        Dispatch(call, WorkKind.Command, default, atNs, default, new CallStartCommand(call));
    }

    void ICallSink.MetadataChanged(CallRecording call, CallMetadata metadata)
    {
        if (!call.Suppressed)
        {
            Observer?.CallUpdated(call.Id, metadata);
        }

        Dispatch(call, WorkKind.Command, default, _lastNs, default, new MetadataCommand(call, metadata));
    }

    void ICallSink.PayloadMapChanged(CallRecording call, Channel channel, PayloadMap map) =>
        Dispatch(call, WorkKind.Command, default, _lastNs, default, new PayloadMapCommand(call, channel, map));

    void ICallSink.CallEvent(CallRecording call, string type, long atNs, string? detail) =>
        Dispatch(call, WorkKind.Command, default, atNs, default, new EventCommand(call, type, atNs, detail));

    void ICallSink.CallEnded(CallRecording call, string reason, long atNs)
    {
        if (!call.Suppressed)
        {
            Counters.CallsEnded++; // once per recording: a call stopped by a logout is not counted again at its end
            Observer?.CallEnded(call.Id, reason, atNs);
        }

        Dispatch(call, WorkKind.Command, default, atNs, default, new EndCommand(call, reason, atNs));
    }

    /// <summary>
    /// Ends every open call with <paramref name="reason"/>, lets the workers finish their queues (finalising every
    /// recording and sidecar) and stops them. Idempotent.
    /// </summary>
    public void Complete(string reason = CallEndReasons.CaptureEnded, TimeSpan? timeout = null)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        if (_directory is not null)
        {
            DrainDirectoryEvents(); // a logout just before the end still marks (or stops) its calls
        }

        _tcp.Clear(_lastNs); // what TCP streams still hold behind a gap is read before the calls end
        _sip.EndAll(_lastNs, reason);
        _skinny.Calls.EndAll(_lastNs, reason);
        foreach (MediaWorker worker in _workers)
        {
            worker.CompleteAndJoin(timeout ?? TimeSpan.FromSeconds(30));
        }
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

public readonly record struct MediaWorkerStats(long RtpPackets, long PacketsLost, long DuplicatesDropped, long RecordingsWritten, long SidecarsWritten, long RecordingErrors, int QueueDepth, long LastProgressTicks);
