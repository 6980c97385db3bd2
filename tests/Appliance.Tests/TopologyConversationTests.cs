using System.Diagnostics;
using System.Text.Json;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// One conversation across dialogs, live (tests/live/topology-b2b.sh with this process's names, <see cref="LiveRig"/>):
/// `appliance capture` on the bridge while SIPp phones call through Kamailio and rtpengine. Needs root (CI runs as root);
/// otherwise it says why and returns. The same scenarios are replayed from samples/ by <see cref="ConversationReplayTests"/>.
/// </summary>
[Collection("live")]
public class TopologyConversationTests(ITestOutputHelper output)
{
    [Fact]
    public void Capture_ACallThroughAnSbcHidingTheCallId_IsOneRecording_ListingBothCallIds_EachVoiceOnItsParty()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-b2b", LiveRig.B2bScript, "topoh");
        string recordings = Path.Combine(rig.Dir, "rec");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", rig.State, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [LiveRig.B2bScript, "b2b"], TimeSpan.FromSeconds(90));
        Assert.True(call == 0, "SIPp call through Kamailio (topoh) and rtpengine failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);

        CallSidecar sidecar = CallSidecar.Deserialize(File.ReadAllText(Assert.Single(Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories))))!;
        Assert.Equal(2, sidecar.CallIds.Count);
        Assert.StartsWith("!!:", sidecar.CallIds[1], StringComparison.Ordinal); // the callee's side: topoh's encoded Call-ID
        Assert.Equal(DialogEvidence.RelayedMedia, sidecar.Dialogs[1].Evidence);
        Assert.Equal(("2001", "10.77.0.10", "left"), (sidecar.Parties[0].Extension, sidecar.Parties[0].Ip, sidecar.Parties[0].Channel));
        Assert.Equal(("2002", "10.77.0.20", "right"), (sidecar.Parties[1].Extension, sidecar.Parties[1].Ip, sidecar.Parties[1].Channel));
        Assert.Equal(CallEndReasons.Bye, sidecar.EndReason);
        Assert.InRange(sidecar.MediaDurationSeconds, 7.8, 8.3);
        Assert.InRange(sidecar.Packets, 600, 646); // one leg's packets, not both dialogs'
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(recordings, sidecar.File!));
        double left = audio.DominantFrequency(0, 1.0), right = audio.DominantFrequency(1, 1.0);
        output.WriteLine($"b2b: L {audio.ActiveSeconds(0)} s, {left} Hz; R {audio.ActiveSeconds(1)} s, {right} Hz");
        Assert.InRange(right, 990, 1010);
        Assert.NotInRange(left, 990, 1010);
        Assert.True(audio.ActiveSeconds(0) > 4, "the caller's speech on the left");

        AssertDirectory(rig, ["10.77.0.10", "10.77.0.20"]);
    }

    [Fact]
    public void Capture_ABlindTransfer_IsTwoRecordings_SharingOneInteraction_TheFirstWithTheTransferEvent()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-transfer", LiveRig.B2bScript);
        string recordings = Path.Combine(rig.Dir, "rec");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", rig.State, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [LiveRig.B2bScript, "transfer"], TimeSpan.FromSeconds(90));
        Assert.True(call == 0, "SIPp blind transfer through Kamailio failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);

        List<CallSidecar> calls = [.. Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories)
            .Select(f => CallSidecar.Deserialize(File.ReadAllText(f))!).OrderBy(c => c.StartedAt)];
        Assert.Equal(2, calls.Count);
        CallSidecar toTransferor = calls[0], toTarget = calls[1];
        Assert.Equal(("2001", "2002", "10.77.0.20"), (toTransferor.Parties[0].Extension, toTransferor.Parties[1].Extension, toTransferor.Parties[1].Ip));
        Assert.Equal(("2001", "2003", "10.77.0.21"), (toTarget.Parties[0].Extension, toTarget.Parties[1].Extension, toTarget.Parties[1].Ip));
        Assert.Equal(toTransferor.Id, toTransferor.InteractionId);
        Assert.Equal(toTransferor.InteractionId, toTarget.InteractionId);
        Assert.Equal(toTransferor.Id, toTarget.TransferredFrom);
        CallEventSidecar transfer = Assert.Single(toTransferor.Events, e => e.Type == CallEventTypes.Transfer);
        Assert.InRange(transfer.OffsetSeconds!.Value, 2.0, 3.5);
        foreach (CallSidecar c in calls)
        {
            DecodedAudio audio = DecodedAudio.Decode(Path.Combine(recordings, c.File!));
            Assert.InRange(audio.DominantFrequency(1, 0.5), 990, 1010);
            Assert.NotInRange(audio.DominantFrequency(0, 0.5), 990, 1010);
        }

        AssertDirectory(rig, ["10.77.0.10", "10.77.0.20", "10.77.0.21"]);
    }

    [Fact]
    public void Capture_AnAttendedTransfer_IsThreeRecordings_SharingOneInteraction()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-attended", LiveRig.B2bScript);
        string recordings = Path.Combine(rig.Dir, "rec");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", rig.State, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [LiveRig.B2bScript, "attended"], TimeSpan.FromSeconds(90));
        Assert.True(call == 0, "SIPp attended transfer through Kamailio failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);

        List<CallSidecar> calls = [.. Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories)
            .Select(f => CallSidecar.Deserialize(File.ReadAllText(f))!).OrderBy(c => c.StartedAt)];
        Assert.Equal(["2001-2002", "2002-2003", "2001-2003"], calls.Select(c => $"{c.Parties[0].Extension}-{c.Parties[1].Extension}"));
        Assert.All(calls, c => Assert.Equal(calls[0].Id, c.InteractionId));
        Assert.Equal(calls[0].Id, calls[2].TransferredFrom);
        Assert.Single(calls[0].Events, e => e.Type == CallEventTypes.Transfer);
        foreach (CallSidecar c in calls)
        {
            DecodedAudio audio = DecodedAudio.Decode(Path.Combine(recordings, c.File!));
            Assert.InRange(audio.DominantFrequency(1, 0.5), 990, 1010);
            Assert.NotInRange(audio.DominantFrequency(0, 0.5), 990, 1010);
        }

        AssertDirectory(rig, ["10.77.0.10", "10.77.0.20", "10.77.0.21"]);
    }

    /// <summary>What the directory kept: the phones as devices, the proxy as a server, no conflict.</summary>
    private static void AssertDirectory(RigSession rig, string[] phones)
    {
        // A replay of an empty capture with the live run's state prints the directory the live capture left.
        string empty = Path.Combine(rig.Dir, "empty.pcap");
        PcapFile.WriteClassic(empty, 1, []);
        (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", empty, "--out", Path.Combine(rig.Dir, "rec2"), "--state", rig.State, "--json"],
            TimeSpan.FromSeconds(120));
        Assert.True(code == 0, json);
        using var doc = JsonDocument.Parse(json);
        IEnumerable<string?> ips = doc.RootElement.GetProperty("devices").EnumerateArray()
            .SelectMany(d => d.GetProperty("ips").EnumerateArray().Select(ip => ip.GetString())).Distinct().Order();
        Assert.Equal(phones, ips);
        JsonElement server = Assert.Single(doc.RootElement.GetProperty("servers").EnumerateArray());
        Assert.Equal("10.77.0.30", server.GetProperty("ip").GetString());
        Assert.Empty(doc.RootElement.GetProperty("conflicts").EnumerateArray());
    }
}
