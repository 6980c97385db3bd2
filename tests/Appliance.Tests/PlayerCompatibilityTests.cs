using Appliance.Tests.Support;
using Capture.Recording;
using Capture.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// Recordings play in the players people use, not only in opusdec: ffmpeg's own Opus decoder (libavcodec, which most
/// media tools and many players use) decodes every recording of real captures, with the same duration and the same
/// audio on each channel. The captures cover what the writer does differently: both parties talking (every frame
/// encoded), a party holding (stock silent packets), G.722 at 16 kHz, and an Opus call.
/// </summary>
public class PlayerCompatibilityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("samples/sipp-g711a-call.pcap")]
    [InlineData("samples/sipp-topology-hold.pcap")]
    [InlineData("SIP_CALL_RTP_G711.pcap")]
    [InlineData("sip-rtp-g722.pcap")]
    [InlineData("sip-rtp-opus.pcap")]
    [InlineData("opus-2013785496.pcap")]
    public void Ffmpeg_DecodesEveryRecording_LikeOpusdec(string capture)
    {
        if (AudioSignalsTool("ffmpeg") is null || AudioSignalsTool("opusdec") is null)
        {
            output.WriteLine("ffmpeg or opusdec is not installed (make test installs them); check skipped");
            return;
        }

        string path = capture.StartsWith("samples/", StringComparison.Ordinal) ? Path.Combine(Repo.Root, capture) : Captures.PathOf(capture);
        using var r = new Replayer().Run(path);
        Assert.Empty(r.Errors);
        List<CallSidecar> recorded = [.. r.Calls.Where(c => c.File is not null)];
        Assert.NotEmpty(recorded);
        foreach (CallSidecar call in recorded)
        {
            DecodedAudio reference = r.Decode(call);
            DecodedAudio ffmpeg = DecodedAudio.DecodeWithFfmpeg(r.PathOf(call));
            output.WriteLine($"{capture} {call.CallId}: media {call.MediaDurationSeconds:0.000} s; opusdec {reference.DurationSeconds:0.000} s " +
                $"RMS {reference.Rms(0):0.0}/{reference.Rms(1):0.0}; ffmpeg {ffmpeg.DurationSeconds:0.000} s RMS {ffmpeg.Rms(0):0.0}/{ffmpeg.Rms(1):0.0}");

            Assert.Equal(2, ffmpeg.Channels);
            Assert.Equal(48000, ffmpeg.Rate);

            // Within one packet time (20 ms) of what the call's media lasted, like opusdec.
            Assert.InRange(ffmpeg.DurationSeconds, call.MediaDurationSeconds - 0.02, call.MediaDurationSeconds + 0.02);
            Assert.InRange(ffmpeg.DurationSeconds, reference.DurationSeconds - 0.02, reference.DurationSeconds + 0.02);

            // The same audio on the same channel: two decoders of one stream differ by rounding, not by a party
            // (opusdec dithers its output: a silent channel is ~2.3 RMS there and ~0.3 in ffmpeg's).
            for (int channel = 0; channel < 2; channel++)
            {
                double expected = reference.Rms(channel), actual = ffmpeg.Rms(channel);
                Assert.True(Math.Abs(actual - expected) <= Math.Max(4.0, expected * 0.05),
                    $"{call.CallId} channel {channel}: ffmpeg RMS {actual:0.0} against opusdec's {expected:0.0}");
                Assert.Equal(reference.ActiveSeconds(channel), ffmpeg.ActiveSeconds(channel), 1);
            }
        }
    }

    private static string? AudioSignalsTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':').Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
