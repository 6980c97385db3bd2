using BenchmarkDotNet.Attributes;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Bench.Bindings;

/// <summary>
/// The directory with 100k SIP phones (one line each, a tenth with a second, shared line): the per-packet lookups
/// (by IP, by extension, by device id) must allocate nothing; a registration refresh is the common update; attributing
/// a call's party is once per call; learning a new phone is the rare path.
/// </summary>
[MemoryDiagnoser]
public class DirectoryBenchmarks
{
    private const int Devices = 100_000;
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

    private BindingDirectory _directory = null!;
    private IpAddress16[] _ips = null!;
    private string[] _extensions = null!;
    private string[] _ids = null!;
    private int _i;
    private int _new;

    [GlobalSetup]
    public void Setup()
    {
        _directory = BindingDirectory.Open(null, DirectoryConfig.Empty, s_t0);
        _ips = new IpAddress16[Devices];
        _extensions = new string[Devices];
        _ids = new string[Devices];
        for (int i = 0; i < Devices; i++)
        {
            _ips[i] = IpAddress16.FromIPv4(0x0A00_0000u + (uint)i + 1);
            _extensions[i] = (100_000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _ids[i] = "sip:" + _ips[i] + ":5060";
            string id = _directory.ObserveDevice(_ids[i], DeviceProtocol.Sip, _ips[i], s_t0);
            _directory.RegisterLine(id, _extensions[i], null, LineSource.Registered, s_t0.AddHours(1), s_t0);
            if (i % 10 == 0)
            {
                _directory.RegisterLine(id, "shared-" + (i / 1000), null, LineSource.Registered, s_t0.AddHours(1), s_t0);
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _directory.Dispose();

    private int Next() => _i = (_i + 7919) % Devices;

    [Benchmark(Baseline = true)]
    public bool LookupByIp() => _directory.TryFindByIp(_ips[Next()], out DeviceBinding d) && d.Lines.Count > 0;

    [Benchmark]
    public bool LookupByExtension() => _directory.TryFindByExtension(_extensions[Next()].AsSpan(), out DeviceBinding d) && d.Lines.Count > 0;

    [Benchmark]
    public bool LookupByDeviceId() => _directory.TryGetDevice(_ids[Next()].AsSpan(), out DeviceBinding d) && d.Ips.Count > 0;

    [Benchmark]
    public bool RefreshRegistration()
    {
        int i = Next();
        return _directory.TryRefreshLine(_ids[i].AsSpan(), _extensions[i].AsSpan(), _ips[i], s_t0.AddHours(2), s_t0.AddMinutes(30));
    }

    [Benchmark]
    public bool AttributeCallParty()
    {
        int i = Next();
        return _directory.Attribute(_extensions[i], _ips[i], s_t0.AddMinutes(5)) is { Record: true };
    }

    [Benchmark]
    public int LearnNewPhone()
    {
        int n = ++_new;
        var ip = IpAddress16.FromIPv4(0x0B00_0000u + (uint)n);
        string id = _directory.ObserveDevice("new-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture), DeviceProtocol.Sip, ip, s_t0);
        _directory.RegisterLine(id, "9" + n.ToString(System.Globalization.CultureInfo.InvariantCulture), null, LineSource.Registered, s_t0.AddHours(1), s_t0);
        return id.Length;
    }
}
