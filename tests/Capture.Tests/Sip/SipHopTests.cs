using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;
using Capture.Recording;
using Capture.Tests.Support;
using static Capture.Tests.Support.SipDialog;

namespace Capture.Tests.Sip;

/// <summary>
/// One Call-ID on two hops: an SBC (10.0.0.1) between the caller and the callee keeps the Call-ID but gives its side of
/// each hop tags, an SDP origin and media addresses of its own, and re-originates the media (its own SSRCs). The
/// recording must be one, with each party at its own addresses, each hold and resume once, and each voice on its own
/// party's channel, taken from the hop nearest the recorded (left) party.
/// </summary>
public class SipHopTests
{
    private const string CallerSip = "10.0.0.10:5060";
    private const string SbcSip = "10.0.0.1:5060";
    private const string CalleeSip = "10.0.0.20:5060";
    private const string CallerMedia = "10.0.0.10:4000";
    private const string SbcMediaA = "10.0.0.1:30000"; // the SBC's media address facing the caller
    private const string SbcMediaB = "10.0.0.1:30002"; // facing the callee
    private const string CalleeMedia = "10.0.0.20:5000";
    private const double CallerTone = 500;
    private const double CalleeTone = 1300;
    private const string CallId = "sbc-1@10.0.0.10";

    /// <summary>Hop A, caller to SBC: the caller's tag, the SBC's as the callee's.</summary>
    private static SipDialog HopA() => new(CallId, "\"Alice\" <sip:1001@pbx.example.com>", "\"Bob\" <sip:2002@pbx.example.com>")
    {
        CallerTag = "alice-tag",
        CalleeTag = "sbc-a-tag",
    };

    /// <summary>Hop B, SBC to callee: the SBC's own From tag, the callee's To tag.</summary>
    private static SipDialog HopB() => new(CallId, "\"Alice\" <sip:1001@pbx.example.com>", "\"Bob\" <sip:2002@pbx.example.com>")
    {
        CallerTag = "sbc-b-tag",
        CalleeTag = "bob-tag",
    };

    /// <summary>Both hops talk for <paramref name="packets"/> x 20 ms: each voice crosses the SBC, once per hop.</summary>
    private static void Talk(SipScenario s, int packets)
    {
        for (int i = 0; i < packets; i++)
        {
            s.Rtp(CallerMedia, SbcMediaA, CallerTone);
            s.Rtp(SbcMediaB, CalleeMedia, CallerTone);
            s.Rtp(CalleeMedia, SbcMediaB, CalleeTone);
            s.Rtp(SbcMediaA, CallerMedia, CalleeTone);
            s.Advance(0.020);
        }
    }

    /// <summary>
    /// The caller's re-INVITE (hold or resume) relayed by the SBC, both answered: caller SDP version
    /// <paramref name="v"/>, the SBC's 100 + v (hop B offer) and 200 + v (hop A answer), the callee's v.
    /// </summary>
    private static void ReInvite(SipScenario s, SipDialog a, SipDialog b, uint cseq, ulong v, string offer, string answer)
    {
        s.Sip(CallerSip, SbcSip, a.InDialog("INVITE", true, cseq, Sdp("10.0.0.10", 4000, v, offer)));
        s.Advance(0.002);
        s.Sip(SbcSip, CalleeSip, b.InDialog("INVITE", true, cseq, Sdp("10.0.0.1", 30002, 100 + v, offer)));
        s.Advance(0.002);
        s.Sip(CalleeSip, SbcSip, b.Response(200, "OK", cseq, sdp: Sdp("10.0.0.20", 5000, v, answer)));
        s.Advance(0.002);
        s.Sip(SbcSip, CallerSip, a.Response(200, "OK", cseq, sdp: Sdp("10.0.0.1", 30000, 200 + v, answer)));
        s.Sip(CallerSip, SbcSip, a.Ack(cseq));
        s.Sip(SbcSip, CalleeSip, b.Ack(cseq));
        s.Advance(0.01);
    }

