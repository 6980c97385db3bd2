namespace Appliance.Service;

/// <summary>Retention's counts, read by the metrics at scrape time: deletions by reason, bytes freed, recordings held now.</summary>
public sealed class RetentionStats
{
    private long _deletedKeepDays;
    private long _deletedLowWater;
    private long _bytesFreed;
    private long _held;

    public long DeletedKeepDays => Interlocked.Read(ref _deletedKeepDays);

    public long DeletedLowWater => Interlocked.Read(ref _deletedLowWater);

    public long BytesFreed => Interlocked.Read(ref _bytesFreed);

    /// <summary>Recordings under legal hold, as the index last counted them (at start and at each hold or release).</summary>
    public long Held { get => Interlocked.Read(ref _held); internal set => Interlocked.Exchange(ref _held, value); }

    internal void Deleted(bool lowWater, long bytes)
    {
        if (lowWater)
        {
            Interlocked.Increment(ref _deletedLowWater);
        }
        else
        {
            Interlocked.Increment(ref _deletedKeepDays);
        }

        Interlocked.Add(ref _bytesFreed, bytes);
    }
}
