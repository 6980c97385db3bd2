using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Appliance.Tests.Cluster;

/// <summary>
/// A real Garnet (the dotnet tool `garnet-server`, installed by `make garnet` into out/garnet) on a free loopback port,
/// in memory only: killed, it loses everything, as a server without persistence does. Restartable on the same port.
/// The cluster benchmarks (bench/Bindings) start theirs with it too.
/// </summary>
public sealed class GarnetServer : IDisposable
{
    private readonly StringBuilder _log = new();
    private Process? _process;

    private readonly string _memory;

    private GarnetServer(int port, string memory)
    {
        Port = port;
        _memory = memory;
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string the appliances are given.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>out/garnet/garnet-server of the checkout these binaries were built in.</summary>
    public static string Program => Path.Combine(Checkout, "out", "garnet", "garnet-server");

    // The folder holding Appliance.sln above the binaries (the tests' Repo.Root; the benchmarks link this file without it).
    private static string Checkout
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "Appliance.sln")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException("Appliance.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Why the cluster tests cannot run here (null: they can).</summary>
    public static string? SkipReason() =>
        File.Exists(Program) ? null : $"{Program} is missing: `make garnet` installs it (the dotnet tool garnet-server from NuGet)";

    /// <param name="memory">Garnet's --memory (its log size), e.g. 64m.</param>
    public static GarnetServer Start(string memory = "64m")
    {
        if (SkipReason() is { } missing)
        {
            throw new InvalidOperationException(missing); // a test asks SkipReason first; a benchmark has nothing to skip to
        }

        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var server = new GarnetServer(port, memory);
        server.Restart();
        return server;
    }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts it (again) on the same port, empty, and waits until it answers PING.</summary>
    public void Restart()
    {
        var psi = new ProcessStartInfo(Program, ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--memory", _memory, "--index", "1m"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        _process = Process.Start(psi) ?? throw new InvalidOperationException("garnet-server did not start");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (Ping())
            {
                return;
            }

            if (_process.HasExited)
            {
                break;
            }

            Thread.Sleep(100);
        }

        throw new InvalidOperationException("garnet-server did not answer PING: " + Log);
    }

    /// <summary>SIGKILL: what a crashed or unplugged server looks like to its clients.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    private bool Ping()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            NetworkStream s = client.GetStream();
            s.ReadTimeout = 2000;
            s.Write("PING\r\n"u8);
            byte[] buffer = new byte[16];
            int n = s.Read(buffer);
            return Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    public void Dispose() => Kill();
}
