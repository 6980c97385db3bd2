using System.Text;
using Capture.Calls;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Rtp;
using Capture.Skinny;
using Capture.Tests.Support;
using Xunit;

namespace Capture.Tests.Skinny;

/// <summary>The call model on its own: messages as the readers hand them over, calls as the sink sees them.</summary>
public sealed class SkinnyCallTrackerTests
{
    private const long S = 1_000_000_000;
    private static readonly IpAddress16 PhoneA = Ip("192.168.195.58");
    private static readonly IpAddress16 PhoneB = Ip("192.168.195.50");
    private static readonly IpAddress16 Bridge = Ip("192.168.193.24");

    private readonly RecordingSink _sink = new();
    private readonly CallBook _book;
    private readonly SkinnyCallTracker _tracker;

    public SkinnyCallTrackerTests()
    {
        _book = new CallBook(_sink);
        _tracker = new SkinnyCallTracker(_book);
    }

    [Fact]
    public void InternalCall_IsOneRecording_CallerLeft_ForksIgnored()
    {
        InternalCall();

        RecordingSink.Started call = Assert.Single(_sink.Calls);
        Assert.Equal("321", call.Metadata.Left.Extension);
        Assert.Equal("RIX Meeting Room", call.Metadata.Left.Name);
        Assert.Equal("SEP-A", call.Metadata.Left.Device);
        Assert.Equal("307", call.Metadata.Right.Extension);
        Assert.Equal("Ervins Gailiss", call.Metadata.Right.Name);
        Assert.Equal("192.168.195.50", call.Metadata.Right.Ip);
        Assert.Equal(17718, call.Metadata.Right.Port);
        Assert.Equal(["PCMU"], call.Metadata.Codecs);
        Assert.NotNull(call.Metadata.AnsweredAt);
        Assert.Equal(2, _tracker.MediaForksIgnored);

        // A to B's receive port: A speaks (left); B to A: B speaks (right), also from an asymmetric source port.
        AssertMedia("192.168.195.58:32144", "192.168.195.50:17718", Channel.Left);
        AssertMedia("192.168.195.50:17718", "192.168.195.58:32144", Channel.Right);
        AssertMedia("192.168.195.50:40000", "192.168.195.58:32144", Channel.Right);
        Assert.False(_book.Media.TryClassify(Ep("192.168.195.58:32150"), Ep("192.168.193.24:9395"), 0, out _, out _)); // the recording fork
    }

