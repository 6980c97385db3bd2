namespace Capture.Recording;

/// <summary>How recordings are written. Defaults suit voice; the host binds them from configuration.</summary>
public sealed class RecordingOptions
{
    /// <summary>Root folder; files go to yyyy/MM/dd/&lt;id&gt;.opus and .json below it.</summary>
    public string OutputDirectory { get; set; } = "var/recordings";

    /// <summary>Opus bitrate for each leg's mono stream.</summary>
    public int BitratePerChannel { get; set; } = OggOpusWriterOptions.DefaultBitratePerChannel;

    /// <summary>libopus complexity 0-10 (the default: see <see cref="OggOpusWriterOptions.DefaultComplexity"/>).</summary>
    public int Complexity { get; set; } = OggOpusWriterOptions.DefaultComplexity;

    /// <summary>How far behind the newest packet audio is mixed, to let late and reordered packets in.</summary>
    public TimeSpan JitterDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A gap of at most this many packets is concealed with the codec's loss concealment; longer gaps become silence.</summary>
    public int MaxConcealedPackets { get; set; } = 5;

    /// <summary>
    /// An Opus leg's packets go into the file as they came (lost ones rebuilt from FEC or PLC) instead of being decoded
    /// and encoded again, as long as they fit the file's frames; false transcodes every leg (comparisons, benchmarks).
    /// </summary>
    public bool OpusPassthrough { get; set; } = true;

    /// <summary>
    /// The longest gap in a call's media filled with silence. A longer one (a hold without RTP, a capture clock that
    /// stepped, a bogus timestamp confirmed by the next packet) is cut to this, and the sidecar says how much was cut.
    /// </summary>
    public TimeSpan MaxSilenceGap { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Where episodes of failed writes (a full disk) are tracked and told, shared by every pipeline that writes into
    /// <see cref="OutputDirectory"/>; null: each pipeline keeps its own, telling nobody.
    /// </summary>
    public RecordingDisk? Disk { get; set; }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory))
        {
            throw new ArgumentException("recording output directory must not be empty", nameof(OutputDirectory));
        }

        if (BitratePerChannel is < 6000 or > 256000)
        {
            throw new ArgumentOutOfRangeException(nameof(BitratePerChannel), BitratePerChannel, "Opus bitrate per channel must be 6000-256000 bit/s");
        }

        if (MaxSilenceGap < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSilenceGap), MaxSilenceGap, "the longest silence gap must be at least 1 s");
        }

        if (Complexity is < 0 or > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(Complexity), Complexity, "Opus complexity must be 0-10");
        }
    }
}
