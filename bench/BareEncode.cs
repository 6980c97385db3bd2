using System.Buffers.Binary;
using System.Diagnostics;
using O = Capture.Interop.Interop.Opus;

namespace Bench;

/// <summary>
/// `bench bare-encode WAV...`: the baseline of `make bench-load`: bare libopus (opus_multistream_encode, two uncoupled
/// mono streams, complexity 5, 16 kbit/s a stream, 20 ms frames, the recordings' own settings) over the same stereo
/// audio the appliance recorded (its files decoded to WAV), every frame encoded. Prints the CPU seconds it took and the
/// seconds of audio.
/// </summary>
internal static unsafe class BareEncode
{
    public static int Run(string[] files)
    {
        double audioSeconds = 0;
        TimeSpan cpu = TimeSpan.Zero;
        byte[] packet = new byte[8000];
        foreach (string file in files)
        {
            (int rate, short[] samples) = ReadStereoWav(file);
            int frame = rate / 50;
            using var encoder = O.CreateMultistreamEncoder(rate, 2, 2, 0, [0, 1], O.OPUS_APPLICATION_VOIP);
            O.Set(encoder, O.OPUS_SET_BITRATE_REQUEST, 2 * 16000, "OPUS_SET_BITRATE");
            O.Set(encoder, O.OPUS_SET_COMPLEXITY_REQUEST, 5, "OPUS_SET_COMPLEXITY");
            O.Set(encoder, O.OPUS_SET_SIGNAL_REQUEST, O.OPUS_SIGNAL_VOICE, "OPUS_SET_SIGNAL");
            TimeSpan before = Process.GetCurrentProcess().TotalProcessorTime;
            fixed (short* pcm = samples)
            fixed (byte* data = packet)
            {
                for (int at = 0; at + (2 * frame) <= samples.Length; at += 2 * frame)
                {
                    if (O.opus_multistream_encode(encoder, pcm + at, frame, data, packet.Length) < 0)
                    {
                        throw new InvalidOperationException("opus_multistream_encode failed");
                    }
                }
            }

            cpu += Process.GetCurrentProcess().TotalProcessorTime - before;
            audioSeconds += samples.Length / 2.0 / rate;
        }

        Console.WriteLine($"bare libopus: {cpu.TotalSeconds:F2} CPU s for {audioSeconds:F1} s of stereo audio in {files.Length} file(s)");
        Console.WriteLine($"bare_cpu_seconds {cpu.TotalSeconds:F3} audio_seconds {audioSeconds:F1}");
        return 0;
    }

    /// <summary>A 16-bit stereo PCM WAV as opusdec writes it (RIFF, fmt, data chunks).</summary>
    private static (int Rate, short[] Samples) ReadStereoWav(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int rate = 0, at = 12;
        while (at + 8 <= bytes.Length)
        {
            string id = System.Text.Encoding.ASCII.GetString(bytes, at, 4);
            int size = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at + 4));
            if (id == "fmt ")
            {
                rate = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at + 12));
            }
            else if (id == "data")
            {
                size = Math.Min(size, bytes.Length - at - 8);
                short[] samples = new short[size / 2];
                Buffer.BlockCopy(bytes, at + 8, samples, 0, size / 2 * 2);
                return (rate, samples);
            }

            at += 8 + size + (size & 1);
        }

        throw new InvalidDataException($"{path}: no data chunk");
    }
}
