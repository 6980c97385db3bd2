using System.Diagnostics;
using System.Text.Json;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// Phones as the mirror shows them behind a real registrar/proxy (Kamailio) and media relay (rtpengine): a browser-style
/// phone over WebSocket (tests/live/websocket-phone.sh) and a phone whose address changes between two calls
/// (tests/live/phone-moves.sh), while `appliance capture` records the rig's bridge live. Needs root (CI runs as root);
/// otherwise it says why and returns. <see cref="PhoneScenarioReplayTests"/> checks the same on the recorded samples.
/// </summary>
[Collection("live")]
public class PhoneScenarioLiveTests(ITestOutputHelper output)
{
    // Through LiveRig, whose first use puts this process's rig names in the environment before any script runs.
    private static string WebSocketScript => LiveRig.WebSocketPhoneScript;

    private static string MovesScript => LiveRig.PhoneMovesScript;

    [Fact]
    public void Capture_AWebSocketPhoneCallingAndCalledThroughKamailio_IsADeviceByItsInstanceId_WithItsToneOnItsChannel()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-wsphone", WebSocketScript);
        string recordings = Path.Combine(rig.Dir, "rec");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", rig.State, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [WebSocketScript, "call"], TimeSpan.FromSeconds(90));
        output.WriteLine(callLog);
        Assert.True(call == 0, "the WebSocket phone's calls through Kamailio failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);
        using JsonDocument directory = DirectoryOf(rig);
        PhoneScenarioOutcomes.AssertWebSocketPhoneCalls(recordings, directory.RootElement, output);
    }

    /// <summary>Without an instance id, as most desk phones register: the REGISTER's Call-ID is what stays the same.</summary>
    [Fact]
    public void Capture_APhoneThatChangesItsAddressAndCallsAgain_IsOneDevice_ReboundToTheNewAddress_NoConflict()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: live capture needs root (network namespaces, raw capture); CI runs as root.");
            return;
        }

        using var rig = new RigSession("appliance-moves", MovesScript);
        string recordings = Path.Combine(rig.Dir, "rec");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", rig.State, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [MovesScript, "call"], TimeSpan.FromSeconds(120));
        output.WriteLine(callLog);
        Assert.True(call == 0, "the phone's two calls through Kamailio failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);
        using JsonDocument directory = DirectoryOf(rig);
        PhoneScenarioOutcomes.AssertPhoneMoved(recordings, directory.RootElement, output);
    }

    [Fact]
    public void Capture_APhoneBehindNatCallingThroughKamailioAndRtpengine_IsThePartyAtTheNatsPublicAddress_EachVoiceOnItsChannel()
    {
        if (LiveRig.TopologySkipReason("the live NAT-phone test") is { } skip)
        {
            output.WriteLine("SKIPPED: " + skip);
            return;
        }

        using var rig = new RigSession("appliance-natphone", LiveRig.NatPhoneScript);
        string recordings = Path.Combine(rig.Dir, "rec");
        (Process appliance, System.Text.StringBuilder log) = rig.Start("--out", recordings, "--state", rig.State, "--workers", "1");
        (int call, string callLog) = Repo.Run("bash", [LiveRig.NatPhoneScript, "call"], TimeSpan.FromSeconds(60));
        output.WriteLine(callLog);
        Assert.True(call == 0, "the NATed phone's call through Kamailio failed: " + callLog);
        RigSession.StopWithSigterm(appliance, log, output);
        using JsonDocument directory = DirectoryOf(rig);
        PhoneScenarioOutcomes.AssertNatPhoneCall(recordings, directory.RootElement, output);
    }

    /// <summary>The directory the capture saved, as `replay --state --json` prints it (replaying a capture of RTP alone: nothing to learn).</summary>
    private static JsonDocument DirectoryOf(RigSession rig)
    {
        (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Path.Combine(Captures.Dir, "g711a.pcap"), "--out", Path.Combine(rig.Dir, "rec2"),
            "--state", rig.State, "--json"], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, json);
        return JsonDocument.Parse(json);
    }
}
