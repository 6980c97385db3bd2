using System.Globalization;
using Xunit.Abstractions;

namespace Appliance.Tests.Support;

/// <summary>
/// How a paused span sounds in a decoded recording of the live rig's call (tests/live/netns.sh: 2001's speech left,
/// 2002's tone right): silence in both channels inside it, the tone just before and just after it, and the caller's
/// speech in the spans that were not paused. Shared by the API and the browser pause tests.
/// </summary>
public static class PausedAudio
{
    // opusdec's output of silent frames, dither included, against speech and the tone (thousands).
    public const double Silent = 30;
    public const double Heard = 300;

    /// <summary>
    /// Both channels below <see cref="Silent"/> over [from, to] (50 ms in from each edge: an Opus frame straddles it),
    /// the right channel's tone above <see cref="Heard"/> in the half second before and after.
    /// </summary>
    public static void AssertSilentOnlyWithin(DecodedAudio audio, double from, double to, ITestOutputHelper output)
    {
        double left = audio.Rms(0, from + 0.05, to - 0.05), right = audio.Rms(1, from + 0.05, to - 0.05);
        double before = audio.Rms(1, from - 0.5, from - 0.05), after = audio.Rms(1, to + 0.05, to + 0.5);
        output.WriteLine($"paused {from:0.000} s to {to:0.000} s: rms L {left:0.0} R {right:0.0}, before R {before:0} after R {after:0}");
        Assert.True(left < Silent, $"left silent while paused ({from:0.00}-{to:0.00} s): rms {left:0.0}");
        Assert.True(right < Silent, $"right silent while paused ({from:0.00}-{to:0.00} s): rms {right:0.0}");
        Assert.True(before > Heard, $"the tone before the pause: rms {before:0}");
        Assert.True(after > Heard, $"the tone after the pause: rms {after:0}");
    }

    /// <summary>
    /// The left channel's RMS in each span outside <paramref name="paused"/> (in order, from the start to the end of the
    /// file): the caller's speech, which has words and gaps, so a caller asserts how many of them are heard.
    /// </summary>
    public static double[] CallerAround(DecodedAudio audio, IReadOnlyList<(double From, double To)> paused, ITestOutputHelper output)
    {
        output.WriteLine("left rms per 0.5 s: " + string.Join(' ', Enumerable.Range(0, (int)(audio.DurationSeconds * 2))
            .Select(h => audio.Rms(0, h / 2.0, (h + 1) / 2.0).ToString("0", CultureInfo.InvariantCulture))));
        var rms = new double[paused.Count + 1];
        double start = 0;
        for (int i = 0; i < paused.Count; i++)
        {
            rms[i] = audio.Rms(0, start, paused[i].From);
            start = paused[i].To;
        }

        rms[^1] = audio.Rms(0, start, audio.DurationSeconds);
        return rms;
    }

    public static string Format(double[] rms) => string.Join(", ", rms.Select(r => r.ToString("0", CultureInfo.InvariantCulture)));
}
