using System.Buffers;
using System.Buffers.Binary;
using Capture.Packets;
using Capture.Rtp;
using Capture.Tests.Packets;
using CsCheck;

namespace Capture.Tests.Fuzz;

/// <summary>
/// Properties over generated inputs (CsCheck, which shrinks a failing case to a small one and prints it with the seed to
/// replay it): where a component promises the same result for every arrangement of valid input, beside the fuzz targets
/// that throw arbitrary bytes at it.
/// </summary>
public sealed class PropertyTests
{
    private static readonly IpEndpoint16 Client = new(IpAddress16.FromIPv4(0x0A000001), 40000);
    private static readonly IpEndpoint16 Server = new(IpAddress16.FromIPv4(0x0A000002), 5060);

    /// <summary>
    /// Any byte stream, from any initial sequence number (wrap-around included), cut into up to 12 segments sent in any
    /// order with some sent twice, reaches the reader whole and in order, with no gap reported.
    /// </summary>
    [Fact]
    public void TcpReassembler_AnyCutOrderAndDuplication_DeliversTheStreamOnce()
    {
        Gen.Select(Gen.Byte.Array[1, 4000], Gen.Int[1, 12], Gen.UInt, Gen.Int, Gen.Int[0, 4]).Sample((stream, pieces, isn, shuffleSeed, duplicates) =>
        {
            var random = new Random(shuffleSeed);
            var cuts = new SortedSet<int> { 0, stream.Length };
            while (cuts.Count < Math.Min(pieces + 1, stream.Length + 1))
            {
                cuts.Add(random.Next(1, stream.Length));
            }

            int[] bounds = [.. cuts];
            var segments = new List<(int Start, int End)>();
            for (int i = 0; i + 1 < bounds.Length; i++)
            {
                segments.Add((bounds[i], bounds[i + 1]));
            }

            for (int d = 0; d < duplicates; d++)
            {
                segments.Add(segments[random.Next(segments.Count)]);
            }

            random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(segments));
            var handler = new CollectingHandler();
            var reassembler = new TcpReassembler(handler);
            var flow = new TcpFlowKey(Client, Server);
            reassembler.Process(flow, isn, TcpFlags.Syn, default, 0);
            foreach ((int start, int end) in segments)
            {
                reassembler.Process(flow, unchecked(isn + 1 + (uint)start), TcpFlags.Ack, stream.AsSpan(start, end - start), 0);
            }

            return handler.Bytes(flow).AsSpan().SequenceEqual(stream) && handler.Gaps.Count == 0;
        }, iter: 3000);
    }

    /// <summary>Any RTP packet (CSRCs, header extension, padding, any payload) reads back as written.</summary>
    [Fact]
    public void RtpPacket_AnyWellFormedPacket_ReadsBackItsFields()
    {
        Gen<(byte Pt, bool Marker, ushort Seq, uint Ts, uint Ssrc, int Csrcs, int ExtensionWords, int Padding, byte[] Payload)> packets =
            Gen.Select(
                Gen.Select(Gen.Byte[0, 127], Gen.Bool, Gen.UShort, Gen.UInt, Gen.UInt),
                Gen.Select(Gen.Int[0, 15], Gen.Int[-1, 8], Gen.Int[0, 255], Gen.Byte.Array[0, 400]),
                (h, b) => (h.Item1, h.Item2, h.Item3, h.Item4, h.Item5, b.Item1, b.Item2, b.Item3, b.Item4))
                .Where(p => !(p.Item2 && p.Item1 is >= 64 and <= 95)); // marker + PT 64-95 is RTCP's 192-223 (RFC 5761)
        packets.Sample(p =>
        {
            int extension = p.ExtensionWords < 0 ? 0 : 4 + (p.ExtensionWords * 4);
            byte[] datagram = new byte[12 + (p.Csrcs * 4) + extension + p.Payload.Length + p.Padding];
            datagram[0] = (byte)(0x80 | (p.Padding > 0 ? 0x20 : 0) | (extension > 0 ? 0x10 : 0) | p.Csrcs);
            datagram[1] = (byte)((p.Marker ? 0x80 : 0) | p.Pt);
            BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), p.Seq);
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), p.Ts);
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(8), p.Ssrc);
            int at = 12 + (p.Csrcs * 4);
            if (extension > 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(at + 2), (ushort)p.ExtensionWords);
            }

            p.Payload.CopyTo(datagram.AsSpan(at + extension));
            if (p.Padding > 0)
            {
                datagram[^1] = (byte)p.Padding;
            }

            return RtpPacket.TryRead(datagram, out RtpPacket rtp, out _) == OperationStatus.Done
                && rtp.PayloadType == p.Pt && rtp.Marker == p.Marker && rtp.SequenceNumber == p.Seq && rtp.Timestamp == p.Ts
                && rtp.Ssrc == p.Ssrc && rtp.Payload.SequenceEqual(p.Payload);
        }, iter: 5000);
    }
}
