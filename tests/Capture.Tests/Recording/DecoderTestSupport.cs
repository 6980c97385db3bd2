using Xunit.Abstractions;
using Libraries = Capture.Interop.Interop.Libraries;

namespace Capture.Tests.Recording;

/// <summary>Shared by the native decoder tests: skip (with the reason) when a library is missing, and compare tones.</summary>
internal static class DecoderTestSupport
{
    public static bool Available(ITestOutputHelper output, string library)
    {
        if (Libraries.IsAvailable(library))
        {
            return true;
        }

        output.WriteLine($"lib{library} is not installed (Debian package {Libraries.DebianPackageFor(library)}); test skipped.");
        return false;
    }

    /// <summary>Encoded then decoded with our decoder, the tone keeps its level (within 6 dB-ish) and its frequency.</summary>
    public static void AssertSameTone(short[] input, ReadOnlySpan<short> decoded, int sampleRate, double frequency, int skip)
    {
        ReadOnlySpan<short> steady = decoded[skip..];
        double inputRms = AudioSignals.Rms(input.AsSpan(skip));
        double outputRms = AudioSignals.Rms(steady);
        Assert.InRange(outputRms / inputRms, 0.5, 1.5);
        Assert.Equal(frequency, AudioSignals.DominantFrequency(steady, sampleRate));
    }
}
