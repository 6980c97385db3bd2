using System.Diagnostics;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// Real calls: SIPp places a call between two network namespaces bridged by appl-br0 (tests/live/netns.sh, with this
/// process's own names: <see cref="LiveRig"/>) while `appliance capture` records live on the bridge. Needs root (CI runs as
/// root); otherwise it says why and returns.
/// </summary>
[Collection("live")]
public class LiveCaptureTests(ITestOutputHelper output)
{
    [Fact]
    public void Capture_RecordsASippCallLiveAndFinalisesOnSigterm()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-live");
        string netns = LiveRig.Script, outDir = rig.Dir, state = rig.State;
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", outDir, "--state", state, "--workers", "1");

        (int call, string callLog) = Repo.Run("bash", [netns, "call"], TimeSpan.FromSeconds(90));
        output.WriteLine(callLog);
        Assert.True(call == 0, "SIPp call failed: " + callLog);

        // SIGTERM finalises every open recording and exits.
        RigSession.StopWithSigterm(appliance, log, output);
        string json = Assert.Single(Directory.GetFiles(outDir, "*.json", SearchOption.AllDirectories), f => !f.StartsWith(state, StringComparison.Ordinal));
        CallSidecar call1 = CallSidecar.Deserialize(File.ReadAllText(json))!;
        Assert.Equal("2001", call1.Parties[0].Extension);
        Assert.Equal("2002", call1.Parties[1].Extension);

        // The caller's phone registered 2001 from 10.77.0.10:5061 just before calling: the recording names it.
        Assert.Equal("sip:10.77.0.10:5061", call1.Parties[0].Device);
        Assert.Equal("sip:10.77.0.10:5061", call1.Parties[0].HostDevice);
        Assert.Equal(CallEndReasons.Bye, call1.EndReason);
        Assert.Contains(call1.Dtmf, d => d.Digit == "1");

