using System.Buffers.Binary;
using System.Text;
using Capture.Calls;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
using Capture.Rtp;
using Capture.Tests.Support;
using Xunit.Abstractions;
using Libraries = Capture.Interop.Interop.Libraries;
using Packet = Capture.Tests.Support.SentPacket;

namespace Capture.Tests.Recording;

/// <summary>
/// Whole calls fed as hand-made RTP with controlled arrival times, finished, and the .opus decoded by opusdec:
/// the assertions are what a listener (and the sidecar's reader) would notice.
/// </summary>
public sealed unsafe class CallRecordingTests(ITestOutputHelper output) : IDisposable
{
    private const long T0 = 1_700_000_000_000_000_000; // capture time of the first packet (ns since the epoch)
    private const long NsPerSample = 125_000;           // one sample at 8 kHz
    private const double Amplitude = 8000;
    private const double ToneRms = 5657;                // an 8000-peak sine
    private const double LeftHz = 400;                  // whole periods in 10 ms, so the fade concealer stays in phase
    private const double RightHz = 1000;
    private const int OutRate = 48000;                  // opusdec --rate 48000

    private readonly string _directory = Directory.CreateTempSubdirectory("callrec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);


    private sealed record Result(CallSidecar Sidecar, AudioSignals.Wav? Wav)
    {
        public short[] Left => Wav!.ChannelSamples[0];
        public short[] Right => Wav!.ChannelSamples[1];
    }

    // ---- packet building ----

    private static byte[] Rtp(byte payloadType, ushort sequence, uint timestamp, uint ssrc, ReadOnlySpan<byte> payload, bool marker = false)
    {
        var datagram = new byte[12 + payload.Length];
        datagram[0] = 0x80; // V=2
        datagram[1] = (byte)(payloadType | (marker ? 0x80 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(8), ssrc);
        payload.CopyTo(datagram.AsSpan(12));
        return datagram;
    }

    /// <summary>Samples [first, first + count) of a phase-continuous tone, A-law encoded.</summary>
    private static byte[] ALawTone(double hz, long first, int count)
    {
        var payload = new byte[count];
        for (int i = 0; i < count; i++)
        {
            payload[i] = G711.EncodeALaw((short)Math.Round(Amplitude * Math.Sin(2 * Math.PI * hz * (first + i) / 8000)));
        }

        return payload;
    }

    /// <summary>
    /// <paramref name="count"/> in-order A-law packets of a tone: packet i carries samples i*ptime.. of the tone
    /// (from <paramref name="toneOffset"/>) and arrives at <paramref name="startNs"/> + i*ptime.
    /// </summary>
    private static List<Packet> Stream(Channel channel, double hz, long startNs, int count, int ptime = 160, uint ssrc = 0x11223344,
        ushort sequence = 1000, uint timestamp = 50_000, long toneOffset = 0)
    {
        var packets = new List<Packet>(count);
        for (int i = 0; i < count; i++)
        {
            byte[] datagram = Rtp(8, (ushort)(sequence + i), (uint)(timestamp + (i * ptime)), ssrc, ALawTone(hz, toneOffset + ((long)i * ptime), ptime), marker: i == 0);
            packets.Add(new Packet(channel, startNs + ((long)i * ptime * NsPerSample), datagram));
        }

        return packets;
    }

    private static long Ms(double ms) => (long)(ms * 1_000_000);

    // ---- running a call ----

    private Result Record(IEnumerable<Packet> packets, string name, string endReason = CallEndReasons.Bye, PayloadMap? left = null, PayloadMap? right = null,
        string callId = "a84b4c76e66710@pc33.example.com", string? leftName = null, IReadOnlyList<string>? signalledCodecs = null)
    {
        var options = new RecordingOptions { OutputDirectory = _directory };
        string id = $"{name}-{Guid.NewGuid():N}";
        var metadata = new CallMetadata
        {
            Protocol = "sip",
            CallId = callId,
            StartedAt = CaptureTime.ToDateTime(T0 - Ms(3000)),
            AnsweredAt = CaptureTime.ToDateTime(T0 - Ms(1000)),
            Left = new PartyInfo { Extension = "1001", Name = leftName },
            Right = new PartyInfo { Extension = "1002" },
            Codecs = signalledCodecs ?? [],
        };

        using var recording = new CallRecording(id, metadata, options);
        if (left is not null)
        {
            recording.SetPayloadMap(Channel.Left, left);
        }

        if (right is not null)
        {
            recording.SetPayloadMap(Channel.Right, right);
        }

        long last = RecordingFeed.Play(recording, packets, T0);

        CallSidecar sidecar = recording.Finish(endReason, last + Ms(500));
        string json = Path.Combine(_directory, recording.RelativeDirectory, id + ".json");
        Assert.True(File.Exists(json));
        CallSidecar? onDisk = CallSidecar.Deserialize(File.ReadAllText(json));
        Assert.NotNull(onDisk);
        Assert.Equal(sidecar.Packets, onDisk.Packets);
        Assert.Equal(sidecar.File, onDisk.File);
        output.WriteLine($"{name}: packets {sidecar.Packets} lost {sidecar.PacketsLost} late {sidecar.PacketsLate} dup {sidecar.DuplicatesDropped} media {sidecar.MediaDurationSeconds} s rate {sidecar.SampleRate}");

        if (sidecar.File is null)
        {
            Assert.False(File.Exists(Path.Combine(_directory, recording.RelativeDirectory, id + ".opus")));
            return new Result(sidecar, null);
        }

        string opus = Path.Combine(_directory, sidecar.File);
        Assert.True(File.Exists(opus));
        string wav = Path.Combine(_directory, id + ".wav");
        (int exitCode, string text) = AudioSignals.Run(AudioSignals.FindTool("opusdec") ?? "opusdec", "--quiet", "--rate", "48000", opus, wav);
        Assert.True(exitCode == 0, text);
        AudioSignals.Wav decoded = AudioSignals.ReadWav(File.ReadAllBytes(wav));
        Assert.Equal(2, decoded.Channels);
        Assert.Equal(OutRate, decoded.SampleRate);
        return new Result(sidecar, decoded);
    }

    // ---- measuring ----

    private static ReadOnlySpan<short> Window(short[] pcm, double startSeconds, double seconds)
    {
        int start = (int)Math.Round(startSeconds * OutRate);
        int length = (int)Math.Round(seconds * OutRate);
        return pcm.AsSpan(start, Math.Min(length, pcm.Length - start));
    }

    private static double Rms(short[] pcm, double startSeconds, double seconds) => AudioSignals.Rms(Window(pcm, startSeconds, seconds));

    /// <summary>Every 20 ms window of [from, to) holds the tone at about its level: no holes, no clicks to silence.</summary>
    private static void AssertContinuous(short[] pcm, double from, double to, string what)
    {
        for (double t = from; t + 0.02 <= to + 1e-9; t += 0.02)
        {
            double rms = Rms(pcm, t, 0.02);
            Assert.True(rms is > 0.6 * ToneRms and < 1.4 * ToneRms, $"{what}: RMS {rms:F0} in the 20 ms at {t:F2} s");
        }
    }

    private static void AssertSilent(short[] pcm, double from, double to, string what)
    {
        double rms = Rms(pcm, from, to - from);
        Assert.True(rms < 0.03 * ToneRms, $"{what}: RMS {rms:F0} over {from:F2}-{to:F2} s");
    }

    /// <summary>Start of the first 5 ms window at or after <paramref name="from"/> where the tone is at least half there.</summary>
    private static double Onset(short[] pcm, double from)
    {
        for (double t = from; t + 0.005 <= (double)pcm.Length / OutRate; t += 0.005)
        {
            if (Rms(pcm, t, 0.005) > 0.5 * ToneRms)
            {
                return t;
            }
        }

        return double.NaN;
    }

    /// <summary>The leg's own tone dominates; the other leg's tone is far down (no cross-talk, no foreign audio).</summary>
    private static void AssertTone(short[] pcm, double from, double seconds, double hz, double otherHz, string what)
    {
        ReadOnlySpan<short> w = Window(pcm, from, seconds);
        double own = AudioSignals.Power(w, hz, OutRate), other = AudioSignals.Power(w, otherHz, OutRate);
        Assert.True(AudioSignals.Db(other / own) < -30, $"{what}: {otherHz} Hz only {AudioSignals.Db(other / own):F1} dB below {hz} Hz");
        Assert.InRange(AudioSignals.Rms(w), 0.7 * ToneRms, 1.3 * ToneRms);
    }

    private static void AssertDurations(Result r, double seconds)
    {
        Assert.InRange(r.Sidecar.MediaDurationSeconds, seconds - 0.02, seconds + 0.02);
        Assert.InRange(r.Wav!.Seconds, r.Sidecar.MediaDurationSeconds - 0.02, r.Sidecar.MediaDurationSeconds + 0.02);
    }

    private static List<Packet> BothLegs(int count = 150, int ptime = 160) =>
        [.. Stream(Channel.Left, LeftHz, T0, count, ptime), .. Stream(Channel.Right, RightHz, T0 + Ms(3), count, ptime, ssrc: 0x55667788, sequence: 40_000, timestamp: 9_000_000)];

    // ---- tests ----

    [Fact]
    public void AFileCutMidPage_IsRecoveredAsFarAsItsWholePages_AndGarbageIsNot()
    {
        Result r = Record(BothLegs(count: 150), "recover", leftName: "Alice");
        string opus = Path.Combine(_directory, r.Sidecar.File!);
        byte[] whole = File.ReadAllBytes(opus);
        File.WriteAllBytes(opus, whole[..(whole.Length - 100)]); // killed while the last page was being written

        CallSidecar recovered = RecordingRecovery.TryRecover(opus, r.Sidecar.File!)!;
        Assert.Equal(r.Sidecar.Id, recovered.Id);
        Assert.Equal(CallEndReasons.Interrupted, recovered.EndReason);
        Assert.Equal(("1001", "Alice", "left"), (recovered.Parties[0].Extension, recovered.Parties[0].Name, recovered.Parties[0].Channel));
        Assert.Equal("1002", recovered.Parties[1].Extension);
        Assert.Equal(r.Sidecar.CallId, recovered.CallId);
        Assert.Equal(r.Sidecar.StartedAt, recovered.StartedAt);
        Assert.InRange(recovered.MediaDurationSeconds, 0.5, r.Sidecar.MediaDurationSeconds); // the last page is gone

        File.WriteAllBytes(opus, [.. "OggS"u8, 0, 2, 1, 2, 3]);
        Assert.Null(RecordingRecovery.TryRecover(opus, r.Sidecar.File!));
    }

    [Fact]
    public void WireTextInTheOggTags_HasNoControlCharacters()
    {
        // A Call-ID and a display name as a hostile peer could send them: a terminal escape, CR LF, NUL, a bell.
        Result r = Record(BothLegs(count: 20), "hostile-tags", callId: "x\u001b[2J\r\nINVITE\u0000@evil", leftName: "\u001b]0;owned\u0007Alice");
        byte[] file = File.ReadAllBytes(Path.Combine(_directory, r.Sidecar.File!));
        int tags = file.AsSpan().IndexOf("OpusTags"u8);
        ReadOnlySpan<byte> header = file.AsSpan(tags, 400);
        Assert.True(header.IndexOf("CALLID=x\\x1B[2J\\x0D\\x0AINVITE\\x00@evil"u8) >= 0, Encoding.Latin1.GetString(header));
        Assert.True(header.IndexOf("LEFT=1001 (\\x1B]0;owned\\x07Alice)"u8) >= 0, Encoding.Latin1.GetString(header));
        Assert.Equal("x\u001b[2J\r\nINVITE\u0000@evil", r.Sidecar.CallId); // the sidecar (JSON, escaped by the serializer) keeps the wire value
    }

    [Fact]
    public void InOrder_ThreeSeconds_BothLegs_ExactDurationAndSeparateTones()
    {
        Result r = Record(BothLegs(), "inorder");

        Assert.Equal(300, r.Sidecar.Packets);
        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(0, r.Sidecar.PacketsLate);
        Assert.Equal(0, r.Sidecar.DuplicatesDropped);
        Assert.Equal(8000, r.Sidecar.SampleRate);
        Assert.Equal(2, r.Sidecar.Channels);
        Assert.Equal(["PCMA"], r.Sidecar.Codecs);
        AssertDurations(r, 3.0);
        AssertTone(r.Left, 0.2, 2.6, LeftHz, RightHz, "left");
        AssertTone(r.Right, 0.2, 2.6, RightHz, LeftHz, "right");
        AssertContinuous(r.Left, 0.1, 2.9, "left");
        AssertContinuous(r.Right, 0.1, 2.9, "right");
    }

    [Fact]
    public void Codecs_AreWhatWasReceived_NotWhatWasOffered()
    {
        // An SBC's offer led with G.722 and the answer with PCMU; both legs sent A-law.
        Result r = Record(BothLegs(), "offered", signalledCodecs: ["G722", "PCMU"]);
        Assert.Equal(["PCMA"], r.Sidecar.Codecs);
    }

    [Fact]
    public void PacketsNotPlayed_AreCountedByReasonInTheSidecar()
    {
        // Beside the call's A-law: 7 packets of a payload type nobody negotiated, 3 that are not RTP at all, and a second
        // source on the left leg while the first still talks (a stray copy): every one is accounted for by its reason.
        List<Packet> packets = BothLegs();
        for (int i = 0; i < 7; i++)
        {
            packets.Add(new Packet(Channel.Left, T0 + Ms(500 + (i * 20)), Rtp(77, (ushort)(9000 + i), (uint)(i * 160), 0x11223344, new byte[160])));
        }

        for (int i = 0; i < 3; i++)
        {
            packets.Add(new Packet(Channel.Right, T0 + Ms(700 + (i * 20)), [0x00, 0x01, 0x02]));
        }

        for (int i = 0; i < 4; i++)
        {
            packets.Add(new Packet(Channel.Left, T0 + Ms(1000 + (i * 20)), Rtp(8, (ushort)(7000 + i), (uint)(i * 160), 0x0BADF00D, new byte[160])));
        }

        Result r = Record([.. packets.OrderBy(p => p.ArrivalNs)], "dropped");
        Assert.Equal(300, r.Sidecar.Packets);
        Assert.Equal(new Dictionary<string, long> { ["unknown-payload-type"] = 7, ["invalid-rtp"] = 3, ["other-ssrc"] = 4 }, r.Sidecar.PacketsDropped);
        Assert.Contains("\"packetsDropped\"", CallSidecar.Serialize(r.Sidecar), StringComparison.Ordinal);
    }

    [Fact]
    public void MirrorDuplicates_AreDroppedAndCounted_AudioUnchanged()
    {
        List<Packet> packets = BothLegs();
        List<Packet> mirrored = [.. packets, .. packets.Select(p => p with { ArrivalNs = p.ArrivalNs + 40_000 })]; // the copy 40 µs later
        Result clean = Record(packets, "clean");
        Result r = Record(mirrored, "mirror");

        Assert.Equal(300, r.Sidecar.DuplicatesDropped);
        Assert.Equal(300, r.Sidecar.Packets);
        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(clean.Sidecar.MediaDurationSeconds, r.Sidecar.MediaDurationSeconds);
        Assert.Equal(clean.Wav!.Seconds, r.Wav!.Seconds);
        Assert.InRange(Rms(r.Left, 0.2, 2.6) / Rms(clean.Left, 0.2, 2.6), 0.97, 1.03);
        Assert.InRange(Rms(r.Right, 0.2, 2.6) / Rms(clean.Right, 0.2, 2.6), 0.97, 1.03);
    }

    [Fact]
    public void Reordered_NeighboursSwappedAndThreeLate_NoLossNoHoles()
    {
        List<Packet> packets = BothLegs();
        List<Packet> left = packets.Where(p => p.Channel == Channel.Left).ToList();

        // Swap neighbours 40/41 and 90/91; packet 60 arrives just after 63 (60 ms late).
        foreach (int k in (int[])[40, 90])
        {
            (long a, long b) = (left[k].ArrivalNs, left[k + 1].ArrivalNs);
            left[k] = left[k] with { ArrivalNs = b + 1000 };
            left[k + 1] = left[k + 1] with { ArrivalNs = a };
        }

        left[60] = left[60] with { ArrivalNs = left[63].ArrivalNs + 1000 };
        Result r = Record([.. left, .. packets.Where(p => p.Channel == Channel.Right)], "reordered");

        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(0, r.Sidecar.PacketsLate);
        Assert.Equal(300, r.Sidecar.Packets);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 2.9, "left");
        AssertTone(r.Left, 0.2, 2.6, LeftHz, RightHz, "left");
    }

    [Fact]
    public void OneLossInFifty_CountedAndConcealed()
    {
        List<Packet> packets = BothLegs();
        var lost = new HashSet<Packet>();
        List<Packet> left = packets.Where(p => p.Channel == Channel.Left).ToList();
        for (int i = 25; i < left.Count; i += 50)
        {
            lost.Add(left[i]);
        }

        Result r = Record(packets.Where(p => !lost.Contains(p)), "loss1in50");

        Assert.Equal(3, r.Sidecar.PacketsLost);
        Assert.Equal(297, r.Sidecar.Packets);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 2.9, "left with concealed losses");
    }

