using System.Collections.Concurrent;
using Capture.Calls;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Tests.Recording;
using Capture.Tests.Support;
using Xunit.Abstractions;

namespace Capture.Tests.Pipeline;

/// <summary>
/// Pause and resume (PCI DSS) of a real call: SIP_CALL_RTP_G711.pcap replayed through a pipeline, a pause requested
/// from another thread while it runs, the file decoded by opusdec. What a listener notices: silence in both channels
/// over the paused span, the same voice as an unpaused recording before and after it, the same length, and a sidecar
/// that says who paused and resumed, and when.
/// </summary>
public sealed class RecordingPauseTests(ITestOutputHelper output) : IDisposable
{
    // One G.711 A-law call (this Call-ID) with about 26 s of speech each way; the other direction has a 5.8 s gap.
    private const string Capture = "SIP_CALL_RTP_G711.pcap";
    private const string CallId = "12013223@200.57.7.195";
    private const long Second = 1_000_000_000;

    // Silence as opusdec gives back a file's silent frames (it adds no dither with --no-dither): far under any voice.
    private const double SilentRms = 8;

    private readonly string _dir = Directory.CreateTempSubdirectory("pause-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void PausedSpan_IsSilentInBothChannels_VoiceBeforeAndAfter_SameLength_AndTheSidecarSaysWhoAndWhen()
    {
        Run reference = Record("reference", []);
        if (reference.Wav is null)
        {
            return; // opusdec missing: said by DecodeWithOpusdec
        }

        // Seconds from the start of the call's media: paused from 4 to 8 (both parties speak then), resumed by someone else.
        Run paused = Record("paused", [(4, true, "supervisor-anna"), (4.5, true, "supervisor-bob"), (8, false, "supervisor-carl")]);
        CallSidecar s = paused.Sidecar;

        Assert.Equal(reference.Sidecar.MediaDurationSeconds, s.MediaDurationSeconds);
        Assert.Equal(reference.Wav.Seconds, paused.Wav!.Seconds, 3);
        Assert.Equal(reference.Sidecar.Packets, s.Packets); // the packets went through the legs while paused

        // Voice in the reference over the paused span (so that silence there is the pause's doing), silence in the paused file.
        foreach (int channel in new[] { 0, 1 })
        {
            Assert.True(Level(reference.Wav, channel, 4.1, 7.9) > 100 * SilentRms, $"channel {channel} has voice from 4 to 8 s in the reference: {Level(reference.Wav, channel, 4.1, 7.9):0.0}");
            Assert.True(Level(paused.Wav, channel, 4.1, 7.9) < SilentRms, $"channel {channel} from 4 to 8 s paused: rms {Level(paused.Wav, channel, 4.1, 7.9):0.0}");
        }

        // Before and after: the same voice at the same place (the recording did not shift when it resumed).
        foreach ((double from, double to) in new[] { (0.5, 3.9), (8.3, 26.0) })
        {
            foreach (int channel in new[] { 0, 1 })
            {
                double expected = Level(reference.Wav, channel, from, to);
                double actual = Level(paused.Wav, channel, from, to);
                output.WriteLine($"channel {channel} {from}-{to} s: reference {expected:0.0}, paused {actual:0.0}");
                Assert.True(expected > 100 * SilentRms, $"the reference has voice on channel {channel} from {from} to {to} s");
                Assert.InRange(actual, expected * 0.9, expected * 1.1);
                Assert.True(Correlation(reference.Wav, paused.Wav, channel, from, to) > 0.9, $"channel {channel} from {from} to {to} s is the reference's audio");
            }
        }

        // One pause (the second request changed nothing) and one end, each naming who, at the capture time asked.
        CallEventSidecar pause = Assert.Single(s.Events, e => e.Type == CallEventTypes.Pause);
        CallEventSidecar end = Assert.Single(s.Events, e => e.Type == CallEventTypes.PauseEnd);
        Assert.Equal("supervisor-anna", pause.By);
        Assert.Equal("supervisor-carl", end.By);
        Assert.Equal(4, pause.OffsetSeconds!.Value, 1);
        Assert.Equal(8, end.OffsetSeconds!.Value, 1);
        Assert.Equal(s.MediaStartedAt!.Value.AddSeconds(pause.OffsetSeconds.Value), pause.At, TimeSpan.FromMilliseconds(1));
        Assert.Equal(4, s.PausedSeconds, 1);
        Assert.Equal(4, end.DurationSeconds!.Value, 1);
        Assert.Equal([(true, "supervisor-anna"), (false, "supervisor-carl")], paused.Changes);
        Assert.Contains("\"by\": \"supervisor-anna\"", CallSidecar.Serialize(s), StringComparison.Ordinal);
    }

    [Fact]
    public void PauseNeverResumed_LastsToTheCallsEnd_AndIsClosedAutomatically()
    {
        Run run = Record("to-the-end", [(20, true, "agent-desktop-1001")]);
        CallSidecar s = run.Sidecar;
        CallEventSidecar end = Assert.Single(s.Events, e => e.Type == CallEventTypes.PauseEnd);
        Assert.Equal(CallPause.AutomaticAtEnd, end.By);
        Assert.Equal(s.EndedAt, end.At);
        Assert.Equal((s.EndedAt - s.MediaStartedAt!.Value).TotalSeconds - 20, s.PausedSeconds, 1);
        if (run.Wav is null)
        {
            return;
        }

        foreach (int channel in new[] { 0, 1 })
        {
            Assert.True(Level(run.Wav, channel, 2, 19.9) > 100 * SilentRms, $"channel {channel} has voice before the pause");
            Assert.True(Level(run.Wav, channel, 20.1, run.Wav.Seconds) < SilentRms, $"channel {channel} is silent from the pause to the end: {Level(run.Wav, channel, 20.1, run.Wav.Seconds):0.0}");
        }
    }

    [Fact]
    public async Task PauseOfACallNotInProgress_IsRefused_AndChangesNothing()
    {
        var capture = CaptureReplay.ReadCapture(Capture);
        using var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = _dir }, new PipelineOptions { Workers = 0 });
        Task<bool> unknown = pipeline.RequestPause("0190d6d4-0000-7000-8000-000000000000", pause: true, "supervisor");
        foreach ((long ts, byte[] frame) in capture.Frames.Take(10))
        {
            pipeline.ProcessFrame(capture.LinkType, ts, frame);
        }

