using Capture.Calls;
using Capture.Interop;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Sip;
using Capture.Tests.Support;
using static Capture.Tests.Support.SipDialog;

namespace Capture.Tests.Sip;

/// <summary>
/// SIP call scenarios fed frame by frame through <see cref="CapturePipeline"/> (inline, Workers = 0) and judged by the
/// sidecars: who is on which channel, what happened when, how the call ended.
/// </summary>
public class SipCallTrackerTests
{
    private const string CallerSip = "10.0.0.10:5060";
    private const string CalleeSip = "10.0.0.20:5060";
    private const string CallerMedia = "10.0.0.10:4000";
    private const string CalleeMedia = "10.0.0.20:5000";
    private const double CallerTone = 500;
    private const double CalleeTone = 1300;

    private static SipDialog AliceToBob(string callId = "call-1@10.0.0.10") =>
        new(callId, "\"Alice\" <sip:1001@pbx.example.com>", "\"Bob\" <sip:2002@pbx.example.com>");

    /// <summary>INVITE/100/180/200/ACK at 0, 0.01, 0.02, 2.0 and 2.01 s.</summary>
    private static void Establish(SipScenario s, SipDialog d, string callerMedia = CallerMedia, string calleeMedia = CalleeMedia, string callerSip = CallerSip, string calleeSip = CalleeSip)
    {
        (string callerIp, int callerPort) = Split(callerMedia);
        (string calleeIp, int calleePort) = Split(calleeMedia);
        s.Sip(callerSip, calleeSip, d.Invite(1, Sdp(callerIp, callerPort)));
        s.Advance(0.01);
        s.Sip(calleeSip, callerSip, d.Response(100, "Trying"));
        s.Advance(0.01);
        s.Sip(calleeSip, callerSip, d.Response(180, "Ringing"));
        s.Advance(1.98);
        s.Sip(calleeSip, callerSip, d.Response(200, "OK", sdp: Sdp(calleeIp, calleePort)));
        s.Advance(0.01);
        s.Sip(callerSip, calleeSip, d.Ack());
        s.Advance(0.01);
    }

