using System.Buffers.Binary;
using System.Diagnostics;

namespace Appliance.Tests.Support;

/// <summary>A recording decoded by opusdec (the reference decoder), as a user's player would decode it.</summary>
public sealed class DecodedAudio
{
    private DecodedAudio(int channels, int rate, short[] samples)
    {
        Channels = channels;
        Rate = rate;
        Samples = samples;
    }

    public int Channels { get; }
    public int Rate { get; }
    public short[] Samples { get; }
    public double DurationSeconds => (double)Samples.Length / Channels / Rate;

    public static DecodedAudio Decode(string opusFile) =>
        DecodeWith("opusdec", wav => ["--quiet", "--rate", "48000", opusFile, wav], opusFile, anyOutputIsAnError: false);

    /// <summary>
    /// The recording decoded by ffmpeg's own Opus decoder (libavcodec, not libopus) at 48 kHz: what most media
    /// players and transcoding tools use.
    /// </summary>
    public static DecodedAudio DecodeWithFfmpeg(string opusFile) =>
        DecodeWith("ffmpeg", wav => ["-nostdin", "-v", "error", "-c:a", "opus", "-i", opusFile, "-ar", "48000", "-c:a", "pcm_s16le", "-f", "wav", "-y", wav], opusFile, anyOutputIsAnError: true);

    // ffmpeg at -v error prints only what went wrong (a packet it could not parse), and still exits 0.
    private static DecodedAudio DecodeWith(string decoder, Func<string, string[]> arguments, string opusFile, bool anyOutputIsAnError)
    {
        string wav = Path.Combine(Path.GetTempPath(), $"decoded-{Guid.NewGuid():N}.wav");
        try
        {
            var psi = new ProcessStartInfo(decoder, arguments(wav)) { RedirectStandardError = true, RedirectStandardOutput = true };
            using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"{decoder} did not start");
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0 || (anyOutputIsAnError && err.Length != 0))
            {
                throw new InvalidOperationException($"{decoder} failed on {opusFile} ({p.ExitCode}): {err}");
            }

            return ParseWav(File.ReadAllBytes(wav));
        }
        finally
        {
            File.Delete(wav);
        }
    }

    private static DecodedAudio ParseWav(byte[] b)
    {
        int channels = 0, rate = 0, pos = 12;
        while (pos + 8 <= b.Length)
        {
            string id = System.Text.Encoding.ASCII.GetString(b, pos, 4);
            int size = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(pos + 4));
            if (id == "fmt ")
            {
                channels = BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(pos + 10));
                rate = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(pos + 12));
            }
            else if (id == "data")
            {
                int len = Math.Min(size < 0 ? int.MaxValue : size, b.Length - pos - 8) / 2;
                var samples = new short[len];
                for (int i = 0; i < len; i++)
                {
                    samples[i] = BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(pos + 8 + (2 * i)));
                }

                return new DecodedAudio(channels, rate, samples);
            }

            pos += 8 + size + (size & 1);
        }

        throw new InvalidDataException("no data chunk in the decoder's output");
    }

    /// <summary>RMS of one channel (0 = left) over [from, to) seconds, in 16-bit sample units.</summary>
    public double Rms(int channel, double fromSeconds = 0, double toSeconds = double.MaxValue)
    {
        long start = (long)(fromSeconds * Rate);
        long end = Math.Min((long)Math.Min(toSeconds * Rate, long.MaxValue / 4), Samples.Length / Channels);
        double sum = 0;
        long n = 0;
        for (long i = start; i < end; i++)
        {
            double v = Samples[(i * Channels) + channel];
            sum += v * v;
            n++;
        }

        return n == 0 ? 0 : Math.Sqrt(sum / n);
    }

    /// <summary>
    /// The frequency (10 Hz steps from 100 to 3,500 Hz: telephone audio) with the most energy in one second of a channel
    /// from <paramref name="fromSeconds"/>, by the Goertzel algorithm: tells a party's tone from another's.
    /// </summary>
    public double DominantFrequency(int channel, double fromSeconds)
    {
        long start = (long)(fromSeconds * Rate);
        long end = Math.Min(start + Rate, Samples.Length / Channels);
        double best = 0, bestPower = -1;
        for (double hz = 100; hz <= 3500; hz += 10)
        {
            double coefficient = 2 * Math.Cos(2 * Math.PI * hz / Rate), s1 = 0, s2 = 0;
            for (long i = start; i < end; i++)
            {
                double s0 = Samples[(i * Channels) + channel] + (coefficient * s1) - s2;
                s2 = s1;
                s1 = s0;
            }

            double power = (s1 * s1) + (s2 * s2) - (coefficient * s1 * s2);
            if (power > bestPower)
            {
                (best, bestPower) = (hz, power);
            }
        }

        return best;
    }

    /// <summary>Seconds of a channel whose 100 ms windows are louder than <paramref name="threshold"/> RMS.</summary>
    public double ActiveSeconds(int channel, double threshold = 100)
    {
        int window = Rate / 10;
        long frames = Samples.Length / Channels;
        int active = 0;
        for (long w = 0; w + window <= frames; w += window)
        {
            if (Rms(channel, (double)w / Rate, (double)(w + window) / Rate) > threshold)
            {
                active++;
            }
        }

        return active / 10.0;
    }

    /// <summary>Pearson correlation of the two channels: near 1 when one leg leaked into the other.</summary>
    public double ChannelCorrelation()
    {
        long frames = Samples.Length / Channels;
        double sl = 0, sr = 0, sll = 0, srr = 0, slr = 0;
        for (long i = 0; i < frames; i++)
        {
            double l = Samples[i * Channels];
            double r = Samples[(i * Channels) + 1];
            sl += l; sr += r; sll += l * l; srr += r * r; slr += l * r;
        }

        double cov = (slr / frames) - (sl / frames * (sr / frames));
        double vl = (sll / frames) - Math.Pow(sl / frames, 2);
        double vr = (srr / frames) - Math.Pow(sr / frames, 2);
        return vl <= 0 || vr <= 0 ? 0 : cov / Math.Sqrt(vl * vr);
    }
}
