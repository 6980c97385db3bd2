using System.Text;
using Capture.Packets;
using Capture.Tests.Support;

namespace Capture.Tests.Packets;

public sealed class TcpReassemblerTests
{
    private static readonly IpEndpoint16 Client = new(IpAddress16.FromIPv4(0x0A000001), 40000);
    private static readonly IpEndpoint16 Server = new(IpAddress16.FromIPv4(0x0A000002), 5060);
    private static readonly TcpFlowKey Up = new(Client, Server);
    private static readonly TcpFlowKey Down = new(Server, Client);

    private const uint Isn = 1000;
    private const byte Ack = TcpFlags.Ack;
    private const long Second = 1_000_000_000;

    private static TcpSegmentResult Send(TcpReassembler r, TcpFlowKey flow, uint seq, string text, byte flags = Ack, long ts = 0) =>
        r.Process(flow, seq, flags, Encoding.ASCII.GetBytes(text), ts);

    private static (TcpReassembler R, CollectingHandler H) Open(TcpReassemblerOptions? options = null)
    {
        var h = new CollectingHandler();
        var r = new TcpReassembler(h, options);
        Send(r, Up, Isn, "", TcpFlags.Syn);
        return (r, h);
    }

    private static string Text(CollectingHandler h, TcpFlowKey flow) => Encoding.ASCII.GetString(h.Bytes(flow));

