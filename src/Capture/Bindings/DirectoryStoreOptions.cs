namespace Capture.Bindings;

/// <summary>Where and how the directory keeps its durable state (see <see cref="DirectoryStore"/>).</summary>
public sealed class DirectoryStoreOptions
{
    /// <summary>The state directory; created if missing. It holds the log segments (<c>hlog.log.N</c>) and <c>checkpoints/</c>.</summary>
    public required string Path { get; init; }

    /// <summary>
    /// In-memory part of the log, rounded down to a power of two; at least 1 MiB. The directory normally fits whole,
    /// so reads never wait for the disk.
    /// </summary>
    public long MemoryBytes { get; init; } = 64L << 20;

    /// <summary><see cref="DirectoryStore.Compact"/> does work only when the log holds more than this many times the live bytes; at least 1.</summary>
    public double CompactWhenLogOverLive { get; init; } = 2.0;

    /// <summary>
    /// How long <see cref="DirectoryStore.Checkpoint"/> waits for FASTER. FASTER does not retry a log write that failed
    /// (a folder made read-only or a full disk between the writability probe and the write): its checkpoint then never
    /// finishes, and after this long the store is given up as broken instead of blocking the caller for good.
    /// </summary>
    public TimeSpan CheckpointTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
