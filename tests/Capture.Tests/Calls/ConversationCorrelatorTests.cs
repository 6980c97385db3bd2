using System.Buffers.Binary;
using System.Text;
using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;
using Xunit;

namespace Capture.Tests.Calls;

/// <summary>
/// Dialogs correlated into one conversation through the call book: a server's relayed INVITE, its media compared with the
/// first dialog's, and REFERs joining the transfer's interaction. What the sink (the recordings) hears of it.
/// </summary>
public sealed class ConversationCorrelatorTests
{
    private const long Second = 1_000_000_000;
    private static readonly IpAddress16 s_caller = Ip("10.0.0.10"), s_sbc = Ip("10.0.0.30"), s_callee = Ip("10.0.0.20");

    private readonly LoggingSink _sink = new();
    private readonly CallBook _book;

    public ConversationCorrelatorTests() => _book = new CallBook(_sink);

    [Fact]
    public void ARelayedDialog_WhoseMediaIsTheFirstDialogs_NeverRecords_AndIsListedInTheFirstsRecording()
    {
        Call first = Start("a", s_caller, s_sbc, 0);
        Call relayed = Start("b", s_sbc, s_callee, Second / 100);
        Assert.False(relayed.Recorded);
        Assert.Equal(["started a"], _sink.Started);
        Assert.Equal([DialogEvidence.First, DialogEvidence.RelayedInvite], first.Metadata.Dialogs.Select(d => d.Evidence));

        // The caller's packets, seen phone to SBC (first dialog) and SBC to callee (relayed): same SSRC, sequence, timestamp.
        for (ushort seq = 1; seq <= ConversationCorrelator.MatchesToConfirm; seq++)
        {
            _book.ObserveRelayedMedia(first, Channel.Left, Rtp(0xAAAA, seq, seq * 160u, (byte)seq), Second);
            _book.ObserveRelayedMedia(relayed, Channel.Left, Rtp(0xAAAA, seq, seq * 160u, (byte)seq), Second);
            Assert.Equal(seq < ConversationCorrelator.MatchesToConfirm, CallBook.HasRelayPending(relayed));
        }

        Assert.False(CallBook.HasRelayPending(first)); // settled: from now on packets cost one check
        Assert.Equal(["a", "b"], first.Metadata.Dialogs.Select(d => d.CallId));
        Assert.Equal(DialogEvidence.RelayedMedia, first.Metadata.Dialogs[1].Evidence);
        Assert.Equal(("10.0.0.30", "10.0.0.20"), (first.Metadata.Dialogs[1].From, first.Metadata.Dialogs[1].To));
        Assert.False(relayed.Recorded);
        Assert.Equal(1, _book.Conversations.RelayedDialogsConfirmed);

        _book.End(relayed, CallEndReasons.Bye, 5 * Second, "caller");
        _book.End(first, CallEndReasons.Bye, 5 * Second, "caller");
        Assert.Equal(["ended a"], _sink.Ended);
    }

    [Fact]
    public void ARelayedDialog_MatchedByPayloadAlone_IsTheSameConversation_ButDigitalSilenceProvesNothing()
    {
        Call first = Start("a", s_caller, s_sbc, 0);
        Call relayed = Start("b", s_sbc, s_callee, 0);

        // An SBC that renumbers: other SSRC, sequence and timestamp; a payload of one repeated byte is every call's silence.
        for (ushort seq = 1; seq <= 10; seq++)
        {
            _book.ObserveRelayedMedia(first, Channel.Right, Rtp(0x1111, seq, seq * 160u, 0xD5, uniform: true), Second);
            _book.ObserveRelayedMedia(relayed, Channel.Right, Rtp(0x2222, (ushort)(seq + 900), seq * 160u + 7, 0xD5, uniform: true), Second);
        }

        Assert.True(CallBook.HasRelayPending(relayed));
        for (ushort seq = 11; seq <= 13; seq++)
        {
            _book.ObserveRelayedMedia(relayed, Channel.Right, Rtp(0x2222, (ushort)(seq + 900), seq * 160u + 7, (byte)seq), Second);
            _book.ObserveRelayedMedia(first, Channel.Right, Rtp(0x1111, seq, seq * 160u, (byte)seq), Second);
        }

        Assert.Equal(DialogEvidence.RelayedMedia, first.Metadata.Dialogs[1].Evidence);
        Assert.Equal(["started a"], _sink.Started);
    }