    [Fact]
    public void TwentyConsecutiveLost_CountedSilent_AndToneResumesOnTime()
    {
        List<Packet> packets = BothLegs();
        List<Packet> left = packets.Where(p => p.Channel == Channel.Left).ToList();
        left.RemoveRange(50, 20); // 1.0-1.4 s
        Result r = Record([.. left, .. packets.Where(p => p.Channel == Channel.Right)], "loss20");

        Assert.Equal(20, r.Sidecar.PacketsLost);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 0.98, "left before the gap");
        AssertSilent(r.Left, 1.03, 1.38, "the 400 ms gap");
        Assert.InRange(Onset(r.Left, 1.1), 1.38, 1.42);
        AssertContinuous(r.Left, 1.42, 2.9, "left after the gap");
        AssertContinuous(r.Right, 0.1, 2.9, "right");
    }

    [Fact]
    public void SsrcChange_AfterPause_ResumesAtArrivalTime()
    {
        // Left: 1 s, 1 s of nothing, then a new source (SSRC, sequence and timestamp base all new) for 1 s.
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 50),
            .. Stream(Channel.Left, LeftHz, T0 + Ms(2000), 50, ssrc: 0xCAFEBABE, sequence: 7, timestamp: 3_141_592_653),
            .. Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788),
        ];
        Result r = Record(packets, "ssrcchange");

        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(250, r.Sidecar.Packets);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 0.98, "first source");
        AssertSilent(r.Left, 1.03, 1.97, "pause");
        Assert.InRange(Onset(r.Left, 1.5), 1.98, 2.02);
        AssertContinuous(r.Left, 2.02, 2.9, "second source");
    }

    [Fact]
    public void SsrcInterleaved_StrayCopyDropped_AudioNotGarbled()
    {
        const double StrayHz = 1700;
        List<Packet> packets =
        [
            .. BothLegs(),
            .. Stream(Channel.Left, StrayHz, T0 + Ms(5), 150, ssrc: 0xDEADBEEF, sequence: 30_000, timestamp: 123_456_789),
        ];
        Result r = Record(packets, "stray");

        Assert.Equal(300, r.Sidecar.Packets);
        Assert.Equal(0, r.Sidecar.PacketsLost);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 2.9, "left");
        AssertTone(r.Left, 0.2, 2.6, LeftHz, StrayHz, "left vs stray");
    }

    [Theory]
    [InlineData(80)]
    [InlineData(240)]
    [InlineData(480)]
    public void PacketTimes_10_30_60ms_DurationsRight(int ptime)
    {
        int count = 24000 / ptime;
        Result r = Record(BothLegs(count, ptime), $"ptime{ptime}");

        Assert.Equal(2 * count, r.Sidecar.Packets);
        Assert.Equal(0, r.Sidecar.PacketsLost);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 2.9, "left");
        AssertContinuous(r.Right, 0.1, 2.9, "right");
    }

    [Fact]
    public void LateLeg_StartsTwoSecondsIn()
    {
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 200),
            .. Stream(Channel.Right, RightHz, T0 + Ms(2000), 100, ssrc: 0x55667788),
        ];
        Result r = Record(packets, "lateleg");

        AssertDurations(r, 4.0);
        AssertSilent(r.Right, 0, 1.97, "right before it started");
        Assert.InRange(Onset(r.Right, 0), 1.98, 2.02);
        AssertContinuous(r.Right, 2.02, 3.9, "right");
        AssertContinuous(r.Left, 0.1, 3.9, "left");
    }

    [Fact]
    public void TimestampAndSequenceWrap_NoLoss_Continuous()
    {
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 150, sequence: 65530, timestamp: uint.MaxValue - (160 * 10) + 1),
            .. Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788, sequence: 65500, timestamp: uint.MaxValue - 80),
        ];
        Result r = Record(packets, "wrap");

        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(0, r.Sidecar.PacketsLate);
        Assert.Equal(300, r.Sidecar.Packets);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 2.9, "left");
        AssertContinuous(r.Right, 0.1, 2.9, "right");
    }

    [Fact]
    public void TelephoneEvent_OneDigitAtItsOffset_NothingInTheAudio()
    {
        var map = new PayloadMap();
        map.Set(8, AudioCodec.Pcma, 8000);
        map.Set(101, AudioCodec.TelephoneEvent, 8000);

        // Left speaks 1 s (seq 0-49), sends digit 5 instead of speech from 1.0 s: 5 updates every 20 ms then 3 end
        // packets (all with the event's start timestamp, sequence numbers going on), then speaks again at 1.2 s.
        const uint Ts0 = 777_000;
        const ushort Seq0 = 100;
        List<Packet> packets = Stream(Channel.Left, LeftHz, T0, 50, sequence: Seq0, timestamp: Ts0);
        uint eventTs = Ts0 + 8000;
        for (int i = 0; i < 8; i++)
        {
            bool end = i >= 5;
            ushort duration = (ushort)(end ? 800 : (i + 1) * 160);
            byte[] payload = [5, (byte)((end ? 0x80 : 0) | 10), (byte)(duration >> 8), (byte)duration];
            packets.Add(new Packet(Channel.Left, T0 + Ms(1000 + (i * 20)), Rtp(101, (ushort)(Seq0 + 50 + i), eventTs, 0x11223344, payload, marker: i == 0)));
        }

        packets.AddRange(Stream(Channel.Left, LeftHz, T0 + Ms(1200), 90, sequence: Seq0 + 58, timestamp: Ts0 + 9600, toneOffset: 9600));
        packets.AddRange(Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788));
        Result r = Record(packets, "dtmf", left: map);

        DtmfRecord digit = Assert.Single(r.Sidecar.Dtmf);
        Assert.Equal("5", digit.Digit);
        Assert.InRange(digit.OffsetSeconds, 0.95, 1.05);
        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(0, r.Sidecar.DuplicatesDropped);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 0.98, "speech before the digit");
        AssertSilent(r.Left, 1.01, 1.19, "the digit");
        AssertContinuous(r.Left, 1.22, 2.9, "speech after the digit");
    }

    [Fact]
    public void ComfortNoise_BetweenTalkSpurts_IsSilence_NoLoss()
    {
        // Left: talk 0-1 s, CN, talk 1.1-2 s, CN at 2.0 and its refresh at 2.2, talk 2.5-3 s. Sequence numbers go on.
        byte[] noise = [40];
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 50, sequence: 0, timestamp: 0),
            new Packet(Channel.Left, T0 + Ms(1000), Rtp(13, 50, 8000, 0x11223344, noise)),
            .. Stream(Channel.Left, LeftHz, T0 + Ms(1100), 45, sequence: 51, timestamp: 8800, toneOffset: 8800),
            new Packet(Channel.Left, T0 + Ms(2000), Rtp(13, 96, 16000, 0x11223344, noise)),
            new Packet(Channel.Left, T0 + Ms(2200), Rtp(13, 97, 17600, 0x11223344, noise)),
            .. Stream(Channel.Left, LeftHz, T0 + Ms(2500), 25, sequence: 98, timestamp: 20000, toneOffset: 20000),
            .. Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788),
        ];
        Result r = Record(packets, "cn");

        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(273, r.Sidecar.Packets);
        AssertDurations(r, 3.0);
        AssertSilent(r.Left, 1.01, 1.09, "100 ms of comfort noise");
        AssertSilent(r.Left, 2.01, 2.49, "500 ms of comfort noise");
        Assert.InRange(Onset(r.Left, 1.05), 1.08, 1.12);
        Assert.InRange(Onset(r.Left, 2.3), 2.48, 2.52);
        AssertContinuous(r.Left, 1.12, 1.98, "second talk spurt");
    }

    [Fact]
    public void TelephoneEvent_ShortDigitReplacingSpeech_IsNotConcealedOver()
    {
        var map = new PayloadMap();
        map.Set(8, AudioCodec.Pcma, 8000);
        map.Set(101, AudioCodec.TelephoneEvent, 8000);

        // A 60 ms digit (2 updates + 3 end packets, the ends 5 ms apart) in place of 100 ms of speech.
        List<Packet> packets = Stream(Channel.Left, LeftHz, T0, 50, sequence: 0, timestamp: 0);
        for (int i = 0; i < 5; i++)
        {
            bool end = i >= 2;
            ushort duration = (ushort)(end ? 480 : (i + 1) * 160);
            byte[] payload = [11, (byte)((end ? 0x80 : 0) | 10), (byte)(duration >> 8), (byte)duration];
            long at = end ? Ms(1060 + ((i - 2) * 5)) : Ms(1000 + (i * 20));
            packets.Add(new Packet(Channel.Left, T0 + at, Rtp(101, (ushort)(50 + i), 8000, 0x11223344, payload, marker: i == 0)));
        }

        packets.AddRange(Stream(Channel.Left, LeftHz, T0 + Ms(1100), 95, sequence: 55, timestamp: 8800, toneOffset: 8800));
        packets.AddRange(Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788));
        Result r = Record(packets, "dtmfshort", left: map);

        DtmfRecord digit = Assert.Single(r.Sidecar.Dtmf);
        Assert.Equal("#", digit.Digit);
        Assert.InRange(digit.OffsetSeconds, 0.95, 1.05);
        Assert.Equal(0, r.Sidecar.PacketsLost);
        AssertSilent(r.Left, 1.01, 1.09, "the digit");
        Assert.InRange(Onset(r.Left, 1.05), 1.08, 1.12);
    }

    [Fact]
    public void ComfortNoise_BeforeFirstSpeech_DoesNotShiftTheLeg()
    {
        // Left opens with a CN packet 200 ms before its first speech (same SSRC); right's speech starts the timeline
        // at the same moment as left's: both tones must start together at 0.
        byte[] noise = [40];
        List<Packet> packets =
        [
            new Packet(Channel.Left, T0 - Ms(200), Rtp(13, 99, 0, 0x11223344, noise)),
            .. Stream(Channel.Left, LeftHz, T0, 150, sequence: 100, timestamp: 1600),
            .. Stream(Channel.Right, RightHz, T0 + Ms(1), 150, ssrc: 0x55667788),
        ];
        Result r = Record(packets, "cnfirst");

        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(0, r.Sidecar.PacketsLate);
        AssertDurations(r, 3.0);
        Assert.InRange(Onset(r.Left, 0), 0, 0.02);
        AssertContinuous(r.Left, 0.1, 2.9, "left");
    }

    [Fact]
    public void Pause_WithTimestampsNotAdvancing_AudioResumesAtArrival()
    {
        // Left pauses 600 ms (hold, or silence suppression without CN) and resumes with timestamps and sequence
        // numbers continuing as if no time had passed: less than the 2 s re-anchor limit, more than the jitter delay.
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 50, sequence: 0, timestamp: 0),
            .. Stream(Channel.Left, LeftHz, T0 + Ms(1600), 70, sequence: 50, timestamp: 8000, toneOffset: 8000),
            .. Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788),
        ];
        Result r = Record(packets, "frozents");

        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(0, r.Sidecar.PacketsLate);
        AssertDurations(r, 3.0);
        AssertSilent(r.Left, 1.03, 1.57, "pause");
        Assert.InRange(Onset(r.Left, 1.3), 1.58, 1.62);
        AssertContinuous(r.Left, 1.62, 2.9, "after the pause");
    }

    [Fact]
    public void TimestampJump_SameSsrc_ReanchorsOnArrival_NoLoss()
    {
        // At 1 s the sender's timestamp jumps 10 s ahead (a splice) while packets keep coming every 20 ms.
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 50, sequence: 0, timestamp: 0),
            .. Stream(Channel.Left, LeftHz, T0 + Ms(1000), 100, sequence: 50, timestamp: 88000, toneOffset: 8000),
            .. Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788),
        ];
        Result r = Record(packets, "tsjump");

        Assert.Equal(0, r.Sidecar.PacketsLost);
        Assert.Equal(0, r.Sidecar.PacketsLate);
        Assert.Equal(300, r.Sidecar.Packets);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 2.9, "left");
    }

    [Fact]
    public void TimestampJump_OneSecondAhead_ReanchorsOnArrival_NoHole()
    {
        // At 1 s the sender's timestamp jumps 1 s ahead of its arrival: further than a leg holds ahead of the mix (0.6 s),
        // so the packets are placed at their arrival, not a second later after a second of silence.
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 50, sequence: 0, timestamp: 0),
            .. Stream(Channel.Left, LeftHz, T0 + Ms(1000), 100, sequence: 50, timestamp: 16000, toneOffset: 8000),
            .. Stream(Channel.Right, RightHz, T0 + Ms(3), 150, ssrc: 0x55667788),
        ];
        Result r = Record(packets, "tsahead");

        Assert.Equal((0L, 0L, 300L), (r.Sidecar.PacketsLost, r.Sidecar.PacketsLate, r.Sidecar.Packets));
        Assert.DoesNotContain("early", r.Sidecar.PacketsDropped.Keys);
        AssertDurations(r, 3.0);
        AssertContinuous(r.Left, 0.1, 2.9, "left");
    }

    [Fact]
    public void PauseOfFiveSecondsWithoutPackets_TheFirstPacketAfterItIsPlayed()
    {
        // The only leg sends 1 s, nothing for 5 s (silence suppression without comfort noise), then 1 s: the mix is still
        // where the audio stopped when the talk spurt's first packet comes, and must come on for it to fit.
        List<Packet> packets =
        [
            .. Stream(Channel.Left, LeftHz, T0, 50, sequence: 0, timestamp: 0),
            .. Stream(Channel.Left, LeftHz, T0 + Ms(6000), 50, sequence: 50, timestamp: 48000, toneOffset: 48000),
        ];
        Result r = Record(packets, "pause5");

        Assert.Equal((0L, 100L), (r.Sidecar.PacketsLate, r.Sidecar.Packets));
        AssertDurations(r, 7.0);
        AssertSilent(r.Left, 1.03, 5.97, "pause");
        Assert.InRange(Onset(r.Left, 5.0), 5.98, 6.02);
        AssertContinuous(r.Left, 6.02, 6.98, "after the pause");
    }

    // An answered call without media says "no-media"; an unanswered one keeps how it ended (see CallRecording).
    [Theory]
    [InlineData(CallEndReasons.Bye, CallEndReasons.NoMedia)]
    [InlineData(CallEndReasons.Timeout, CallEndReasons.NoMedia)]
    [InlineData(CallEndReasons.Cancelled, CallEndReasons.Cancelled)]
    [InlineData(CallEndReasons.Rejected, CallEndReasons.Rejected)]
    public void NoMedia_SidecarWithoutFile_SaysWhy(string signalled, string expected)
    {
        Result r = Record([], $"nomedia-{signalled}", endReason: signalled, signalledCodecs: ["PCMU"]);

        Assert.Null(r.Sidecar.File);
        Assert.Equal(["PCMU"], r.Sidecar.Codecs); // nothing received: what the signalling chose
        Assert.Equal(0, r.Sidecar.Channels);
        Assert.Null(r.Sidecar.SampleRate);
        Assert.Equal(0, r.Sidecar.MediaDurationSeconds);
        Assert.Null(r.Sidecar.MediaStartedAt);
        Assert.Equal(expected, r.Sidecar.EndReason);
        Assert.Equal(signalled, r.Sidecar.SignalledEnd);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void G722Leg_WithG711Leg_FileIs16kHz_BothAudible(bool g722First)
    {
        if (!DecoderTestSupport.Available(output, Libraries.SpanDsp))
        {
            return;
        }

        // Right: 3 s of 1000 Hz through spandsp's G.722 encoder, 160 bytes (320 samples, 160 RTP ticks) per packet.
        short[] input = AudioSignals.Sine(RightHz, 16000, 48000, Amplitude);
        var encoded = new byte[input.Length / 2];
        using (SafeG722EncoderHandle encoder = global::Capture.Interop.Interop.SpanDsp.CreateG722Encoder())
        fixed (short* amp = input)
        fixed (byte* data = encoded)
        {
            Assert.Equal(encoded.Length, global::Capture.Interop.Interop.SpanDsp.g722_encode(encoder, data, amp, input.Length));
        }

        var rightMap = new PayloadMap();
        rightMap.Set(9, AudioCodec.G722, 8000);
        var leftMap = new PayloadMap();
        leftMap.Set(8, AudioCodec.Pcma, 8000);

        long rightStart = g722First ? T0 - Ms(3) : T0 + Ms(3);
        List<Packet> packets = Stream(Channel.Left, LeftHz, T0, 150);
        for (int i = 0; i < 150; i++)
        {
            packets.Add(new Packet(Channel.Right, rightStart + Ms(i * 20), Rtp(9, (ushort)(500 + i), (uint)(1000 + (i * 160)), 0x55667788, encoded.AsSpan(i * 160, 160))));
        }

        Result r = Record(packets, $"g722-{g722First}", left: leftMap, right: rightMap);

        Assert.Equal(16000, r.Sidecar.SampleRate);
        Assert.Equal(["G722", "PCMA"], r.Sidecar.Codecs);
        Assert.Equal(0, r.Sidecar.PacketsLost);
        AssertDurations(r, 3.0);
        AssertTone(r.Left, 0.2, 2.6, LeftHz, RightHz, "left (G.711)");
        AssertTone(r.Right, 0.2, 2.6, RightHz, LeftHz, "right (G.722)");
        AssertContinuous(r.Left, 0.1, 2.9, "left");
        AssertContinuous(r.Right, 0.1, 2.9, "right");
    }
}