    [Fact]
    public void Process_DeliversInOrderSegments_WithoutBuffering()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        Send(r, Up, Isn + 1, "hello ");
        Send(r, Up, Isn + 7, "world");
        Assert.Equal("hello world", Text(h, Up));
        Assert.Equal(0, r.BufferedBytes);
        Assert.Empty(h.Gaps);
        Assert.Equal(1, r.ActiveConnections);
    }

    [Fact]
    public void Process_Syn_StartsTheStreamAtIsnPlusOne()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        Send(r, Up, Isn, "", TcpFlags.Syn); // a retransmitted SYN changes nothing
        Send(r, Down, 7000, "", TcpFlags.Syn | Ack);
        Send(r, Up, Isn + 1, "abc");
        Send(r, Down, 7001, "xyz");
        Assert.Equal(("abc", "xyz"), (Text(h, Up), Text(h, Down)));
        Assert.Equal(1, r.ConnectionsOpened);
    }

    [Fact]
    public void Process_HoldsOutOfOrderSegments_UntilTheGapFills()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        Send(r, Up, Isn + 7, "world");
        Send(r, Up, Isn + 12, "!");
        Assert.Equal("", Text(h, Up));
        Assert.Equal(2, r.SegmentsOutOfOrder);
        Assert.True(r.BufferedBytes > 0);

        Send(r, Up, Isn + 1, "hello ");
        Assert.Equal("hello world!", Text(h, Up));
        Assert.Equal(0, r.BufferedBytes);
        Assert.Empty(h.Gaps);
    }

    [Fact]
    public void Process_DropsRetransmittedBytes_AndUsesOverlappingBytesOnce()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        Send(r, Up, Isn + 1, "abcdef");
        Send(r, Up, Isn + 1, "abcdef");      // whole retransmission
        Send(r, Up, Isn + 4, "defghi");      // overlaps 3 delivered bytes
        Send(r, Up, Isn + 12, "lmn");        // held
        Send(r, Up, Isn + 11, "klm");        // overlaps 2 held bytes
        Send(r, Up, Isn + 10, "jk");         // fills the gap, overlaps 1 held byte
        Assert.Equal("abcdefghijklmn", Text(h, Up));
        Assert.Equal(1, r.SegmentsDuplicate);
        Assert.Equal(6 + 3 + 2 + 1, r.RetransmittedBytes);
    }

    [Fact]
    public void Process_MergesHeldRanges_InAnyOrder()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        string text = "0123456789abcdefghij";
        foreach (int i in new[] { 9, 3, 15, 4, 10, 19, 5, 16, 1, 2, 6, 7, 8, 11, 12, 13, 14, 17, 18 })
        {
            Send(r, Up, Isn + 1 + (uint)i, text[i].ToString());
        }

        Assert.Equal("", Text(h, Up));
        Send(r, Up, Isn + 1, "0");
        Assert.Equal(text, Text(h, Up));
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void Process_HandlerLeavesAnUnfinishedMessageBuffered_UntilTheRestArrives()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        h.Consume = (_, data) => data.LastIndexOf((byte)';') + 1; // whole ";"-terminated messages only
        Send(r, Up, Isn + 1, "one;tw");
        Assert.Equal("one;", Text(h, Up));
        Send(r, Up, Isn + 7, "o;thr");
        Assert.Equal("one;two;", Text(h, Up));
        Send(r, Up, Isn + 12, "ee;");
        Assert.Equal("one;two;three;", Text(h, Up));
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void Process_SkipsTheGap_WhenTooMuchIsHeldBehindIt_AndTellsTheHandler()
    {
        (TcpReassembler r, CollectingHandler h) = Open(new TcpReassemblerOptions { GapSkipBytes = 8 });
        h.Consume = (_, data) => data.LastIndexOf((byte)';') + 1;
        Send(r, Up, Isn + 1, "one;tw");          // "tw" waits for its end
        Send(r, Up, Isn + 12, "four;");          // bytes 7-11 ("o;thr") never come
        Send(r, Up, Isn + 17, "five;");          // 10 held > 8: give the gap up
        Assert.Equal("one;four;five;", Text(h, Up));
        Assert.Equal([(Up, 4L)], h.Gaps);
        Assert.Equal(1, r.GapsSkipped);
        Assert.Equal(5, r.GapBytes);
        Assert.Equal(2, r.BytesDiscarded); // "tw" could never complete

        Send(r, Up, Isn + 7, "o;thr");           // the lost bytes turn up late: already skipped
        Send(r, Up, Isn + 22, "six;");
        Assert.Equal("one;four;five;six;", Text(h, Up));
    }

    [Fact]
    public void Expire_SkipsAGapOlderThanTheGapTimeout()
    {
        (TcpReassembler r, CollectingHandler h) = Open(new TcpReassemblerOptions { GapTimeoutNs = 2 * Second });
        Send(r, Up, Isn + 1, "a", ts: 0);
        Send(r, Up, Isn + 3, "c", ts: Second);
        r.Expire(2 * Second);
        Assert.Equal("a", Text(h, Up));
        r.Expire(3 * Second);
        Assert.Equal("ac", Text(h, Up));
        Assert.Single(h.Gaps);
        Assert.Equal(1, r.GapsSkipped);
    }

    [Fact]
    public void Process_SkipsTheGapAtOnce_WhenDataIsFurtherAheadThanAStreamMayHold()
    {
        (TcpReassembler r, CollectingHandler h) = Open(new TcpReassemblerOptions { MaxBytesPerStream = 4096, GapSkipBytes = 4096 });
        Send(r, Up, Isn + 1, "a");
        Send(r, Up, Isn + 100_000, "far");
        Assert.Equal("afar", Text(h, Up));
        Assert.Equal(1, r.GapsSkipped);
        Assert.Equal(1, Assert.Single(h.Gaps).Offset);
    }

    [Fact]
    public void Process_MidConnectionStart_FirstSegmentDefinesThePosition_AndIsFlaggedAsAfterGap()
    {
        var h = new CollectingHandler();
        var r = new TcpReassembler(h);
        Send(r, Up, 5_000_000, "middle ");
        Send(r, Up, 4_999_990, "earlier");   // before the start we saw: dropped
        Send(r, Up, 5_000_007, "end");
        Assert.Equal("middle end", Text(h, Up));
        Assert.Equal([(Up, 0L)], h.Gaps);
        Assert.Equal(7, r.RetransmittedBytes);
    }

    [Fact]
    public void Process_SequenceNumbersWrapAround()
    {
        var h = new CollectingHandler();
        var r = new TcpReassembler(h);
        uint isn = uint.MaxValue - 3;
        Send(r, Up, isn, "", TcpFlags.Syn);
        Send(r, Up, uint.MaxValue - 2, "abc");       // ends exactly at the wrap
        Send(r, Up, 3, "ghi");                       // after the wrap, out of order
        Send(r, Up, 0, "def");
        Send(r, Up, uint.MaxValue - 1, "bcdef");     // retransmission across the wrap
        Assert.Equal("abcdefghi", Text(h, Up));
        Assert.Equal(5, r.RetransmittedBytes);
    }

    [Fact]
    public void Process_FinClosesEachDirection_OnceItsBytesArrived_ThenFreesTheConnection()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        Send(r, Down, 7000, "", TcpFlags.Syn | Ack);
        Send(r, Up, Isn + 4, "def", TcpFlags.Fin | Ack); // FIN before the bytes ahead of it
        Assert.Equal(1, r.ActiveConnections);
        Send(r, Up, Isn + 1, "abc");
        Assert.Equal("abcdef", Text(h, Up));
        Send(r, Down, 7001, "reply", TcpFlags.Fin | Ack);
        Assert.Equal("reply", Text(h, Down));
        Assert.Equal(0, r.ActiveConnections);
        Assert.Equal(1, r.ConnectionsClosed);
        Assert.Single(h.Closed);
        Assert.Equal(0, r.BufferedBytes);

        Assert.Equal(TcpSegmentResult.NotClaimed, Send(r, Up, Isn + 9, "")); // the last ACK: nothing to follow
    }

    [Fact]
    public void Process_Rst_DeliversWhatIsHeld_AndFreesBothDirections()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        Send(r, Down, 7000, "", TcpFlags.Syn | Ack);
        Send(r, Down, 7001, "ok");
        Send(r, Up, Isn + 1, "ab");
        Send(r, Up, Isn + 5, "ef");
        Send(r, Down, 7003, "", TcpFlags.Rst);
        Assert.Equal(("abef", "ok"), (Text(h, Up), Text(h, Down)));
        Assert.Equal((0, 1L, 1L), (r.ActiveConnections, r.ConnectionsReset, r.GapsSkipped));
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void Expire_FreesIdleConnections()
    {
        (TcpReassembler r, CollectingHandler h) = Open(new TcpReassemblerOptions { IdleTimeoutNs = 60 * Second });
        Send(r, Up, Isn + 1, "a", ts: 10 * Second);
        r.Expire(69 * Second);
        Assert.Equal(1, r.ActiveConnections);
        r.Expire(70 * Second);
        Assert.Equal((0, 1L), (r.ActiveConnections, r.ConnectionsExpired));
        Assert.Single(h.Closed);
    }

    [Fact]
    public void Expire_FreesPendingConnectionsSooner_ThanClaimedOnes()
    {
        var h = new CollectingHandler { ClaimOnly = (flow, _) => flow.Source.Port == 1 ? TcpApplication.Pending : TcpApplication.Claimed };
        var r = new TcpReassembler(h, new TcpReassemblerOptions { PendingTimeoutNs = 10 * Second, IdleTimeoutNs = 60 * Second });
        r.Process(new TcpFlowKey(new IpEndpoint16(Client.Address, 1), Server), 1, TcpFlags.Syn, default, 0);
        r.Process(new TcpFlowKey(new IpEndpoint16(Client.Address, 2), Server), 1, TcpFlags.Syn, default, 0);
        r.Expire(10 * Second);
        Assert.Equal((1, 1L), (r.ActiveConnections, r.ConnectionsExpired));
        r.Expire(60 * Second);
        Assert.Equal(0, r.ActiveConnections);
    }

    [Fact]
    public void Process_CountsFlowsOverLimit_WhenTheConnectionTableIsFull()
    {
        var h = new CollectingHandler();
        var r = new TcpReassembler(h, new TcpReassemblerOptions { MaxConnections = 2 });
        for (ushort port = 1; port <= 3; port++)
        {
            var flow = new TcpFlowKey(new IpEndpoint16(Client.Address, port), Server);
            r.Process(flow, 1, TcpFlags.Syn, default, 0);
        }

        Assert.Equal((2, 1L), (r.ActiveConnections, r.FlowsOverLimit));
    }

    [Fact]
    public void Process_DropsAnUnfinishedMessage_ThatOutgrowsTheStreamLimit()
    {
        (TcpReassembler r, CollectingHandler h) = Open(new TcpReassemblerOptions { MaxBytesPerStream = 1024, GapSkipBytes = 512 });
        h.Consume = (_, data) => data.LastIndexOf((byte)';') + 1;
        uint seq = Isn + 1;
        string chunk = new('x', 300);
        for (int i = 0; i < 4; i++)
        {
            Send(r, Up, seq, chunk);
            seq += 300;
        }

        Send(r, Up, seq, "end;next;");
        Assert.True(r.BytesOverLimit >= 900);
        Assert.EndsWith("end;next;", Text(h, Up), StringComparison.Ordinal);
        Assert.NotEmpty(h.Gaps);
        Assert.True(r.BufferedBytes <= 1024);
    }

    [Fact]
    public void Process_RespectsTheTotalBufferLimit()
    {
        var h = new CollectingHandler { Consume = (_, _) => 0 };
        var r = new TcpReassembler(h, new TcpReassemblerOptions { MaxBytesPerStream = 4096, GapSkipBytes = 4096, MaxTotalBytes = 8192 });
        for (ushort port = 1; port <= 4; port++)
        {
            var flow = new TcpFlowKey(new IpEndpoint16(Client.Address, port), Server);
            r.Process(flow, 1, TcpFlags.Syn, default, 0);
            r.Process(flow, 2, Ack, new byte[3000], 0);
        }

        Assert.Equal(8192, r.BufferedBytes);
        Assert.Equal(6000, r.BytesOverLimit);
    }

    [Fact]
    public void Process_TooManySeparateHoles_DropsTheSegmentAndCountsIt()
    {
        (TcpReassembler r, CollectingHandler h) = Open(new TcpReassemblerOptions { MaxRangesPerStream = 2 });
        Send(r, Up, Isn + 3, "c");
        Send(r, Up, Isn + 5, "e");
        Send(r, Up, Isn + 7, "g");
        Assert.Equal(1, r.BytesOverLimit);
        Send(r, Up, Isn + 1, "ab");
        Send(r, Up, Isn + 4, "d");
        Assert.Equal("abcde", Text(h, Up));
    }

    [Fact]
    public void Process_LeavesUnclaimedConnectionsUnbuffered()
    {
        var h = new CollectingHandler { ClaimOnly = (_, _) => TcpApplication.None };
        var r = new TcpReassembler(h);
        Assert.Equal(TcpSegmentResult.NotClaimed, Send(r, Up, 1, "GET / HTTP/1.1\r\n"));
        Assert.Equal(TcpSegmentResult.NotClaimed, Send(r, Up, 1, "", TcpFlags.Syn));
        Assert.Equal((0, 0L, 2L), (r.ActiveConnections, r.BufferedBytes, r.SegmentsNotClaimed));
        Assert.Equal(0, h.Calls);
    }

    [Fact]
    public void Process_HandlerReleasingAConnection_FreesIt()
    {
        var h = new CollectingHandler();
        var r = new TcpReassembler(h);
        h.Consume = (stream, _) =>
        {
            stream.Connection.Application = TcpApplication.None;
            return 0;
        };
        Send(r, Up, Isn, "", TcpFlags.Syn);
        Send(r, Up, Isn + 1, "\x16\x03\x01 not SIP");
        Assert.Equal((0, 1L), (r.ActiveConnections, r.ConnectionsAbandoned));
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void Connection_StateIsSharedByBothDirections_AndClearedWhenFreed()
    {
        object device = new();
        var seen = new List<object?>();
        var h = new CollectingHandler();
        var r = new TcpReassembler(h);
        h.Consume = (stream, data) =>
        {
            stream.Connection.State ??= device;
            seen.Add(stream.Connection.State);
            return data.Length;
        };
        Send(r, Up, Isn, "", TcpFlags.Syn);
        Send(r, Up, Isn + 1, "register");
        Assert.True(r.TryGetStream(Down, out TcpStream? down));
        TcpConnection connection = down!.Connection;
        Send(r, Down, 9, "ack");
        Assert.Equal([device, device], seen);
        Assert.Same(connection.Forward, connection.Other(down));
        Assert.True(connection.SawHandshake);

        Send(r, Down, 12, "", TcpFlags.Rst);
        Assert.Null(connection.State);
    }

    [Fact]
    public void Process_SynWithANewSequence_ReplacesTheOldConnection()
    {
        (TcpReassembler r, CollectingHandler h) = Open();
        Send(r, Up, Isn + 1, "old;");
        Send(r, Up, 50_000, "", TcpFlags.Syn);
        Send(r, Up, 50_001, "new;");
        Assert.Equal("old;new;", Text(h, Up));
        Assert.Equal((1, 1L, 2L), (r.ActiveConnections, r.ConnectionsReplaced, r.ConnectionsOpened));
        Assert.Empty(h.Gaps); // both incarnations start at their SYN, not mid-message
    }

    [Fact]
    public void Process_RejectsBadInputWithoutThrowing()
    {
        var h = new CollectingHandler();
        var r = new TcpReassembler(h, new TcpReassemblerOptions { MaxBytesPerStream = 2048, GapSkipBytes = 1024, MaxRangesPerStream = 4 });
        var random = new Random(4);
        var flows = new[] { Up, Down, new TcpFlowKey(Client, Client) };
        byte[] payload = new byte[3000];
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(payload);
            TcpFlowKey flow = flows[random.Next(flows.Length)];
            uint seq = random.Next(3) == 0 ? (uint)random.Next() : (uint)random.Next(1000, 1100);
            r.Process(flow, seq, (byte)random.Next(32), payload.AsSpan(0, random.Next(payload.Length)), i * 1_000_000L);
            if (i % 1000 == 0)
            {
                r.Expire(i * 1_000_000L);
            }
        }

        Assert.True(r.BufferedBytes <= 3 * 2048 * 2);
        r.Clear(long.MaxValue / 2);
        Assert.Equal((0, 0L), (r.ActiveConnections, r.BufferedBytes));
    }

    [Fact]
    public void Process_AllocatesNothingPerSegment_InSteadyState()
    {
        var h = new CountingHandler();
        var r = new TcpReassembler(h);
        byte[] message = Encoding.ASCII.GetBytes("REGISTER sip:x SIP/2.0;ACK sip:y SIP/2.0;");
        var flows = new TcpFlowKey[64];
        for (int i = 0; i < flows.Length; i++)
        {
            flows[i] = new TcpFlowKey(new IpEndpoint16(Client.Address, (ushort)(20000 + i)), Server);
        }

        void Connection(int k)
        {
            TcpFlowKey up = flows[k % flows.Length];
            TcpFlowKey down = up.Reversed;
            long ts = k * 1_000_000L;
            r.Process(up, Isn, TcpFlags.Syn, default, ts);
            r.Process(down, 9, TcpFlags.Syn | Ack, default, ts);
            r.Process(up, Isn + 1, Ack, message.AsSpan(0, 10), ts);      // an unfinished message: buffered
            r.Process(up, Isn + 21, Ack, message.AsSpan(20, 10), ts);    // out of order: held
            r.Process(up, Isn + 11, Ack, message.AsSpan(10, 10), ts);    // fills the gap
            r.Process(up, Isn + 11, Ack, message.AsSpan(10, 10), ts);    // retransmission
            r.Process(up, Isn + 31, Ack, message.AsSpan(30), ts);
            r.Process(down, 10, Ack, message, ts);                       // whole messages: straight from the packet
            r.Process(up, Isn + 1 + (uint)message.Length, TcpFlags.Fin | Ack, default, ts);
            r.Process(down, 10 + (uint)message.Length, TcpFlags.Fin | Ack, default, ts);
            if (k % 100 == 0)
            {
                r.Expire(ts);
            }
        }

        long allocated = Allocations.Measure(
            () =>
            {
                for (int k = 0; k < 2000; k++)
                {
                    Connection(k);
                }
            },
            () =>
            {
                for (int k = 2000; k < 12_000; k++)
                {
                    Connection(k);
                }
            });
        Assert.Equal(0, allocated);
        Assert.Equal(12_000L * 2 * 2, h.Messages);
        Assert.Equal((0, 0L), (r.ActiveConnections, r.BufferedBytes));
        Assert.Equal(12_000, r.ConnectionsClosed);
    }

    /// <summary>Consumes whole ";"-terminated messages and counts them, allocating nothing.</summary>
    private sealed class CountingHandler : ITcpStreamHandler
    {
        public long Messages;

        public TcpApplication Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader)
    {
        reader = null;
        return TcpApplication.Claimed;
    }

        public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
        {
            int consumed = 0;
            int end;
            while ((end = data[consumed..].IndexOf((byte)';')) >= 0)
            {
                Messages++;
                consumed += end + 1;
            }

            return consumed;
        }

        public void OnClosed(TcpConnection connection, long nowNs)
        {
        }
    }
}
