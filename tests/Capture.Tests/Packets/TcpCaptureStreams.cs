using Capture.Interop;
using Capture.Packets;
using Capture.Tests.Support;

namespace Capture.Tests.Packets;

/// <summary>One TCP segment of a shared capture, copied out of its frame.</summary>
internal sealed record TcpTestSegment(int Frame, long Ts, TcpFlowKey Flow, uint Seq, byte Flags, byte[] Payload);

/// <summary>
/// The TCP segments of a shared capture and, per direction, the byte stream they carry, computed independently of
/// <see cref="TcpReassembler"/>: every payload written at its offset from the stream start (ISN + 1 after a SYN,
/// else the first data segment's sequence number), so retransmissions and reordering cannot change it.
/// </summary>
internal static class TcpCaptureStreams
{
    public static List<TcpTestSegment> Load(string file)
    {
        var segments = new List<TcpTestSegment>();
        var decoder = new FrameDecoder();
        using var source = PcapSource.OpenOffline(Captures.PathOf(file));
        int frame = 0;
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> bytes) == PcapReadStatus.Packet)
        {
            frame++;
            if (decoder.Decode(source.LinkType, ts, bytes, out DecodedPacket p, out _) == DecodeResult.Packet && p.Protocol == TransportProtocol.Tcp)
            {
                segments.Add(new TcpTestSegment(frame, ts, new TcpFlowKey(p.Source, p.Destination), p.TcpSequence, p.TcpFlags, p.Payload.ToArray()));
            }
        }

        return segments;
    }

    /// <summary>Each direction's stream bytes, for directions that carry any.</summary>
    public static Dictionary<TcpFlowKey, byte[]> Reference(List<TcpTestSegment> segments)
    {
        var bases = new Dictionary<TcpFlowKey, uint>();
        foreach (TcpTestSegment s in segments)
        {
            if ((s.Flags & TcpFlags.Syn) != 0)
            {
                bases.TryAdd(s.Flow, s.Seq + 1);
            }
            else if (s.Payload.Length > 0)
            {
                bases.TryAdd(s.Flow, s.Seq);
            }
        }

        var streams = new Dictionary<TcpFlowKey, (byte[] Bytes, bool[] Seen, int Length)>();
        foreach (TcpTestSegment s in segments)
        {
            if (s.Payload.Length == 0 || (s.Flags & TcpFlags.Rst) != 0)
            {
                continue;
            }

            uint start = s.Seq + ((s.Flags & TcpFlags.Syn) != 0 ? 1u : 0u);
            int offset = (int)(start - bases[s.Flow]);
            if (!streams.TryGetValue(s.Flow, out var st))
            {
                st = (new byte[1 << 20], new bool[1 << 20], 0);
            }

            for (int i = 0; i < s.Payload.Length; i++)
            {
                if (offset + i >= 0)
                {
                    st.Bytes[offset + i] = s.Payload[i];
                    st.Seen[offset + i] = true;
                }
            }

            st.Length = Math.Max(st.Length, offset + s.Payload.Length);
            streams[s.Flow] = st;
        }

        var result = new Dictionary<TcpFlowKey, byte[]>();
        foreach ((TcpFlowKey flow, var st) in streams)
        {
            Assert.True(Array.IndexOf(st.Seen, false, 0, st.Length) < 0, $"{flow}: the capture itself misses bytes");
            result[flow] = st.Bytes.AsSpan(0, st.Length).ToArray();
        }

        return result;
    }
}

/// <summary>A handler that claims every connection (or those <see cref="ClaimOnly"/> allows) and keeps every byte it is given.</summary>
internal sealed class CollectingHandler : ITcpStreamHandler
{
    public Dictionary<TcpFlowKey, List<byte>> Received { get; } = [];

    public List<(TcpFlowKey Flow, long Offset)> Gaps { get; } = [];

    public List<long> Closed { get; } = [];

    public Func<TcpFlowKey, byte, TcpApplication>? ClaimOnly { get; set; }

    /// <summary>How much of the data to consume (default: all of it).</summary>
    public Func<TcpStream, ReadOnlySpan<byte>, int>? Consume { get; set; }

    public int Calls { get; private set; }

    public TcpApplication Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader)
    {
        reader = null;
        return ClaimOnly?.Invoke(flow, flags) ?? TcpApplication.Claimed;
    }

    public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        Calls++;
        if (!Received.TryGetValue(stream.Flow, out List<byte>? list))
        {
            Received[stream.Flow] = list = [];
        }

        if (afterGap)
        {
            Gaps.Add((stream.Flow, list.Count));
        }

        int n = Consume?.Invoke(stream, data) ?? data.Length;
        for (int i = 0; i < n; i++)
        {
            list.Add(data[i]);
        }

        return n;
    }

    public void OnClosed(TcpConnection connection, long nowNs) => Closed.Add(connection.Id);

    public byte[] Bytes(TcpFlowKey flow) => Received.TryGetValue(flow, out List<byte>? l) ? [.. l] : [];
}
