using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Appliance.Tests.Support;

/// <summary>
/// One live test's rig (tests/live/netns.sh or topology.sh with this process's names, <see cref="LiveRig"/>) and a scratch
/// folder; at the end the appliance it started is killed and the rig torn down. Also the helpers live tests share:
/// start `appliance capture` on the bridge, stop it with SIGTERM, wait for a condition.
/// </summary>
public sealed class RigSession : IDisposable
{
    private Process? _appliance;

    private readonly string _script;

    /// <param name="upArgs">More arguments for the script's <c>up</c> (topology-b2b.sh's <c>topoh</c>).</param>
    public RigSession(string name, string? script = null, params string[] upArgs)
    {
        _script = script ?? LiveRig.Script;
        Dir = Path.Combine(Path.GetTempPath(), name + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        (int up, string upLog) = Repo.Run("bash", [_script, "up", .. upArgs], TimeSpan.FromSeconds(60));
        if (up != 0)
        {
            Dispose();
            Assert.Fail("netns rig: " + upLog);
        }
    }

    public string Dir { get; }

    public string State => Path.Combine(Dir, "state");

    /// <summary>`appliance capture` on the rig's bridge (<see cref="StartCapture"/>), stopped at the end if still running.</summary>
    public (Process Appliance, System.Text.StringBuilder Log) Start(params string[] args)
    {
        (Process appliance, System.Text.StringBuilder log) = StartCapture(args);
        _appliance = appliance;
        return (appliance, log);
    }

    public void Dispose()
    {
        if (_appliance is { HasExited: false })
        {
            _appliance.Kill(entireProcessTree: true);
        }

        _appliance?.Dispose();
        Repo.Run("bash", [_script, "down"], TimeSpan.FromSeconds(60));
        if (Directory.Exists(Dir))
        {
            Directory.Delete(Dir, recursive: true);
        }
    }

    /// <summary>Starts `appliance capture` on the rig's bridge and waits until it captures; its output goes to the returned log.</summary>
    public static (Process Appliance, System.Text.StringBuilder Log) StartCapture(params string[] args) => StartCaptureOn(LiveRig.Bridge, args);

    /// <summary>`appliance capture` on <paramref name="iface"/> (a veth end, say), once it captures.</summary>
    public static (Process Appliance, System.Text.StringBuilder Log) StartCaptureOn(string iface, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", [Repo.ApplianceDll, "capture", "--interface", iface, .. args])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        Process appliance = Process.Start(psi)!;
        var log = new System.Text.StringBuilder();
        appliance.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        appliance.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        appliance.BeginErrorReadLine();
        appliance.BeginOutputReadLine();
        WaitFor(() => { lock (log) { return log.ToString().Contains("capturing on " + iface, StringComparison.Ordinal); } }, TimeSpan.FromSeconds(30), () => log.ToString());
        return (appliance, log);
    }

    /// <summary>SIGTERM finalises every open recording and exits 0 within 30 s; returns (and prints) the appliance's output.</summary>
    public static string StopWithSigterm(Process appliance, System.Text.StringBuilder log, ITestOutputHelper output)
    {
        Assert.Equal(0, Kill(appliance.Id, "TERM"));
        Assert.True(appliance.WaitForExit(TimeSpan.FromSeconds(30)), "appliance did not stop on SIGTERM");
        appliance.WaitForExit();
        string text;
        lock (log)
        {
            text = log.ToString();
        }

        output.WriteLine(text);
        Assert.Equal(0, appliance.ExitCode);
        return text;
    }

    public static int Kill(int pid, string signal) => Repo.Run("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5)).ExitCode;

    public static void WaitFor(Func<bool> condition, TimeSpan timeout, Func<string> diagnostics)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException("waited in vain: " + diagnostics());
            }

            Thread.Sleep(100);
        }
    }

    public static int CountOf(string text, string what)
    {
        int count = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
