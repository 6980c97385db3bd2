using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// Packet time is wire data: SIP_CALL_RTP_G711.pcap rebuilt with timestamps an attacker or a broken capture would
/// produce. Each replay finishes, records every media packet of the answered call as the unchanged file does, and
/// counts what it smoothed (the file itself already holds one packet stamped decades away: the baseline counts it).
/// </summary>
public sealed class TimeJumpTests(ITestOutputHelper output) : IDisposable
{
    private const long Second = 1_000_000_000;
    private const string Answered = "12013223@200.57.7.195";
    private readonly string _dir = Directory.CreateTempSubdirectory("appl-timejump-").FullName;

    [Fact]
    public void OneRtpPacketStamped14DaysEarlier_IsPlacedWithItsNeighbours()
    {
        (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        int i = MidCallRtp(frames);
        frames[i] = (frames[i].Ns - (14 * 86_400 * Second), frames[i].Frame);

        (CallSidecar call, IReadOnlyDictionary<string, long> counters) = Replay(link, frames);
        AssertLikeTheOriginal(call, counters, extraOutliers: 1);
    }

    [Fact]
    public void OneUnrelatedDatagram61sAhead_EndsNoCall()
    {
        (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        int i = MidCallRtp(frames);
        byte[] stray = (byte[])frames[0].Frame.Clone(); // the file's first frame, sent again a minute into the future
        frames.Insert(i, (frames[i].Ns + (61 * Second), stray));

        (CallSidecar call, IReadOnlyDictionary<string, long> counters) = Replay(link, frames);
        AssertLikeTheOriginal(call, counters, extraOutliers: 1);
    }

    [Fact]
    public void AFewPacketsYearsApart_AreOutliers_AndTheCallIsRecordedWhole()
    {
        (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        int i = MidCallRtp(frames);
        long year = 365 * 86_400 * Second;
        long[] shifts = [3 * year, -5 * year, 20 * year, year];
        for (int k = 0; k < shifts.Length; k++)
        {
            int at = i + (k * 40);
            frames[at] = (frames[at].Ns + shifts[k], frames[at].Frame);
        }

        (CallSidecar call, IReadOnlyDictionary<string, long> counters) = Replay(link, frames);
        AssertLikeTheOriginal(call, counters, extraOutliers: shifts.Length);
    }

    [Fact]
    public void AGapLongerThanTheLongestSilence_IsCutToIt_AndTheSidecarSaysSo()
    {
        // 45 s without any packet mid-call (under the 60 s media timeout): the recording keeps 30 s of silence, not 45.
        (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        (CallSidecar baseline, _) = Replay(link, frames);
        int i = MidCallRtp(frames);
        for (int k = i; k < frames.Count; k++)
        {
            frames[k] = (frames[k].Ns + (45 * Second), frames[k].Frame);
        }

        (CallSidecar call, IReadOnlyDictionary<string, long> counters) = Replay(link, frames);
        output.WriteLine($"media {call.MediaDurationSeconds} s (baseline {baseline.MediaDurationSeconds}), signalled {call.DurationSeconds} s ({baseline.DurationSeconds}), jumps {counters["clock_jumps"]}");
        Assert.Equal(891 + 548, call.Packets);
        Assert.InRange(call.MediaDurationSeconds, baseline.MediaDurationSeconds + 29.7, baseline.MediaDurationSeconds + 30.3); // the packet that opened the gap is placed before it
        Assert.Equal(baseline.DurationSeconds + 45, call.DurationSeconds, 1);
        CallEventSidecar jumps = Assert.Single(call.Events, e => e.Type == CallEventTypes.MediaTimeJumps);
        output.WriteLine(jumps.Detail);
        Assert.Matches(@"1 gap\(s\) or clock step\(s\), 1[45](\.\d+)? s of silence cut", jumps.Detail);
    }

    [Fact]
    public void ACaptureDatedAfter2038_IsFiledAndTimedAsItsDate()
    {
        (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        long shift = new DateTimeOffset(2039, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds() * Second - frames[0].Ns;
        (CallSidecar call, IReadOnlyDictionary<string, long> counters) = Replay(link, frames.Select(f => (f.Ns + shift, f.Frame)).ToList());

        AssertLikeTheOriginal(call, counters, extraOutliers: 0);
        Assert.Equal(2039, call.StartedAt.Year);
        Assert.StartsWith("2039", call.File, StringComparison.Ordinal);
        Assert.InRange(call.DurationSeconds, 0, 3600);
    }

    /// <summary>Every media packet and the same audio as the unchanged file, the same end, and the outliers counted.</summary>
    private void AssertLikeTheOriginal(CallSidecar call, IReadOnlyDictionary<string, long> counters, int extraOutliers)
    {
        (int link, List<(long Ns, byte[] Frame)> original) = PcapFile.Read(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        (CallSidecar baseline, IReadOnlyDictionary<string, long> baseCounters) = Replay(link, original);
        output.WriteLine($"packets {call.Packets} (baseline {baseline.Packets}), media {call.MediaDurationSeconds} s ({baseline.MediaDurationSeconds}), " +
            $"end {call.EndReason} ({baseline.EndReason}), outliers {counters["clock_outliers"]} ({baseCounters["clock_outliers"]}), jumps {counters["clock_jumps"]}");
        Assert.Equal(891 + 548, call.Packets); // tshark rtp,streams: both directions of the answered call
        Assert.Equal(baseline.Packets, call.Packets);
        Assert.Equal(0, call.PacketsLost);
        Assert.InRange(call.MediaDurationSeconds, baseline.MediaDurationSeconds - 0.1, baseline.MediaDurationSeconds + 0.1);
        Assert.Equal(baseline.EndReason, call.EndReason);
        Assert.Equal(baseline.DurationSeconds, call.DurationSeconds, 1);
        Assert.Equal(baseCounters["clock_outliers"] + extraOutliers, counters["clock_outliers"]);
        Assert.Equal(baseCounters["calls_started"], counters["calls_started"]);
    }

    /// <summary>A G.711 RTP frame of the answered call well inside its media (214 bytes: Ethernet, IPv4, UDP, RTP, 160 bytes).</summary>
    private static int MidCallRtp(List<(long Ns, byte[] Frame)> frames)
    {
        int seen = 0;
        for (int i = 0; i < frames.Count; i++)
        {
            if (frames[i].Frame.Length == 214 && ++seen == 500)
            {
                return i;
            }
        }

        throw new InvalidOperationException("no mid-call RTP frame");
    }

    private (CallSidecar Call, IReadOnlyDictionary<string, long> Counters) Replay(int linkType, List<(long Ns, byte[] Frame)> frames)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".pcap");
        PcapFile.WriteClassic(path, linkType, frames);
        // The relay's other leg (200.57.7.199, the same SSRCs 0.5 ms apart) is left out: these tests shift frames from one
        // index on, which can part a relayed copy from its original by the whole shift, so it is no longer a duplicate.
        using Replayer r = new Replayer().Run(path, workers: 1, configure: o => o.UnsignalledRtp.Enabled = false);
        Assert.Empty(r.Errors);
        CallSidecar call = Assert.Single(r.Calls, c => c.CallId == Answered);

        // Both legs are in the file and audible, whatever the timestamps did (as the unchanged file: 5 s and more each).
        DecodedAudio audio = r.Decode(call);
        output.WriteLine($"decoded {audio.DurationSeconds:0.00} s, active L {audio.ActiveSeconds(0)} s R {audio.ActiveSeconds(1)} s");
        Assert.InRange(audio.DurationSeconds, call.MediaDurationSeconds - 0.05, call.MediaDurationSeconds + 0.05);
        Assert.True(audio.ActiveSeconds(0) > 5, "the caller's leg (left) must be audible");
        Assert.True(audio.ActiveSeconds(1) > 5, "francisco's leg (right) must be audible");
        return (call, r.Counters);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
