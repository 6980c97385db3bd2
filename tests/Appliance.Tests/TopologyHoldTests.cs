using System.Diagnostics;
using System.Globalization;
using Appliance.Tests.Support;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// A call held for more than 15 s and resumed, live on the topology rig (tests/live/topology.sh hold): 2001 registers
/// with Kamailio and calls 2002 through it, the media relayed by rtpengine; after 3 s of talk the caller holds
/// (re-INVITE a=sendonly, answered recvonly: neither phone sends meanwhile), resumes 16 s later (a=sendrecv), talks 3 s
/// more and hangs up, while `appliance capture` records the bridge. The same call is samples/sipp-topology-hold.pcap
/// (<see cref="TopologyHoldReplayTests"/>). Needs root; otherwise it says why and returns. About 35 s.
/// </summary>
[Collection("live")]
public class TopologyHoldTests(ITestOutputHelper output)
{
    [Fact]
    public void Capture_ACallHeldFor16sAndResumedThroughProxyAndRelay_IsOneRecording_WithHoldAndResumeOnceAtTheirOffsets()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-topology-hold", LiveRig.TopologyScript);
        string state = rig.State, recordings = Path.Combine(rig.Dir, "rec"), logs = Path.Combine(rig.Dir, "sipp");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", state, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [LiveRig.TopologyScript, "hold", logs], TimeSpan.FromSeconds(120));
        Assert.True(call == 0, "SIPp hold call through Kamailio and rtpengine failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);

        // When the caller's SIPp sent the two re-INVITEs (its <log> actions: "hold-sent <date> <time> <epoch seconds>").
        string sent = File.ReadAllText(Path.Combine(logs, "uac_hold_logs.log"));
        output.WriteLine(sent);
        CallSidecar sidecar = CallSidecar.Deserialize(File.ReadAllText(Assert.Single(Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories))))!;
        HoldCallExpectations.AssertRecording(sidecar, DecodedAudio.Decode(Path.Combine(recordings, sidecar.File!)), SentAt(sent, "hold-sent"), SentAt(sent, "resume-sent"),
            exactPackets: false, output);
        Assert.Equal("sip:10.77.0.10:5061", sidecar.Parties[0].Device); // the phone that registered

        // What the directory kept (read back through a replay of an unrelated capture with the same state).
        (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Path.Combine(Captures.Dir, "g711a.pcap"), "--out", Path.Combine(rig.Dir, "rec2"),
            "--state", state, "--json"], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, json);
        HoldCallExpectations.AssertDirectory(json);
    }

    /// <summary>The epoch time (ns) of a "<paramref name="what"/> ... &lt;seconds.micros&gt;" line of SIPp's log file.</summary>
    private static long SentAt(string log, string what)
    {
        string line = Assert.Single(log.Split('\n'), l => l.StartsWith(what, StringComparison.Ordinal));
        string epoch = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[^1];
        return (long)Math.Round(decimal.Parse(epoch, CultureInfo.InvariantCulture) * 1_000_000_000m);
    }
}
