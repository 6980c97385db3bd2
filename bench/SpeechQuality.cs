using System.Diagnostics;
using System.Runtime.InteropServices;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
using Capture.Rtp;

namespace Bench;

/// <summary>
/// The two steps of `make bench-quality` (bench/quality/score.sh) that need our code: cutting real G.711 speech out of
/// a capture as the reference, and encoding references through the recordings' own writer at one setting.
/// <para>
/// `bench speech-reference PCAP IP:PORT OUT.raw [FROM_S TO_S]`: the G.711 (A-law or u-law) RTP that IP:PORT sent, in
/// sequence order with retransmitted duplicates dropped, decoded to 8 kHz 16-bit mono PCM (raw, little-endian), from
/// FROM_S to TO_S seconds of that audio.
/// </para>
/// <para>
/// `bench speech-encode LEFT.raw RIGHT.raw OUT.opus COMPLEXITY BITRATE [REPEATS]`: one stereo recording as the appliance
/// writes it (<see cref="OggOpusWriter"/>, a mono encoder per leg, silent frames skipped as in production), LEFT as the
/// local party and RIGHT as the remote one (the shorter padded with silence); then the same audio encoded REPEATS more
/// times into nothing, and the least CPU time of those per 20 ms stereo frame printed as `encode_us_per_frame N`.
/// </para>
/// </summary>
internal static class SpeechQuality
{
    private const int Rate = 8000;

    public static int Reference(string[] args)
    {
        if (args.Length is not (3 or 5))
        {
            Console.Error.WriteLine("usage: bench speech-reference PCAP IP:PORT OUT.raw [FROM_S TO_S]");
            return 2;
        }

        var packets = new SortedDictionary<int, byte[]>(); // extended sequence number -> decoded samples
        var decoder = new FrameDecoder();
        using (PcapSource source = PcapSource.OpenOffline(args[0]))
        {
            int lastSeq = -1, cycles = 0;
            while (source.ReadNext(out long ns, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                if (decoder.Decode(source.LinkType, ns, frame, out DecodedPacket packet, out _) != DecodeResult.Packet
                    || packet.Protocol != TransportProtocol.Udp || packet.Source.ToString() != args[1]
                    || RtpPacket.TryRead(packet.Payload, out RtpPacket rtp, out _) != System.Buffers.OperationStatus.Done
                    || rtp.PayloadType is not (0 or 8))
                {
                    continue;
                }

                // Sequence numbers wrap at 65536; a jump back of more than half the space is the next cycle.
                if (lastSeq >= 0 && rtp.SequenceNumber < lastSeq - 32768)
                {
                    cycles++;
                }

                lastSeq = rtp.SequenceNumber;
                var pcm = new short[rtp.Payload.Length];
                if (rtp.PayloadType == 8)
                {
                    G711.DecodeALaw(rtp.Payload, pcm);
                }
                else
                {
                    G711.DecodeULaw(rtp.Payload, pcm);
                }

                packets.TryAdd((cycles * 65536) + rtp.SequenceNumber, MemoryMarshal.AsBytes(pcm.AsSpan()).ToArray());
            }
        }

        byte[] all = [.. packets.Values.SelectMany(p => p)];
        int from = args.Length == 5 ? (int)(double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) * Rate) * 2 : 0;
        int to = args.Length == 5 ? (int)(double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) * Rate) * 2 : all.Length;
        to = Math.Min(to, all.Length);
        if (packets.Count == 0 || from >= to)
        {
            Console.Error.WriteLine($"speech-reference: no G.711 audio from {args[1]} in {args[0]} in that span");
            return 1;
        }

        File.WriteAllBytes(args[2], all[from..to]);
        Console.WriteLine($"{args[2]}: {(to - from) / 2.0 / Rate:F2} s of G.711 speech from {args[1]} in {Path.GetFileName(args[0])}");
        return 0;
    }

    public static int Encode(string[] args)
    {
        if (args.Length is not (5 or 6))
        {
            Console.Error.WriteLine("usage: bench speech-encode LEFT.raw RIGHT.raw OUT.opus COMPLEXITY BITRATE [REPEATS]");
            return 2;
        }

        short[] left = ReadRaw(args[0]), right = ReadRaw(args[1]);
        var options = new OggOpusWriterOptions
        {
            SampleRate = Rate,
            Complexity = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture),
            BitratePerChannel = int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture),
            SerialNumber = 1,
        };
        int repeats = args.Length == 6 ? int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 3;

        int frames;
        using (FileStream file = File.Create(args[2]))
        {
            frames = WriteCall(file, options, left, right); // also the warm-up: JIT, libopus' tables
        }

        TimeSpan best = TimeSpan.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            TimeSpan before = Process.GetCurrentProcess().TotalProcessorTime;
            WriteCall(Stream.Null, options, left, right);
            TimeSpan spent = Process.GetCurrentProcess().TotalProcessorTime - before;
            best = spent < best ? spent : best;
        }

        Console.WriteLine($"encode_us_per_frame {best.TotalMicroseconds / frames:F2} frames {frames}");
        return 0;
    }

    private static int WriteCall(Stream output, OggOpusWriterOptions options, short[] left, short[] right)
    {
        using var writer = new OggOpusWriter(output, options, leaveOpen: true);
        int n = writer.FrameSamples;
        int frames = (Math.Max(left.Length, right.Length) + n - 1) / n;
        var l = new short[n];
        var r = new short[n];
        for (int f = 0; f < frames; f++)
        {
            Slice(left, f * n, l);
            Slice(right, f * n, r);
            writer.WriteFrame(l, r);
        }

        writer.Complete();
        return frames;
    }

    private static void Slice(short[] source, int at, short[] frame)
    {
        Array.Clear(frame);
        if (at < source.Length)
        {
            source.AsSpan(at, Math.Min(frame.Length, source.Length - at)).CopyTo(frame);
        }
    }

    private static short[] ReadRaw(string path) => MemoryMarshal.Cast<byte, short>(File.ReadAllBytes(path)).ToArray();
}
