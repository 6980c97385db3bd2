using System.Diagnostics;

namespace Appliance.Tests.Web;

/// <summary>
/// A private PulseAudio server (Debian <c>pulseaudio</c>) whose only output is a null sink, for the test Firefox: a
/// headless box has no sound card, and Firefox's AudioContext stays "suspended" (its clock never starts, its analysers
/// read silence) until an output device opens, unlike Chromium, which has a fake output of its own. Audio played into it
/// is processed by the browser exactly as on a desk and then dropped.
/// </summary>
public sealed class PulseNullSink : IDisposable
{
    /// <summary>Where Debian installs it (the launch below finds it on PATH).</summary>
    public const string Executable = "/usr/bin/pulseaudio";

    private readonly Process _process;
    private readonly string _dir;

    private PulseNullSink(Process process, string dir)
    {
        _process = process;
        _dir = dir;
    }

    /// <summary>The server's socket: a client reaches it with <c>PULSE_SERVER=unix:</c>this.</summary>
    public string Socket => Path.Combine(_dir, "native");

    public static PulseNullSink Start()
    {
        string dir = Path.Combine(Path.GetTempPath(), "appl-pulse-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var psi = new ProcessStartInfo("pulseaudio",
        [
            "-n", // no default configuration: no hardware probing, only the modules below
            "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--log-target=stderr",
            "--load=module-null-sink sink_name=silence",
            $"--load=module-native-protocol-unix socket={Path.Combine(dir, "native")} auth-anonymous=1",
        ])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        // Its own home and runtime folder: nothing shared with a desktop session or another test run.
        psi.Environment["HOME"] = dir;
        psi.Environment["XDG_RUNTIME_DIR"] = dir;
        psi.Environment["PULSE_RUNTIME_PATH"] = dir;
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"{Executable} did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { }; // root warnings ("not intended to be run as root", no D-Bus) are expected
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var sink = new PulseNullSink(process, dir);
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!File.Exists(sink.Socket))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                sink.Dispose();
                throw new InvalidOperationException($"{Executable} did not open {sink.Socket}");
            }

            Thread.Sleep(20);
        }

        return sink;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // The socket of a server still exiting: the temporary folder is left to the OS.
        }
    }
}
