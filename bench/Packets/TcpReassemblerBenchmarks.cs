using BenchmarkDotNet.Attributes;
using Capture.Interop;
using Capture.Packets;

namespace Bench.Packets;

/// <summary>
/// The TCP segments of cm2_register.pcapng (2037 segments of 40 Skinny connections to CallManager, SYN to FIN/RST,
/// ~40 KB of payload) fed through a <see cref="TcpReassembler"/> whose handler consumes whole 4-byte-length-prefixed
/// messages (as a Skinny framer will), so unfinished messages stay buffered. Per-segment cost = time / segments.
/// <c>OutOfOrder</c>: within each direction, every two consecutive data segments are swapped (the first is held).
/// </summary>
[MemoryDiagnoser]
public class TcpReassemblerBenchmarks
{
    private const int Segments = 2037;

    private Segment[] _inOrder = [];
    private Segment[] _outOfOrder = [];
    private TcpReassembler _reassembler = null!;
    private FramingHandler _handler = null!;

    [GlobalSetup]
    public void Setup()
    {
        var segments = new List<Segment>();
        var decoder = new FrameDecoder();
        using (var source = PcapSource.OpenOffline(FindCapture("cm2_register.pcapng")))
        {
            while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                if (decoder.Decode(source.LinkType, ts, frame, out DecodedPacket p, out _) == DecodeResult.Packet && p.Protocol == TransportProtocol.Tcp)
                {
                    segments.Add(new Segment(new TcpFlowKey(p.Source, p.Destination), p.TcpSequence, p.TcpFlags, p.Payload.ToArray(), ts));
                }
            }
        }

        if (segments.Count != Segments)
        {
            throw new InvalidOperationException($"cm2_register.pcapng: {segments.Count} TCP segments, expected {Segments}");
        }

        _inOrder = [.. segments];
        _outOfOrder = [.. segments];
        foreach (IGrouping<TcpFlowKey, int> flow in Enumerable.Range(0, segments.Count).Where(i => segments[i].Payload.Length > 0).GroupBy(i => segments[i].Flow))
        {
            int[] positions = [.. flow];
            for (int i = 0; i + 1 < positions.Length; i += 2)
            {
                (_outOfOrder[positions[i]], _outOfOrder[positions[i + 1]]) = (_outOfOrder[positions[i + 1]], _outOfOrder[positions[i]]);
            }
        }

        _handler = new FramingHandler();
        _reassembler = new TcpReassembler(_handler);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Segments)]
    public long InOrder() => Feed(_inOrder);

    [Benchmark(OperationsPerInvoke = Segments)]
    public long OutOfOrder() => Feed(_outOfOrder);

    private long Feed(Segment[] segments)
    {
        TcpReassembler r = _reassembler;
        foreach (Segment s in segments)
        {
            r.Process(s.Flow, s.Seq, s.Flags, s.Payload, s.Ts);
        }

        r.Clear(segments[^1].Ts); // every connection ends here, so each invocation starts from an empty table
        return _handler.Messages;
    }

    private static string FindCapture(string fileName)
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "shared", "captures", fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"shared/captures/{fileName} not found above {AppContext.BaseDirectory}", fileName);
    }

    private sealed record Segment(TcpFlowKey Flow, uint Seq, byte Flags, byte[] Payload, long Ts);

    /// <summary>Consumes whole messages framed by a 4-byte little-endian length (SCCP: length, then header version and body).</summary>
    private sealed class FramingHandler : ITcpStreamHandler
    {
        private const int LengthField = 4;

        public long Messages;

        public TcpApplication Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader)
    {
        reader = null;
        return TcpApplication.Claimed;
    }

        public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
        {
            int consumed = 0;
            while (data.Length - consumed >= LengthField)
            {
                int total = LengthField + System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(data[consumed..]);
                if (total <= LengthField || total > 65536)
                {
                    return data.Length; // not a frame we know: drop it
                }

                if (data.Length - consumed < total)
                {
                    break;
                }

                consumed += total;
                Messages++;
            }

            return consumed;
        }

        public void OnClosed(TcpConnection connection, long nowNs)
        {
        }
    }
}
