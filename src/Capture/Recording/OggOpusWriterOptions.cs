namespace Capture.Recording;

/// <summary>Settings of one stereo Ogg Opus recording (local party left, remote party right).</summary>
public sealed class OggOpusWriterOptions
{
    /// <summary>
    /// The default bitrate and complexity, chosen by `make bench-quality` (README "Performance"): of every complexity
    /// 0-10 at 8-32 kbit/s a leg, the cheapest in encoder CPU whose narrowband PESQ (MOS-LQO, real G.711 speech) is
    /// within 0.1 of the best: complexity 0 at 20 kbit/s (4.43 against 4.52 best, 4.42 at the former complexity 5 and
    /// 16 kbit/s) for less than half the CPU of complexity 5.
    /// </summary>
    public const int DefaultBitratePerChannel = 20000;

    /// <inheritdoc cref="DefaultBitratePerChannel"/>
    public const int DefaultComplexity = 0;

    /// <summary>Encoder input rate: 8000, 12000, 16000, 24000 or 48000 (the codec's native rate; no resampling to 48 kHz).</summary>
    public int SampleRate { get; init; } = 8000;

    /// <summary>Bits per second for each leg's mono stream.</summary>
    public int BitratePerChannel { get; init; } = DefaultBitratePerChannel;

    /// <summary>libopus complexity 0-10.</summary>
    public int Complexity { get; init; } = DefaultComplexity;

    /// <summary>Opus frame length: 10, 20, 40 or 60 ms.</summary>
    public int FrameMs { get; init; } = 20;

    /// <summary>User comments for OpusTags, e.g. CALLID, LEFT, RIGHT. Keys are ASCII 0x20-0x7D without '='.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Tags { get; init; } = [];

    /// <summary>OpusTags vendor string.</summary>
    public string Vendor { get; init; } = "appliance";

    /// <summary>At most this much audio (and never more than 1 s) is held before a page is written and the stream flushed.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A leg's silent frames (after a few) are written as a stock silent packet without running the encoder (see
    /// <see cref="OggOpusWriter.SilenceThreshold"/>); false encodes every frame (comparisons, benchmarks).
    /// </summary>
    public bool SkipSilentFrames { get; init; } = true;

    /// <summary>Ogg stream serial number; random when null.</summary>
    public uint? SerialNumber { get; init; }
}