        Assert.True(unknown.IsCompleted);
        Assert.False(await unknown);
        Assert.True(pipeline.Complete());
        Task<bool> late = pipeline.RequestPause("any", pause: true, "supervisor");
        Assert.True(late.IsCompleted); // after the end: answered at once
        Assert.False(await late);
    }

    private sealed record Run(CallSidecar Sidecar, AudioSignals.Wav? Wav, List<(bool Paused, string By)> Changes);

    /// <summary>
    /// The capture through a pipeline with one worker thread; each request is made from a thread-pool thread when capture
    /// time reaches its second of the call's media (its start learnt from the first frame of the call's RTP).
    /// </summary>
    private Run Record(string name, (double AtSeconds, bool Pause, string By)[] requests)
    {
        var capture = CaptureReplay.ReadCapture(Capture);
        var results = new Results();
        var observer = new PauseChanges();
        string directory = Path.Combine(_dir, name);
        var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = directory }, new PipelineOptions { Workers = 1 }, results: results) { Observer = observer };
        using (pipeline)
        {
            int next = 0;
            foreach ((long ts, byte[] frame) in capture.Frames)
            {
                if (observer.MediaStartNs is { } start && next < requests.Length && ts >= start + (long)(requests[next].AtSeconds * Second))
                {
                    (_, bool pause, string by) = requests[next++];
                    string id = observer.RecordingId(CallId);
                    Task<bool>? applied = null;
                    var api = new Thread(() => applied = pipeline.RequestPause(id, pause, by)); // made on another thread, as the API does
                    api.Start();
                    api.Join();
                    pipeline.ProcessFrame(capture.LinkType, ts, frame);
                    Assert.True(applied!.Wait(TimeSpan.FromSeconds(10)) && applied.Result, "the call in progress was found");
                    continue;
                }

                pipeline.ProcessFrame(capture.LinkType, ts, frame);
                if (observer.MediaStartNs is null && observer.Started(CallId) && IsCallRtp(frame))
                {
                    observer.MediaStartNs = ts;
                }
            }

            Assert.Equal(requests.Length, next);
            Assert.True(pipeline.Complete());
        }

        Assert.Empty(results.Errors);
        CallSidecar sidecar = Assert.Single(results.Calls, c => c.CallId == CallId);
        output.WriteLine($"{name}: media {sidecar.MediaDurationSeconds} s from {sidecar.MediaStartedAt:O}, paused {sidecar.PausedSeconds} s");
        if (observer.MediaStartNs is { } first)
        {
            Assert.Equal(CaptureTime.ToDateTime(first), sidecar.MediaStartedAt!.Value, TimeSpan.FromMilliseconds(1)); // the offsets above are the file's
        }

        byte[] file = File.ReadAllBytes(Path.Combine(directory, sidecar.File!));
        AudioSignals.Wav? wav = AudioSignals.DecodeWithOpusdec(file, _dir, name, output.WriteLine, dither: false);
        if (wav is not null)
        {
            for (int channel = 0; channel < 2; channel++)
            {
                output.WriteLine($"{name} channel {channel} rms per second: {string.Join(' ', Enumerable.Range(0, (int)wav.Seconds + 1).Select(t => Level(wav, channel, t, t + 1).ToString("0", System.Globalization.CultureInfo.InvariantCulture)))}");
            }
        }

        return new Run(sidecar, wav, observer.Changes);
    }

    // The call's RTP: UDP to or from the ports its SDP named (8000 at 200.57.7.204, 40376 at the relay 200.57.7.196).
    private static bool IsCallRtp(byte[] frame)
    {
        var decoder = new FrameDecoder();
        return decoder.Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _) == DecodeResult.Packet
            && p.Protocol == TransportProtocol.Udp && p.Payload.Length >= 12 && (p.Payload[0] >> 6) == 2 && p.Payload[1] == 8;
    }

    /// <summary>RMS level of <paramref name="channel"/> from <paramref name="from"/> to <paramref name="to"/> seconds.</summary>
    private static double Level(AudioSignals.Wav wav, int channel, double from, double to) =>
        AudioSignals.Rms(Window(wav, channel, from, to));

    private static ReadOnlySpan<short> Window(AudioSignals.Wav wav, int channel, double from, double to)
    {
        short[] samples = wav.ChannelSamples[channel];
        int start = Math.Clamp((int)(from * wav.SampleRate), 0, samples.Length);
        int end = Math.Clamp((int)(to * wav.SampleRate), start, samples.Length);
        return samples.AsSpan(start, end - start);
    }

    /// <summary>Normalised correlation of the two files' <paramref name="channel"/> over a span (1: the same audio, aligned).</summary>
    private static double Correlation(AudioSignals.Wav a, AudioSignals.Wav b, int channel, double from, double to)
    {
        ReadOnlySpan<short> x = Window(a, channel, from, to);
        ReadOnlySpan<short> y = Window(b, channel, from, to);
        double xy = 0, xx = 0, yy = 0;
        for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            xy += (double)x[i] * y[i];
            xx += (double)x[i] * x[i];
            yy += (double)y[i] * y[i];
        }

        return xy / Math.Sqrt(xx * yy);
    }

    private sealed class Results : ICallResultSink
    {
        public ConcurrentBag<CallSidecar> Calls { get; } = [];

        public ConcurrentBag<string> Errors { get; } = [];

        public void OnCallFinished(CallSidecar sidecar) => Calls.Add(sidecar);

        public void OnRecordingError(string recordingId, Exception error) => Errors.Add($"{recordingId}: {error}");
    }

    /// <summary>What the pipeline tells its observer: the calls' recording ids, and each pause change.</summary>
    private sealed class PauseChanges : ICallObserver
    {
        private readonly Dictionary<string, string> _ids = [];

        public List<(bool Paused, string By)> Changes { get; } = [];

        public long? MediaStartNs { get; set; }

        public bool Started(string callId) => _ids.ContainsKey(callId);

        public string RecordingId(string callId) => _ids[callId];

        public void CallStarted(string recordingId, CallMetadata metadata, long atNs) => _ids.TryAdd(metadata.CallId, recordingId);

        public void CallUpdated(string recordingId, CallMetadata metadata)
        {
        }

        public void CallEnded(string recordingId, string reason, long atNs)
        {
        }

        public void CallPauseChanged(string recordingId, bool paused, long atNs, string by) => Changes.Add((paused, by));
    }
}
