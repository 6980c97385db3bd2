using System.Buffers.Binary;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Capture.Interop;
using Capture.Pipeline;
using Capture.Recording;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Bench.Pipeline;

/// <summary>
/// Reading a file: our libpcap read loop against SharpPcap's offline device (the baseline: the library the design card
/// weighed for it) and libpcap's own tool, `tcpdump -r FILE -w /dev/null`; and our full replay (decode, SIP,
/// classification, workers decoding, mixing and encoding every call).
/// The file is the bundled SIPp call (samples/) repeated 40 times, 60 s apart (its Call-ID repeats, and an ended
/// Call-ID is remembered for 32 s against retransmissions): 26,240 packets, 40 recorded calls.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ReplayBenchmarks
{
    private const int Copies = 40;
    private const int FramesPerCopy = 656; // samples/sipp-g711a-call.pcap
    private const int Packets = Copies * FramesPerCopy;

    private string _file = "";
    private string _out = "";

    [GlobalSetup]
    public void Setup()
    {
        _file = Path.Combine(Path.GetTempPath(), "appliance-bench-replay.pcap");
        _out = Path.Combine(Path.GetTempPath(), "appliance-bench-out");
        int written = BuildRepeatedCapture(Paths.Sample("sipp-g711a-call.pcap"), _file, Copies, 60_000_000_000L);
        if (written != Packets)
        {
            throw new InvalidOperationException($"expected {Packets} packets, wrote {written}");
        }

        if (SharpPcapRead() != PcapRead())
        {
            throw new InvalidOperationException("SharpPcap and our read loop read different bytes from the same file");
        }
    }

    /// <summary>SharpPcap's cheapest read: GetNextPacket's span into libpcap's buffer, no RawCapture copy.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Packets, Description = "SharpPcap CaptureFileReaderDevice")]
    [BenchmarkCategory("read")]
    public long SharpPcapRead()
    {
        using var device = new CaptureFileReaderDevice(_file);
        device.Open();
        long bytes = 0;
        while (device.GetNextPacket(out PacketCapture packet) == GetPacketStatus.PacketRead)
        {
            bytes += packet.Data.Length;
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Packets, Description = "tcpdump -r FILE -w /dev/null")]
    [BenchmarkCategory("read")]
    public void Tcpdump()
    {
        using Process p = Process.Start(new ProcessStartInfo("tcpdump", ["-q", "-r", _file, "-w", "/dev/null"]) { RedirectStandardError = true })!;
        p.StandardError.ReadToEnd();
        p.WaitForExit();
    }

    [Benchmark(OperationsPerInvoke = Packets, Description = "our libpcap read loop")]
    [BenchmarkCategory("read")]
    public long PcapRead()
    {
        using PcapSource source = PcapSource.OpenOffline(_file);
        long bytes = 0;
        while (source.ReadNext(out _, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            bytes += frame.Length;
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Packets, Description = "our replay, recording every call")]
    [BenchmarkCategory("replay")]
    public long Replay()
    {
        using PcapSource source = PcapSource.OpenOffline(_file);
        using var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = _out }, new PipelineOptions());
        pipeline.Run(source);
        pipeline.Complete();
        return pipeline.Counters.MediaPackets;
    }

    [IterationCleanup(Target = nameof(Replay))]
    public void CleanOutput()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    /// <summary>Writes a nanosecond pcap holding <paramref name="copies"/> copies of a capture, each shifted in time.</summary>
    internal static int BuildRepeatedCapture(string source, string destination, int copies, long shiftNs)
    {
        List<(long Ts, byte[] Frame)> frames = [];
        int linkType;
        using (PcapSource input = PcapSource.OpenOffline(source))
        {
            linkType = input.LinkType;
            while (input.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                frames.Add((ts, frame.ToArray()));
            }
        }

        using var output = new FileStream(destination, FileMode.Create, FileAccess.Write);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B23C4D); // nanosecond-resolution pcap
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 262144);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)linkType);
        output.Write(header);
        Span<byte> record = stackalloc byte[16];
        int count = 0;
        for (int c = 0; c < copies; c++)
        {
            foreach ((long ts, byte[] frame) in frames)
            {
                long t = ts + (c * shiftNs);
                BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(t / 1_000_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(t % 1_000_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
                output.Write(record);
                output.Write(frame);
                count++;
            }
        }

        return count;
    }
}

internal static class Paths
{
    /// <summary>A file of samples/ in the checkout that holds this benchmark.</summary>
    public static string Sample(string name)
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "samples", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"samples/{name} not found above {AppContext.BaseDirectory}");
    }

    /// <summary>A shared capture: APPLIANCE_CAPTURES, or shared/captures beside the checkout or any folder above it (as the tests find it).</summary>
    public static string Capture(string name)
    {
        string? env = Environment.GetEnvironmentVariable("APPLIANCE_CAPTURES");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, name)))
        {
            return Path.Combine(env, name);
        }

        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "shared", "captures", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"shared/captures/{name} not found above {AppContext.BaseDirectory}; set APPLIANCE_CAPTURES");
    }
}
