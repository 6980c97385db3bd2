using Appliance.Cluster;
using Appliance.Tests.Cluster;
using BenchmarkDotNet.Attributes;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bench.Bindings;

/// <summary>
/// The shared directory (README "Cluster") against the local one: a hot-desk login and logout on the local directory
/// (memory, FASTER behind it at the next checkpoint) and the same through a <see cref="SharedDirectory"/> until both
/// are on the server (conditional transactions and publishes, loopback Garnet); how long a login made at one appliance
/// takes to be applied at a second (pub/sub), which is all a remote login adds before the other appliance attributes a
/// call with it; and attributing a call's party with the cluster on (the same local read as without). Needs
/// out/garnet/garnet-server (`make garnet`).
/// </summary>
[MemoryDiagnoser]
public class SharedDirectoryBenchmarks
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
    private static readonly IpAddress16 s_ip = IpAddress16.FromIPv4(0x0A00_010Bu);

    private GarnetServer? _garnet;
    private string _folder = "";
    private BindingDirectory _local = null!;
    private BindingDirectory _a = null!;
    private BindingDirectory _b = null!;
    private SharedDirectory _sharedA = null!;
    private SharedDirectory _sharedB = null!;
    private long _n;

    private static DirectoryConfig Config() => new()
    {
        Devices = [new DeviceConfig("desk-1") { Ips = ["10.0.1.11"], Extensions = ["2001"] }, new DeviceConfig("desk-2") { Extensions = ["2002"] }],
        Users = [new UserConfig("alice"), new UserConfig("bob")],
    };

    [GlobalSetup]
    public void Setup()
    {
        try
        {
            Start();
        }
        catch
        {
            _garnet?.Dispose(); // never leave the server running after a failed setup
            throw;
        }
    }

    private void Start()
    {
        _garnet = GarnetServer.Start();
        int port = _garnet.Port;

        _folder = Path.Combine(Path.GetTempPath(), "bench-cluster-" + Guid.NewGuid().ToString("N")[..8]);
        _local = BindingDirectory.Open(DirectoryStore.Open(new DirectoryStoreOptions { Path = Path.Combine(_folder, "local") }), Config(), s_t0);
        _a = BindingDirectory.Open(DirectoryStore.Open(new DirectoryStoreOptions { Path = Path.Combine(_folder, "a") }), Config(), s_t0);
        _b = BindingDirectory.Open(DirectoryStore.Open(new DirectoryStoreOptions { Path = Path.Combine(_folder, "b") }), Config(), s_t0);
        var settings = new ClusterSettings { Redis = $"127.0.0.1:{port}", Prefix = "bench:", ReconcileSeconds = 3600 };
        _sharedA = new SharedDirectory(new ClusterSettings { Redis = settings.Redis, Prefix = settings.Prefix, Name = "a", ReconcileSeconds = 3600 }, _a, NullLogger.Instance);
        _sharedB = new SharedDirectory(new ClusterSettings { Redis = settings.Redis, Prefix = settings.Prefix, Name = "b", ReconcileSeconds = 3600 }, _b, NullLogger.Instance);
        _sharedA.Start(TimeSpan.FromSeconds(10));
        _sharedB.Start(TimeSpan.FromSeconds(10));
        if (_sharedA.Degraded || _sharedB.Degraded)
        {
            throw new InvalidOperationException("Garnet did not answer: " + _sharedA.LastError);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sharedA.Dispose();
        _sharedB.Dispose();
        _local.Dispose();
        _a.Dispose();
        _b.Dispose();
        _garnet?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Event times one millisecond apart: every change is later than the last (the server keeps the later).</summary>
    private DateTimeOffset Next() => s_t0.AddMilliseconds(++_n);

    [Benchmark(Baseline = true)]
    public bool LocalLoginLogout() => _local.Login("alice", "desk-1", null, Next()).Ok & _local.Logout("desk-1", Next()).Ok;

    /// <summary>The same two changes, returned once both are written to the server and published.</summary>
    [Benchmark]
    public bool SharedLoginLogout()
    {
        long target = _sharedA.Published + 2;
        bool ok = _a.Login("alice", "desk-1", null, Next()).Ok & _a.Logout("desk-1", Next()).Ok;
        while (_sharedA.Published < target)
        {
            Thread.Yield();
        }

        return ok;
    }

    /// <summary>A login at appliance a until b has applied it (and the logout likewise): two propagations.</summary>
    [Benchmark]
    public bool LoginSeenAtSecondAppliance()
    {
        bool ok = _a.Login("bob", "desk-2", null, Next()).Ok;
        while (!_b.LocateUser("bob").LoggedIn)
        {
            Thread.Yield();
        }

        ok &= _a.Logout("desk-2", Next()).Ok;
        while (_b.LocateUser("bob").LoggedIn)
        {
            Thread.Yield();
        }

        return ok;
    }

    [Benchmark]
    public bool AttributeCallPartyClusterOn() => _a.Attribute("2001", s_ip, s_t0.AddDays(1)) is not null;

    [Benchmark]
    public bool AttributeCallPartyLocal() => _local.Attribute("2001", s_ip, s_t0.AddDays(1)) is not null;
}
