using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Cluster;
using Appliance.Tests.Cluster;
using BenchmarkDotNet.Attributes;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bench.Bindings;

/// <summary>
/// Devices learned from traffic, shared across the estate (README "Cluster"): appliance a has learned 3,000 phones; one
/// of them changes (its line 2), and the operation lasts until appliance b lists the change. The writes are not batched
/// here (a second apart in the product), so the time is one write, its publish and b's read. Each appliance talks to
/// the loopback Garnet through a counting relay: the bytes a sent to the server and b received from it per change are
/// printed at the end ("per change: ..."), the numbers README "Performance" gives. Needs out/garnet/garnet-server.
/// </summary>
[MemoryDiagnoser]
public class SharedDevicesBenchmarks
{
    private const int Phones = 3000;
    private static readonly DateTimeOffset s_t0 = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    private GarnetServer? _garnet;
    private BindingDirectory _a = null!;
    private BindingDirectory _b = null!;
    private SharedDirectory _sharedA = null!;
    private SharedDirectory _sharedB = null!;
    private CountingRelay _relayA = null!;
    private CountingRelay _relayB = null!;
    private long _n;
    private long _ops;
    private long _sentBefore;
    private long _readBefore;

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
        _garnet = GarnetServer.Start("256m");
        int port = _garnet.Port;

        _relayA = new CountingRelay(port);
        _relayB = new CountingRelay(port);
        _a = BindingDirectory.Open(null, DirectoryConfig.Empty, s_t0);
        _b = BindingDirectory.Open(null, DirectoryConfig.Empty, s_t0);
        for (int i = 0; i < Phones; i++)
        {
            string ext = (20000 + i).ToString(CultureInfo.InvariantCulture);
            string device = _a.ObserveDevice("SEP" + (0x001122000000L + i).ToString("X12", CultureInfo.InvariantCulture), DeviceProtocol.Sip,
                IpAddress16.FromIPv4(0x0A10_0000u + (uint)i + 1), s_t0, "sip:" + ext + "@10.16.0.1:5060", "Cisco-CP8865/14.2.1");
            _a.ReplaceLines(device, [(1, ext, "Agent " + ext)], LineSource.Registered, s_t0);
        }

        string prefix = "bench-devices-" + Guid.NewGuid().ToString("N")[..8] + ":";
        _sharedA = new SharedDirectory(new ClusterSettings { Redis = _relayA.Configuration, Prefix = prefix, Name = "a", ReconcileSeconds = 3600, ClaimSeconds = 7200 }, _a, NullLogger.Instance)
        {
            DevicesBatch = TimeSpan.Zero,
        };
        _sharedB = new SharedDirectory(new ClusterSettings { Redis = _relayB.Configuration, Prefix = prefix, Name = "b", ReconcileSeconds = 3600, ClaimSeconds = 7200 }, _b, NullLogger.Instance)
        {
            DevicesBatch = TimeSpan.Zero,
        };
        _sharedA.Start(TimeSpan.FromSeconds(60));
        _sharedB.Start(TimeSpan.FromSeconds(60));
        var started = Stopwatch.StartNew();
        while (_sharedB.RemoteDevices().Count < Phones)
        {
            if (started.Elapsed > TimeSpan.FromSeconds(60) || _sharedA.Degraded || _sharedB.Degraded)
            {
                throw new InvalidOperationException($"b lists {_sharedB.RemoteDevices().Count} of a's {Phones} phones: {_sharedA.LastError} {_sharedB.LastError}");
            }

            Thread.Sleep(100);
        }

        _sentBefore = _relayA.Up;
        _readBefore = _relayB.Down;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        long ops = Math.Max(1, _ops);
        Console.WriteLine(FormattableString.Invariant(
            $"per change: a sent {(double)(_relayA.Up - _sentBefore) / ops:F0} B to the server, b received {(double)(_relayB.Down - _readBefore) / ops:F0} B ({_ops} changes, {Phones} phones)"));
        _sharedA.Dispose();
        _sharedB.Dispose();
        _a.Dispose();
        _b.Dispose();
        _relayA.Dispose();
        _relayB.Dispose();
        _garnet?.Dispose();
    }

    /// <summary>One of a's phones gets a new line 2; returns when b lists it.</summary>
    [Benchmark]
    public int OnePhoneChangedSeenAtSecondAppliance()
    {
        long n = ++_n;
        int i = (int)(n % Phones);
        string ext = (20000 + i).ToString(CultureInfo.InvariantCulture);
        string id = "SEP" + (0x001122000000L + i).ToString("X12", CultureInfo.InvariantCulture);
        string second = "9" + n.ToString(CultureInfo.InvariantCulture);
        _a.ReplaceLines(id, [(1, ext, "Agent " + ext), (2, second, null)], LineSource.Registered, s_t0.AddSeconds(n));
        while (_sharedB.RemoteDevice(id) is not { } d || d.Lines.Count < 2 || d.Lines[1].Extension != second)
        {
            Thread.Yield();
        }

        _ops++;
        return i;
    }

    /// <summary>A loopback TCP relay to the server counting the bytes each way (what the appliance sends and receives).</summary>
    private sealed class CountingRelay : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly int _server;
        private readonly CancellationTokenSource _stop = new();
        private long _up;
        private long _down;

        public CountingRelay(int server)
        {
            _server = server;
            _listener.Start();
            _ = Task.Run(AcceptAsync);
        }

        public string Configuration => "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

        public long Up => Interlocked.Read(ref _up);

        public long Down => Interlocked.Read(ref _down);

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                var server = new TcpClient();
                await server.ConnectAsync(IPAddress.Loopback, _server).ConfigureAwait(false);
                _ = Pump(client.GetStream(), server.GetStream(), up: true);
                _ = Pump(server.GetStream(), client.GetStream(), up: false);
            }
        }

        private async Task Pump(NetworkStream from, NetworkStream to, bool up)
        {
            byte[] buffer = new byte[65536];
            try
            {
                int n;
                while ((n = await from.ReadAsync(buffer, _stop.Token).ConfigureAwait(false)) > 0)
                {
                    Interlocked.Add(ref up ? ref _up : ref _down, n);
                    await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
                // closed
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
