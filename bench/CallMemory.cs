using System.Diagnostics;
using Capture.Interop;
using Capture.Pipeline;
using Capture.Recording;

namespace Bench;

/// <summary>
/// `bench call-memory N...`: managed memory per active call (issue 14: small and flat as calls grow). N copies of the
/// bundled SIPp call (samples/sipp-g711a-call.pcap), each on addresses of its own, all started within one second, are
/// replayed inline up to 3 s into the calls (every call answered, both legs flowing, its first pages written); then the
/// heap after a full collection, less the heap before, is divided by N. The two libopus encoders of a call are native
/// memory and not counted (opus_encoder_get_size gives theirs).
/// </summary>
internal static class CallMemory
{
    public static int Run(string[] args)
    {
        string sample = Path.Combine(FindRepo(), "samples", "sipp-g711a-call.pcap");
        (int linkType, List<(long Ns, byte[] Frame)> frames) = Read(sample);
        long t0 = frames[0].Ns;
        foreach (string arg in args)
        {
            int calls = int.Parse(arg, System.Globalization.CultureInfo.InvariantCulture);
            Measure(linkType, frames, t0, calls);
        }

        return 0;
    }

    private static void Measure(int linkType, List<(long Ns, byte[] Frame)> frames, long t0, int calls)
    {
        string dir = Path.Combine(Path.GetTempPath(), "appl-callmem-" + Guid.NewGuid().ToString("N"));
        try
        {
            long before = Heap();
            var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = dir }, new PipelineOptions { Workers = 0, QueueCapacity = 64 });

            // Copy k on addresses of its own (Readdress), starting k/calls of a second after copy 0.
            var merged = new List<(long Ns, int Copy, byte[] Frame)>(calls * 300);
            for (int k = 0; k < calls; k++)
            {
                long offset = (long)k * 1_000_000_000 / calls;
                foreach ((long ns, byte[] frame) in frames)
                {
                    if (ns - t0 <= 3_000_000_000)
                    {
                        merged.Add((ns + offset, k, frame));
                    }
                }
            }

            merged.Sort((a, b) => a.Ns.CompareTo(b.Ns));
            byte[] buffer = new byte[2048];
            var sw = Stopwatch.StartNew();
            foreach ((long ns, int copy, byte[] frame) in merged)
            {
                Span<byte> f = buffer.AsSpan(0, frame.Length);
                frame.CopyTo(f);
                Readdress(f, copy);
                pipeline.ProcessFrame(linkType, ns, f);
            }

            long during = Heap();
            int active = pipeline.ActiveCalls;
            Console.WriteLine($"{calls} calls ({active} active, {merged.Count} packets in {sw.Elapsed.TotalSeconds:F1} s): {(during - before) / 1024.0 / calls:F1} KiB managed per call");
            GC.KeepAlive(pipeline);
            pipeline.Dispose();
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>
    /// 127.0.0.1 becomes (100 + n / 1000).X.Y.Z, X Y Z the digits of n % 1000 (n = copy + 1): the same nine characters in
    /// the SIP text (so Call-IDs, Contacts and SDP of the copies differ), and the same address in the IPv4 header.
    /// </summary>
    private static void Readdress(Span<byte> frame, int copy)
    {
        int n = copy + 1;
        byte first = (byte)(100 + (n / 1000)), x = (byte)(n / 100 % 10), y = (byte)(n / 10 % 10), z = (byte)(n % 10);
        if (frame.Length < 34)
        {
            return;
        }

        for (int at = 26; at <= 30; at += 4) // Ethernet + IPv4: source at 26, destination at 30
        {
            if (frame[at] == 127 && frame[at + 1] == 0 && frame[at + 2] == 0 && frame[at + 3] == 1)
            {
                frame[at] = first;
                frame[at + 1] = x;
                frame[at + 2] = y;
                frame[at + 3] = z;
            }
        }

        ReadOnlySpan<byte> text = "127.0.0.1"u8;
        Span<byte> replacement = [(byte)'1', (byte)('0' + ((first - 100) / 10)), (byte)('0' + ((first - 100) % 10)), (byte)'.', (byte)('0' + x), (byte)'.', (byte)('0' + y), (byte)'.', (byte)('0' + z)];
        for (int i = frame.IndexOf(text); i >= 0; i = frame.IndexOf(text))
        {
            replacement.CopyTo(frame[i..]);
        }
    }

    private static (int LinkType, List<(long Ns, byte[] Frame)> Frames) Read(string path)
    {
        using PcapSource source = PcapSource.OpenOffline(path);
        var frames = new List<(long, byte[])>();
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            frames.Add((ts, frame.ToArray()));
        }

        return (source.LinkType, frames);
    }

    private static string FindRepo()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(Path.Combine(d, "Appliance.sln")))
            {
                return d;
            }
        }

        throw new InvalidOperationException("run from the repository (Appliance.sln not found above the program)");
    }
}
