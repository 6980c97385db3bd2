using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;

namespace Capture.Recording;

/// <summary>
/// One call's recording, owned by one media worker: two media legs mixed onto a common timeline and encoded as a
/// two-stream Ogg Opus file; when the call ends its <see cref="CallSidecarBuilder"/> writes the JSON sidecar (with or
/// without media). Worker thread only.
/// <para>
/// A full or failing recordings disk costs the audio of the pages that could not be written, never the file: it stays
/// valid, plays the audio written (the lost span is cut, not filled) and recording goes on when writes work again; each
/// lost span is a <c>write-failed</c> event in the sidecar. A sidecar that cannot be written is kept
/// (<see cref="SidecarSaved"/>) and retried with <see cref="TrySaveSidecar"/>.
/// </para>
/// </summary>
public sealed class CallRecording : IDisposable
{
    private readonly RecordingOptions _options;
    private readonly MediaLeg[] _legs = [new MediaLeg(), new MediaLeg()];
    private readonly CallSidecarBuilder _sidecar = new();
    private readonly IRecordingWriteObserver? _observer;

    // The call's own media timeline: a packet stamped far from its neighbours is placed as if it came with them, and a
    // confirmed jump (a gap, a clock step) leaves at most MaxSilenceGap of silence (packet time is wire data).
    private CaptureClock _arrivals;
    private short[] _left = [];
    private short[] _right = [];
    private OggOpusWriter? _writer;
    private RecordingFileStream? _file;
    private long _originNs = -1;
    private long _emitted;
    private int _rate;
    private bool _finished;
    private int _pagesWrittenSeen;
    private int _pagesDroppedSeen;
    private long _bytesDroppedSeen;
    private CallSidecar? _result;
    private long _spoolDropped;

    // Paused spans on the media clock (_arrivals' time), in order; the last one is open (ToNs long.MaxValue) while paused.
    // Every frame that overlaps one is written as silence on both legs. Grows per pause, never per packet.
    private readonly List<PausedSpan> _paused = [];
    private long _pausedNs;

    public CallRecording(string id, CallMetadata metadata, RecordingOptions options)
        : this(id, metadata, options, observer: null)
    {
    }

