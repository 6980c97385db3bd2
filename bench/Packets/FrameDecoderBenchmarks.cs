using BenchmarkDotNet.Attributes;
using Bench.Pipeline;
using Capture.Interop;
using Capture.Packets;
using PacketDotNet;

namespace Bench.Packets;

/// <summary>
/// Decoding every frame of SIP_CALL_RTP_G711.pcap (4269 Ethernet frames: RTP, SIP, SNMP, TCP, ARP) from memory: our
/// FrameDecoder against PacketDotNet (the baseline: the library the design card weighed for this component), which
/// parses each frame into a tree of packet objects that the same fields are then read from.
/// </summary>
[MemoryDiagnoser]
public class FrameDecoderBenchmarks
{
    private byte[][] _frames = [];
    private long[] _timestamps = [];
    private FrameDecoder _decoder = null!;

    [GlobalSetup]
    public void Setup()
    {
        var frames = new List<byte[]>();
        var timestamps = new List<long>();
        using (var source = PcapSource.OpenOffline(Paths.Capture("SIP_CALL_RTP_G711.pcap")))
        {
            while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                frames.Add(frame.ToArray());
                timestamps.Add(ts);
            }
        }

        _frames = [.. frames];
        _timestamps = [.. timestamps];
        _decoder = new FrameDecoder();
    }

    /// <summary>
    /// PacketDotNet's usual use: parse the frame, take its UDP or TCP packet and the IP packet around it, read the
    /// addresses, ports and the payload's length (its segment, not the copying PayloadData), as ours delivers them.
    /// </summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = 4269, Description = "PacketDotNet Packet.ParsePacket")]
    public long PacketDotNetParse()
    {
        long payloadBytes = 0;
        byte[][] frames = _frames;
        for (int i = 0; i < frames.Length; i++)
        {
            Packet parsed = Packet.ParsePacket(LinkLayers.Ethernet, frames[i]);
            if (parsed.Extract<TransportPacket>() is { ParentPacket: IPPacket ip } transport)
            {
                payloadBytes += transport.PayloadDataSegment.Length + transport.SourcePort + transport.DestinationPort
                    + (int)ip.SourceAddress.AddressFamily + (int)ip.DestinationAddress.AddressFamily;
            }
        }

        return payloadBytes;
    }

    /// <summary>Returns the payload bytes found so the work cannot be elided. Per-frame cost = time / 4269.</summary>
    [Benchmark(OperationsPerInvoke = 4269, Description = "our FrameDecoder")]
    public long DecodeAllFrames()
    {
        long payloadBytes = 0;
        byte[][] frames = _frames;
        long[] timestamps = _timestamps;
        FrameDecoder decoder = _decoder;
        for (int i = 0; i < frames.Length; i++)
        {
            if (decoder.Decode(LinkTypes.Ethernet, timestamps[i], frames[i], out DecodedPacket packet, out _) == DecodeResult.Packet)
            {
                payloadBytes += packet.Payload.Length + packet.Source.Port + packet.Destination.Port;
            }
        }

        return payloadBytes;
    }
}