    /// <summary>Call, 2 s of talk, hold (3 s without media), resume, 2 s of talk, BYE; returns the hold and resume times.</summary>
    private static (double HoldAt, double ResumeAt) HoldAndResume(SipScenario s)
    {
        SipDialog a = HopA(), b = HopB();
        s.Sip(CallerSip, SbcSip, a.Invite(1, Sdp("10.0.0.10", 4000, 1)));
        s.Advance(0.005);
        s.Sip(SbcSip, CalleeSip, b.Invite(1, Sdp("10.0.0.1", 30002, 101)));
        s.Advance(0.005);
        s.Sip(CalleeSip, SbcSip, b.Response(180, "Ringing"));
        s.Sip(SbcSip, CallerSip, a.Response(180, "Ringing"));
        s.Advance(1);
        s.Sip(CalleeSip, SbcSip, b.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000, 1)));
        s.Sip(SbcSip, CallerSip, a.Response(200, "OK", sdp: Sdp("10.0.0.1", 30000, 201)));
        s.Sip(CallerSip, SbcSip, a.Ack());
        s.Sip(SbcSip, CalleeSip, b.Ack());
        s.Advance(0.01);
        Talk(s, 100);
        double holdAt = (s.Now - SipScenario.Epoch) / 1e9;
        ReInvite(s, a, b, 2, 2, "sendonly", "recvonly");
        s.Advance(3); // on hold: neither phone sends
        double resumeAt = (s.Now - SipScenario.Epoch) / 1e9;
        ReInvite(s, a, b, 3, 3, "sendrecv", "sendrecv");
        Talk(s, 100);
        s.Sip(CallerSip, SbcSip, a.InDialog("BYE", true, 4));
        s.Sip(SbcSip, CalleeSip, b.InDialog("BYE", true, 4));
        s.Sip(CalleeSip, SbcSip, b.Response(200, "OK", 4, "BYE"));
        s.Sip(SbcSip, CallerSip, a.Response(200, "OK", 4, "BYE"));
        return (holdAt, resumeAt);
    }

    private static void AssertHoldAndResumeOnce(CallSidecar call, double holdAt, double resumeAt)
    {
        Assert.Equal(["answered", "hold", "resume", "bye"], call.Events.Select(e => e.Type));
        Assert.Equal(SipScenario.TimeAt(holdAt), call.Events[1].At);
        Assert.Equal(SipScenario.TimeAt(resumeAt), call.Events[2].At);
        Assert.Equal(["caller", "caller"], call.Events.Skip(1).Take(2).Select(e => e.Detail));

        // Offsets from the first media packet (2 s of talk before the hold; the 3 s hold is silence, not cut out).
        Assert.InRange(call.Events[1].OffsetSeconds!.Value, 1.99, 2.03);
        Assert.InRange(call.Events[2].OffsetSeconds!.Value, 5.0, 5.05);
        Assert.InRange(call.MediaDurationSeconds, 6.9, 7.2);
    }

    [Fact]
    public void SbcKeepingTheCallId_CallerRecorded_HoldAndResumeOnce_PartiesAtTheirOwnAddresses_CallerHopRecorded()
    {
        using var s = new SipScenario();
        (double holdAt, double resumeAt) = HoldAndResume(s);

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Empty(s.Errors);
        AssertHoldAndResumeOnce(call, holdAt, resumeAt);
        Assert.Equal(("1001", "10.0.0.10", 4000, "left"), (call.Parties[0].Extension, call.Parties[0].Ip, call.Parties[0].Port, call.Parties[0].Channel));
        Assert.Equal(("2002", "10.0.0.20", 5000, "right"), (call.Parties[1].Extension, call.Parties[1].Ip, call.Parties[1].Port, call.Parties[1].Channel));

        // The caller's hop only: 2 x 100 packets each way; the SBC's re-originated copies on hop B are not mixed in.
        Assert.Equal(400, call.Packets);
        Assert.Equal(0, call.DuplicatesDropped);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    [Fact]
    public void SbcKeepingTheCallId_CalleeRecorded_FollowsTheCalleesHop()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, new DirectoryConfig
        {
            Devices = [new DeviceConfig("bob-desk") { Ips = ["10.0.0.20"], Extensions = ["2002"] }],
        }, SipScenario.TimeAt(-60));
        using var s = new SipScenario(directory: directory);
        (double holdAt, double resumeAt) = HoldAndResume(s);

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Empty(s.Errors);
        AssertHoldAndResumeOnce(call, holdAt, resumeAt);
        Assert.Equal(("2002", "10.0.0.20", 5000, "left", "bob-desk"), (call.Parties[0].Extension, call.Parties[0].Ip, call.Parties[0].Port, call.Parties[0].Channel, call.Parties[0].Device));
        Assert.Equal(("1001", "10.0.0.10", 4000, "right"), (call.Parties[1].Extension, call.Parties[1].Ip, call.Parties[1].Port, call.Parties[1].Channel));
        Assert.Equal(400, call.Packets);
        Assert.Equal(0, call.DuplicatesDropped);
        s.AssertLegs(call, CalleeTone, CallerTone);
    }

    /// <summary>
    /// A proxy (10.0.0.1) tries the callee's first contact (10.0.0.21, busy: 486) and then its second (10.0.0.20), which
    /// answers; the proxy relays SDP unchanged. The busy fork is not the call's end: one answered recording, the callee
    /// at the contact that answered.
    /// </summary>
    [Fact]
    public void ProxyTryingASecondContactAfterABusyOne_IsOneAnsweredCall_WithTheCalleeThatAnswered()
    {
        using var s = new SipScenario();
        const string Busy = "10.0.0.21:5060";
        SipDialog toProxy = HopA(), toBusy = HopA(), toBob = HopA();
        toProxy.CalleeTag = toBob.CalleeTag = "bob-tag";
        toBusy.CalleeTag = "busy-tag";
        s.Sip(CallerSip, SbcSip, toProxy.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(SbcSip, Busy, toBusy.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Advance(0.1);
        s.Sip(Busy, SbcSip, toBusy.Response(486, "Busy Here"));
        s.Sip(SbcSip, Busy, toBusy.Ack());
        s.Sip(SbcSip, CalleeSip, toBob.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Advance(1);
        s.Sip(CalleeSip, SbcSip, toBob.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(SbcSip, CallerSip, toProxy.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(CallerSip, SbcSip, toProxy.Ack());
        s.Sip(SbcSip, CalleeSip, toBob.Ack());
        s.Talk(CallerMedia, CalleeMedia, 100, CallerTone, CalleeTone);
        s.Sip(CallerSip, SbcSip, toProxy.InDialog("BYE", true, 2));
        s.Sip(SbcSip, CalleeSip, toBob.InDialog("BYE", true, 2));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Equal(["answered", "bye"], call.Events.Select(e => e.Type));
        Assert.Equal(("10.0.0.20", 5000), (call.Parties[1].Ip, call.Parties[1].Port));
        Assert.Equal(200, call.Packets);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }

    /// <summary>
    /// A proxy that does not record-route: the INVITE crosses it (two hops), the re-INVITE that moves the callee's media
    /// and the BYE go straight between the phones. That direct path is the call's hop from then on.
    /// </summary>
    [Fact]
    public void InDialogRequestsStraightBetweenThePhones_AreTheCallsHop_AndMoveItsMedia()
    {
        using var s = new SipScenario();
        SipDialog d = HopA();
        d.CalleeTag = "bob-tag";
        s.Sip(CallerSip, SbcSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Sip(SbcSip, CalleeSip, d.Invite(1, Sdp("10.0.0.10", 4000)));
        s.Advance(1);
        s.Sip(CalleeSip, SbcSip, d.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(SbcSip, CallerSip, d.Response(200, "OK", sdp: Sdp("10.0.0.20", 5000)));
        s.Sip(CallerSip, CalleeSip, d.Ack());
        s.Talk(CallerMedia, CalleeMedia, 50, CallerTone, CalleeTone);
        s.Sip(CallerSip, CalleeSip, d.InDialog("INVITE", true, 2, Sdp("10.0.0.10", 4000, 2)));
        s.Sip(CalleeSip, CallerSip, d.Response(200, "OK", 2, sdp: Sdp("10.0.0.20", 5002, 2)));
        s.Sip(CallerSip, CalleeSip, d.Ack(2));
        s.Advance(0.3); // a leg follows a new SSRC once the old one has been quiet for 200 ms
        s.Talk(CallerMedia, "10.0.0.20:5002", 50, CallerTone, CalleeTone);
        s.Sip(CalleeSip, CallerSip, d.InDialog("BYE", false, 1));

        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(["answered", "bye"], call.Events.Select(e => e.Type));
        Assert.Equal("callee", call.Events[1].Detail);
        Assert.Equal(("10.0.0.20", 5002), (call.Parties[1].Ip, call.Parties[1].Port));
        Assert.Equal(200, call.Packets);
        s.AssertLegs(call, CallerTone, CalleeTone);
    }
}