    internal CallRecording(string id, CallMetadata metadata, RecordingOptions options, IRecordingWriteObserver? observer)
    {
        _observer = observer;
        Id = id;
        Metadata = metadata;
        _options = options;
        _arrivals = new CaptureClock((long)(options.MaxSilenceGap.TotalSeconds * 1e9), backwardBoundNs: 2_000_000_000, continuous: true);
        DateTimeOffset day = metadata.StartedAt;
        RelativeDirectory = Path.Combine(day.ToString("yyyy", System.Globalization.CultureInfo.InvariantCulture), day.ToString("MM", System.Globalization.CultureInfo.InvariantCulture), day.ToString("dd", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Generated id (UUIDv7): nothing from the wire is ever used in a path.</summary>
    public string Id { get; }

    public CallMetadata Metadata { get; set; }

    public string RelativeDirectory { get; }

    /// <summary>Names the recording in a media worker's spool (which holds keys, not references, as it may go to disk); set by the pipeline.</summary>
    internal int SpoolKey { get; init; }

    /// <summary>Something of this recording was lost (audio pages, or an error) and it was counted: once per recording.</summary>
    internal bool CountedAsFailed { get; set; }

    /// <summary>The sidecar is on disk (false before <see cref="Finish"/>, or while it cannot be written).</summary>
    public bool SidecarSaved { get; private set; }

    /// <summary>Why the sidecar could not be written (null once saved).</summary>
    public Exception? SidecarError { get; private set; }

    /// <summary>Where the sidecar goes.</summary>
    public string SidecarPath => Path.Combine(_options.OutputDirectory, RelativeDirectory, Id + ".json");

    /// <summary>The finished call's sidecar (null before <see cref="Finish"/>).</summary>
    public CallSidecar? Sidecar => _result;

    /// <summary>The two legs (left, right), for tests and benchmarks that look into what each did.</summary>
    internal IReadOnlyList<MediaLeg> Legs => _legs;

    public void SetPayloadMap(Channel channel, PayloadMap map) => _legs[(int)channel].Map = map;

    /// <summary>A signalling event (<see cref="CallEventTypes"/>) at capture time <paramref name="atNs"/>.</summary>
    public void AddEvent(string type, long atNs, string? detail = null) => _sidecar.AddEvent(type, atNs, detail);

    /// <summary>
    /// <paramref name="packets"/> of this call's packets were dropped from <paramref name="fromNs"/> to
    /// <paramref name="toNs"/> (capture time) because its worker was behind and the spool full: counted under
    /// <c>packetsDropped.spool-full</c> and marked by a <c>spool-full</c> event spanning that time.
    /// </summary>
    internal void AddSpoolDrops(long packets, long fromNs, long toNs)
    {
        _spoolDropped += packets;
        _sidecar.AddEvent(CallEventTypes.SpoolFull, fromNs, $"{packets} packet(s) dropped: the recorder was behind and its spool full", Math.Round((toNs - fromNs) / 1e9, 3));
    }

    /// <summary>Whether the recording is paused now (a <see cref="Pause"/> not yet followed by a <see cref="Resume"/>).</summary>
    public bool Paused => _paused.Count > 0 && _paused[^1].ToNs == long.MaxValue;

    /// <summary>
    /// Pauses the recording at capture time <paramref name="atNs"/> (PCI DSS): from there both channels are written as
    /// silence (the audio is not encoded) until <see cref="Resume"/> or the call's end; a <c>pause</c> event names
    /// <paramref name="by"/>. The packets still go through the legs, so time stays aligned when audio comes back. False
    /// (nothing changes) when already paused or finished.
    /// </summary>
    public bool Pause(long atNs, string by)
    {
        if (_finished || Paused)
        {
            return false;
        }

        _paused.Add(new PausedSpan(OnMediaClock(atNs), long.MaxValue, atNs));
        _sidecar.AddEvent(CallEventTypes.Pause, atNs, "recording paused: both channels are silence until the pause ends", by: by);
        return true;
    }

    /// <summary>Ends a pause at capture time <paramref name="atNs"/>: audio is written again from there. False when not paused.</summary>
    public bool Resume(long atNs, string by)
    {
        if (_finished || !Paused)
        {
            return false;
        }

        EndPause(atNs, by);
        return true;
    }

    private void EndPause(long atNs, string by)
    {
        PausedSpan open = _paused[^1];
        long toNs = Math.Max(open.FromNs, OnMediaClock(atNs));
        _paused[^1] = open with { ToNs = toNs };
        _pausedNs += Math.Max(0, atNs - open.AtNs);
        _sidecar.AddEvent(CallEventTypes.PauseEnd, atNs, $"recording resumed after {Math.Max(0, atNs - open.AtNs) / 1e9:0.###} s paused", Math.Round(Math.Max(0, atNs - open.AtNs) / 1e9, 3), by);
    }

    // Commands carry the capture clock's time; frames are placed on this call's media clock, which cut the gaps it
    // skipped (a clock step, a long silence): the same cut applies to a pause's time.
    private long OnMediaClock(long captureNs) => captureNs - _arrivals.CutNs;

    /// <summary>Whether the frame of <paramref name="samples"/> at <paramref name="position"/> overlaps a paused span.</summary>
    private bool InPausedSpan(long position, int samples)
    {
        long fromNs = _originNs + (position * 1_000_000_000 / _rate);
        long toNs = _originNs + ((position + samples) * 1_000_000_000 / _rate);
        foreach (PausedSpan span in _paused)
        {
            if (span.FromNs < toNs && fromNs < span.ToNs)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A paused span: from and to on the media clock (<see cref="OnMediaClock"/>), and when it began in capture time.</summary>
    private readonly record struct PausedSpan(long FromNs, long ToNs, long AtNs);

    /// <summary>An RTP datagram sent by the party on <paramref name="channel"/>.</summary>
    public void OnRtp(Channel channel, long arrivalNs, ReadOnlySpan<byte> datagram)
    {
        if (_finished)
        {
            return;
        }

        arrivalNs = _arrivals.Advance(arrivalNs);

        if (_originNs < 0)
        {
            if (!TryStartMedia(channel, datagram, arrivalNs))
            {
                _legs[(int)channel].Accept(datagram, arrivalNs, 0, 8000, 0, 0); // counts the reason; nothing is written without a rate
                return;
            }
        }

        long arrivalPosition = PositionOf(arrivalNs);

        // After a pause in this call's media the mix is still where the audio stopped: bring it on to where whatever this
        // packet may carry fits the legs' rings (never further than the mix after the packet goes anyway).
        Emit(arrivalPosition - MediaLeg.MixReach(_rate, JitterSamples));
        _legs[(int)channel].Accept(datagram, arrivalNs, arrivalPosition, _rate, _emitted, _options.MaxConcealedPackets);
        Emit(arrivalPosition - JitterSamples);
    }

    /// <summary>Capture time moved on (a tick): mix what is old enough even when no packet arrives.</summary>
    public void OnTick(long nowNs)
    {
        if (_originNs >= 0 && !_finished)
        {
            // Only up to what the legs wrote: silence after the last packet is not the call's media.
            long limit = Math.Min(PositionOf(nowNs) - JitterSamples, Math.Max(_legs[0].WrittenEnd, _legs[1].WrittenEnd));
            Emit(limit);
        }
    }

    private bool TryStartMedia(Channel channel, ReadOnlySpan<byte> datagram, long arrivalNs)
    {
        if (RtpPacket.TryRead(datagram, out RtpPacket rtp, out _) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        AudioCodec codec = _legs[(int)channel].Map.CodecOf(rtp.PayloadType);
        if (!codec.IsSpeech() || !AudioDecoders.IsSupported(codec) || _legs[(int)channel].Map.Encrypted)
        {
            return false;
        }

        // The file's rate: the highest the negotiated codecs need, so a wideband leg is not cut to 8 kHz.
        int rate = codec.AudioRate();
        foreach (MediaLeg leg in _legs)
        {
            if (leg.Map.Preferred.IsSpeech())
            {
                rate = Math.Max(rate, leg.Map.Preferred.AudioRate());
            }
        }

        // An Opus call's frame is its packets' duration, so that they can go into the file as they came (20 ms otherwise).
        int frameMs = 20;
        bool passthrough = _options.OpusPassthrough && (codec == AudioCodec.Opus || _legs[0].Map.Preferred == AudioCodec.Opus || _legs[1].Map.Preferred == AudioCodec.Opus);
        if (passthrough && codec == AudioCodec.Opus && OpusPacket.SamplesAt48Khz(rtp.Payload) is 480 or 960 or 1920 or 2880)
        {
            frameMs = OpusPacket.SamplesAt48Khz(rtp.Payload) / 48;
        }

        _rate = rate;
        _originNs = arrivalNs;
        // The file is created by the first page written: a disk full now costs the audio until it is not, not the call.
        _file = new RecordingFileStream(Path.Combine(_options.OutputDirectory, RelativeDirectory, Id + ".opus"));
        _writer = new OggOpusWriter(_file, new OggOpusWriterOptions
        {
            SampleRate = rate,
            BitratePerChannel = _options.BitratePerChannel,
            Complexity = _options.Complexity,
            FrameMs = frameMs,
            Tags = Tags(),
        });
        if (passthrough)
        {
            var repair = new OpusRepairSettings(rate, _writer.FrameSamples, _options.BitratePerChannel, _options.Complexity);
            _legs[0].UsePassthrough(repair);
            _legs[1].UsePassthrough(repair);
        }

        _legs[0].UseLag(JitterSamples);
        _legs[1].UseLag(JitterSamples);
        _left = new short[_writer.FrameSamples];
        _right = new short[_writer.FrameSamples];
        ReportWrites();
        return true;
    }

    private List<KeyValuePair<string, string>> Tags()
    {
        List<KeyValuePair<string, string>> tags =
        [
            new("TITLE", WireText.Printable($"{Metadata.Left.Extension ?? "unknown"} - {Metadata.Right.Extension ?? "unknown"}")),
            new("DATE", Metadata.StartedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
            new("CALLID", WireText.Printable(Metadata.CallId)),
            new("PROTOCOL", Metadata.Protocol),
            new("RECORDING_ID", Id),
            new("LEFT", Describe(Metadata.Left)),
            new("RIGHT", Describe(Metadata.Right)),
        ];
        return tags;

        // Tags are read by players and shown by tools: wire text goes in without control characters.
        static string Describe(PartyInfo p) => WireText.Printable(p.Name is { Length: > 0 } ? $"{p.Extension} ({p.Name})" : p.Extension ?? "unknown");
    }

    private long JitterSamples => (long)(_options.JitterDelay.TotalSeconds * _rate);

    /// <summary>Samples from the media origin; the span is bounded (a day) so the product cannot overflow.</summary>
    private long PositionOf(long ns) => Math.Clamp(ns - _originNs, -MaxSpanNs, MaxSpanNs) * _rate / 1_000_000_000;

    private const long MaxSpanNs = 86_400_000_000_000;

    private void Emit(long upTo)
    {
        if (_writer is null)
        {
            return;
        }

        int frame = _writer.FrameSamples;
        while (_emitted + frame <= upTo)
        {
            ReadOnlySpan<byte> left = _legs[0].Take(_emitted, _left);
            ReadOnlySpan<byte> right = _legs[1].Take(_emitted, _right);
            if (_paused.Count > 0 && InPausedSpan(_emitted, frame))
            {
                // Paused: what the legs hold is taken (their rings and windows move on) and thrown away; the writer gets
                // silence, which it encodes as such (its stock silent packet once settled), never this audio.
                _left.AsSpan().Clear();
                _right.AsSpan().Clear();
                left = default;
                right = default;
            }

            _writer.WriteFrame(_left, _right, left, right);
            _emitted += frame;
        }

        ReportWrites();
    }

    /// <summary>Tells the observer about pages written or dropped since the last call (two compares when nothing changed).</summary>
    private void ReportWrites()
    {
        OggOpusWriter writer = _writer!;
        if (writer.PagesDropped != _pagesDroppedSeen)
        {
            int pages = writer.PagesDropped - _pagesDroppedSeen;
            long bytes = writer.BytesDropped - _bytesDroppedSeen;
            _pagesDroppedSeen = writer.PagesDropped;
            _bytesDroppedSeen = writer.BytesDropped;
            _observer?.PagesDropped(this, pages, bytes, writer.LastError!);
        }

        if (writer.PagesWritten != _pagesWrittenSeen)
        {
            _pagesWrittenSeen = writer.PagesWritten;
            _observer?.PagesWritten(this);
        }
    }

    /// <summary>
    /// Ends the call: mixes everything left, closes the file, builds the sidecar and writes it if it can (else
    /// <see cref="SidecarSaved"/> is false and <see cref="TrySaveSidecar"/> tries again). Called once per call.
    /// </summary>
    public CallSidecar Finish(string endReason, long endNs)
    {
        if (_finished)
        {
            throw new InvalidOperationException("recording already finished");
        }

        _finished = true;
        string? file = null;
        long samplesInFile = 0;
        if (_writer is not null)
        {
            long end = Math.Max(_legs[0].WrittenEnd, _legs[1].WrittenEnd);
            int frame = _writer.FrameSamples;
            Emit((end + frame - 1) / frame * frame);
            _writer.Complete();
            ReportWrites();
            _writer.Dispose();
            _file!.Dispose();
            if (_writer.HeadersWritten)
            {
                file = Path.Combine(RelativeDirectory, Id + ".opus");
                samplesInFile = _emitted - _writer.SamplesLost;
            }
            else
            {
                DeleteEmptyFile(_file.Path); // not one page could be written: no file rather than an unplayable one
            }

            foreach (LostSpan lost in _writer.LostSpans)
            {
                long atNs = _originNs + (lost.Start * 1_000_000_000 / _rate);
                string why = _writer.LastError?.Message ?? "write failed";
                _sidecar.AddEvent(CallEventTypes.WriteFailed, atNs, $"{lost.Samples / (double)_rate:0.###} s of audio not written ({why}); cut from the file, which plays on after it", Math.Round((double)lost.Samples / _rate, 3));
            }
        }

        if (Paused)
        {
            EndPause(endNs, CallPause.AutomaticAtEnd); // after the last frames were written silent: a pause lasts to the end
        }

        if (_arrivals.Outliers + _arrivals.Jumps > 0)
        {
            _sidecar.AddEvent(CallEventTypes.MediaTimeJumps, endNs, $"{_arrivals.Outliers} packet(s) stamped far from their neighbours placed with them; {_arrivals.Jumps} gap(s) or clock step(s), {_arrivals.CutNs / 1e9:0.###} s of silence cut");
        }

        _result = _sidecar.Build(Id, Metadata, endReason, endNs, new MediaSpan(_originNs, _rate, samplesInFile), _legs, file, _spoolDropped, Math.Round(_pausedNs / 1e9, 3));
        Dispose();
        TrySaveSidecar();
        return _result;
    }

    /// <summary>Writes the finished call's sidecar if it is not on disk yet; false (and <see cref="SidecarError"/>) when it still cannot be.</summary>
    public bool TrySaveSidecar()
    {
        if (SidecarSaved || _result is null)
        {
            return SidecarSaved;
        }

        try
        {
            CallSidecar.Save(Path.Combine(_options.OutputDirectory, RelativeDirectory), _result);
            SidecarSaved = true;
            SidecarError = null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            SidecarError = ex;
        }

        return SidecarSaved;
    }

    private static void DeleteEmptyFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // an empty file left behind plays nothing and is indexed by nothing
        }
    }

    public void Dispose()
    {
        foreach (MediaLeg leg in _legs)
        {
            leg.Dispose();
        }

        if (!_finished)
        {
            // Disposed without Finish (shutdown path failed): still close the file so what was written stays playable.
            _writer?.Dispose();
            _file?.Dispose();
        }
    }
}

/// <summary>Told by a recording, on its worker's thread, when pages were written or dropped (page rate, not packet rate).</summary>
internal interface IRecordingWriteObserver
{
    void PagesWritten(CallRecording recording);

    void PagesDropped(CallRecording recording, int pages, long bytes, Exception error);
}
