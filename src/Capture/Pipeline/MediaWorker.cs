using Capture.Calls;
using Capture.Recording;

namespace Capture.Pipeline;

/// <summary>
/// Owns a share of the calls: RTP ordering, decoding, mixing and encoding for them happen here, in queue
/// order, with no locks on the per-packet path. A sidecar that cannot be written when its call ends (a full disk) is
/// kept and retried about once a second, and a last time when the worker completes.
/// </summary>
internal sealed class MediaWorker : IDisposable, IRecordingWriteObserver
{
    private readonly WorkQueue _queue;
    private readonly WorkSpool _spool;

    // Spooled RTP names its recording by key (references do not go to disk): the calls this worker owns, by key.
    private readonly Dictionary<int, CallRecording> _byKey = [];
    private readonly ICallResultSink? _results;
    private readonly RecordingDisk _disk;
    private readonly HashSet<CallRecording> _calls = [];
    private readonly List<CallRecording> _pendingSidecars = [];
    private long _nextSidecarRetry;
    private readonly Thread? _thread;
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _draining;
    private volatile bool _abandon;
    private bool _stuck;

    public MediaWorker(int index, int queueCapacity, ICallResultSink? results, bool threaded, RecordingDisk disk, WorkSpool spool)
    {
        Index = index;
        _queue = new WorkQueue(queueCapacity);
        _spool = spool;
        _results = results;
        _disk = disk;
        if (threaded)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = $"media-worker-{index}" };
            _thread.Start();
        }
    }

    public int Index { get; }

    public WorkQueue Queue => _queue;

    /// <summary>Where the capture thread puts this worker's items while its ring is full (live capture).</summary>
    public WorkSpool Spool => _spool;

    public int ActiveCalls => _calls.Count;

    // Written only by this worker; read by the host for metrics.
    public long RtpPackets;
    public long PacketsLost;
    public long DuplicatesDropped;
    public long RecordingsWritten;
    public long SidecarsWritten;

    /// <summary>Recordings that lost something (audio pages to failed writes, their sidecar, or all to an error): once each.</summary>
    public long RecordingsFailed;

    /// <summary>Audio pages (and their bytes) that could not be written.</summary>
    public long PagesDropped;
    public long BytesDropped;

    /// <summary>Sidecars of ended calls waiting for the disk (a level).</summary>
    public int SidecarsPending;
    public long LastProgressTicks = Environment.TickCount64;

    private void Run()
    {
        CancellationToken ct = _stop.Token;
        while (true)
        {
            if (_abandon)
            {
                return; // out of time: the caller finalises what is open, on its own thread once this one is gone
            }

            // The ring first, then the spool: the capture thread spools only while the ring is full and returns to the
            // ring only once the spool is read, so whatever the ring holds is older than anything spooled.
            if (_queue.TryPeek(out int index))
            {
                Process(ref _queue.Slot(index));
                _queue.Release(index);
                continue;
            }

            if (_spool.TryRead(out SpoolRecord spooled))
            {
                Process(spooled);
                continue;
            }

            Volatile.Write(ref LastProgressTicks, Environment.TickCount64);
            if (_draining)
            {
                // Looked again after seeing the flag: an item published just before it was set (a call's end, the
                // spool's last chunk) may have been missed by the looks above, which came first.
                if (_queue.TryPeek(out _) || _spool.HasRecords)
                {
                    continue;
                }

                return;
            }

            RetrySidecars(force: false); // also while no packet arrives
            _queue.WaitForWork(TimeSpan.FromMilliseconds(100), _spool, ct);
        }
    }

    /// <summary>Inline mode (no thread): processes whatever is queued on the caller's thread.</summary>
    public void DrainInline()
    {
        while (_queue.TryPeek(out int index))
        {
            Process(ref _queue.Slot(index));
            _queue.Release(index);
        }
    }

    internal void Process(ref WorkItem item) =>
        Process(item.Kind, item.Channel, item.TimestampNs, item.Buffer.AsSpan(0, item.Length), item.Target);

    private void Process(in SpoolRecord record)
    {
        object? target = record.Command;
        if (record.Kind == WorkKind.Rtp)
        {
            if (!_byKey.TryGetValue(record.RecordingKey, out CallRecording? recording))
            {
                return; // its call has ended (nothing follows an end in order; as OnRtp ignores a finished call)
            }

            target = recording;
        }

        Process(record.Kind, record.Channel, record.TimestampNs, record.Payload, target);
    }

    private void Process(WorkKind kind, Channel channel, long timestampNs, ReadOnlySpan<byte> payload, object? target)
    {
        switch (kind)
        {
            case WorkKind.Rtp:
                var call = (CallRecording)target!;
                RtpPackets++;
                try
                {
                    call.OnRtp(channel, timestampNs, payload);
                }
                catch (Exception ex) when (IsRecordingFailure(ex))
                {
                    Failed(call, ex);
                }

                break;
            case WorkKind.Tick:
                foreach (CallRecording c in _calls)
                {
                    try
                    {
                        c.OnTick(timestampNs);
                    }
                    catch (Exception ex) when (IsRecordingFailure(ex))
                    {
                        Failed(c, ex);
                    }
                }

                RetrySidecars(force: false);
                break;
            case WorkKind.Command:
                Apply((CallCommand)target!);
                break;
        }
    }

    private static bool IsRecordingFailure(Exception ex) => ex is IOException or UnauthorizedAccessException or InvalidOperationException;

    /// <summary>The recording lost something: counted and told once per recording, however many pages or errors.</summary>
    private void Failed(CallRecording call, Exception ex)
    {
        if (call.CountedAsFailed)
        {
            return;
        }

        call.CountedAsFailed = true;
        RecordingsFailed++;
        _results?.OnRecordingError(call.Id, ex);
    }

    void IRecordingWriteObserver.PagesWritten(CallRecording recording) => _disk.Succeeded();

    void IRecordingWriteObserver.PagesDropped(CallRecording recording, int pages, long bytes, Exception error)
    {
        PagesDropped += pages;
        BytesDropped += bytes;
        _disk.PagesFailed(recording.Id, error, pages, bytes);
        Failed(recording, error);
    }

    /// <summary>The sidecar is on disk: the call is finalised.</summary>
    private void Delivered(CallRecording call)
    {
        CallSidecar sidecar = call.Sidecar!;
        SidecarsWritten++;
        if (sidecar.File is not null)
        {
            RecordingsWritten++;
        }

        _disk.Succeeded();
        _results?.OnCallFinished(sidecar);
    }

    /// <summary>Writes the sidecars that waited for the disk: at most once a second unless <paramref name="force"/>.</summary>
    private void RetrySidecars(bool force)
    {
        if (_pendingSidecars.Count == 0)
        {
            return;
        }

        long now = _disk.Time.GetTimestamp();
        if (!force && now < _nextSidecarRetry)
        {
            return;
        }

        _nextSidecarRetry = now + _disk.Time.TimestampFrequency; // a second
        for (int i = 0; i < _pendingSidecars.Count; i++)
        {
            CallRecording call = _pendingSidecars[i];
            if (call.TrySaveSidecar())
            {
                _pendingSidecars.RemoveAt(i--);
                Delivered(call);
            }
            else
            {
                _disk.SidecarFailed(call.Id, call.SidecarError!);
                break; // the disk still refuses: the others wait for the next try
            }
        }

        Volatile.Write(ref SidecarsPending, _pendingSidecars.Count);
    }

    /// <summary>At the end: a sidecar that still cannot be written is a recording that lost it, and is told (with its content).</summary>
    private void GiveUpSidecars()
    {
        RetrySidecars(force: true);
        foreach (CallRecording call in _pendingSidecars)
        {
            Failed(call, call.SidecarError!);
            _disk.SidecarLost(call.SidecarPath, call.Sidecar!, call.SidecarError!);
        }

        _pendingSidecars.Clear();
        Volatile.Write(ref SidecarsPending, 0);
    }

    private void Apply(CallCommand command)
    {
        CallRecording call = command.Recording;
        switch (command)
        {
            case CallStartCommand:
                _calls.Add(call);
                _byKey[call.SpoolKey] = call;
                break;
            case MetadataCommand m:
                call.Metadata = m.Metadata;
                break;
            case PayloadMapCommand p:
                call.SetPayloadMap(p.Channel, p.Map);
                break;
            case EventCommand e:
                call.AddEvent(e.Type, e.AtNs, e.Detail);
                break;
            case PauseCommand pause:
                if (pause.Paused)
                {
                    call.Pause(pause.AtNs, pause.By);
                }
                else
                {
                    call.Resume(pause.AtNs, pause.By);
                }

                break;
            case SpoolDropsCommand d:
                call.AddSpoolDrops(d.Packets, d.FromNs, d.ToNs);
                break;
            case EndCommand end:
                _calls.Remove(call);
                _byKey.Remove(call.SpoolKey);
                try
                {
                    CallSidecar sidecar = call.Finish(end.Reason, end.AtNs);
                    PacketsLost += sidecar.PacketsLost;
                    DuplicatesDropped += sidecar.DuplicatesDropped;
                    if (call.SidecarSaved)
                    {
                        Delivered(call);
                    }
                    else
                    {
                        // Kept and retried: a call that was seen gets its sidecar when the disk has room again.
                        _disk.SidecarFailed(call.Id, call.SidecarError!);
                        _pendingSidecars.Add(call);
                        Volatile.Write(ref SidecarsPending, _pendingSidecars.Count);
                    }
                }
                catch (Exception ex) when (IsRecordingFailure(ex))
                {
                    call.Dispose();
                    Failed(call, ex);
                }

                break;
        }
    }

    /// <summary>
    /// Lets the worker finish its queue and stop; waits for it at most <paramref name="timeout"/> (infinite: however
    /// slow the machine). Out of time, the worker stops after the item in hand and the recordings still open are
    /// finalised here as far as they were written (end reason <paramref name="reason"/>), never by two threads at once.
    /// Returns false when the queue could not be finished (items were left, or the worker did not stop).
    /// </summary>
    public bool CompleteAndJoin(TimeSpan timeout, string reason, long endNs)
    {
        _draining = true;
        _queue.Wake();
        if (_thread is null)
        {
            DrainInline();
            GiveUpSidecars();
            return true;
        }

        if (_thread.Join(timeout))
        {
            GiveUpSidecars();
            return true;
        }

        _abandon = true;
        _stop.Cancel();
        if (!_thread.Join(TimeSpan.FromSeconds(5)))
        {
            _stuck = true; // still inside one item: its recordings stay with it, untouched (a file closed by two threads would be worse)
            return false;
        }

        // What is still queued: the signalling is applied (a call whose start or end is waiting there still gets its
        // sidecar), the media is left (that is what ran out of time).
        bool mediaLeft = false;
        while (_queue.TryPeek(out int index))
        {
            ref WorkItem item = ref _queue.Slot(index);
            if (item.Kind == WorkKind.Command)
            {
                Process(ref item);
            }
            else
            {
                mediaLeft |= item.Kind == WorkKind.Rtp;
            }

            _queue.Release(index);
        }

        while (_spool.TryRead(out SpoolRecord spooled))
        {
            if (spooled.Kind == WorkKind.Command)
            {
                Process(spooled);
            }
            else
            {
                mediaLeft |= spooled.Kind == WorkKind.Rtp;
            }
        }

        bool open = _calls.Count > 0;
        foreach (CallRecording call in _calls.ToArray())
        {
            Apply(new EndCommand(call, reason, endNs));
        }

        GiveUpSidecars();
        return !mediaLeft && !open;
    }

    public void Dispose()
    {
        if (_stuck)
        {
            return; // the thread still runs: nothing it uses may be disposed under it
        }

        _stop.Dispose();
        _queue.Dispose();
        _spool.Dispose();
        foreach (CallRecording c in _calls)
        {
            c.Dispose();
        }
    }
}
