namespace Appliance.Service;

/// <summary>
/// Settings section <c>Retention</c> (README "Retention and legal hold"): how long recordings are kept and how much of
/// the recordings' filesystem must stay free. Keep-days per recording group live on the group (keepDays in the
/// directory configuration); this is the default for recordings of no group, or of a group that does not say.
/// </summary>
public sealed class RetentionSettings
{
    /// <summary>Days a recording is kept when its groups do not say; 0 keeps it forever.</summary>
    public int DefaultKeepDays { get; set; }

    /// <summary>Low-water mark: when free space on the recordings' filesystem falls below this percentage, the oldest recordings are deleted; 0: no percentage mark.</summary>
    public double MinFreePercent { get; set; } = 5;

    /// <summary>Low-water mark in MiB (either mark crossed starts a deletion); 0: no absolute mark.</summary>
    public long MinFreeMb { get; set; }

    /// <summary>Hysteresis: once started, deletion goes on until free space is this percentage of the filesystem above the mark.</summary>
    public double HysteresisPercent { get; set; } = 1;

    /// <summary>Seconds between two passes (one also runs at start).</summary>
    public int IntervalSeconds { get; set; } = 600;

    /// <summary>Recordings read from the index per batch (each batch's deletions are one index transaction each; the disk is re-measured between batches).</summary>
    public int BatchSize { get; set; } = 200;

    public void Validate(List<string> problems)
    {
        if (DefaultKeepDays is < 0 or > 36_500)
        {
            problems.Add($"Retention:DefaultKeepDays: must be 0 (keep forever) to 36500, not {DefaultKeepDays}");
        }

        if (MinFreePercent is < 0 or >= 100 || double.IsNaN(MinFreePercent))
        {
            problems.Add($"Retention:MinFreePercent: must be 0 (off) to less than 100, not {MinFreePercent}");
        }

        if (MinFreeMb < 0)
        {
            problems.Add($"Retention:MinFreeMb: must be 0 (off) or more, not {MinFreeMb}");
        }

        if (HysteresisPercent is < 0 or > 50 || double.IsNaN(HysteresisPercent))
        {
            problems.Add($"Retention:HysteresisPercent: must be 0-50, not {HysteresisPercent}");
        }

        if (IntervalSeconds is < 1 or > 86_400)
        {
            problems.Add($"Retention:IntervalSeconds: must be 1-86400, not {IntervalSeconds}");
        }

        if (BatchSize is < 1 or > 10_000)
        {
            problems.Add($"Retention:BatchSize: must be 1-10000, not {BatchSize}");
        }
    }
}
