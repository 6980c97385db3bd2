using Capture.Calls;
using Capture.Recording;
using Capture.Tests.Support;
using static Capture.Tests.Support.SipDialog;

namespace Capture.Tests.Sip;

/// <summary>
/// Transfers as the recordings show them: every call of the transfer is its own recording with its parties' voices on
/// their channels, and they share one interactionId (the blind transfer is also replayed from a live recording:
/// ConversationReplayTests in Appliance.Tests).
/// </summary>
public class SipTransferTests
{
    private const string A = "10.0.0.10:5060", B = "10.0.0.20:5060", C = "10.0.0.30:5060";
    private const string AMedia = "10.0.0.10:4000", BMedia = "10.0.0.20:5000", BConsultMedia = "10.0.0.20:5002", CMedia = "10.0.0.30:6000", CNewMedia = "10.0.0.30:6002";
    private const double ATone = 500, BTone = 1300, CTone = 2100;

    [Fact]
    public void AnAttendedTransfer_IsThreeRecordings_SharingOneInteraction_EachVoiceOnItsParty()
    {
        using var s = new SipScenario();
        var ab = new SipDialog("ab@10.0.0.10", "<sip:1001@pbx.example.com>", "<sip:2002@pbx.example.com>");
        var bc = new SipDialog("consult@10.0.0.20", "<sip:2002@pbx.example.com>", "<sip:3003@pbx.example.com>") { CallerTag = "bc-from", CalleeTag = "bc-to" };
        var ac = new SipDialog("ac@10.0.0.10", "<sip:1001@pbx.example.com>", "<sip:3003@pbx.example.com>");

        Establish(s, ab, A, B, AMedia, BMedia);
        s.Talk(AMedia, BMedia, 50, ATone, BTone);

        // B puts A aside (not modelled) and consults C.
        Establish(s, bc, B, C, BConsultMedia, CMedia);
        s.Talk(BConsultMedia, CMedia, 50, BTone, CTone);

        // B refers A to C, replacing the consultation; A calls C with Replaces (RFC 3891); C and B hang up the old calls.
        string referTo = "Refer-To: <sip:3003@pbx.example.com?Replaces=consult%4010.0.0.20%3Bto-tag%3Dbc-to%3Bfrom-tag%3Dbc-from>";
        s.Sip(B, A, ab.InDialog("REFER", fromCaller: false, cseq: 7, null, referTo, "Referred-By: <sip:2002@pbx.example.com>"));
        s.Sip(B, A, ab.InDialog("REFER", fromCaller: false, cseq: 7, null, referTo, "Referred-By: <sip:2002@pbx.example.com>")); // retransmitted
        s.Sip(A, B, ab.ResponseFromCaller(202, "Accepted", 7, "REFER"));
        s.Advance(0.1);
        s.Sip(A, C, ac.Invite(1, Sdp("10.0.0.10", 4002), "Replaces: consult@10.0.0.20;to-tag=bc-to;from-tag=bc-from", "Referred-By: <sip:2002@pbx.example.com>"));
        s.Sip(C, A, ac.Response(200, "OK", sdp: Sdp("10.0.0.30", 6002)));
        s.Sip(A, C, ac.Ack());
        s.Sip(C, B, bc.InDialog("BYE", fromCaller: false, cseq: 1));
        s.Sip(B, A, ab.InDialog("BYE", fromCaller: false, cseq: 8));
        s.Talk("10.0.0.10:4002", CNewMedia, 50, ATone, CTone);
        s.Sip(A, C, ac.InDialog("BYE", fromCaller: true, cseq: 2));

        List<CallSidecar> calls = s.Complete();
        Assert.Equal(["ab@10.0.0.10", "consult@10.0.0.20", "ac@10.0.0.10"], calls.Select(c => c.CallId));
        CallSidecar first = calls[0], consultation = calls[1], transferred = calls[2];
        Assert.All(calls, c => Assert.Equal(first.Id, c.InteractionId));
        Assert.Equal(first.Id, transferred.TransferredFrom);
        Assert.Null(first.TransferredFrom);
        Assert.Equal("2002 referred 1001 to 3003 (callee, attended)", Assert.Single(first.Events, e => e.Type == CallEventTypes.Transfer).Detail);
        Assert.Equal(2, consultation.Events.Count(e => e.Type == CallEventTypes.Transfer)); // the REFER that named it, then the INVITE that replaced it
        Assert.DoesNotContain(transferred.Events, e => e.Type == CallEventTypes.Transfer);

        s.AssertLegs(first, ATone, BTone);
        s.AssertLegs(consultation, BTone, CTone);
        s.AssertLegs(transferred, ATone, CTone);
    }

    [Fact]
    public void AnInviteWithReplaces_WithoutTheReferOnTheMirror_StillJoinsTheReplacedCallsInteraction()
    {
        using var s = new SipScenario();
        var bc = new SipDialog("consult@10.0.0.20", "<sip:2002@pbx.example.com>", "<sip:3003@pbx.example.com>");
        var ac = new SipDialog("ac@10.0.0.10", "<sip:1001@pbx.example.com>", "<sip:3003@pbx.example.com>");
        Establish(s, bc, B, C, BConsultMedia, CMedia);
        s.Talk(BConsultMedia, CMedia, 20, BTone, CTone);
        s.Sip(A, C, ac.Invite(1, Sdp("10.0.0.10", 4002), "Replaces: consult@10.0.0.20;to-tag=x;from-tag=y"));
        s.Sip(C, A, ac.Response(200, "OK", sdp: Sdp("10.0.0.30", 6002)));
        s.Sip(C, B, bc.InDialog("BYE", fromCaller: false, cseq: 1));

        List<CallSidecar> calls = s.Complete();
        Assert.Equal(2, calls.Count);
        Assert.Equal(calls[0].Id, calls[0].InteractionId);
        Assert.Equal(calls[0].Id, calls[1].InteractionId);
        Assert.Equal(calls[0].Id, calls[1].TransferredFrom);
        Assert.StartsWith("replaced by 1001 - 3003", Assert.Single(calls[0].Events, e => e.Type == CallEventTypes.Transfer).Detail, StringComparison.Ordinal);
    }

    /// <summary>INVITE with SDP, 200 with SDP, ACK; 10 ms apart.</summary>
    private static void Establish(SipScenario s, SipDialog d, string callerSip, string calleeSip, string callerMedia, string calleeMedia)
    {
        int colon = callerMedia.LastIndexOf(':'), calleeColon = calleeMedia.LastIndexOf(':');
        s.Sip(callerSip, calleeSip, d.Invite(1, Sdp(callerMedia[..colon], int.Parse(callerMedia[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture))));
        s.Advance(0.01);
        s.Sip(calleeSip, callerSip, d.Response(200, "OK", sdp: Sdp(calleeMedia[..calleeColon], int.Parse(calleeMedia[(calleeColon + 1)..], System.Globalization.CultureInfo.InvariantCulture))));
        s.Advance(0.01);
        s.Sip(callerSip, calleeSip, d.Ack());
        s.Advance(0.01);
    }
}
