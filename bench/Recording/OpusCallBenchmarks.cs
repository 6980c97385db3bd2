using BenchmarkDotNet.Attributes;
using Bench.Pipeline;
using Capture.Calls;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
using Capture.Rtp;

namespace Bench.Recording;

/// <summary>
/// One Opus call recorded end to end, transcoded (every packet decoded, both legs encoded) against passed through (the
/// packets go into the file as they came): Asterisk's Opus stream of the shared capture opus-2013785496.pcap (15.3 s,
/// with digits) on the left, FreeSWITCH's of sip-rtp-opus.pcap (8.5 s of speech, from 1 s in) on the right; with
/// <see cref="LossPercent"/> of the packets dropped (every n-th), which passthrough rebuilds by decoding and encoding.
/// Divide by the call's 15.24 s of media for CPU per call-second.
/// </summary>
[MemoryDiagnoser]
public class OpusCallBenchmarks
{
    private const long T0 = 1_700_000_000_000_000_000;

    private readonly List<(Channel Channel, long Ns, byte[] Datagram)> _packets = [];
    private string _out = "";

    [Params(false, true)]
    public bool Passthrough { get; set; }

    [Params(0, 2)]
    public int LossPercent { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _out = Path.Combine(Path.GetTempPath(), "appliance-bench-opus");
        Read("opus-2013785496.pcap", 12906, Channel.Left, T0);
        Read("sip-rtp-opus.pcap", 6000, Channel.Right, T0 + 1_000_000_000);
        _packets.Sort((a, b) => a.Ns.CompareTo(b.Ns));
        if (LossPercent > 0)
        {
            int every = 100 / LossPercent;
            List<(Channel, long, byte[])> kept = [.. _packets.Where((_, i) => i % every != every / 2)];
            _packets.Clear();
            _packets.AddRange(kept);
        }
    }

    [Benchmark(Description = "one Opus call (15.24 s of media), recorded")]
    public long Record()
    {
        var options = new RecordingOptions { OutputDirectory = _out, OpusPassthrough = Passthrough };
        var metadata = new CallMetadata { Protocol = "sip", CallId = "bench", StartedAt = CaptureTime.ToDateTime(T0), Left = new PartyInfo(), Right = new PartyInfo() };
        using var recording = new CallRecording(Guid.NewGuid().ToString("N"), metadata, options);
        recording.SetPayloadMap(Channel.Left, Map(96));
        recording.SetPayloadMap(Channel.Right, Map(99));
        long nextTick = T0;
        foreach ((Channel channel, long ns, byte[] datagram) in _packets)
        {
            while (nextTick <= ns)
            {
                recording.OnTick(nextTick);
                nextTick += 50_000_000;
            }

            recording.OnRtp(channel, ns, datagram);
        }

        return recording.Finish(CallEndReasons.Bye, nextTick).Packets;
    }

    [IterationCleanup]
    public void CleanOutput()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    private static PayloadMap Map(byte opus)
    {
        var map = new PayloadMap();
        map.Set(opus, AudioCodec.Opus, 48000);
        map.Set(101, AudioCodec.TelephoneEvent, 8000);
        return map;
    }

    private void Read(string capture, int port, Channel channel, long startNs)
    {
        var decoder = new FrameDecoder();
        long first = -1;
        using var source = PcapSource.OpenOffline(Paths.Capture(capture));
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            if (decoder.Decode(source.LinkType, ts, frame, out DecodedPacket p, out _) == DecodeResult.Packet && p.Protocol == TransportProtocol.Udp && p.Destination.Port == port)
            {
                first = first < 0 ? ts : first;
                _packets.Add((channel, startNs + (ts - first), p.Payload.ToArray()));
            }
        }
    }
}