        // SIPp plays 7.05 s of speech (caller) and 7.98 s of a 1 kHz tone (callee), starting together.
        Assert.InRange(call1.MediaDurationSeconds, 7.8, 8.3);
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(outDir, call1.File!));
        output.WriteLine($"live: {audio.DurationSeconds:0.000}s active L {audio.ActiveSeconds(0)} R {audio.ActiveSeconds(1)} corr {audio.ChannelCorrelation():0.000}");
        Assert.Equal(2, audio.Channels);
        Assert.InRange(audio.DurationSeconds, call1.MediaDurationSeconds - 0.03, call1.MediaDurationSeconds + 0.03);
        Assert.True(audio.ActiveSeconds(0) > 4, "caller's speech on the left");
        Assert.True(audio.ActiveSeconds(1) > 7, "callee's tone on the right");
        Assert.InRange(Math.Abs(audio.ChannelCorrelation()), 0, 0.2);
    }

    [Fact]
    public void Capture_LearnsExtensionMobilityFromLiveRegisters_AndTheDirectorySurvivesKill9()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-mobility");
        string netns = LiveRig.Script, dir = rig.Dir, state = rig.State;
        string config = Path.Combine(dir, "appliance.json");
        File.WriteAllText(config, DirectoryCliTests.MobilityConfig);
        (Process appliance, _) = rig.Start("--out", Path.Combine(dir, "rec"), "--state", state, "--config", config, "--checkpoint-seconds", "1", "--workers", "1");

        (int run, string runLog) = Repo.Run("bash", [netns, "mobility"], TimeSpan.FromSeconds(60));
        output.WriteLine(runLog);
        Assert.True(run == 0, "SIPp REGISTERs failed: " + runLog);

        // Checkpoints every second: after 3 s the learned state is on disk. kill -9 gives no chance to save more.
        Thread.Sleep(3000);
        Assert.Equal(0, RigSession.Kill(appliance.Id, "KILL"));
        Assert.True(appliance.WaitForExit(TimeSpan.FromSeconds(10)));

        // A new process recovers the directory from the state folder (replaying a capture with no SIP in it).
        (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Path.Combine(Captures.Dir, "g711a.pcap"), "--out", Path.Combine(dir, "rec2"),
            "--state", state, "--config", config, "--json"], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, json);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var phone = Assert.Single(doc.RootElement.GetProperty("devices").EnumerateArray());
        Assert.Equal("sip:10.77.0.10:5061", phone.GetProperty("id").GetString());
        Assert.Equal(["2001"], phone.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("extension").GetString()));
        var login = Assert.Single(doc.RootElement.GetProperty("logins").EnumerateArray());
        Assert.Equal(("alice", "alice-em", "set-changed"), (login.GetProperty("user").GetString(), login.GetProperty("profile").GetString(), login.GetProperty("endReason").GetString()));
        Assert.InRange((login.GetProperty("until").GetDateTimeOffset() - login.GetProperty("since").GetDateTimeOffset()).TotalSeconds, 1.2, 2.5);
    }

    /// <summary>
    /// The capture interface goes away under a running capture: its link goes down and up, then the bridge is deleted and
    /// created again (a new ifindex, as when a network manager rebuilds it or a NIC is replugged). libpcap's handle stays on
    /// the old interface and would receive nothing; the appliance says so, reopens it, and records the next call whole.
    /// </summary>
    [Fact]
    public void Capture_ReopensARebuiltInterface_AndRecordsTheCallsBeforeAndAfter()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-rebuilt");
        string netns = LiveRig.Script, outDir = rig.Dir, state = rig.State;
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", outDir, "--state", state, "--workers", "1");
        string Log()
        {
            lock (log)
            {
                return log.ToString();
            }
        }

        (int call, string callLog) = Repo.Run("bash", [netns, "call"], TimeSpan.FromSeconds(90));
        Assert.True(call == 0, "SIPp call 1 failed: " + callLog);

        Assert.Equal(0, Repo.Run("ip", ["link", "set", LiveRig.Bridge, "down"], TimeSpan.FromSeconds(10)).ExitCode);
        RigSession.WaitFor(() => Log().Contains(LiveRig.Bridge + ": link down", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Log);
        Assert.Equal(0, Repo.Run("ip", ["link", "set", LiveRig.Bridge, "up"], TimeSpan.FromSeconds(10)).ExitCode);
        RigSession.WaitFor(() => Log().Contains(LiveRig.Bridge + ": link up", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Log);

        (int rebuilt, string rebuildLog) = Repo.Run("bash", [netns, "rebuild"], TimeSpan.FromSeconds(30));
        Assert.True(rebuilt == 0, "rebuilding the bridge failed: " + rebuildLog);
        RigSession.WaitFor(() => Log().Contains(LiveRig.Bridge + ": capture resumed", StringComparison.Ordinal), TimeSpan.FromSeconds(20), Log);

        (call, callLog) = Repo.Run("bash", [netns, "call"], TimeSpan.FromSeconds(90));
        Assert.True(call == 0, "SIPp call 2 failed: " + callLog);

        string text = RigSession.StopWithSigterm(appliance, log, output);
        Assert.Equal(1, RigSession.CountOf(text, LiveRig.Bridge + ": capture lost"));
        Assert.Equal(1, RigSession.CountOf(text, LiveRig.Bridge + ": capture resumed"));

        // Both calls recorded whole: the second one on the reopened interface.
        CallSidecar[] calls = [.. Directory.GetFiles(outDir, "*.json", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(state, StringComparison.Ordinal))
            .Select(f => CallSidecar.Deserialize(File.ReadAllText(f))!)
            .OrderBy(c => c.StartedAt)];
        Assert.Equal(2, calls.Length);
        foreach (CallSidecar c in calls)
        {
            Assert.Equal(("2001", "2002"), (c.Parties[0].Extension, c.Parties[1].Extension));
            Assert.Equal(CallEndReasons.Bye, c.EndReason);
            Assert.InRange(c.MediaDurationSeconds, 7.8, 8.3);
        }
    }

    /// <summary>
    /// Infrastructure on the mirror: phone 2001 registers with Kamailio (a third namespace on the bridge) and calls 2002
    /// through it; the proxy record-routes the dialog and hands every SDP to rtpengine, so each RTP packet crosses the
    /// mirror twice (phone to relay, relay to phone). The appliance, capturing the bridge, must keep the proxy a server
    /// (never a device, a line or a party) and record the call once, each party's audio on that party's channel (the
    /// callee's 1 kHz tone by frequency), each packet once (from the hop nearest the recorded caller).
    /// </summary>
    [Fact]
    public void Capture_ACallThroughAKamailioProxyAndAnRtpengineRelay_IsOneRecording_AndTheProxyIsAServer()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-topology", LiveRig.TopologyScript);
        string state = rig.State, recordings = Path.Combine(rig.Dir, "rec");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", state, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [LiveRig.TopologyScript, "call"], TimeSpan.FromSeconds(90));
        Assert.True(call == 0, "SIPp call through Kamailio and rtpengine failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);
        CallSidecar sidecar = CallSidecar.Deserialize(File.ReadAllText(Assert.Single(Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories))))!;
        Assert.Equal(("2001", "10.77.0.10", "sip:10.77.0.10:5061"), (sidecar.Parties[0].Extension, sidecar.Parties[0].Ip, sidecar.Parties[0].Device));
        Assert.Equal(("2002", "10.77.0.20"), (sidecar.Parties[1].Extension, sidecar.Parties[1].Ip));
        Assert.Equal(CallEndReasons.Bye, sidecar.EndReason);
        Assert.InRange(sidecar.MediaDurationSeconds, 7.8, 8.3);
        // Each packet crosses the mirror twice (phone to relay, relay to phone): the recording follows the caller's hop (phone
        // and relay) and has each packet once; the copies between the relay and the callee are not part of it.
        Assert.True(sidecar.Packets <= 646 && sidecar.Packets > 600 && sidecar.DuplicatesDropped < 10, $"236 speech + 400 tone + 10 DTMF packets once each ({sidecar.Packets} kept, {sidecar.DuplicatesDropped} dropped)");
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(recordings, sidecar.File!));
        double right = audio.DominantFrequency(1, 2.0), left = audio.DominantFrequency(0, 2.0);
        output.WriteLine($"topology: L {audio.ActiveSeconds(0)} s active, dominant {left} Hz; R {audio.ActiveSeconds(1)} s, dominant {right} Hz");
        Assert.InRange(right, 990, 1010); // the callee's tone, on the callee's channel
        Assert.True(audio.ActiveSeconds(0) > 4, "the caller's speech on the left");
        Assert.NotInRange(left, 990, 1010);

        // What the directory kept: the two phones, the proxy as a server, no conflict.
        (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Path.Combine(Captures.Dir, "g711a.pcap"), "--out", Path.Combine(rig.Dir, "rec2"),
            "--state", state, "--json"], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, json);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        Assert.Equal(["10.77.0.10", "10.77.0.20"],
            doc.RootElement.GetProperty("devices").EnumerateArray().SelectMany(d => d.GetProperty("ips").EnumerateArray().Select(ip => ip.GetString())).Order());
        System.Text.Json.JsonElement server = Assert.Single(doc.RootElement.GetProperty("servers").EnumerateArray());
        Assert.Equal("10.77.0.30", server.GetProperty("ip").GetString());
        Assert.Empty(doc.RootElement.GetProperty("conflicts").EnumerateArray());
    }
}
