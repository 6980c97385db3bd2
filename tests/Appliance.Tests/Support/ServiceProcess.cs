using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Appliance.Tests.Support;

/// <summary>`appliance run` in its own process (the built apphost, so signals reach it directly), with its logs.</summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly StringBuilder _log = new();

    private ServiceProcess(Process process, int port)
    {
        Process = process;
        Port = port;
    }

    public Process Process { get; }

    public int Port { get; }

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

    public static ServiceProcess Start(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        int port = FreePort();
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "appliance"), ["run", "--settings", "none", "--listen", $"http://127.0.0.1:{port}", .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (string name in new[] { "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "INVOCATION_ID" })
        {
            psi.Environment.Remove(name); // the test runner may itself run under systemd
        }

        psi.Environment["APPLIANCE_TOKEN"] = Token; // everything but /healthz and /readyz needs it
        foreach ((string k, string? v) in environment)
        {
            psi.Environment[k] = v;
        }

        Process p = Process.Start(psi) ?? throw new InvalidOperationException("appliance did not start");
        var service = new ServiceProcess(p, port);
        p.OutputDataReceived += (_, e) => service.Append(e.Data);
        p.ErrorDataReceived += (_, e) => service.Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return service;
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

    /// <summary>The API token the process is started with.</summary>
    public const string Token = "service-process-test-token";

    public string Get(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        return http.GetStringAsync($"http://127.0.0.1:{Port}{path}").GetAwaiter().GetResult();
    }

    /// <summary>A request with the bearer token (e.g. a Range request); the caller reads and disposes the response.</summary>
    public HttpResponseMessage Send(string path, Action<HttpRequestMessage>? configure = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{Port}{path}");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        configure?.Invoke(request);
        HttpResponseMessage response = http.Send(request, HttpCompletionOption.ResponseContentRead);
        return response;
    }

    /// <summary>Polls /readyz (no token) until it answers 200; false when the time is up or the process exited.</summary>
    public bool WaitForReady(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout && !Process.HasExited)
        {
            try
            {
                using HttpResponseMessage r = http.GetAsync($"http://127.0.0.1:{Port}/readyz").GetAwaiter().GetResult();
                if (r.IsSuccessStatusCode)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            Thread.Sleep(100);
        }

        return false;
    }

    /// <summary>Polls /metrics until <paramref name="done"/> holds (or the time is up).</summary>
    public Exposition.Document WaitForMetrics(Func<Exposition.Document, bool> done, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                Exposition.Document doc = Exposition.Parse(Get("/metrics"));
                if (done(doc) || sw.Elapsed > timeout)
                {
                    return doc;
                }
            }
            catch (HttpRequestException) when (sw.Elapsed < timeout && !Process.HasExited)
            {
                // not listening yet
            }

            Thread.Sleep(100);
        }
    }

    public void Signal(string signal)
    {
        using Process kill = Process.Start("kill", ["-" + signal, Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
    }
}

/// <summary>A NOTIFY_SOCKET as systemd binds it: a Unix datagram socket, every datagram kept with its arrival time.</summary>
public sealed class NotifyListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly BlockingCollection<(TimeSpan At, string Message)> _messages = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Thread _reader;

    public NotifyListener()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "appl-notify-" + Guid.NewGuid().ToString("N")[..12] + ".sock");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
        _reader = new Thread(Read) { IsBackground = true, Name = "notify listener" };
        _reader.Start();
    }

    public string Path { get; }

    public List<(TimeSpan At, string Message)> Received { get; } = [];

    private void Read()
    {
        byte[] buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = _socket.Receive(buffer);
                _messages.Add((_clock.Elapsed, Encoding.UTF8.GetString(buffer, 0, n)));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _messages.CompleteAdding();
        }
    }

    /// <summary>Waits for a datagram holding the assignment <paramref name="line"/> (e.g. "READY=1"); every datagram read is kept in <see cref="Received"/>.</summary>
    public bool WaitFor(string line, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_messages.TryTake(out (TimeSpan At, string Message) m, TimeSpan.FromMilliseconds(100)))
            {
                Received.Add(m);
                if (m.Message.Split('\n').Contains(line))
                {
                    return true;
                }
            }
        }

        return false;
    }

    public void Dispose()
    {
        _socket.Dispose();
        File.Delete(Path);
    }
}
