using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;
using Capture.Recording;
using Capture.Tests.Support;

namespace Capture.Tests.Bindings;

/// <summary>The directory as the recorder sees it: who each party is, which side is local, recording groups, logouts during calls.</summary>
public sealed class HotDeskingCallTests
{
    private const string CallerSip = "10.0.0.10:5060";
    private const string CalleeSip = "10.0.0.20:5060";
    private const string CallerMedia = "10.0.0.10:4000";
    private const string CalleeMedia = "10.0.0.20:5000";
    private const double CallerTone = 500;
    private const double CalleeTone = 1300;

    /// <summary>The callee's desk phone (10.0.0.20, extension 2002) is ours; the caller 1001 is outside.</summary>
    private static DirectoryConfig AgentDesk(LogoutPolicy policy = LogoutPolicy.Continue, bool record = true) => new()
    {
        RecordingGroups = [new RecordingGroupConfig("agents", record)],
        Devices = [new DeviceConfig("agent-desk") { Ips = ["10.0.0.20"], Extensions = ["2002"], RecordingGroup = "agents" }],
        Users = [new UserConfig("bob") { Name = "Bob" }],
        LogoutDuringCall = policy,
        RecordByDefault = false,
    };

    private static BindingDirectory Open(DirectoryConfig config) => BindingDirectory.Open(null, config, SipScenario.TimeAt(-60));

    private static SipDialog Call() => new("hd-1@10.0.0.10", "\"Alice\" <sip:1001@pbx.example.com>", "\"Bob\" <sip:2002@pbx.example.com>");

