using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Tests.Cluster;

/// <summary>
/// A real PostgreSQL 15 (Debian postgresql-15, TEST_PACKAGES) of the test's own: <c>initdb</c> into a temporary folder
/// (as the postgres user when the tests run as root: initdb refuses root), started with <c>pg_ctl</c> on a free loopback
/// port with its socket in that folder, stopped and deleted at the end. Stoppable and restartable mid-test (same data).
/// The central-index benchmark (bench/Recordings) starts its server with this too.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    public const string Bin = "/usr/lib/postgresql/15/bin";

    private const string InitDb = Bin + "/initdb";

    private readonly string _folder;
    private readonly bool _durable;
    private readonly int _sharedBuffersMb;

    private PostgresServer(string folder, int port, bool durable, int sharedBuffersMb)
    {
        _folder = folder;
        Port = port;
        _durable = durable;
        _sharedBuffersMb = sharedBuffersMb;
    }

    public int Port { get; }

    private string Data => Path.Combine(_folder, "data");

    /// <summary>An Npgsql connection string to the database <paramref name="database"/> (trust authentication on loopback).</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Pooling=false";

    /// <summary>Why these tests cannot run here (null: they can).</summary>
    public static string? SkipReason()
    {
        if (!File.Exists(InitDb))
        {
            return $"{Bin}/initdb is missing: postgresql-15 is in the Makefile's TEST_PACKAGES (make deps-test)";
        }

        if (Environment.UserName == "root" && Run("id", ["-u", "postgres"], asPostgres: false).Code != 0)
        {
            return "running as root and there is no postgres user to run initdb as (the postgresql-15 package creates it)";
        }

        return null;
    }

    /// <param name="durable">fsync on, as a production server runs (the benchmark); off for the tests, which never crash the machine.</param>
    /// <param name="sharedBuffersMb">PostgreSQL's shared_buffers.</param>
    public static PostgresServer Start(bool durable = false, int sharedBuffersMb = 16)
    {
        string folder = Path.Combine(Path.GetTempPath(), "appl-pg-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        if (Environment.UserName == "root")
        {
            Check(Run("chown", ["postgres", folder], asPostgres: false), "chown");
        }

        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var server = new PostgresServer(folder, port, durable, sharedBuffersMb);
        try
        {
            Check(Run("/usr/lib/postgresql/15/bin/initdb", ["-D", server.Data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]), "initdb");
            server.Restart();
        }
        catch
        {
            server.Dispose(); // never leave a server or its folder behind a failed start
            throw;
        }

        return server;
    }

    /// <summary>Starts it (again), on the same port and data, and waits until it accepts connections.</summary>
    public void Restart()
    {
        string options = string.Create(CultureInfo.InvariantCulture,
            $"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c fsync={(_durable ? "on" : "off")} -c max_connections=50 -c shared_buffers={_sharedBuffersMb}MB");
        Check(Run("/usr/lib/postgresql/15/bin/pg_ctl", ["-D", Data, "-l", Path.Combine(_folder, "log"), "-o", options, "-w", "-t", "60", "start"]), "pg_ctl start");
    }

    /// <summary>Stops it at once (immediate: connections cut, as a crash or a pulled cable looks to the clients).</summary>
    public void Stop() => Check(Run("/usr/lib/postgresql/15/bin/pg_ctl", ["-D", Data, "-m", "immediate", "-w", "stop"]), "pg_ctl stop");

    public string Log => File.Exists(Path.Combine(_folder, "log")) ? File.ReadAllText(Path.Combine(_folder, "log")) : "";

    public void Dispose()
    {
        Run("/usr/lib/postgresql/15/bin/pg_ctl", ["-D", Data, "-m", "immediate", "-w", "stop"]);
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // the temp folder is cleaned by the system
        }
    }

    private static void Check((int Code, string Output) result, string what)
    {
        if (result.Code != 0)
        {
            throw new InvalidOperationException($"{what} failed ({result.Code}): {result.Output}");
        }
    }

    // As the postgres user when root (runuser, util-linux), else as ourselves.
    private static (int Code, string Output) Run(string program, string[] args, bool asPostgres = true)
    {
        var psi = new ProcessStartInfo(program, args);
        if (asPostgres && Environment.UserName == "root")
        {
            psi = new ProcessStartInfo("runuser", ["-u", "postgres", "--", program, .. args]);
        }

        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = Path.GetTempPath();
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException(program + " did not start");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
