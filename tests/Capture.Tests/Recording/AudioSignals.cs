using System.Diagnostics;

namespace Capture.Tests.Recording;

/// <summary>Tone generation and the few measurements the codec tests need (Goertzel power, RMS, WAV parsing, opusdec).</summary>
internal static class AudioSignals
{
    public static short[] Sine(double frequency, int sampleRate, int samples, double amplitude = 8000)
    {
        var pcm = new short[samples];
        for (int i = 0; i < samples; i++)
        {
            pcm[i] = (short)Math.Round(amplitude * Math.Sin(2 * Math.PI * frequency * i / sampleRate));
        }

        return pcm;
    }

    /// <summary>Power of one frequency component (Goertzel), normalised by length.</summary>
    public static double Power(ReadOnlySpan<short> pcm, double frequency, int sampleRate)
    {
        double coefficient = 2 * Math.Cos(2 * Math.PI * frequency / sampleRate);
        double s1 = 0, s2 = 0;
        foreach (short x in pcm)
        {
            double s0 = x + (coefficient * s1) - s2;
            s2 = s1;
            s1 = s0;
        }

        double power = (s1 * s1) + (s2 * s2) - (coefficient * s1 * s2);
        return power / ((double)pcm.Length * pcm.Length);
    }

    public static double Rms(ReadOnlySpan<short> pcm)
    {
        double sum = 0;
        foreach (short x in pcm)
        {
            sum += (double)x * x;
        }

        return pcm.IsEmpty ? 0 : Math.Sqrt(sum / pcm.Length);
    }

    /// <summary>The strongest of 100 Hz steps up to just below Nyquist.</summary>
    public static double DominantFrequency(ReadOnlySpan<short> pcm, int sampleRate)
    {
        double best = 0, bestPower = -1;
        for (double f = 100; f < sampleRate / 2.0; f += 100)
        {
            double p = Power(pcm, f, sampleRate);
            if (p > bestPower)
            {
                bestPower = p;
                best = f;
            }
        }

        return best;
    }

    public static double Db(double ratio) => 10 * Math.Log10(ratio);

    public sealed record Wav(int Channels, int SampleRate, short[][] ChannelSamples)
    {
        public double Seconds => (double)ChannelSamples[0].Length / SampleRate;
    }

    /// <summary>Parses a 16-bit PCM WAV (plain or WAVE_FORMAT_EXTENSIBLE) into per-channel arrays.</summary>
    public static Wav ReadWav(byte[] file)
    {
        Assert.Equal("RIFF"u8.ToArray(), file[..4]);
        Assert.Equal("WAVE"u8.ToArray(), file[8..12]);
        int channels = 0, rate = 0, bits = 0;
        int offset = 12;
        while (offset + 8 <= file.Length)
        {
            string id = System.Text.Encoding.ASCII.GetString(file, offset, 4);
            long size = BitConverter.ToUInt32(file, offset + 4);
            int body = offset + 8;
            if (id == "fmt ")
            {
                channels = BitConverter.ToInt16(file, body + 2);
                rate = BitConverter.ToInt32(file, body + 4);
                bits = BitConverter.ToInt16(file, body + 14);
            }
            else if (id == "data")
            {
                Assert.Equal(16, bits);
                int length = (int)Math.Min(size, file.Length - body); // a streamed WAV may leave the size unset
                int frames = length / (2 * channels);
                var samples = new short[channels][];
                for (int c = 0; c < channels; c++)
                {
                    samples[c] = new short[frames];
                }

                for (int i = 0; i < frames; i++)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        samples[c][i] = BitConverter.ToInt16(file, body + (((i * channels) + c) * 2));
                    }
                }

                return new Wav(channels, rate, samples);
            }

            offset = body + (int)size + (int)(size & 1);
        }

        throw new InvalidDataException("no data chunk");
    }

    /// <summary>
    /// Decodes an Ogg Opus file's bytes with opusdec at 48 kHz (written to <paramref name="directory"/> as NAME.opus/.wav);
    /// null, said through <paramref name="log"/>, when opusdec is not installed. opusdec must succeed.
    /// </summary>
    public static Wav? DecodeWithOpusdec(byte[] file, string directory, string name, Action<string> log, bool dither = true)
    {
        string? opusdec = FindTool("opusdec");
        if (opusdec is null)
        {
            log("opusdec is not installed (Debian package opus-tools; `make test` installs it); decode check skipped.");
            return null;
        }

        string opus = Path.Combine(directory, name + ".opus");
        string wav = Path.Combine(directory, name + ".wav");
        File.WriteAllBytes(opus, file);
        string[] args = dither ? ["--rate", "48000", opus, wav] : ["--rate", "48000", "--no-dither", opus, wav];
        (int exitCode, string text) = Run(opusdec, args);
        log(text);
        Xunit.Assert.True(exitCode == 0, text);
        return ReadWav(File.ReadAllBytes(wav));
    }

    public static string? FindTool(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    public static (int ExitCode, string Output) Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
