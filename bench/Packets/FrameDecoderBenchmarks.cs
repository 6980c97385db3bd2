using BenchmarkDotNet.Attributes;
using Capture.Interop;
using Capture.Packets;

namespace Bench.Packets;

/// <summary>Decoding every frame of SIP_CALL_RTP_G711.pcap (4269 Ethernet frames: RTP, SIP, SNMP, TCP, ARP) from memory.</summary>
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
        using (var source = PcapSource.OpenOffline(FindCapture("SIP_CALL_RTP_G711.pcap")))
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

    /// <summary>Returns the payload bytes found so the work cannot be elided. Per-frame cost = time / 4269.</summary>
    [Benchmark(OperationsPerInvoke = 4269)]
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
                payloadBytes += packet.Payload.Length;
            }
        }

        return payloadBytes;
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
}
