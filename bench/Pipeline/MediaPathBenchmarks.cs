using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Capture.Interop;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;

namespace Bench.Pipeline;

/// <summary>
/// The RTP hot path on the capture thread, "from decoded packet to queued work item": <see cref="CapturePipeline.ProcessFrame"/>
/// on the RTP of one established call (decode, classify to the call through the SIP and Skinny media tables, touch the
/// call, copy the datagram once into a work-queue slot, publish it to the worker that owns the call), per packet.
/// Written against the pipeline's public surface only (constructor, options, ProcessFrame, Complete, Dispose, Counters)
/// so the same class measures the code before and after a refactor of the call domain.
/// <para>
/// Setup: samples/sipp-g711a-call.pcap (a real SIPp call). Every frame before the first RTP frame (REGISTER/200,
/// INVITE, 180, 200 with SDP, ACK) goes through ProcessFrame once, so the call is established and both SDP endpoints
/// are in the media table; the call's 646 RTP frames (tone 6000 -> 6100, speech and RFC 4733 DTMF 6100 -> 6000) are
/// kept as copies, checked to classify as media and be queued (Counters.MediaPackets, MediaNotRecorded) in one lap, and
/// then replayed round-robin, <see cref="Batch"/> packets per invocation (OperationsPerInvoke: numbers are per packet).
/// The capture timestamp is synthetic: the first RTP frame's, advancing 10 ms per packet (a call's two directions
/// together) monotonically across invocations and iterations; no frame byte is rewritten while measuring. Media keeps
/// touching the call, so it never reaches the 60 s media timeout, and the pipeline's 1 s (capture time) tick runs as in
/// production: one packet in 100 checks the timeouts and queues a Tick item to the worker.
/// </para>
/// <para>
/// The worker's share is made trivial: the frames are rewritten once, in setup, with RTP payload type 96, which neither
/// SDP negotiated (the call has 8 PCMA and 101 telephone-event; 96 is no static default either). The worker's
/// CallRecording.OnRtp finds no codec to start media with and MediaLeg.Accept counts the packet UnknownPayloadType and
/// returns: two RTP header reads, no file, no allocation. Nothing on the capture side reads the payload type, so the
/// capture thread does exactly the work of a recorded packet.
/// </para>
/// <para>
/// <b>DecodeOnly</b> (baseline): <see cref="FrameDecoder.Decode"/> alone over the same frames and timestamps, so the
/// media path is reported as a ratio to decoding alone.
/// </para>
/// <para>
/// <b>Inline</b> (Workers = 0): the number to compare before/after. The pipeline's inline mode runs the worker's
/// Process right after each Publish on the same thread, so this is the whole capture-thread path plus the worker's
/// constant drop (10-15 ns measured apart), single-threaded and reproducible (within a few percent run to run).
/// </para>
/// <para>
/// <b>QueuedToWorker</b> (Workers = 1, QueueCapacity 8192, WaitWhenQueueFull): the same path handing off to a worker
/// thread, as in production. The worker stays ahead (its work is trivial), so the batch (4096, half the queue) never
/// fills the queue and no draining is needed between invocations: BenchmarkDotNet cannot exclude part of an invocation,
/// and [IterationSetup] would force one invocation per iteration. Counters.QueueWaits (capture-thread spins on a full
/// queue) is printed in the cleanup ("// MediaPath ..." in the log): non-zero means the worker lost its core for a
/// while and that time is in the number. This variant includes, on purpose, the cross-core cost of the handoff: a worker
/// polling a near-empty queue pulls the queue's index line, the slots and the copied datagram over to its core for
/// every packet. On the 2-vCPU VM it was written on, that cost dominates and depends on where the host places the two
/// vCPUs: 150-420 ns per packet with both threads running in parallel, against ~86 ns for Inline; when another
/// process takes a core, both threads share one and it falls to ~90 ns (the worker then runs in bursts, like Inline).
/// Compare it before/after only over several runs, on Min and Median, alongside the QueueWaits line.
/// </para>
/// <para>
/// <b>RecordedByWorker</b> (for scale, not for the before/after comparison): the same call with its real PCMA
/// payloads, fully recorded (worker decoding, mixing, Opus encoding). The worker is then the bottleneck, the capture
/// thread waits on the full queue, and the number is the end-to-end rate of one worker on one call. To keep the
/// recording real over many laps, frames carry their capture times shifted by one period (8 s) per lap, and at each lap
/// their RTP sequence numbers and timestamps are advanced (one header rewrite per 646 packets, inside the measured
/// region). Its RFC 4733 digit is a new one every lap, so the leg's DTMF list grows (amortised bytes, not per packet).
/// It runs <see cref="RecordedBatch"/> packets per invocation, to keep its iterations under a second.
/// </para>
/// <para>
/// Allocation: MemoryDiagnoser counts every thread (GC.GetTotalAllocatedBytes), the worker's included; 0 B per packet
/// is expected everywhere. Min and Median are shown besides the Mean: on a shared 2-core machine another process taking
/// a core shows up as an outlier iteration.
/// </para>
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class MediaPathBenchmarks
{
    /// <summary>Packets per invocation: half of <see cref="QueueCapacity"/>.</summary>
    public const int Batch = 4096;

    /// <summary>
    /// RecordedByWorker's packets per invocation: the queue is full all along there, so the batch only sets the
    /// iteration's length (BenchmarkDotNet runs at least 16 invocations per iteration: 16 x 512 x ~80 us = 0.65 s).
    /// </summary>
    public const int RecordedBatch = 512;

    private const int QueueCapacity = 8192;
    private const long PacketSpacingNs = 10_000_000; // 10 ms per packet, both directions together
    private const byte UnnegotiatedPayloadType = 96;
    private const int RtpHeaderLength = 12;
    private const long PacketTimeNs = 20_000_000; // the tone leg's 20 ms, which sets the lap period
    private const uint RtpClock = 8000;

    private int _linkType;
    private List<(long Ts, byte[] Frame)> _signalling = [];
    private byte[][] _rtp = [];
    private long[] _rtpOffsetsNs = []; // capture time after the first RTP frame (RecordedByWorker)
    private int[] _rtpHeaderOffsets = []; // where each frame's RTP header starts
    private ushort[] _sequenceSteps = []; // per frame: its SSRC's sequence span, added at each lap (RecordedByWorker)
    private long _firstRtpNs;
    private long _lapNs;

    private byte[][] _frames = [];
    private FrameDecoder _decoder = null!;
    private CapturePipeline? _pipeline;
    private string _out = "";
    private string _case = "";
    private int _next;
    private long _nowNs;
    private long _lapBaseNs;
    private long _setupMediaPackets;

    [GlobalSetup(Target = nameof(DecodeOnly))]
    public void SetupDecodeOnly()
    {
        Load();
        _case = nameof(DecodeOnly);
        _frames = WithPayloadType(_rtp, UnnegotiatedPayloadType);
        _decoder = new FrameDecoder();
        _nowNs = _firstRtpNs;
        DecodeOnly(); // the same warm lap as the others
    }

    [GlobalSetup(Target = nameof(Inline))]
    public void SetupInline() => SetupUnplayable(nameof(Inline), workers: 0);

    [GlobalSetup(Target = nameof(QueuedToWorker))]
    public void SetupQueuedToWorker() => SetupUnplayable(nameof(QueuedToWorker), workers: 1);

    [GlobalSetup(Target = nameof(RecordedByWorker))]
    public void SetupRecordedByWorker()
    {
        Load();
        _case = nameof(RecordedByWorker);
        _frames = [.. _rtp.Select(f => (byte[])f.Clone())];
        _lapBaseNs = _firstRtpNs;
        Establish(workers: 1);
        long before = _pipeline!.Counters.MediaPackets;
        RecordedLap(_frames.Length);
        CheckAllMedia(before);
    }

    /// <summary>Baseline: the frame decoder alone, same frames, same timestamps, same loop.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public long DecodeOnly()
    {
        FrameDecoder decoder = _decoder;
        byte[][] frames = _frames;
        int linkType = _linkType;
        int i = _next;
        long now = _nowNs;
        long payloadBytes = 0;
        for (int n = 0; n < Batch; n++)
        {
            if (decoder.Decode(linkType, now, frames[i], out DecodedPacket packet, out _) == DecodeResult.Packet)
            {
                payloadBytes += packet.Payload.Length;
            }

            now += PacketSpacingNs;
            i = i + 1 == frames.Length ? 0 : i + 1;
        }

        _next = i;
        _nowNs = now;
        return payloadBytes;
    }

    /// <summary>Workers = 0: decode, classify, touch, copy into the queue slot, publish, and the worker's drop, on one thread.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long Inline() => Replay();

    /// <summary>Workers = 1: decode, classify, touch, copy into the queue slot, publish to the worker's thread.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long QueuedToWorker() => Replay();

    /// <summary>End to end: real PCMA recorded by the worker; the capture thread waits for it.</summary>
    [Benchmark(OperationsPerInvoke = RecordedBatch)]
    public long RecordedByWorker()
    {
        RecordedLap(RecordedBatch);
        return _pipeline!.Counters.MediaPackets;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_pipeline is { } pipeline)
        {
            pipeline.Complete();
            PipelineCounters c = pipeline.Counters;
            Console.WriteLine(
                $"// MediaPath {_case}: media packets {c.MediaPackets - _setupMediaPackets:N0} measured (+{_setupMediaPackets:N0} in setup), " +
                $"queue waits {c.QueueWaits:N0}, queue drops {c.QueueDrops:N0}, not recorded {c.MediaNotRecorded:N0}, calls ended {pipeline.Snapshot()["calls_ended"]}");
            pipeline.Dispose();
            _pipeline = null;
        }

        if (_out.Length > 0 && Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    private long Replay()
    {
        CapturePipeline pipeline = _pipeline!;
        byte[][] frames = _frames;
        int linkType = _linkType;
        int i = _next;
        long now = _nowNs;
        for (int n = 0; n < Batch; n++)
        {
            pipeline.ProcessFrame(linkType, now, frames[i]);
            now += PacketSpacingNs;
            i = i + 1 == frames.Length ? 0 : i + 1;
        }

        _next = i;
        _nowNs = now;
        return pipeline.Counters.MediaPackets;
    }

    private void SetupUnplayable(string name, int workers)
    {
        Load();
        _case = name;
        _frames = WithPayloadType(_rtp, UnnegotiatedPayloadType);
        _nowNs = _firstRtpNs;
        Establish(workers);
        long before = _pipeline!.Counters.MediaPackets;
        for (int i = 0; i < _frames.Length; i++)
        {
            _pipeline.ProcessFrame(_linkType, _nowNs, _frames[i]);
            _nowNs += PacketSpacingNs;
        }

        CheckAllMedia(before);
    }

    private void RecordedLap(int packets)
    {
        CapturePipeline pipeline = _pipeline!;
        byte[][] frames = _frames;
        long[] offsets = _rtpOffsetsNs;
        int linkType = _linkType;
        int i = _next;
        for (int n = 0; n < packets; n++)
        {
            pipeline.ProcessFrame(linkType, _lapBaseNs + offsets[i], frames[i]);
            if (++i == frames.Length)
            {
                i = 0;
                NextLap();
            }
        }

        _next = i;
    }

    /// <summary>RecordedByWorker: the next lap continues each stream (sequence and timestamp) one period later.</summary>
    private void NextLap()
    {
        _lapBaseNs += _lapNs;
        uint timestampStep = (uint)(_lapNs * RtpClock / 1_000_000_000);
        for (int f = 0; f < _frames.Length; f++)
        {
            Span<byte> rtp = _frames[f].AsSpan(_rtpHeaderOffsets[f]);
            BinaryPrimitives.WriteUInt16BigEndian(rtp[2..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(rtp[2..]) + _sequenceSteps[f]));
            BinaryPrimitives.WriteUInt32BigEndian(rtp[4..], BinaryPrimitives.ReadUInt32BigEndian(rtp[4..]) + timestampStep);
        }
    }

    private void Establish(int workers)
    {
        _out = Path.Combine(Path.GetTempPath(), $"appliance-bench-media-{Environment.ProcessId}-{_case}");
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }

        _pipeline = new CapturePipeline(
            new RecordingOptions { OutputDirectory = _out },
            new PipelineOptions { Workers = workers, QueueCapacity = QueueCapacity, WaitWhenQueueFull = true });
        foreach ((long ts, byte[] frame) in _signalling)
        {
            _pipeline.ProcessFrame(_linkType, ts, frame);
        }

        long sipMessages = _pipeline.Snapshot()["sip_messages"];
        if (sipMessages != _signalling.Count)
        {
            throw new InvalidOperationException($"expected {_signalling.Count} SIP messages before the RTP, the pipeline read {sipMessages}");
        }
    }

    /// <summary>One lap went through: every RTP frame must have been classified to the call and queued for recording.</summary>
    private void CheckAllMedia(long before)
    {
        PipelineCounters c = _pipeline!.Counters;
        if (c.MediaPackets - before != _frames.Length || c.MediaNotRecorded != 0)
        {
            throw new InvalidOperationException(
                $"{_case}: {c.MediaPackets - before} of {_frames.Length} RTP frames classified as media ({c.MediaNotRecorded} not recorded): the call is not established");
        }

        _setupMediaPackets = c.MediaPackets;
    }

    /// <summary>Reads the sample: the frames before the first RTP frame, and the call's RTP frames (UDP, RTP version 2).</summary>
    private void Load()
    {
        var all = new List<(long Ts, byte[] Frame)>();
        using (PcapSource source = PcapSource.OpenOffline(Paths.Sample("sipp-g711a-call.pcap")))
        {
            _linkType = source.LinkType;
            while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                all.Add((ts, frame.ToArray()));
            }
        }

        var decoder = new FrameDecoder();
        var rtp = new List<(long Ts, byte[] Frame, int Header)>();
        _signalling = [];
        foreach ((long ts, byte[] frame) in all)
        {
            int header = RtpHeaderOffset(decoder, _linkType, ts, frame);
            if (header >= 0)
            {
                rtp.Add((ts, frame, header));
            }
            else if (rtp.Count == 0)
            {
                _signalling.Add((ts, frame));
            }
        }

        if (rtp.Count < 600 || _signalling.Count == 0)
        {
            throw new InvalidOperationException($"unexpected sample: {_signalling.Count} frames before the RTP, {rtp.Count} RTP frames");
        }

        _firstRtpNs = rtp[0].Ts;
        _rtp = [.. rtp.Select(r => r.Frame)];
        _rtpOffsetsNs = [.. rtp.Select(r => r.Ts - _firstRtpNs)];
        _rtpHeaderOffsets = [.. rtp.Select(r => r.Header)];

        // A lap lasts as long as the 20 ms tone stream that spans the capture: the next lap's first packet is the one
        // after the last (8.0 s for this sample), which keeps every stream's timestamps in step with its capture times.
        _lapNs = ((_rtpOffsetsNs[^1] + (PacketTimeNs / 2)) / PacketTimeNs * PacketTimeNs) + PacketTimeNs;

        // Each SSRC's sequence numbers continue where the previous lap's ended.
        var first = new Dictionary<uint, ushort>();
        var span = new Dictionary<uint, ushort>();
        var ssrcs = new uint[rtp.Count];
        for (int f = 0; f < rtp.Count; f++)
        {
            ReadOnlySpan<byte> header = rtp[f].Frame.AsSpan(rtp[f].Header);
            uint ssrc = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
            ushort sequence = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
            ssrcs[f] = ssrc;
            ushort start = first.TryAdd(ssrc, sequence) ? sequence : first[ssrc];
            span[ssrc] = Math.Max(span.GetValueOrDefault(ssrc), (ushort)(sequence - start + 1));
        }

        _sequenceSteps = [.. ssrcs.Select(s => span[s])];
    }

    /// <summary>Offset of the RTP header in a UDP frame carrying RTP (version 2; SIP text never starts with those bits), else -1.</summary>
    private static int RtpHeaderOffset(FrameDecoder decoder, int linkType, long ts, byte[] frame)
    {
        if (decoder.Decode(linkType, ts, frame, out DecodedPacket packet, out _) != DecodeResult.Packet
            || packet.Protocol != TransportProtocol.Udp
            || packet.Payload.Length < RtpHeaderLength
            || (packet.Payload[0] >> 6) != 2
            || !((ReadOnlySpan<byte>)frame).Overlaps(packet.Payload, out int offset))
        {
            return -1;
        }

        return offset;
    }

    /// <summary>Copies of <paramref name="frames"/> whose RTP payload type is <paramref name="payloadType"/> (marker bit kept).</summary>
    private byte[][] WithPayloadType(byte[][] frames, byte payloadType)
    {
        var copies = new byte[frames.Length][];
        for (int f = 0; f < frames.Length; f++)
        {
            copies[f] = (byte[])frames[f].Clone();
            ref byte markerAndType = ref copies[f][_rtpHeaderOffsets[f] + 1];
            markerAndType = (byte)((markerAndType & 0x80) | payloadType);
        }

        return copies;
    }
}