    private static (string Ip, int Port) Split(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        return (endpoint[..colon], int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string[] EventTypes(CallSidecar call) => [.. call.Events.Select(e => e.Type)];

    [Fact]
    public void BasicCall_RecordsOneCallWithPartiesAnswerBothLegsAndBye()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 100, CallerTone, CalleeTone);
        s.Sip(CallerSip, CalleeSip, d.InDialog("BYE", fromCaller: true, cseq: 2));
        s.Advance(0.01);
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 2, "BYE"));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Empty(s.Errors);
        Assert.Equal("sip", call.Protocol);
        Assert.Equal("call-1@10.0.0.10", call.CallId);
        Assert.Equal(new PartySidecar("1001", "Alice", "10.0.0.10", 4000, "left", null, null, null), call.Parties[0]);
        Assert.Equal(new PartySidecar("2002", "Bob", "10.0.0.20", 5000, "right", null, null, null), call.Parties[1]);
        Assert.Equal(SipScenario.TimeAt(0), call.StartedAt);
        Assert.Equal(SipScenario.TimeAt(2.0), call.AnsweredAt);
        Assert.Equal(SipScenario.TimeAt(4.02), call.EndedAt);
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Equal(["answered", "bye"], EventTypes(call));
        Assert.Equal("caller", call.Events[1].Detail);
        Assert.Equal(200, call.Packets);
        Assert.Equal(0, call.PacketsLost);
        Assert.Contains("PCMU", call.Codecs);
        Assert.Equal(8000, call.SampleRate);
        Assert.Equal(2, call.Channels);
        Assert.NotNull(call.File);
        Assert.True(File.Exists(s.PathOf(call)));
        Assert.True(File.Exists(Path.ChangeExtension(s.PathOf(call), ".json")));
        Assert.InRange(call.MediaDurationSeconds, 1.9, 2.1);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void ByeFromCallee_IsMarkedCallee()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 20);
        s.Sip(CalleeSip, CallerSip, d.InDialog("BYE", fromCaller: false, cseq: 1));
        s.Sip(CallerSip, CalleeSip, d.ResponseFromCaller(200, "OK", 1, "BYE"));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        CallEventSidecar bye = Assert.Single(call.Events, e => e.Type == "bye");
        Assert.Equal("callee", bye.Detail);
    }

    [Fact]
    public void PAssertedIdentity_NamesTheCaller_AndExtensionsAreKeptExactly()
    {
        using var s = new SipScenario();
        var d = new SipDialog("pai@10.0.0.10", "\"Anonymous\" <sip:anonymous@anonymous.invalid>", "<sip:6175551212@pbx.example.com;user=phone>");
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000), "P-Asserted-Identity: \"Reception\" <sip:+4961175551212@pbx.example.com;user=phone>"));
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(CallerSip, CalleeSip, d.Ack());

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal("+4961175551212", call.Parties[0].Extension);
        Assert.Equal("Reception", call.Parties[0].Name);
        Assert.Equal("6175551212", call.Parties[1].Extension);
        Assert.Equal(CallEndReasons.NoMedia, call.EndReason);
        Assert.Equal(CallEndReasons.CaptureEnded, call.SignalledEnd);
    }

    [Fact]
    public void AuthChallenge_ThenReInviteWithHigherCSeq_IsStillOneAnsweredCall()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Advance(0.05);
        s.Sip(CalleeSip, CallerSip, d.Response(401, "Unauthorized", headers: "WWW-Authenticate: Digest realm=\"pbx\", nonce=\"abc\""));
        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Advance(0.05);
        s.Sip(CallerSip, CalleeSip, d.Invite(2, Sdp("10.0.0.10", 4000), "Authorization: Digest username=\"1001\", realm=\"pbx\", nonce=\"abc\", uri=\"sip:callee@pbx.example.com\", response=\"0123456789abcdef\""));
        s.Sip(CalleeSip, CallerSip, d.Response(100, "Trying", 2));
        s.Sip(CalleeSip, CallerSip, d.Response(180, "Ringing", 2));
        s.Advance(1);
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 2, sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(CallerSip, CalleeSip, d.Ack(2));
        s.Talk(CallerMedia, CalleeMedia, 25);
        s.Sip(CallerSip, CalleeSip, d.InDialog("BYE", true, 3));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.NotNull(call.AnsweredAt);
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Equal(["answered", "bye"], EventTypes(call));
        Assert.Equal(50, call.Packets);
        Assert.Equal(1, s.Pipeline.CallsStarted);
    }

    [Fact]
    public void ProxyAuthChallenge407_ThenRejection_IsRejectedWithTheSecondFinalCode()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(407, "Proxy Authentication Required"));
        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Sip(CallerSip, CalleeSip, d.Invite(2, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(403, "Forbidden", 2));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Rejected, call.EndReason);
        Assert.Equal("403", Assert.Single(call.Events, e => e.Type == "rejected").Detail);
    }

    [Fact]
    public void CancelBeforeAnswer_IsCancelled()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(180, "Ringing"));
        s.Advance(5);
        s.Sip(CallerSip, CalleeSip, d.Cancel());
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 1, "CANCEL"));
        s.Sip(CalleeSip, CallerSip, d.Response(487, "Request Terminated"));
        s.Sip(CallerSip, CalleeSip, d.Ack());

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Cancelled, call.EndReason);
        Assert.Null(call.AnsweredAt);
        Assert.Null(call.File);
        Assert.Equal(SipScenario.TimeAt(5), call.EndedAt);
        Assert.DoesNotContain(call.Events, e => e.Type is "answered" or "rejected");
    }

    [Fact]
    public void OkCrossingTheCancel_IsAnAnsweredCallAndItsMediaIsRecorded()
    {
        // RFC 3261 9.1: a 200 that crosses the CANCEL establishes the call; the caller ACKs and then hangs up with BYE.
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(180, "Ringing"));
        s.Advance(5);
        s.Sip(CallerSip, CalleeSip, d.Cancel());
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 1, "CANCEL"));
        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Talk(CallerMedia, CalleeMedia, 10);
        s.Sip(CallerSip, CalleeSip, d.InDialog("BYE", true, 2));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(SipScenario.TimeAt(5), call.AnsweredAt);
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Equal(20, call.Packets);
    }

    [Fact]
    public void CancelWhoseFinalResponseIsNeverSeen_EndsCancelledAfterTheTransactionLifetime()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(180, "Ringing"));
        s.Advance(4);
        s.Sip(CallerSip, CalleeSip, d.Cancel());
        s.Advance(40); // 64 x T1 = 32 s, well inside the 3-minute INVITE timeout
        s.Udp("10.9.9.9:53", "10.9.9.8:53", "unrelated"u8);
        CallSidecar call = Assert.Single(s.Finished);
        Assert.Equal(CallEndReasons.Cancelled, call.EndReason);
        Assert.Equal(SipScenario.TimeAt(4), call.EndedAt);
    }

    [Fact]
    public void InviteRetransmissionCrossingTheFinalResponse_DoesNotStartAPhantomCall()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        string invite = d.Invite(1, Sdp("10.0.0.10", 4000));
        s.Sip(CallerSip, CalleeSip, invite);
        s.Advance(0.5);
        s.Sip(CalleeSip, CallerSip, d.Response(486, "Busy Here"));
        s.Sip(CallerSip, CalleeSip, invite); // sent by the caller before the 486 reached it
        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Sip(CalleeSip, CallerSip, d.Response(486, "Busy Here"));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Rejected, call.EndReason);
        Assert.Equal(1, s.Pipeline.CallsStarted);
    }

    [Fact]
    public void Busy486_IsRejectedWithTheStatusAsDetail()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(100, "Trying"));
        s.Advance(0.5);
        s.Sip(CalleeSip, CallerSip, d.Response(486, "Busy Here"));
        s.Sip(CallerSip, CalleeSip, d.Ack());

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Rejected, call.EndReason);
        CallEventSidecar rejected = Assert.Single(call.Events);
        Assert.Equal("rejected", rejected.Type);
        Assert.Equal("486", rejected.Detail);
        Assert.Equal(SipScenario.TimeAt(0.5), rejected.At);
    }

    [Fact]
    public void RequestTerminated487_WithoutSeenCancel_IsCancelled()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(180, "Ringing"));
        s.Advance(3);
        s.Sip(CalleeSip, CallerSip, d.Response(487, "Request Terminated"));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Cancelled, call.EndReason);
    }

    [Fact]
    public void NoFinalAnswerForThreeMinutes_TimesOut()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(CalleeSip, CallerSip, d.Response(180, "Ringing"));
        s.Advance(170);
        s.Udp("10.9.9.9:53", "10.9.9.8:53", "unrelated"u8);
        Assert.Empty(s.Finished);
        Assert.Equal(1, s.Pipeline.ActiveCalls);
        s.Advance(20);
        s.Udp("10.9.9.9:53", "10.9.9.8:53", "unrelated"u8);
        CallSidecar call = Assert.Single(s.Finished);
        Assert.Equal(CallEndReasons.Timeout, call.EndReason);
        Assert.Null(call.AnsweredAt);
        Assert.Equal(SipScenario.TimeAt(0), call.EndedAt); // last heard of: the 180, at the INVITE's time
        Assert.Equal(0, s.Pipeline.ActiveCalls);
        Assert.Single(s.Complete());
    }

    [Fact]
    public void AnsweredCallWhoseMediaStops_TimesOutAfterAMinuteAtItsLastPacket()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 50);
        DateTimeOffset lastPacket = SipScenario.TimeAt((s.Now - SipScenario.Epoch) / 1e9 - 0.02);
        s.Advance(50);
        s.Udp("10.9.9.9:53", "10.9.9.8:53", "unrelated"u8);
        Assert.Empty(s.Finished);
        s.Advance(15);
        s.Udp("10.9.9.9:53", "10.9.9.8:53", "unrelated"u8);
        CallSidecar call = Assert.Single(s.Finished);
        Assert.Equal(CallEndReasons.Timeout, call.EndReason);
        Assert.Equal(lastPacket, call.EndedAt);
        Assert.Equal(100, call.Packets);
    }

    [Fact]
    public void ReInviteSendOnlyThenSendRecv_GivesHoldAndResumeWithTimes()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 50);
        double holdAt = (s.Now - SipScenario.Epoch) / 1e9;
        s.Sip(CallerSip, CalleeSip, d.InDialog("INVITE", true, 2, Sdp("10.0.0.10", 4000, 2, "sendonly")));
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 2, sdp: Sdp("10.0.0.20", 5000, 2, "recvonly")));
        s.Sip(CallerSip, CalleeSip, d.Ack(2));
        s.Stream(CallerMedia, CalleeMedia, 50, CallerTone); // music on hold from the caller's side
        double resumeAt = (s.Now - SipScenario.Epoch) / 1e9;
        s.Sip(CallerSip, CalleeSip, d.InDialog("INVITE", true, 3, Sdp("10.0.0.10", 4000, 3, "sendrecv")));
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 3, sdp: Sdp("10.0.0.20", 5000, 3, "sendrecv")));
        s.Sip(CallerSip, CalleeSip, d.Ack(3));
        s.Talk(CallerMedia, CalleeMedia, 50);
        s.Sip(CallerSip, CalleeSip, d.InDialog("BYE", true, 4));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(["answered", "hold", "resume", "bye"], EventTypes(call));
        Assert.Equal(SipScenario.TimeAt(holdAt), call.Events[1].At);
        Assert.Equal("caller", call.Events[1].Detail);
        Assert.Equal(SipScenario.TimeAt(resumeAt), call.Events[2].At);
        Assert.NotNull(call.Events[1].OffsetSeconds);
        Assert.Equal(250, call.Packets);
    }

    [Fact]
    public void ReInviteWithZeroConnectionAddress_IsHold()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 10);
        s.Sip(CalleeSip, CallerSip, d.InDialog("INVITE", false, 1, Sdp("10.0.0.20", 5000, 2, connection: "0.0.0.0")));
        s.Sip(CallerSip, CalleeSip, d.ResponseFromCaller(200, "OK", 1, "INVITE", Sdp("10.0.0.10", 4000, 2)));
        s.Advance(2);
        s.Sip(CalleeSip, CallerSip, d.InDialog("INVITE", false, 2, Sdp("10.0.0.20", 5000, 3)));
        s.Sip(CallerSip, CalleeSip, d.ResponseFromCaller(200, "OK", 2, "INVITE", Sdp("10.0.0.10", 4000, 3)));
        s.Talk(CallerMedia, CalleeMedia, 10);

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(["answered", "hold", "resume"], EventTypes(call));
        Assert.Equal("callee", call.Events[1].Detail);
        Assert.Equal(40, call.Packets);
        // The hold SDP did not move the callee's media to 0.0.0.0 in the metadata.
        Assert.Equal("10.0.0.20", call.Parties[1].Ip);
    }

    [Fact]
    public void UpdateMovingTheMediaPort_RecordsLaterRtpOnTheRightLeg()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        Establish(s, d);
        s.Talk(CallerMedia, CalleeMedia, 25);
        const string NewCalleeMedia = "10.0.0.21:6000";
        s.Sip(CalleeSip, CallerSip, d.InDialog("UPDATE", false, 1, Sdp("10.0.0.21", 6000, 2)));
        s.Sip(CallerSip, CalleeSip, d.ResponseFromCaller(200, "OK", 1, "UPDATE", Sdp("10.0.0.10", 4000, 2)));
        s.Advance(0.3); // MediaLeg follows a new SSRC only once the old one has been quiet for 200 ms

        // From now on only the callee speaks, from its new endpoint; the caller's audio goes to the new port.
        long unclassified = s.Pipeline.Counters.UdpUnclassified;
        s.Stream(NewCalleeMedia, CallerMedia, 50, CalleeTone);
        s.Stream(CallerMedia, NewCalleeMedia, 50, CallerTone);
        Assert.Equal(unclassified, s.Pipeline.Counters.UdpUnclassified);

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(150, call.Packets);
        Assert.Equal("10.0.0.21", call.Parties[1].Ip);
        Assert.Equal(6000, call.Parties[1].Port);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void SessionProgressWithSdp_RecordsEarlyMediaBeforeTheAnswer()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Advance(0.1);
        s.Sip(CalleeSip, CallerSip, d.Response(183, "Session Progress", sdp: Sdp("10.0.0.20", 5000)));
        s.Stream(CalleeMedia, CallerMedia, 100, CalleeTone); // ring-back / announcement
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Talk(CallerMedia, CalleeMedia, 50);
        s.Sip(CallerSip, CalleeSip, d.InDialog("BYE", true, 2));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(["early-media", "answered", "bye"], EventTypes(call));
        Assert.Equal("183", call.Events[0].Detail);
        Assert.Equal(SipScenario.TimeAt(0.1), call.Events[0].At);
        Assert.Equal(200, call.Packets);
        Assert.Equal(SipScenario.TimeAt(0.1), call.MediaStartedAt);
        Assert.InRange(call.MediaDurationSeconds, 2.9, 3.1);
    }

    [Fact]
    public void NatLatching_RecordsBothLegsOnTheirChannels()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        const string CallerPublic = "203.0.113.5:31000";
        Establish(s, d, callerMedia: "192.168.1.2:4000", callerSip: "203.0.113.5:5060");
        s.Talk(CallerPublic, CalleeMedia, 100, CallerTone, CalleeTone);
        s.Sip("203.0.113.5:5060", CalleeSip, d.InDialog("BYE", true, 2));

        CallSidecar call = Assert.Single(s.Complete());
        // The party is where its media came from (the NAT's public side), not the private address the mirror never sees.
        Assert.Equal(("203.0.113.5", 31000), (call.Parties[0].Ip, call.Parties[0].Port));
        Assert.Equal(("10.0.0.20", 5000), (call.Parties[1].Ip, call.Parties[1].Port));
        Assert.Equal(1, s.Pipeline.Snapshot()["rtp_parties_behind_nat"]);
        Assert.Equal(200, call.Packets);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void NatLatching_AReInviteWithTheSamePrivateSdp_LeavesThePartyAtItsPublicAddress()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        const string CallerPublic = "203.0.113.5:31000";
        Establish(s, d, callerMedia: "192.168.1.2:4000", callerSip: "203.0.113.5:5060");
        s.Talk(CallerPublic, CalleeMedia, 50, CallerTone, CalleeTone);
        s.Sip("203.0.113.5:5060", CalleeSip, d.InDialog("INVITE", true, 2, Sdp("192.168.1.2", 4000, 2))); // a session refresh
        s.Sip(CalleeSip, "203.0.113.5:5060", d.Response(200, "OK", 2, sdp: Sdp("10.0.0.20", 5000, 2)));
        s.Sip("203.0.113.5:5060", CalleeSip, d.Ack(2));
        s.Talk(CallerPublic, CalleeMedia, 50, CallerTone, CalleeTone);
        s.Sip("203.0.113.5:5060", CalleeSip, d.InDialog("BYE", true, 3));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(("203.0.113.5", 31000), (call.Parties[0].Ip, call.Parties[0].Port));
        Assert.Equal(1, s.Pipeline.Snapshot()["rtp_parties_behind_nat"]);
        Assert.Equal(200, call.Packets);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void AsymmetricRtp_FromAnotherPortOfTheAnnouncedAddress_IsNotNat_ThePartyKeepsItsSdpEndpoint()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        Establish(s, d);
        s.Talk("10.0.0.10:4002", CalleeMedia, 50, CallerTone, CalleeTone, bSendsTo: CallerMedia);

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(("10.0.0.10", 4000), (call.Parties[0].Ip, call.Parties[0].Port));
        Assert.Equal(0, s.Pipeline.Snapshot()["rtp_parties_behind_nat"]);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void NatLatching_WhenTheCalleeSpeaksFirst_StillRecordsBothLegs()
    {
        // The callee's first packet goes to the caller's private SDP address (lost in the NAT), then to the latched address.
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        const string CallerPublic = "203.0.113.5:31000";
        Establish(s, d, callerMedia: "192.168.1.2:4000", callerSip: "203.0.113.5:5060");
        s.Stream(CalleeMedia, "192.168.1.2:4000", 5, CalleeTone);
        s.Talk(CallerPublic, CalleeMedia, 100, CallerTone, CalleeTone);

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(205, call.Packets);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void LateOffer_OfferInTheOkAnswerInTheAck_MapsTheMedia()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        s.Sip(CallerSip, CalleeSip, d.Invite(1));
        s.Sip(CalleeSip, CallerSip, d.Response(180, "Ringing"));
        s.Advance(1);
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(CallerSip, CalleeSip, d.Ack(1, Sdp("10.0.0.10", 4000)));
        s.Talk(CallerMedia, CalleeMedia, 50, CallerTone, CalleeTone);
        s.Sip(CallerSip, CalleeSip, d.InDialog("BYE", true, 2));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(100, call.Packets);
        Assert.Equal(4000, call.Parties[0].Port);
        Assert.Equal(5000, call.Parties[1].Port);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void RetransmissionsAndMirrorDuplicates_GiveOneCallWithoutDuplicateEvents()
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        string invite = d.Invite(1, Sdp("10.0.0.10", 4000));
        string ringing = d.Response(183, "Session Progress", sdp: Sdp("10.0.0.20", 5000));
        string ok = d.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000));
        string hold = d.InDialog("INVITE", true, 2, Sdp("10.0.0.10", 4000, 2, "sendonly"));
        string bye = d.InDialog("BYE", true, 3);

        // Every message twice (SPAN sees both directions of the trunk), INVITE and 200 also retransmitted by the UAs.
        foreach (string m in new[] { invite, invite })
        {
            s.Sip(CallerSip, CalleeSip, m);
        }

        s.Advance(0.5);
        s.Sip(CallerSip, CalleeSip, invite);
        s.Sip(CalleeSip, CallerSip, ringing);
        s.Sip(CalleeSip, CallerSip, ringing);
        s.Advance(1);
        for (int i = 0; i < 3; i++)
        {
            s.Sip(CalleeSip, CallerSip, ok);
            s.Sip(CalleeSip, CallerSip, ok);
            s.Advance(0.5);
        }

        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Talk(CallerMedia, CalleeMedia, 10);
        s.Sip(CallerSip, CalleeSip, hold);
        s.Sip(CallerSip, CalleeSip, hold);
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 2, sdp: Sdp("10.0.0.20", 5000, 2, "recvonly")));
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 2, sdp: Sdp("10.0.0.20", 5000, 2, "recvonly")));
        s.Sip(CallerSip, CalleeSip, bye);
        s.Sip(CallerSip, CalleeSip, bye);
        s.Advance(0.5);
        s.Sip(CallerSip, CalleeSip, bye);

        List<CallSidecar> calls = s.Complete();
        CallSidecar call = Assert.Single(calls);
        Assert.Equal(["early-media", "answered", "hold", "bye"], EventTypes(call));
        Assert.Equal(SipScenario.TimeAt(1.5), call.AnsweredAt);
        Assert.Equal(1, s.Pipeline.CallsStarted);
    }

    [Fact]
    public void ParallelCalls_AreRecordedApartWithoutCrossMixing()
    {
        using var s = new SipScenario();
        SipDialog a = AliceToBob("call-a@10.0.0.10");
        var b = new SipDialog("call-b@10.0.0.30", "\"Carol\" <sip:3003@pbx.example.com>", "\"Dave\" <sip:4004@pbx.example.com>");
        Establish(s, a);
        Establish(s, b, "10.0.0.30:4000", "10.0.0.40:5000", "10.0.0.30:5060", "10.0.0.40:5060");
        for (int i = 0; i < 100; i++)
        {
            s.Rtp(CallerMedia, CalleeMedia, 500);
            s.Rtp(CalleeMedia, CallerMedia, 1300);
            s.Rtp("10.0.0.30:4000", "10.0.0.40:5000", 700);
            s.Rtp("10.0.0.40:5000", "10.0.0.30:4000", 2100);
            s.Advance(0.02);
        }

        s.Sip(CallerSip, CalleeSip, a.InDialog("BYE", true, 2));
        s.Sip("10.0.0.40:5060", "10.0.0.30:5060", b.InDialog("BYE", false, 1));

        List<CallSidecar> calls = s.Complete();
        Assert.Equal(2, calls.Count);
        CallSidecar callA = Assert.Single(calls, c => c.CallId == "call-a@10.0.0.10");
        CallSidecar callB = Assert.Single(calls, c => c.CallId == "call-b@10.0.0.30");
        Assert.Equal(200, callA.Packets);
        Assert.Equal(200, callB.Packets);
        Assert.Equal("3003", callB.Parties[0].Extension);
        Assert.Equal("4004", callB.Parties[1].Extension);
        Assert.NotEqual(callA.File, callB.File);
        s.AssertLegs(callA, 500, 1300);
        s.AssertLegs(callB, 700, 2100);
    }

    [Fact]
    public void NewCallReusingTheEndpointsOfAnEndedCall_GetsTheMedia()
    {
        using var s = new SipScenario();
        SipDialog first = AliceToBob("first@10.0.0.10");
        Establish(s, first);
        s.Talk(CallerMedia, CalleeMedia, 20, 500, 1300);
        s.Sip(CallerSip, CalleeSip, first.InDialog("BYE", true, 2));
        s.Advance(1);

        // Stray media of the ended call, then nothing is recorded for it.
        s.Talk(CallerMedia, CalleeMedia, 5, 500, 1300);
        SipDialog second = AliceToBob("second@10.0.0.10");
        Establish(s, second);
        s.Talk(CallerMedia, CalleeMedia, 50, 700, 2100);
        s.Sip(CalleeSip, CallerSip, second.InDialog("BYE", false, 1));

        List<CallSidecar> calls = s.Complete();
        Assert.Equal(2, calls.Count);
        Assert.Equal(40, calls[0].Packets);
        Assert.Equal(100, calls[1].Packets);
        s.AssertLegs(calls[1], 700, 2100);
    }

    [Fact]
    public void NewCallReusingTheEndpointsOfAnOpenCall_TakesTheMediaOver()
    {
        // The first call's BYE was not on the mirror; a new call announces the same endpoints (the phone's port is reused).
        using var s = new SipScenario();
        SipDialog first = AliceToBob("first@10.0.0.10");
        Establish(s, first);
        s.Talk(CallerMedia, CalleeMedia, 20, 500, 1300);
        SipDialog second = AliceToBob("second@10.0.0.10");
        Establish(s, second);
        s.Talk(CallerMedia, CalleeMedia, 50, 700, 2100);
        s.Sip(CalleeSip, CallerSip, second.InDialog("BYE", false, 1));

        List<CallSidecar> calls = s.Complete();
        Assert.Equal(2, calls.Count);
        Assert.Equal(40, calls[0].Packets);
        Assert.Equal(100, calls[1].Packets);
        s.AssertLegs(calls[1], 700, 2100);
    }

    [Fact]
    public void NewCallReusingTheEndpointsOfAnOpenNattedCall_TakesTheMediaOver()
    {
        // As above, behind NAT: the first call latched the caller's public address; the second must not lose media to it.
        using var s = new SipScenario();
        const string CallerPublic = "203.0.113.5:31000";
        SipDialog first = AliceToBob("first@10.0.0.10");
        Establish(s, first, callerMedia: "192.168.1.2:4000", callerSip: "203.0.113.5:5060");
        s.Talk(CallerPublic, CalleeMedia, 20, 500, 1300);
        SipDialog second = AliceToBob("second@10.0.0.10");
        Establish(s, second, callerMedia: "192.168.1.2:4000", callerSip: "203.0.113.5:5060");
        s.Talk(CallerPublic, CalleeMedia, 50, 700, 2100);
        s.Sip(CalleeSip, "203.0.113.5:5060", second.InDialog("BYE", false, 1));

        List<CallSidecar> calls = s.Complete();
        Assert.Equal(2, calls.Count);
        Assert.Equal(40, calls[0].Packets);
        Assert.Equal(100, calls[1].Packets);
        s.AssertLegs(calls[1], 700, 2100);
    }

    [Theory]
    [InlineData(5080)]
    [InlineData(15060)]
    public void SipOnANonStandardPort_IsRecognisedByContent(int port)
    {
        using var s = new SipScenario();
        SipDialog d = AliceToBob();
        string callerSip = $"10.0.0.10:{port}";
        string calleeSip = $"10.0.0.20:{port}";
        Establish(s, d, callerSip: callerSip, calleeSip: calleeSip);
        s.Talk(CallerMedia, CalleeMedia, 10);
        s.Sip(callerSip, calleeSip, d.InDialog("BYE", true, 2));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Equal(20, call.Packets);
    }

    [Fact]
    public void InviteFloodBeyondMaxCalls_IsCountedWithoutCrash()
    {
        using var s = new SipScenario(new SipTrackerOptions { MaxCalls = 50 });
        for (int i = 0; i < 200; i++)
        {
            SipDialog d = AliceToBob($"flood-{i}@10.0.0.10");
            s.Sip(CallerSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 10000 + (2 * i))));
            s.Sip(CalleeSip, CallerSip, d.Response(100, "Trying"));
        }

        Assert.Equal(50, s.Pipeline.ActiveCalls);
        Assert.Equal(50, s.Pipeline.CallsStarted);
        Assert.Equal(150, s.Pipeline.Snapshot()["sip_calls_over_limit"]);
        Assert.Equal(150, s.Pipeline.Snapshot()["sip_messages_without_call"]); // the 100 Trying of the ignored INVITEs

        // Once calls end, new INVITEs are tracked again.
        SipDialog first = AliceToBob("flood-0@10.0.0.10");
        s.Sip(CalleeSip, CallerSip, first.Response(486, "Busy Here"));
        SipDialog late = AliceToBob("after-flood@10.0.0.10");
        s.Sip(CallerSip, CalleeSip, late.Invite(1, Sdp("10.0.0.10", 9000)));
        Assert.Equal(51, s.Pipeline.CallsStarted);

        List<CallSidecar> calls = s.Complete();
        Assert.Equal(51, calls.Count);
        Assert.Empty(s.Errors);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // behind NAT: the caller's media from its public address, latched (and the party moved there) once
    public void RtpOfAnEstablishedCall_AllocatesNothingAfterWarmUp(bool behindNat)
    {
        using var s = new SipScenario(queueCapacity: 64);
        SipDialog d = AliceToBob();
        string caller = behindNat ? "203.0.113.5:31000" : CallerMedia;
        if (behindNat)
        {
            Establish(s, d, callerMedia: "192.168.1.2:4000", callerSip: "203.0.113.5:5060");
        }
        else
        {
            Establish(s, d);
        }

        // Frames built beforehand so that only the pipeline's work is measured.
        var frames = new List<(long Ts, byte[] Frame)>();
        long ts = s.Now;
        for (int i = 0; i < 3000; i++)
        {
            frames.Add((ts, s.RtpFrame(caller, CalleeMedia, CallerTone, atNs: ts)));
            frames.Add((ts, s.RtpFrame(CalleeMedia, caller, CalleeTone, atNs: ts)));
            ts += 20_000_000;
        }

        void Process(int from, int to)
        {
            for (int i = from; i < to; i++)
            {
                s.Pipeline.ProcessFrame(1, frames[i].Ts, frames[i].Frame);
            }
        }

        const int WarmUp = 1000;
        long media = 0;
        long allocated = Allocations.Measure(
            () =>
            {
                Process(0, WarmUp);
                media = s.Pipeline.Counters.MediaPackets;
            },
            () => Process(WarmUp, frames.Count));
        Assert.Equal(frames.Count - WarmUp, s.Pipeline.Counters.MediaPackets - media);
        Assert.Equal(0, allocated);
        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(6000, call.Packets);
        Assert.Equal(behindNat ? "203.0.113.5" : "10.0.0.10", call.Parties[0].Ip);
    }

    [Fact]
    public void AaaCapture_EachInviteDialogIsOneCallEndingAsTsharkShows()
    {
        // tshark -r aaa.pcap -Y sip -T fields -e sip.Call-ID -e sip.Method -e sip.Status-Code -e sip.CSeq:
        //   105090259-446faf7a: INVITE x3, 100, CANCEL (542.5 s), 408 to the INVITE (545.1 s), CANCELs, 408 to CANCEL
        //   85216695-42dcdb1d:  INVITE x3, 407, ACK, INVITE CSeq 2, 403, ACK
        //   24487391-449bf2a0:  INVITE, 407, ACK, INVITE CSeq 2, 100, 403, ACK
        //   11894297-4432a9f8:  INVITE, 407, ACK, INVITE CSeq 2, 100, 183, 480, ACK
        var results = new Collector();
        using PcapSource source = PcapSource.OpenOffline(Captures.PathOf("aaa.pcap"));
        string dir = Path.Combine(Path.GetTempPath(), "aaa-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = dir }, new PipelineOptions { Workers = 0 }, results: results))
            {
                Assert.Equal(CaptureEnd.EndOfFile, pipeline.Run(source));
                pipeline.Complete();
                Assert.Equal(4, pipeline.CallsStarted);
            }

            Assert.Equal(4, results.Calls.Count);
            Dictionary<string, CallSidecar> byId = results.Calls.ToDictionary(c => c.CallId);
            Assert.Equal(CallEndReasons.Cancelled, byId["105090259-446faf7a@192.168.1.2"].EndReason);
            AssertRejected(byId["85216695-42dcdb1d@192.168.1.2"], "403");
            AssertRejected(byId["24487391-449bf2a0@192.168.1.2"], "403");
            AssertRejected(byId["11894297-4432a9f8@192.168.1.2"], "480");
            foreach (CallSidecar c in results.Calls)
            {
                Assert.Null(c.AnsweredAt);
                Assert.Equal("192.168.1.2", c.Parties[0].Ip);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        static void AssertRejected(CallSidecar call, string status)
        {
            Assert.Equal(CallEndReasons.Rejected, call.EndReason);
            Assert.Equal(status, Assert.Single(call.Events, e => e.Type == "rejected").Detail);
        }
    }

    private sealed class Collector : ICallResultSink
    {
        public List<CallSidecar> Calls { get; } = [];

        public void OnCallFinished(CallSidecar sidecar) => Calls.Add(sidecar);

        public void OnRecordingError(string recordingId, Exception error) => throw new InvalidOperationException(recordingId, error);
    }
}