    [Fact]
    public void ARelayedDialog_WhoseMediaNeverMatches_RecordsAsAMarkedCopy_SharingTheInteraction()
    {
        Call first = Start("a", s_caller, s_sbc, 0);
        Call relayed = Start("b", s_sbc, s_callee, 0);
        var map = new PayloadMap();
        _book.SetPayloadMap(relayed, Channel.Left, map);
        _book.Answer(relayed, Second / 2);
        for (int i = 1; i <= ConversationCorrelator.PacketsToRefute; i++)
        {
            _book.ObserveRelayedMedia(first, Channel.Left, Rtp(0xAAAA, (ushort)i, (uint)i * 160, (byte)i), Second);
            Assert.DoesNotContain("started b", _sink.Started);
            _book.ObserveRelayedMedia(relayed, Channel.Left, Rtp(0xBBBB, (ushort)i, (uint)i * 160, (byte)(i + 100)), Second);
        }

        Assert.True(relayed.Recorded);
        Assert.Equal(["started a", "started b"], _sink.Started);
        Assert.Equal(first.Id, relayed.Metadata.CopyOf);
        Assert.Equal(first.Id, first.Metadata.InteractionId);
        Assert.Equal(first.Id, relayed.Metadata.InteractionId);
        Assert.Empty(first.Metadata.Dialogs); // the copy is its own recording: the first covers its own dialog only
        Assert.Same(map, _sink.Maps["b"]); // what the copy's packets mean, told when it starts recording
        Assert.Contains("event b answered", _sink.Log);
    }

    [Fact]
    public void WhenTheFirstDialogEndsFirst_ARelayedDialogStillPending_NeverRecords()
    {
        Call first = Start("a", s_caller, s_sbc, 0);
        Call relayed = Start("b", s_sbc, s_callee, 0);
        _book.End(first, CallEndReasons.Bye, Second, "caller");
        Assert.False(CallBook.HasRelayPending(relayed));
        for (int i = 1; i <= 2 * ConversationCorrelator.PacketsToRefute; i++)
        {
            if (CallBook.HasRelayPending(relayed))
            {
                _book.ObserveRelayedMedia(relayed, Channel.Left, Rtp(0xBBBB, (ushort)i, (uint)i * 160, (byte)i), Second);
            }
        }

        _book.End(relayed, CallEndReasons.Bye, 2 * Second, "caller");
        Assert.Equal(["started a"], _sink.Started);

        // The pooled handle comes back clean.
        Call next = _book.Start("sip", "c", 3 * Second, new PartyInfo { Extension = "1" }, null, new PartyInfo { Extension = "2" }, null);
        Assert.False(CallBook.HasRelayPending(next));
        Assert.Empty(next.Metadata.Dialogs);
    }

    [Fact]
    public void AnInvite_SentBackToItsSender_OrTooLate_OrForOtherNumbers_OrAfterTheFirstEnded_IsACallOfItsOwn()
    {
        Start("a", s_caller, s_sbc, 0);
        Assert.True(Start("spiral", s_sbc, s_caller, Second).Recorded);
        Assert.True(Start("other", s_sbc, s_callee, Second, callee: "2999").Recorded);
        Assert.True(Start("late", s_sbc, s_callee, 11 * Second).Recorded);

        Call ended = Start("d", s_caller, s_sbc, 20 * Second);
        _book.End(ended, CallEndReasons.Bye, 21 * Second, "caller");
        Assert.True(Start("after", s_sbc, s_callee, 22 * Second).Recorded);
        Assert.Equal(0, _book.Conversations.RelayedDialogs);
    }

