using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Appliance.Tests.Support;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// The live path end to end with tcpreplay, as `make bench-live` drives it (bench/load/live-replay.sh's veth pair: the
/// sending end in a namespace of its own, names from this process's id): a real capture sent at its own pace into
/// `appliance capture` must give the recording `appliance replay` gives of the same file. Needs root; otherwise it says
/// why and returns.
/// </summary>
[Collection("live")]
public class LiveReplayTests(ITestOutputHelper output)
{
    /// <summary>From the first to the last packet of samples/sipp-g711a-call.pcap (capinfos).</summary>
    private const double SampleSeconds = 10.004;

    private static string Harness => Path.Combine(Repo.Root, "bench", "load", "live-replay.sh");

    [Fact]
    public void Capture_OfATcpreplayedCall_RecordsWhatReplayRecords()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live replay needs root (network namespace, veth pair, raw capture); CI runs as root.");
            return;
        }

        // The bundled SIPp call: 10 s, the caller's speech on one leg, SIPp's 1 kHz tone on the other.
        string sample = Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap");
        double late = 0;
        string id = "t" + Environment.ProcessId.ToString("x", CultureInfo.InvariantCulture);
        string dir = Path.Combine(Path.GetTempPath(), "appliance-live-replay-" + Guid.NewGuid().ToString("N"));
        using var offline = new Replayer();
        (int up, string upLog) = Repo.Run("bash", [Harness, "up", id], TimeSpan.FromSeconds(30));
        try
        {
            Assert.True(up == 0, "veth pair: " + upLog);
            string iface = upLog.Trim().Split('\n')[^1];
            (Process appliance, System.Text.StringBuilder log) = RigSession.StartCaptureOn(iface, "--out", Path.Combine(dir, "rec"), "--state", Path.Combine(dir, "state"));
            try
            {
                // x1: the capture's own timing. Faster, each call's packets would arrive ahead of their RTP clock and the
                // recording would not be the same call (what the load benchmark's packet rates accept, this test does not).
                (int sent, string sendLog) = Repo.Run("bash", [Harness, "send", id, sample, "x1"], TimeSpan.FromSeconds(40));
                output.WriteLine(sendLog);
                Assert.True(sent == 0, "tcpreplay: " + sendLog);
                Assert.Matches(@"Successful packets:\s+656\b", sendLog);
                // On a loaded machine tcpreplay can fall behind the capture's pace; the recording then runs longer by as much.
                Match took = Regex.Match(sendLog, @"sent in ([0-9.]+) seconds");
                Assert.True(took.Success, sendLog);
                late = Math.Max(0, double.Parse(took.Groups[1].Value, CultureInfo.InvariantCulture) - SampleSeconds);
                Thread.Sleep(500); // the last packets through the veth pair and the ring
                string text = RigSession.StopWithSigterm(appliance, log, output);
                Assert.Contains("656 received, 0 dropped by kernel", text, StringComparison.Ordinal);
            }
            finally
            {
                if (!appliance.HasExited)
                {
                    appliance.Kill();
                }

                appliance.Dispose();
            }

            offline.Run(sample);
            CallSidecar expected = Assert.Single(offline.Calls);
            string json = Assert.Single(Directory.GetFiles(Path.Combine(dir, "rec"), "*.json", SearchOption.AllDirectories));
            CallSidecar live = CallSidecar.Deserialize(File.ReadAllText(json))!;
            output.WriteLine($"live: {live.Packets} packets, {live.PacketsLost} lost, {live.MediaDurationSeconds} s (tcpreplay {late:0.00} s late); replay: {expected.Packets}, {expected.PacketsLost}, {expected.MediaDurationSeconds} s");

            Assert.Equal(expected.CallId, live.CallId);
            Assert.Equal(expected.EndReason, live.EndReason);
            Assert.Equal(expected.Codecs, live.Codecs);
            Assert.Equal(expected.Parties.Select(p => (p.Extension, p.Channel, p.Ip, p.Port)), live.Parties.Select(p => (p.Extension, p.Channel, p.Ip, p.Port)));
            Assert.Equal(expected.Dtmf.Select(d => d.Digit), live.Dtmf.Select(d => d.Digit));
            Assert.InRange(live.Packets, expected.Packets - 3, expected.Packets);
            Assert.InRange(live.PacketsLost, 0, 3);
            Assert.Empty(live.PacketsDropped);
            Assert.InRange(live.MediaDurationSeconds, expected.MediaDurationSeconds - 0.1, expected.MediaDurationSeconds + late + 0.1);

            // The same audio on the same channels: the caller's speech left, the callee's tone right.
            DecodedAudio want = offline.Decode(expected), got = DecodedAudio.Decode(Path.Combine(dir, "rec", live.File!));
            output.WriteLine($"active L {got.ActiveSeconds(0):0.00}/{want.ActiveSeconds(0):0.00} s, R {got.ActiveSeconds(1):0.00}/{want.ActiveSeconds(1):0.00} s; tone {got.DominantFrequency(1, 2):0} Hz");
            Assert.Equal(2, got.Channels);
            Assert.InRange(got.DurationSeconds, want.DurationSeconds - 0.1, want.DurationSeconds + late + 0.1);
            Assert.InRange(got.ActiveSeconds(0), want.ActiveSeconds(0) - 0.3, want.ActiveSeconds(0) + late + 0.3);
            Assert.InRange(got.ActiveSeconds(1), want.ActiveSeconds(1) - 0.3, want.ActiveSeconds(1) + late + 0.3);
            Assert.InRange(got.DominantFrequency(1, 2), want.DominantFrequency(1, 2) - 20, want.DominantFrequency(1, 2) + 20);
            Assert.InRange(Math.Abs(got.ChannelCorrelation()), 0, 0.2);
        }
        finally
        {
            Repo.Run("bash", [Harness, "down", id], TimeSpan.FromSeconds(30));
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
