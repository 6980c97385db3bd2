using Capture.Packets;
using Capture.Rtp;

namespace Capture.Pipeline;

public sealed class PipelineOptions
{
    /// <summary>Media workers; 0 processes media inline on the capture thread (tests, allocation checks).</summary>
    public int Workers { get; set; } = DefaultWorkers;

    /// <summary>
    /// One media worker per core, the capture thread's core included: that thread needs only a few per cent of a core at
    /// the packet rates a core can encode (2-10 %, mostly 4-6 %, in `make bench-live`), so a core kept for it alone was
    /// a core not encoding, and on a 2-core box one worker dropped packets where two kept up (README "Performance").
    /// </summary>
    public static int DefaultWorkers => Environment.ProcessorCount;

    /// <summary>Slots per worker queue (a power of two); each slot holds one datagram.</summary>
    public int QueueCapacity { get; set; } = 8192;

    /// <summary>
    /// Replay reads a file, so a full queue waits for the worker; live capture never blocks the capture thread:
    /// it spools (<see cref="SpoolMemoryBytes"/>, then <see cref="SpoolDiskBytes"/>) and drops only when the spool is full.
    /// </summary>
    public bool WaitWhenQueueFull { get; set; } = true;

    /// <summary>
    /// Memory for the items of workers whose queue is full, shared equally by the workers (chunks of 64 KiB, at least
    /// two per worker). 256 MiB hold about a minute of a 20,000 packet/s mirror (~4 MB/s of RTP with its headers).
    /// </summary>
    public long SpoolMemoryBytes { get; set; } = 256L << 20;

    /// <summary>Disk for what does not fit in <see cref="SpoolMemoryBytes"/>, shared equally by the workers; 0 or no <see cref="SpoolDirectory"/>: none.</summary>
    public long SpoolDiskBytes { get; set; } = 2L << 30;

    /// <summary>Where the workers' spool files go (one per worker, deleted when the pipeline is disposed); null: memory only.</summary>
    public string? SpoolDirectory { get; set; }

    /// <summary>How often (in capture time) timeouts are checked and idle calls are mixed forward.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Recording RTP that no signalling claims (on by default).</summary>
    public UnsignalledRtpOptions UnsignalledRtp { get; set; } = new();

    /// <summary>Limits of TCP stream reassembly (SIP over TCP, Skinny).</summary>
    public TcpReassemblerOptions Tcp { get; set; } = new();

    public void Validate()
    {
        if (Workers is < 0 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "workers must be 0-256");
        }

        if (QueueCapacity < 16 || (QueueCapacity & (QueueCapacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "queue capacity must be a power of two of at least 16");
        }

        long spoolMinimum = 2L * WorkSpool.DefaultChunkBytes * Math.Max(1, Workers);
        if (SpoolMemoryBytes < spoolMinimum)
        {
            throw new ArgumentOutOfRangeException(nameof(SpoolMemoryBytes), SpoolMemoryBytes, $"the spool needs at least two 64 KiB chunks per worker: {spoolMinimum} bytes for {Math.Max(1, Workers)} worker(s)");
        }

        if (SpoolDiskBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(SpoolDiskBytes), SpoolDiskBytes, "spool disk bytes must be 0 (none) or more");
        }

        ArgumentNullException.ThrowIfNull(UnsignalledRtp);
        if (UnsignalledRtp.IdleTimeout <= TimeSpan.Zero || UnsignalledRtp.MaxCandidates < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(UnsignalledRtp), "unsignalled RTP needs a positive idle timeout and candidate limit");
        }

        ArgumentNullException.ThrowIfNull(Tcp);
        Tcp.Validate();
    }
}
