using System.Buffers;
using Capture.Packets;
using Capture.Sip;
using Capture.Skinny;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>
/// Frames of any link type through <see cref="FrameDecoder"/> (with IPv4/IPv6 fragment reassembly and its expiry) and
/// every TCP segment through <see cref="TcpReassembler"/>, whose streams are framed as SIP or Skinny the way the
/// protocols do. Small limits, so that the limits are reached too. Records: selector = link type, step = milliseconds.
/// </summary>
internal sealed class FrameTarget : FuzzTarget, ITcpStreamHandler
{
    private static readonly int[] s_linkTypes =
        [LinkTypes.Ethernet, LinkTypes.LinuxSll, LinkTypes.LinuxSll2, LinkTypes.Raw, LinkTypes.Ipv4, LinkTypes.Ipv6, LinkTypes.Null, LinkTypes.Loop];

    private static readonly FragmentOptions s_fragments = new() { MaxDatagrams = 8, MaxBytesHeld = 64 * 1024, MaxRangesPerDatagram = 8 };

    private static readonly TcpReassemblerOptions s_tcp = new()
    {
        MaxConnections = 8, MaxBytesPerStream = 4096, MaxTotalBytes = 16 * 1024, GapSkipBytes = 2048, MaxRangesPerStream = 4,
    };

    public override string Name => "frame";

    public override string Description => "link layers, tunnels, IPv4/IPv6 and fragment reassembly (FrameDecoder), TCP reassembly (TcpReassembler) with SIP and Skinny framing";

    public override int MaxInputLength => 16 * 1024;

    public override void Execute(ReadOnlySpan<byte> input)
    {
        var decoder = new FrameDecoder(s_fragments);
        var tcp = new TcpReassembler(this, s_tcp);
        long now = 1_600_000_000_000_000_000;
        var records = new RecordReader(input);
        while (records.TryNext(out byte selector, out ushort step, out ReadOnlySpan<byte> frame))
        {
            now += step * 1_000_000L;
            int linkType = s_linkTypes[selector % s_linkTypes.Length];
            if (decoder.Decode(linkType, now, frame, out DecodedPacket packet, out _) == DecodeResult.Packet
                && packet.Protocol == TransportProtocol.Tcp)
            {
                tcp.Process(packet);
            }

            decoder.ExpireFragments(now);
            tcp.Expire(now);
        }

        tcp.Clear(now);
    }

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus)
    {
        foreach ((_, int linkType, List<(long Ts, byte[] Frame)> frames) in corpus.Captures)
        {
            int selector = Array.IndexOf(s_linkTypes, linkType);
            if (selector < 0)
            {
                continue;
            }

            // Runs of 12 consecutive frames, up to 24 runs per capture, spread over the file.
            int runs = Math.Min(24, (frames.Count + 11) / 12);
            for (int r = 0; r < runs; r++)
            {
                int first = (int)((long)r * frames.Count / runs);
                var input = new List<byte>();
                long previous = frames[first].Ts;
                for (int i = first; i < Math.Min(frames.Count, first + 12) && input.Count < MaxInputLength; i++)
                {
                    long stepMs = Math.Clamp((frames[i].Ts - previous) / 1_000_000, 0, ushort.MaxValue);
                    previous = frames[i].Ts;
                    RecordReader.Append(input, (byte)selector, (ushort)stepMs, frames[i].Frame);
                }

                yield return [.. input];
            }
        }
    }

    public TcpApplication Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader)
    {
        reader = null;
        return TcpApplication.Claimed;
    }

    public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        int consumed = 0;
        if (stream.Source.Port == 2000 || stream.Destination.Port == 2000)
        {
            while (SkinnyFramer.TryFrame(data[consumed..], out int length, out _) == OperationStatus.Done)
            {
                consumed += length;
            }

            return consumed;
        }

        bool resync = afterGap;
        while (true)
        {
            OperationStatus status = SipStreamFramer.TryFrameNext(data[consumed..], resync, out int skip, out SipMessage message, out _);
            consumed += skip;
            if (status == OperationStatus.NeedMoreData)
            {
                return consumed;
            }

            resync = status == OperationStatus.InvalidData;
            if (!resync)
            {
                consumed += message.BytesConsumed;
            }
        }
    }

    public void OnClosed(TcpConnection connection, long nowNs)
    {
    }
}