    [Fact]
    public void AChainOfServers_IsOneConversation_RecordedOnce()
    {
        Call first = Start("a", s_caller, s_sbc, 0, calleeIp: "10.0.0.30");
        Call pbx = Start("b", s_sbc, Ip("10.0.0.40"), Second / 100, calleeIp: "10.0.0.40");
        Call last = Start("c", Ip("10.0.0.40"), s_callee, Second / 50, calleeIp: "10.0.0.20");
        Assert.False(pbx.Recorded);
        Assert.False(last.Recorded);
        Assert.Equal(["a", "b", "c"], first.Metadata.Dialogs.Select(d => d.CallId));
        Assert.Equal(["started a"], _sink.Started);

        // The callee's packets seen on every leg; the last server's dialog is confirmed first, the middle one after.
        for (ushort seq = 1; seq <= ConversationCorrelator.MatchesToConfirm; seq++)
        {
            _book.ObserveRelayedMedia(last, Channel.Right, Rtp(0xCCCC, seq, seq * 160u, (byte)seq), Second);
            _book.ObserveRelayedMedia(first, Channel.Right, Rtp(0xCCCC, seq, seq * 160u, (byte)seq), Second);
        }

        for (ushort seq = 4; seq < 4 + ConversationCorrelator.MatchesToConfirm; seq++)
        {
            _book.ObserveRelayedMedia(pbx, Channel.Right, Rtp(0xCCCC, seq, seq * 160u, (byte)seq), Second);
            _book.ObserveRelayedMedia(first, Channel.Right, Rtp(0xCCCC, seq, seq * 160u, (byte)seq), Second);
        }

        Assert.Equal([DialogEvidence.First, DialogEvidence.RelayedMedia, DialogEvidence.RelayedMedia], first.Metadata.Dialogs.Select(d => d.Evidence));
        Assert.Equal(("2002", "10.0.0.20"), (first.Metadata.Right.Extension, first.Metadata.Right.Ip)); // the callee, not a server
    }

    [Fact]
    public void ComparingTheMediaOfAPendingRelay_AllocatesNothing()
    {
        Call first = Start("a", s_caller, s_sbc, 0);
        Call relayed = Start("b", s_sbc, s_callee, 0);
        byte[] packet = Rtp(0xAAAA, 1, 160, 1);
        byte[] other = Rtp(0xBBBB, 1, 160, 2);
        for (int i = 0; i < 100; i++)
        {
            _book.ObserveRelayedMedia(first, Channel.Left, packet, Second);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)i);
            _book.ObserveRelayedMedia(first, Channel.Left, packet, Second);
            if (i % 1000 == 0)
            {
                _book.ObserveRelayedMedia(relayed, Channel.Right, other, Second); // 10 packets: still pending
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(CallBook.HasRelayPending(relayed));
    }

    [Fact]
    public void AReferral_JoinsTheRefereesNextCallToTheTarget_ToTheInteraction_Once()
    {
        Call transferred = Start("a", s_caller, s_sbc, 0);
        string id = transferred.Id;
        _book.Refer(transferred, referee: "2001", target: "2003", 2 * Second, "2002 referred 2001 to 2003 (callee)");
        Assert.Equal(id, transferred.Metadata.InteractionId);
        Assert.Contains("event a transfer", _sink.Log);
        _book.End(transferred, CallEndReasons.Bye, 3 * Second, "callee");

        Call toTarget = Start("b", s_caller, s_sbc, 4 * Second, callee: "2003");
        Assert.True(toTarget.Recorded);
        Assert.Equal(id, toTarget.Metadata.InteractionId);
        Assert.Equal(id, toTarget.Metadata.TransferredFrom);

        Call again = Start("c", s_caller, s_sbc, 5 * Second, callee: "2003");
        Assert.Null(again.Metadata.InteractionId);
        Assert.Null(again.Metadata.TransferredFrom);
    }

