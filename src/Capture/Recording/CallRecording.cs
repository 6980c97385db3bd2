using Capture.Rtp;

namespace Capture.Recording;

/// <summary>Which side of the stereo file a leg's audio goes to.</summary>
public enum Channel : byte
{
    /// <summary>The local party (for SIP without a directory: the caller).</summary>
    Left = 0,

    /// <summary>The remote party.</summary>
    Right = 1,
}

/// <summary>
/// One call's recording, owned by one worker: two media legs mixed onto a common timeline and encoded as
/// a two-stream Ogg Opus file, plus the JSON sidecar written when the call ends (with or without media).
/// </summary>
public sealed class CallRecording : IDisposable
{
    private readonly RecordingOptions _options;
    private readonly MediaLeg[] _legs = [new MediaLeg(), new MediaLeg()];
    private readonly List<CallEventRecord> _events = [];
    private short[] _left = [];
    private short[] _right = [];
    private OggOpusWriter? _writer;
    private FileStream? _file;
    private long _originNs = -1;
    private long _lastMediaNs = -1;
    private long _emitted;
    private int _rate;
    private bool _finished;

    public CallRecording(string id, CallMetadata metadata, RecordingOptions options)
    {
        Id = id;
        Metadata = metadata;
        _options = options;
        DateTimeOffset day = metadata.StartedAt;
        RelativeDirectory = Path.Combine(day.ToString("yyyy", System.Globalization.CultureInfo.InvariantCulture), day.ToString("MM", System.Globalization.CultureInfo.InvariantCulture), day.ToString("dd", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Generated id (UUIDv7): nothing from the wire is ever used in a path.</summary>
    public string Id { get; }

    public CallMetadata Metadata { get; set; }

    /// <summary>The signalling tracker's own state for this call (capture thread only).</summary>
    public object? Owner { get; set; }

    /// <summary>Not (or no longer) recorded: a recording-group decision, or a logout under the stop policy. Capture thread only.</summary>
    public bool Suppressed { get; set; }

    /// <summary>The worker that owns this call's media (set once by the pipeline).</summary>
    public int WorkerIndex { get; set; }

    public string RelativeDirectory { get; }

    public bool HasMedia => _writer is not null;

    public long LastMediaNs => _lastMediaNs;

    public void SetPayloadMap(Channel channel, PayloadMap map) => _legs[(int)channel].Map = map;

    public void AddEvent(string type, long atNs, string? detail = null)
    {
        if (type == SignalledDtmfEvent && detail is { Length: 1 })
        {
            _signalledDtmf.Add((detail[0], atNs)); // a key press sent in signalling (Skinny KeypadButton), not in RTP
            return;
        }

        _events.Add(new CallEventRecord(type, atNs, detail));
    }

    /// <summary>The event type a signalling tracker uses for a DTMF digit sent out of band; the detail is the digit.</summary>
    public const string SignalledDtmfEvent = "dtmf";

    private readonly List<(char Digit, long AtNs)> _signalledDtmf = [];

    /// <summary>An RTP datagram sent by the party on <paramref name="channel"/>.</summary>
    public void OnRtp(Channel channel, long arrivalNs, ReadOnlySpan<byte> datagram)
    {
        if (_finished)
        {
            return;
        }

        if (_originNs < 0)
        {
            if (!TryStartMedia(channel, datagram, arrivalNs))
            {
                _legs[(int)channel].Accept(datagram, arrivalNs, 0, 8000, 0, 0); // counts the reason; nothing is written without a rate
                return;
            }
        }

        _lastMediaNs = Math.Max(_lastMediaNs, arrivalNs);
        long arrivalPosition = PositionOf(arrivalNs);
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
        if (!codec.IsSpeech() || !AudioDecoders.IsSupported(codec))
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

        _rate = rate;
        _originNs = arrivalNs;
        string directory = Path.Combine(_options.OutputDirectory, RelativeDirectory);
        Directory.CreateDirectory(directory);
        _file = new FileStream(Path.Combine(directory, Id + ".opus"), FileMode.CreateNew, FileAccess.Write, FileShare.Read, 64 * 1024);
        _writer = new OggOpusWriter(_file, new OggOpusWriterOptions
        {
            SampleRate = rate,
            BitratePerChannel = _options.BitratePerChannel,
            Complexity = _options.Complexity,
            Tags = Tags(),
        });
        _left = new short[_writer.FrameSamples];
        _right = new short[_writer.FrameSamples];
        return true;
    }

    private List<KeyValuePair<string, string>> Tags()
    {
        List<KeyValuePair<string, string>> tags =
        [
            new("TITLE", $"{Metadata.Left.Extension ?? "unknown"} - {Metadata.Right.Extension ?? "unknown"}"),
            new("DATE", Metadata.StartedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
            new("CALLID", Metadata.CallId),
            new("PROTOCOL", Metadata.Protocol),
            new("RECORDING_ID", Id),
            new("LEFT", Describe(Metadata.Left)),
            new("RIGHT", Describe(Metadata.Right)),
        ];
        return tags;

        static string Describe(PartyInfo p) => p.Name is { Length: > 0 } ? $"{p.Extension} ({p.Name})" : p.Extension ?? "unknown";
    }

    private long JitterSamples => (long)(_options.JitterDelay.TotalSeconds * _rate);

    private long PositionOf(long ns) => (ns - _originNs) * _rate / 1_000_000_000;

    private void Emit(long upTo)
    {
        if (_writer is null)
        {
            return;
        }

        int frame = _writer.FrameSamples;
        while (_emitted + frame <= upTo)
        {
            _legs[0].Take(_emitted, _left);
            _legs[1].Take(_emitted, _right);
            _writer.WriteFrame(_left, _right);
            _emitted += frame;
        }
    }

    /// <summary>Ends the call: mixes everything left, closes the file, writes the sidecar. Called once per call.</summary>
    public CallSidecar Finish(string endReason, long endNs)
    {
        if (_finished)
        {
            throw new InvalidOperationException("recording already finished");
        }

        _finished = true;
        string? file = null;
        if (_writer is not null)
        {
            long end = Math.Max(_legs[0].WrittenEnd, _legs[1].WrittenEnd);
            int frame = _writer.FrameSamples;
            Emit((end + frame - 1) / frame * frame);
            _writer.Complete();
            _writer.Dispose();
            _file!.Dispose();
            file = Path.Combine(RelativeDirectory, Id + ".opus");
        }

        CallSidecar sidecar = BuildSidecar(endReason, endNs, file);
        string directory = Path.Combine(_options.OutputDirectory, RelativeDirectory);
        Directory.CreateDirectory(directory);
        string jsonPath = Path.Combine(directory, Id + ".json");
        string tmp = jsonPath + ".tmp";
        File.WriteAllText(tmp, CallSidecar.Serialize(sidecar));
        File.Move(tmp, jsonPath, overwrite: true);
        Dispose();
        return sidecar;
    }

    private CallSidecar BuildSidecar(string endReason, long endNs, string? file)
    {
        DateTimeOffset ended = CaptureTime.ToDateTime(endNs);
        if (ended < Metadata.StartedAt)
        {
            ended = Metadata.StartedAt;
        }

        List<DtmfRecord> dtmf = [];
        SortedSet<string> codecs = new(StringComparer.Ordinal);
        foreach (string c in Metadata.Codecs)
        {
            codecs.Add(c);
        }

        long packets = 0, lost = 0, duplicates = 0, late = 0;
        foreach (MediaLeg leg in _legs)
        {
            packets += leg.Packets;
            lost += leg.Lost;
            duplicates += leg.DropCount(LegDropReason.Duplicate);
            late += leg.DropCount(LegDropReason.Late);
            foreach (AudioCodec c in leg.CodecsSeen)
            {
                codecs.Add(c.Name());
            }

            foreach ((char digit, long position) in leg.Dtmf)
            {
                dtmf.Add(new DtmfRecord(digit.ToString(), Math.Round((double)position / _rate, 3)));
            }
        }

        foreach ((char digit, long atNs) in _signalledDtmf)
        {
            double offset = _originNs >= 0 ? Math.Max(0, Math.Round((atNs - _originNs) / 1e9, 3)) : 0;
            if (!dtmf.Exists(d => d.Digit[0] == digit && Math.Abs(d.OffsetSeconds - offset) < 0.5))
            {
                dtmf.Add(new DtmfRecord(digit.ToString(), offset)); // the same key also sent as RFC 4733 counts once
            }
        }

        dtmf.Sort((a, b) => a.OffsetSeconds.CompareTo(b.OffsetSeconds));
        List<CallEventSidecar> events = [];
        foreach (CallEventRecord e in _events)
        {
            double? offset = _originNs >= 0 ? Math.Round((e.AtNs - _originNs) / 1e9, 3) : null;
            events.Add(new CallEventSidecar(e.Type, CaptureTime.ToDateTime(e.AtNs), offset, e.Detail));
        }

        return new CallSidecar
        {
            Id = Id,
            Protocol = Metadata.Protocol,
            CallId = Metadata.CallId,
            StartedAt = Metadata.StartedAt,
            AnsweredAt = Metadata.AnsweredAt,
            EndedAt = ended,
            DurationSeconds = Math.Round((ended - Metadata.StartedAt).TotalSeconds, 3),
            MediaStartedAt = _originNs >= 0 ? CaptureTime.ToDateTime(_originNs) : null,
            MediaDurationSeconds = _rate > 0 ? Math.Round((double)_emitted / _rate, 3) : 0,
            Parties =
            [
                PartySidecar.From(Metadata.Left, "left"),
                PartySidecar.From(Metadata.Right, "right"),
            ],
            Codecs = [.. codecs],
            Packets = packets,
            PacketsLost = lost,
            PacketsLate = late,
            DuplicatesDropped = duplicates,
            Dtmf = dtmf,
            Events = events,
            File = file,
            SampleRate = _rate > 0 ? _rate : null,
            Channels = file is null ? 0 : 2,
            // Without media, say why: a cancelled, rejected or never answered call explains itself; an answered one had
            // no RTP we could record.
            EndReason = file is null && Metadata.AnsweredAt is not null && endReason is CallEndReasons.Bye or CallEndReasons.Hangup or CallEndReasons.Timeout or CallEndReasons.CaptureEnded ? CallEndReasons.NoMedia : endReason,
            SignalledEnd = endReason,
            InteractionId = Metadata.InteractionId,
            Quality = Metadata.Quality,
        };
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

    private readonly record struct CallEventRecord(string Type, long AtNs, string? Detail);
}