    [Fact]
    public void OnHook_EndsAfterStatistics_WithHangupAndQuality()
    {
        InternalCall();
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OnHook, 70, 10 * S);
        Assert.Empty(_sink.Ended); // B is still in the call
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.OnHook, 71, 10 * S + 1000);
        Assert.Empty(_sink.Ended); // waiting for the phones' statistics
        _tracker.OnConnectionStatistics("SEP-A", new SkinnyConnectionStatistics(70, 400, 398, 2, 3, 10), 10 * S + 2000);
        _tracker.OnConnectionStatistics("SEP-B", new SkinnyConnectionStatistics(71, 399, 400, 0, 1, 5), 10 * S + 3000);

        (string reason, long at) = Assert.Single(_sink.Ended);
        Assert.Equal(CallEndReasons.Hangup, reason);
        Assert.Equal(10 * S + 1000, at);
        IReadOnlyList<EndpointQuality> quality = _sink.Calls[0].Metadata.Quality;
        Assert.Equal(2, quality.Count);
        Assert.Equal(new EndpointQuality("SEP-A", "321", 400, 398, 2, 3, 10), quality[0]);
        Assert.False(_book.Media.TryClassify(Ep("192.168.195.58:32144"), Ep("192.168.195.50:17718"), 0, out _, out _));
    }

    [Fact]
    public void OnHook_WithoutStatistics_EndsAtTheNextTickAfterTheWait()
    {
        InternalCall();
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OnHook, 70, 10 * S);
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.OnHook, 71, 10 * S);
        _tracker.Expire(11 * S);
        Assert.Empty(_sink.Ended);
        _tracker.Expire(12 * S);
        Assert.Equal(CallEndReasons.Hangup, Assert.Single(_sink.Ended).Reason);
        Assert.Equal(0, _tracker.ActiveCalls);
    }

    [Fact]
    public void HoldAndResume_AreEvents()
    {
        InternalCall();
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.Hold, 70, 5 * S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.Connected, 70, 6 * S);
        Assert.Equal(["answered", "hold", "resume"], _sink.Events.Select(e => e.Type));
        Assert.Equal("SEP-A", _sink.Events[1].Detail);
    }

    [Fact]
    public void HoldSeenOnBothPhones_HoldAndRemoteHold_IsOneHoldAndOneResume()
    {
        // A holds: CallManager tells A Hold and B RemoteHold; on resume, both Connected.
        InternalCall();
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.Hold, 70, 5 * S);
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.RemoteHold, 71, 5 * S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.Connected, 70, 9 * S);
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.Connected, 71, 9 * S);
        Assert.Equal(["answered", "hold", "resume"], _sink.Events.Select(e => e.Type));
    }

    [Fact]
    public void RemoteHoldAlone_IsReported_WhenOnlyTheHeldPhoneIsOnTheMirror()
    {
        InternalCall();
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.RemoteHold, 71, 5 * S);
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.Connected, 71, 9 * S);
        Assert.Equal(["answered", "hold", "resume"], _sink.Events.Select(e => e.Type));
        Assert.Equal("SEP-B (held by the other party)", _sink.Events[1].Detail);
    }

    [Fact]
    public void UnansweredCall_CallerHangsUp_IsCancelled_BusyIsRejected()
    {
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OffHook, 1, 0);
        _tracker.OnCallInfo("SEP-A", PhoneA, 1, SkinnyCallType.Outbound, B("321"), default, B("555"), default, 1 * S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.RingOut, 1, 1 * S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OnHook, 1, 5 * S);
        _tracker.OnCallInfo("SEP-A", PhoneA, 2, SkinnyCallType.Outbound, B("321"), default, B("556"), default, 6 * S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.Busy, 2, 6 * S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OnHook, 2, 7 * S);
        _tracker.Expire(10 * S);

        Assert.Equal([CallEndReasons.Cancelled, CallEndReasons.Rejected], _sink.Ended.Select(e => e.Reason));
        Assert.Equal("555", _sink.Calls[0].Metadata.Right.Extension);
    }

    [Fact]
    public void CallInfoNames_InUtf8_AreDecodedAsTheLearnerDecodesThem_AndARepeatChangesNothing()
    {
        byte[] name = Encoding.UTF8.GetBytes("Ervīns Gailīšs");
        _tracker.OnCallInfo("SEP-A", PhoneA, 1, SkinnyCallType.Outbound, B("307"), name, B("555"), default, 0);
        _tracker.OnCallInfo("SEP-A", PhoneA, 1, SkinnyCallType.Outbound, B("307"), name, B("555"), default, S);
        CallMetadata metadata = Assert.Single(_sink.Calls).Metadata;
        Assert.Equal("Ervīns Gailīšs", metadata.Left.Name);
        Assert.Equal(0, _sink.MetadataChanges); // the same CallInfo again: no new metadata
        Assert.True(SkinnyText.Matches(name, "Ervīns Gailīšs"));
        Assert.False(SkinnyText.Matches(name, "Ervins Gailiss"));
        Assert.False(SkinnyText.Matches(B("3071"), "307"));
    }

    [Fact]
    public void OffHookWithoutDialling_IsNoCall()
    {
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OffHook, 9, 0);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OnHook, 9, S);
        _tracker.EndAll(2 * S, CallEndReasons.CaptureEnded);
        Assert.Empty(_sink.Calls);
    }

    [Fact]
    public void OffHookWhoseOnHookIsLost_IsForgotten_AndTheCallReferenceCanStartAgain()
    {
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OffHook, 9, 0);
        _tracker.Expire(200 * S);
        _tracker.OnCallInfo("SEP-A", PhoneA, 9, SkinnyCallType.Outbound, B("321"), default, B("555"), default, 201 * S);
        // The stale leg was dropped at the setup timeout (not held forever): the call starts with its CallInfo.
        Assert.Equal(CaptureTime.ToDateTime(201 * S), Assert.Single(_sink.Calls).Metadata.StartedAt);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OnHook, 9, 300 * S);
        _tracker.Expire(400 * S);
        Assert.Equal(CallEndReasons.Cancelled, Assert.Single(_sink.Ended).Reason);
    }

    [Fact]
    public void Transfer_LinksTheConsultationCall_ByInteractionId()
    {
        InternalCall();
        _tracker.OnSoftKeyEvent("SEP-A", SkinnySoftKeyEvents.Transfer, 70, 5 * S);
        _tracker.OnCallInfo("SEP-A", PhoneA, 72, SkinnyCallType.Outbound, B("321"), default, B("400"), default, 6 * S);

        Assert.Equal(2, _sink.Calls.Count);
        string first = _sink.Calls[0].Id;
        Assert.Equal(first, _sink.Calls[0].Metadata.InteractionId);
        Assert.Equal(first, _sink.Calls[1].Metadata.InteractionId);
        Assert.Contains(_sink.Events, e => e.Type == "transfer");
    }

    [Fact]
    public void KeypadButton_InAnAnsweredCall_IsDtmf_DiallingIsNot()
    {
        _tracker.OnCallInfo("SEP-A", PhoneA, 1, SkinnyCallType.Outbound, B("321"), default, B("555"), default, 0);
        _tracker.OnKeypadButton("SEP-A", '5', 1, S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.Connected, 1, 2 * S);
        _tracker.OnKeypadButton("SEP-A", '*', 1, 3 * S);
        _tracker.OnKeypadButton("SEP-A", '#', 1, 4 * S);
        Assert.Equal(["*", "#"], _sink.Events.Where(e => e.Type == CallEventTypes.Dtmf).Select(e => e.Detail));
    }

    [Fact]
    public void LegacyLayout_WithoutCallReferences_MapsMediaToThePhonesCall()
    {
        _tracker.OnCallInfo("pyskinny01", Ip("10.102.172.11"), 5, SkinnyCallType.Outbound, B("1091"), B("Line 1091"), B("1092"), B("Line 1092"), 0);
        _tracker.OnCallState("pyskinny01", Ip("10.102.172.11"), SkinnyCallStateKind.Connected, 5, S);
        _tracker.OnStartMediaTransmission("pyskinny01", 0, 0, 0, Ip("10.102.172.11"), 5001, 4, S);

        RecordingSink.Started call = Assert.Single(_sink.Calls);
        Assert.Equal("10.102.172.11", call.Metadata.Right.Ip);
        Assert.Equal(5001, call.Metadata.Right.Port);
        Assert.True(_book.Media.TryClassify(Ep("10.1.1.1:4000"), Ep("10.102.172.11:5001"), 0, out _, out Channel ch));
        Assert.Equal(Channel.Left, ch);
    }

    [Fact]
    public void LegacyCallJoinedInProgress_MediaBeforeCallInfo_IsMappedWhenTheCallStarts()
    {
        // A legacy CallManager call the capture joins in progress: the channel messages (no call references in this
        // layout) come first, CallInfo after them in the same segment.
        IpAddress16 phone = Ip("10.102.172.11");
        _tracker.OnOpenReceiveChannelAck("pyskinny01", 0, 0, phone, 20480, S);
        _tracker.OnStartMediaTransmission("pyskinny01", 0, 0, 0, Ip("10.102.172.12"), 20482, 4, S);
        Assert.Empty(_sink.Calls);
        _tracker.OnCallInfo("pyskinny01", phone, 5, SkinnyCallType.Outbound, B("1091"), B("Line 1091"), B("1092"), B("Line 1092"), S + 1000);
        _tracker.OnCallState("pyskinny01", phone, SkinnyCallStateKind.Connected, 5, S + 2000);

        RecordingSink.Started call = Assert.Single(_sink.Calls);
        Assert.Equal(["PCMU"], _sink.Calls[0].Metadata.Codecs);
        Assert.Equal(("10.102.172.12", (int?)20482), (call.Metadata.Right.Ip, call.Metadata.Right.Port));
        AssertMedia("10.102.172.11:20480", "10.102.172.12:20482", Channel.Left);
        AssertMedia("10.102.172.12:20482", "10.102.172.11:20480", Channel.Right);
        _tracker.Expire(60 * S);
        Assert.Equal(0, _tracker.MediaWithoutCall);
    }

    [Fact]
    public void MediaBeforeCallInfo_WithCallReferences_GoesToThatCallOnly_AndUnclaimedMediaIsCountedAfterTheWindow()
    {
        _tracker.OnOpenReceiveChannelAck("SEP-A", 70, 16777295, PhoneA, 32144, S);
        _tracker.OnStartMediaTransmission("SEP-A", 70, 16777295, 70, PhoneB, 17718, 4, S);
        _tracker.OnCallInfo("SEP-A", PhoneA, 70, SkinnyCallType.Outbound, B("321"), B("RIX"), B("307"), B("Ervins"), S);
        AssertMedia("192.168.195.58:32144", "192.168.195.50:17718", Channel.Left);

        // Another phone's media whose call never shows up: counted once the window has passed, never mapped.
        _tracker.OnStartMediaTransmission("SEP-C", 90, 5, 90, Ip("10.0.0.9"), 4000, 4, 2 * S);
        _tracker.Expire(3 * S);
        Assert.Equal(0, _tracker.MediaWithoutCall);
        _tracker.Expire(8 * S);
        Assert.Equal(1, _tracker.MediaWithoutCall);
        _tracker.OnCallInfo("SEP-C", Ip("10.0.0.8"), 90, SkinnyCallType.Outbound, B("900"), B("C"), B("901"), B("D"), 9 * S);
        Assert.False(_book.Media.TryClassify(Ep("10.0.0.8:5000"), Ep("10.0.0.9:4000"), 0, out _, out _));
    }

    [Fact]
    public void DeviceGone_EndsItsCalls()
    {
        InternalCall();
        _tracker.OnDeviceGone("SEP-A", 20 * S);
        _tracker.OnDeviceGone("SEP-B", 20 * S);
        _tracker.Expire(30 * S);
        Assert.Single(_sink.Ended);
    }

    /// <summary>The skinny.pcap sequence: the callee's CallInfo comes first, then the caller's; each phone gets its peer and two forks.</summary>
    private void InternalCall()
    {
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.RingIn, 71, 0);
        _tracker.OnCallInfo("SEP-B", PhoneB, 71, SkinnyCallType.Inbound, B("321"), B("RIX Meeting Room"), B("307"), B("Ervins Gailiss"), 0);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.OffHook, 70, S / 10);
        _tracker.OnCallInfo("SEP-A", PhoneA, 70, SkinnyCallType.Outbound, B("321"), B("RIX Meeting Room"), B("307"), B("Ervins Gailiss"), S / 10);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.RingOut, 70, S / 5);
        _tracker.OnOpenReceiveChannel("SEP-A", 70, 16777295, 4, S);
        _tracker.OnCallState("SEP-A", PhoneA, SkinnyCallStateKind.Connected, 70, S);
        _tracker.OnOpenReceiveChannel("SEP-B", 71, 16777296, 4, S);
        _tracker.OnCallState("SEP-B", PhoneB, SkinnyCallStateKind.Connected, 71, S);
        _tracker.OnStartMediaTransmission("SEP-B", 71, 16777296, 75, Bridge, 9399, 4, S);
        _tracker.OnOpenReceiveChannelAck("SEP-A", 70, 16777295, PhoneA, 32144, S);
        _tracker.OnStartMediaTransmission("SEP-B", 71, 16777296, 71, PhoneA, 32144, 4, S);
        _tracker.OnStartMediaTransmission("SEP-A", 70, 16777295, 77, Bridge, 9395, 4, S);
        _tracker.OnOpenReceiveChannelAck("SEP-B", 71, 16777296, PhoneB, 17718, S);
        _tracker.OnStartMediaTransmission("SEP-A", 70, 16777295, 70, PhoneB, 17718, 4, S);
    }

    private void AssertMedia(string from, string to, Channel expected)
    {
        Assert.True(_book.Media.TryClassify(Ep(from), Ep(to), 0, out Call? call, out Channel channel));
        Assert.Equal(_sink.Calls[0].Id, call!.Id);
        Assert.Equal(expected, channel);
    }

    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    private static IpAddress16 Ip(string s) => IpAddress16.TryParse(Encoding.ASCII.GetBytes(s), out IpAddress16 a) ? a : throw new ArgumentException(s);

    private static IpEndpoint16 Ep(string s)
    {
        int colon = s.LastIndexOf(':');
        return new IpEndpoint16(Ip(s[..colon]), ushort.Parse(s[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
