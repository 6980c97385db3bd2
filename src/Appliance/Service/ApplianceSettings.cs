using Capture.Pipeline;
using Capture.Recording;

namespace Appliance.Service;

/// <summary>
/// What `appliance run` does, bound from the settings file (/etc/appliance/appliance.json unless --settings says
/// otherwise; keys at the top level), APPLIANCE_* environment variables (APPLIANCE_LISTEN, APPLIANCE_INTERFACES__0)
/// and flags, in that order of precedence (flags win). The embedded defaults are the demo `make run` shows: the bundled sample replayed as if live,
/// everything under ./var, the API on loopback.
/// </summary>
public sealed class ApplianceSettings
{
    /// <summary>Interfaces to capture live (the SPAN ports). Empty: replay <see cref="Replay"/> instead.</summary>
    public List<string> Interfaces { get; set; } = [];

    /// <summary>A capture file replayed as if live (demos); used when no interface is configured.</summary>
    public string? Replay { get; set; }

    /// <summary>Replay at the pace of the file's timestamps (false: as fast as possible).</summary>
    public bool ReplayPaced { get; set; } = true;

    /// <summary>Recording root (yyyy/MM/dd/&lt;id&gt;.opus + .json below it).</summary>
    public string Recordings { get; set; } = "var/recordings";

    /// <summary>The directory's durable state (FASTER KV).</summary>
    public string State { get; set; } = "var/state";

    /// <summary>Directory configuration (devices, users, profiles, recording groups; JSON). Null: learn only.</summary>
    public string? DirectoryConfig { get; set; }

    /// <summary>Kestrel address(es), ';'-separated. Loopback unless configured otherwise.</summary>
    public string Listen { get; set; } = "http://127.0.0.1:8080";

    /// <summary>File holding the API bearer token (one line). Null and no <see cref="Token"/>: a token is generated into &lt;State&gt;/api-token at first start (its path is logged, not the token).</summary>
    public string? TokenFile { get; set; }

    public string? Token { get; set; }

    public int CheckpointSeconds { get; set; } = 2;

    /// <summary>Media workers; null: <see cref="Capture.Pipeline.PipelineOptions.DefaultWorkers"/> (one per core).</summary>
    public int? Workers { get; set; }

    public int BitratePerChannel { get; set; } = OggOpusWriterOptions.DefaultBitratePerChannel;

    public int Complexity { get; set; } = OggOpusWriterOptions.DefaultComplexity;

    public string? Filter { get; set; }

    public int Snaplen { get; set; } = 2048;

    public int BufferMb { get; set; } = 64;

    public bool Immediate { get; set; } = true;

    public bool Promiscuous { get; set; } = true;

    /// <summary>Record RTP that no SIP or Skinny signalling claims, as calls with protocol <c>rtp</c> (README "Behaviour choices").</summary>
    public bool UnsignalledRtp { get; set; } = true;

    /// <summary>Such a call ends when neither direction sent a packet for this long.</summary>
    public int UnsignalledRtpIdleSeconds { get; set; } = 15;

    /// <summary>How long SIGTERM may take: capture stops at once, recordings and the directory get the rest.</summary>
    public int ShutdownSeconds { get; set; } = 20;

    /// <summary>Memory for media that waits while the workers are behind (all workers together), MiB.</summary>
    public int SpoolMemoryMb { get; set; } = 256;

    /// <summary>Disk under <see cref="State"/>/spool for what does not fit in <see cref="SpoolMemoryMb"/>, MiB; 0: none.</summary>
    public int SpoolDiskMb { get; set; } = 2048;

    /// <summary>Event-stream (GET /api/events) clients served at once; more are refused with 503.</summary>
    public int MaxEventClients { get; set; } = 100;

    /// <summary>Keep-days default and the disk low-water mark (README "Retention and legal hold").</summary>
    public RetentionSettings Retention { get; set; } = new();
    /// <summary>Several appliances sharing one directory on a Redis-protocol server (README "Cluster"); empty: a single box.</summary>
    public Appliance.Cluster.ClusterSettings Cluster { get; set; } = new();