    private static void Establish(SipScenario s, SipDialog d)
    {
        s.Sip(CallerSip, CalleeSip, d.Invite(1, SipDialog.Sdp("10.0.0.10", 4000)));
        s.Advance(1);
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 1, "INVITE", SipDialog.Sdp("10.0.0.20", 5000)));
        s.Advance(0.01);
        s.Sip(CallerSip, CalleeSip, d.Ack());
    }

    private static void Hangup(SipScenario s, SipDialog d)
    {
        s.Sip(CallerSip, CalleeSip, d.InDialog("BYE", fromCaller: true, cseq: 2));
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 2, "BYE"));
    }

    [Fact]
    public void LocalParty_IsLeft_WithDeviceUserAndHost_EvenWhenItIsTheCallee()
    {
        using BindingDirectory directory = Open(AgentDesk());
        Assert.True(directory.Login("bob", "agent-desk", null, SipScenario.TimeAt(-10)).Ok);
        using var s = new SipScenario(directory: directory);
        SipDialog d = Call();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 100, CallerTone, CalleeTone);
        Hangup(s, d);

        CallSidecar call = Assert.Single(s.Complete());
        PartySidecar local = call.Parties[0];
        Assert.Equal(("2002", "left", "agent-desk", "bob", "agent-desk", "explicit", "agents"),
            (local.Extension, local.Channel, local.Device, local.User, local.HostDevice, local.Login, local.RecordingGroup));
        PartySidecar remote = call.Parties[1];
        Assert.Equal(("1001", "right", null, null), (remote.Extension, remote.Channel, remote.Device, remote.User));
        s.AssertLegs(call, leftTone: CalleeTone, rightTone: CallerTone);
    }

    [Fact]
    public void LogoutDuringACall_ContinuePolicy_KeepsRecordingToTheEnd_AndMarksTheLogout()
    {
        using BindingDirectory directory = Open(AgentDesk(LogoutPolicy.Continue));
        Assert.True(directory.Login("bob", "agent-desk", null, SipScenario.TimeAt(-10)).Ok);
        using var s = new SipScenario(directory: directory);
        SipDialog d = Call();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 100, CallerTone, CalleeTone);
        DateTimeOffset logoutAt = SipScenario.TimeAt(3.01);
        Assert.True(directory.LogoutUser("bob", logoutAt).Ok);
        s.Talk(CallerMedia, CalleeMedia, 100, CallerTone, CalleeTone);
        Hangup(s, d);

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Equal("bob", call.Parties[0].User); // who was there when the call started
        CallEventSidecar logout = Assert.Single(call.Events, e => e.Type == "logout");
        Assert.Equal(logoutAt, logout.At);
        Assert.Contains("bob logged out of agent-desk (remote-logout); policy continue", logout.Detail);
        Assert.InRange(call.MediaDurationSeconds, 3.9, 4.1);
        s.AssertLegs(call, leftTone: CalleeTone, rightTone: CallerTone); // both legs, before and after the logout
    }

    [Fact]
    public void LogoutDuringACall_StopPolicy_EndsTheRecordingAtTheLogout_AndNothingMoreIsWritten()
    {
        using BindingDirectory directory = Open(AgentDesk(LogoutPolicy.Stop));
        Assert.True(directory.Login("bob", "agent-desk", null, SipScenario.TimeAt(-10)).Ok);
        using var s = new SipScenario(directory: directory);
        SipDialog d = Call();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 100, CallerTone, CalleeTone);
        DateTimeOffset logoutAt = SipScenario.TimeAt(3.01);
        Assert.True(directory.LogoutUser("bob", logoutAt).Ok);
        s.Talk(CallerMedia, CalleeMedia, 100, CallerTone, CalleeTone);
        Hangup(s, d);

        CallSidecar call = Assert.Single(s.Complete()); // one recording: the BYE later does not write a second one
        Assert.Equal(CallEndReasons.Logout, call.EndReason);
        Assert.Equal(logoutAt, call.EndedAt);
        Assert.Contains(call.Events, e => e.Type == "logout" && e.Detail!.Contains("policy stop", StringComparison.Ordinal));
        Assert.InRange(call.MediaDurationSeconds, 1.9, 2.1);
        IReadOnlyDictionary<string, long> counters = s.Pipeline.Snapshot();
        Assert.Equal(1, counters["recordings_stopped_by_logout"]);
        Assert.Equal(200, counters["media_packets_not_recorded"]);
        s.AssertLegs(call, leftTone: CalleeTone, rightTone: CallerTone);
    }

    [Fact]
    public void CallOfAGroupThatDoesNotRecord_WritesNothing_AndIsCounted()
    {
        using BindingDirectory directory = Open(AgentDesk(record: false));
        using var s = new SipScenario(directory: directory);
        SipDialog d = Call();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 50, CallerTone, CalleeTone);
        Hangup(s, d);

        Assert.Empty(s.Complete());
        Assert.Empty(Directory.GetFiles(s.OutputDirectory, "*", SearchOption.AllDirectories));
        IReadOnlyDictionary<string, long> counters = s.Pipeline.Snapshot();
        Assert.Equal(1, counters["calls_not_recorded"]);
        Assert.Equal(100, counters["media_packets_not_recorded"]);
    }

    [Fact]
    public void CallWithNoLocalParty_FollowsRecordByDefault()
    {
        using BindingDirectory off = Open(AgentDesk() with { Devices = [] });
        using (var s = new SipScenario(directory: off))
        {
            Establish(s, Call());
            Assert.Empty(s.Complete());
        }

        using BindingDirectory on = Open(AgentDesk() with { Devices = [], RecordByDefault = true });
        using (var s = new SipScenario(directory: on))
        {
            Establish(s, Call());
            CallSidecar call = Assert.Single(s.Complete());
            Assert.Equal("1001", call.Parties[0].Extension); // neither local: the caller is left
        }
    }

    [Fact]
    public void HotelingAgent_IsTheUserWhenNobodyIsLoggedIn()
    {
        DirectoryConfig config = AgentDesk() with
        {
            Devices = [new DeviceConfig("agent-desk") { Ips = ["10.0.0.20"], Extensions = ["2002"], RecordingGroup = "agents", HotelingAgent = "bob" }],
        };
        using BindingDirectory directory = Open(config);
        using var s = new SipScenario(directory: directory);
        Establish(s, Call());

        PartySidecar local = Assert.Single(s.Complete()).Parties[0];
        Assert.Equal(("bob", "hoteling-agent"), (local.User, local.Login));
        Assert.Equal("2002", local.Extension);
    }
}
