using Capture.Packets;
using Xunit.Abstractions;

namespace Capture.Tests.Packets;

/// <summary>
/// The TCP streams of real captures (SIP over TCP, and Skinny taken just as byte streams), fed in capture order and
/// re-split at every position, one byte at a time, reordered and duplicated: every direction must come out byte for
/// byte as the capture carries it (<see cref="TcpCaptureStreams.Reference"/>).
/// </summary>
public sealed class TcpReassemblerCaptureTests(ITestOutputHelper output)
{
    public static TheoryData<string> Files => new()
    {
        "sip_ipv4_tcp.pcap",
        "sip_ipv4_tcp_retrans.pcap",
        "skinny.pcap",
        "cm_cap.pcapng",
        "cm2_register.pcapng",
        "sccp_hw_conf_register.pcapng",
    };

    /// <summary>Large enough that only the test's own pattern decides what is held (a stream here is at most ~25 KB).</summary>
    private static TcpReassemblerOptions Roomy => new() { MaxBytesPerStream = 1 << 20, GapSkipBytes = 1 << 20, MaxRangesPerStream = 64 };

    [Theory]
    [MemberData(nameof(Files))]
    public void Process_CaptureOrder_ReassemblesEveryDirectionAsTheCaptureCarriesIt(string file)
    {
        // tshark -z conv,tcp: sip_ipv4_tcp 1 connection; retrans 13 (SIP on 172.168.0.252:52795, HTTPS, HTTP, with a
        // retransmission in the SIP one); skinny 2; cm_cap 1; cm2_register 40; sccp_hw_conf_register 1 (a retransmission).
        List<TcpTestSegment> segments = TcpCaptureStreams.Load(file);
        Dictionary<TcpFlowKey, byte[]> reference = TcpCaptureStreams.Reference(segments);
        var h = new CollectingHandler();
        var r = new TcpReassembler(h);
        foreach (TcpTestSegment s in segments)
        {
            r.Process(s.Flow, s.Seq, s.Flags, s.Payload, s.Ts);
        }

        r.Clear(segments[^1].Ts);
        output.WriteLine($"{file}: {reference.Count} directions, {reference.Values.Sum(b => b.Length)} bytes, retransmitted {r.RetransmittedBytes}, duplicates {r.SegmentsDuplicate}");
        Assert.Equal(reference.Keys.Order(FlowOrder.Instance), h.Received.Keys.Order(FlowOrder.Instance));
        foreach ((TcpFlowKey flow, byte[] bytes) in reference)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(h.Bytes(flow)), $"{flow} differs");
        }

        Assert.Equal((0L, 0L, 0L), (r.GapsSkipped, r.BytesOverLimit, r.BytesDiscarded));
        Assert.Equal((0, 0L), (r.ActiveConnections, r.BufferedBytes));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Process_EveryDirection_SplitAtEveryPosition_InOrderAndReversed_GivesTheSameBytes(string file)
    {
        var sink = new SinkHandler();
        var r = new TcpReassembler(sink, Roomy);
        int runs = 0;
        foreach ((TcpFlowKey flow, byte[] bytes) in TcpCaptureStreams.Reference(TcpCaptureStreams.Load(file)))
        {
            for (int p = 1; p < bytes.Length; p++)
            {
                Run(r, sink, flow, bytes, [(0, p), (p, bytes.Length)]);
                Run(r, sink, flow, bytes, [(p, bytes.Length), (0, p)]);
                runs += 2;
            }
        }

        output.WriteLine($"{file}: {runs} runs");
        Assert.Equal(0, r.GapsSkipped);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Process_EveryDirection_OneByteAtATime_InOrderReorderedAndDuplicated_GivesTheSameBytes(string file)
    {
        var sink = new SinkHandler();
        var r = new TcpReassembler(sink, Roomy);
        foreach ((TcpFlowKey flow, byte[] bytes) in TcpCaptureStreams.Reference(TcpCaptureStreams.Load(file)))
        {
            int n = bytes.Length;
            Run(r, sink, flow, bytes, [.. Enumerable.Range(0, n).Select(i => (i, i + 1))]);

            // Blocks of four bytes backwards (three held each time), and every fifth byte again two blocks later.
            var reordered = new List<(int, int)>();
            for (int block = 0; block < n; block += 4)
            {
                for (int i = Math.Min(block + 3, n - 1); i >= block; i--)
                {
                    reordered.Add((i, i + 1));
                }

                for (int i = block - 8; i >= 0 && i < block - 4; i++)
                {
                    if (i % 5 == 0)
                    {
                        reordered.Add((i, i + 1));
                    }
                }
            }

            Run(r, sink, flow, bytes, reordered);
        }

        Assert.Equal(0, r.GapsSkipped);
        Assert.True(r.RetransmittedBytes > 0);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Process_EveryDirection_RandomSegmentsShuffledWithOverlappingDuplicates_GivesTheSameBytes(string file)
    {
        var sink = new SinkHandler();
        var r = new TcpReassembler(sink, Roomy);
        foreach ((TcpFlowKey flow, byte[] bytes) in TcpCaptureStreams.Reference(TcpCaptureStreams.Load(file)))
        {
            for (int seed = 1; seed <= 20; seed++)
            {
                var random = new Random(seed);
                var pieces = new List<(int, int)>();
                for (int at = 0; at < bytes.Length;)
                {
                    int length = Math.Min(bytes.Length - at, 1 + random.Next(seed % 2 == 0 ? 40 : 1460));
                    pieces.Add((at, at + length));
                    if (random.Next(6) == 0)
                    {
                        // A retransmission that also overlaps its neighbours.
                        pieces.Add((Math.Max(0, at - random.Next(20)), Math.Min(bytes.Length, at + length + random.Next(20))));
                    }

                    at += length;
                }

                // Shuffle within windows of six: at most a few ranges are held at once, as on a real path.
                for (int w = 0; w < pieces.Count; w += 6)
                {
                    int end = Math.Min(pieces.Count, w + 6);
                    for (int i = end - 1; i > w; i--)
                    {
                        int j = w + random.Next(i - w + 1);
                        (pieces[i], pieces[j]) = (pieces[j], pieces[i]);
                    }
                }

                Run(r, sink, flow, bytes, pieces);
            }
        }

        Assert.Equal(0, r.GapsSkipped);
    }

    /// <summary>SYN, the pieces in the order given, FIN: the stream must come out whole and the connection be freed.</summary>
    private static void Run(TcpReassembler r, SinkHandler sink, TcpFlowKey flow, byte[] bytes, List<(int Start, int End)> pieces)
    {
        const uint Isn = 0xFFFF_FF00; // wraps inside most streams
        sink.Count = 0;
        r.Process(flow, Isn, TcpFlags.Syn, default, 0);
        foreach ((int start, int end) in pieces)
        {
            r.Process(flow, Isn + 1 + (uint)start, TcpFlags.Ack, bytes.AsSpan(start, end - start), 0);
        }

        r.Process(flow, Isn + 1 + (uint)bytes.Length, TcpFlags.Fin | TcpFlags.Ack, default, 0);
        if (sink.Count != bytes.Length || !sink.Output.AsSpan(0, sink.Count).SequenceEqual(bytes))
        {
            Assert.Fail($"{flow}: {sink.Count} of {bytes.Length} bytes, first difference at {sink.Output.AsSpan(0, Math.Min(sink.Count, bytes.Length)).CommonPrefixLength(bytes)}; pieces {string.Join(' ', pieces.Take(12))}");
        }

        Assert.Equal(0, r.ActiveConnections);
    }

    /// <summary>Appends every byte to one array (one stream per run), so re-splitting at every position stays fast.</summary>
    private sealed class SinkHandler : ITcpStreamHandler
    {
        public byte[] Output = new byte[1 << 20];
        public int Count;

        public TcpApplication Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader)
    {
        reader = null;
        return TcpApplication.Claimed;
    }

        public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
        {
            Assert.False(afterGap);
            data.CopyTo(Output.AsSpan(Count));
            Count += data.Length;
            return data.Length;
        }

        public void OnClosed(TcpConnection connection, long nowNs)
        {
        }
    }

    private sealed class FlowOrder : IComparer<TcpFlowKey>
    {
        public static readonly FlowOrder Instance = new();

        public int Compare(TcpFlowKey x, TcpFlowKey y) => string.CompareOrdinal(x.ToString(), y.ToString());
    }
}