    [Fact]
    public void AReferSeenOnBothDialogsOfAConversation_IsOneTransferOfTheFirstDialogsRecording()
    {
        Call first = Start("a", s_caller, s_sbc, 0);
        Call relayed = Start("b", s_sbc, s_callee, 0);
        for (ushort seq = 1; seq <= ConversationCorrelator.MatchesToConfirm; seq++)
        {
            _book.ObserveRelayedMedia(relayed, Channel.Right, Rtp(0xCCCC, seq, seq * 160u, (byte)seq), Second);
            _book.ObserveRelayedMedia(first, Channel.Right, Rtp(0xCCCC, seq, seq * 160u, (byte)seq), Second);
        }

        // The callee's REFER reaches the SBC (relayed dialog), then the caller (first dialog) with the SBC's Call-ID.
        _book.Refer(relayed, "2001", "2003", 2 * Second, "2002 referred 2001 to 2003 (callee)");
        _book.Refer(first, "2001", "2003", 2 * Second + 1_000_000, "2002 referred 2001 to 2003 (callee)");
        Assert.Equal(["event a transfer"], _sink.Log.Where(l => l.EndsWith(" transfer", StringComparison.Ordinal)));
        Assert.Equal(first.Id, first.Metadata.InteractionId);
        Assert.Null(relayed.Metadata.InteractionId);

        string id = first.Id;
        Call toTarget = Start("c", s_caller, s_sbc, 4 * Second, callee: "2003");
        Assert.Equal((id, id), (toTarget.Metadata.InteractionId, toTarget.Metadata.TransferredFrom));
    }

    private Call Start(string callId, IpAddress16 from, IpAddress16 to, long atNs, string caller = "2001", string callee = "2002", string? calleeIp = null) =>
        _book.Start("sip", callId, atNs, new PartyInfo { Extension = caller }, null, new PartyInfo { Extension = callee, Ip = calleeIp }, null,
            invite: new DialogInvite(caller, callee, from, to, Channel.Left));

    /// <summary>An RTP packet (PCMA) whose 160 payload bytes are <paramref name="fill"/> and its index (or all alike).</summary>
    private static byte[] Rtp(uint ssrc, ushort seq, uint timestamp, byte fill, bool uniform = false)
    {
        byte[] packet = new byte[12 + 160];
        packet[0] = 0x80;
        packet[1] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), ssrc);
        for (int i = 12; i < packet.Length; i++)
        {
            packet[i] = uniform ? fill : (byte)(fill + i);
        }

        return packet;
    }

    private static IpAddress16 Ip(string s)
    {
        Assert.True(IpAddress16.TryParse(Encoding.ASCII.GetBytes(s), out IpAddress16 address));
        return address;
    }

    private sealed class LoggingSink : ICallSink
    {
        public List<string> Log { get; } = [];
        public Dictionary<string, PayloadMap> Maps { get; } = [];

        public IEnumerable<string> Started => Log.Where(l => l.StartsWith("started ", StringComparison.Ordinal));

        public IEnumerable<string> Ended => Log.Where(l => l.StartsWith("ended ", StringComparison.Ordinal)).Select(l => l[..^4]);

        public void CallStarted(Call call, long atNs) => Log.Add("started " + call.Metadata.CallId);

        public void MetadataChanged(Call call)
        {
        }

        public void PayloadMapChanged(Call call, Channel speaker, PayloadMap map) => Maps[call.Metadata.CallId] = map;

        public void CallEvent(Call call, string type, long atNs, string? detail) => Log.Add($"event {call.Metadata.CallId} {type}");

        public void CallEnded(Call call, string reason, long atNs) => Log.Add($"ended {call.Metadata.CallId} {reason}");
    }
}