    /// <summary>Failed authentications per client address before further attempts are answered 429 (README "Roles").</summary>
    public AuthThrottleSettings AuthThrottle { get; set; } = new();

    public RecordingOptions RecordingOptions() => new()
    {
        OutputDirectory = Recordings,
        BitratePerChannel = BitratePerChannel,
        Complexity = Complexity,
    };

    public PipelineOptions PipelineOptions() => new()
    {
        Workers = Workers ?? Capture.Pipeline.PipelineOptions.DefaultWorkers,
        WaitWhenQueueFull = false, // live: never block the capture thread; spool when behind
        SpoolMemoryBytes = (long)SpoolMemoryMb << 20,
        SpoolDiskBytes = (long)SpoolDiskMb << 20,
        SpoolDirectory = Path.Combine(State, "spool"),
        UnsignalledRtp = new() { Enabled = UnsignalledRtp, IdleTimeout = TimeSpan.FromSeconds(UnsignalledRtpIdleSeconds) },
    };

    /// <summary>Every problem with the settings, each naming its key; empty when they are usable.</summary>
    public List<string> Validate()
    {
        var problems = new List<string>();
        if (Interfaces.Count == 0 && string.IsNullOrWhiteSpace(Replay))
        {
            problems.Add("Interfaces: no interface to capture and no Replay file");
        }

        if (Interfaces.Any(string.IsNullOrWhiteSpace))
        {
            problems.Add("Interfaces: an interface name is empty");
        }

        if (string.IsNullOrWhiteSpace(Recordings))
        {
            problems.Add("Recordings: must name a folder");
        }

        if (string.IsNullOrWhiteSpace(State))
        {
            problems.Add("State: must name a folder");
        }

        if (CheckpointSeconds is < 1 or > 3600)
        {
            problems.Add($"CheckpointSeconds: must be 1-3600, not {CheckpointSeconds}");
        }

        if (Workers is < 1 or > 256)
        {
            problems.Add($"Workers: must be 1-256, not {Workers}");
        }

        if (BitratePerChannel is < 6000 or > 256000)
        {
            problems.Add($"BitratePerChannel: must be 6000-256000, not {BitratePerChannel}");
        }

        if (Complexity is < 0 or > 10)
        {
            problems.Add($"Complexity: must be 0-10, not {Complexity}");
        }

        if (Snaplen is < 64 or > 262144)
        {
            problems.Add($"Snaplen: must be 64-262144, not {Snaplen}");
        }

        if (BufferMb is < 1 or > 2048)
        {
            problems.Add($"BufferMb: must be 1-2048, not {BufferMb}");
        }

        if (UnsignalledRtpIdleSeconds is < 1 or > 3600)
        {
            problems.Add($"UnsignalledRtpIdleSeconds: must be 1-3600, not {UnsignalledRtpIdleSeconds}");
        }

        if (ShutdownSeconds is < 1 or > 600)
        {
            problems.Add($"ShutdownSeconds: must be 1-600, not {ShutdownSeconds}");
        }

        int workers = Workers ?? Capture.Pipeline.PipelineOptions.DefaultWorkers;
        if (SpoolMemoryMb < 1 || SpoolMemoryMb > 1 << 20 || ((long)SpoolMemoryMb << 20) < 2L * 65536 * workers)
        {
            problems.Add($"SpoolMemoryMb: must be 1-1048576 and hold two 64 KiB chunks per worker ({workers} worker(s)), not {SpoolMemoryMb}");
        }

        if (SpoolDiskMb is < 0 or > 1 << 24)
        {
            problems.Add($"SpoolDiskMb: must be 0 (no spool on disk) to 16777216, not {SpoolDiskMb}");
        }

        if (MaxEventClients is < 1 or > 10_000)
        {
            problems.Add($"MaxEventClients: must be 1-10000, not {MaxEventClients}");
        }

        Retention.Validate(problems);
        AuthThrottle.Validate(problems);
        problems.AddRange(Cluster.Validate());
        return problems;
    }
}
