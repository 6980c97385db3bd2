using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// Every kind of damaged FASTER state of issue 13, each in a real process (`replay --state`, bounded): a clear error
/// naming the file or folder and what to do, exit code 2, and the folder left exactly as it was. Before: an unhandled
/// JsonException, an AccessViolationException, hangs, and silent empty starts whose next checkpoint overwrote the state.
/// </summary>
public sealed class DamagedStateTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appliance-damaged-" + Guid.NewGuid().ToString("N"));

    private string State => Path.Combine(_dir, "state");

    private string Log => Path.Combine(State, "hlog.log.0");

    private string Metadata => Directory.GetFiles(Path.Combine(State, "checkpoints", "cpr-checkpoints"), "info.dat.0", SearchOption.AllDirectories).Single();

    private static (int Code, string Output) Appliance(params string[] args) =>
        Repo.Run("dotnet", [Repo.ApplianceDll, .. args], TimeSpan.FromSeconds(60));

    /// <summary>A state folder as a run leaves it: the SIPp phone of the mobility sample, its line 2001, alice's login history.</summary>
    private void Seed()
    {
        Directory.CreateDirectory(_dir);
        string config = Path.Combine(_dir, "appliance.json");
        File.WriteAllText(config, DirectoryCliTests.MobilityConfig);
        (int code, string text) = Appliance("replay", Path.Combine(Repo.Root, "samples", "sipp-mobility-registers.pcap"),
            "--out", Path.Combine(_dir, "rec"), "--state", State, "--config", config);
        Assert.True(code == 0, text);
    }

    private (int Code, string Output) ReplayWithState() =>
        Appliance("replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--out", Path.Combine(_dir, "rec2"), "--state", State, "--json");

    [Fact]
    public void HealthyState_IsRecovered()
    {
        Seed();
        (int code, string text) = ReplayWithState();
        Assert.True(code == 0, text);
        using JsonDocument doc = JsonDocument.Parse(text);
        Assert.Contains(doc.RootElement.GetProperty("devices").EnumerateArray(), d => d.GetProperty("id").GetString() == "sip:10.77.0.10:5061");
    }

    public static TheoryData<string> Kinds =>
    [
        "record-not-json",           // was an unhandled JsonException
        "log-garbage",               // was an AccessViolationException (FASTER followed a garbage record length)
        "log-is-a-directory",        // was a hang
        "metadata-empty",            // was a silent empty start
        "checkpoints-folder-missing",// was a silent empty start
        "checkpoint-folder-removed", // the checkpoint's own folder gone: was a silent empty start
        "log-all-zeros",             // was a silent empty start
        "log-unreadable-fifo",       // a file whose open never returns (as root nothing else is unreadable): was a hang
        "log-symlink-loop",          // a file that cannot be opened (ELOOP): was a hang
        "log-truncated",
        "metadata-garbage",
        "metadata-fifo",             // never opened (it would wait for a writer for ever)
        "state-is-a-file",           // was an unhandled IOException
    ];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void DamagedState_RefusesToStart_WithExit2AndAClearMessage_AndTouchesNothing(string kind)
    {
        Seed();
        string named = Damage(kind);
        Dictionary<string, string> before = Snapshot();

        var watch = Stopwatch.StartNew();
        (int code, string text) = ReplayWithState(); // Repo.Run fails the test on a hang (60 s)
        output.WriteLine($"{kind}: exit {code} after {watch.Elapsed.TotalSeconds:F1} s\n{text}");

        Assert.Equal(2, code);
        Assert.StartsWith("appliance: ", text, StringComparison.Ordinal); // our message, not an unhandled exception
        Assert.DoesNotContain("Unhandled exception", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.Contains(named, text, StringComparison.Ordinal);
        Assert.Contains(kind == "state-is-a-file" ? "move the file aside" : "move the folder aside", text, StringComparison.Ordinal);

        // Nothing was deleted, created or rewritten: the old state is still there for a restore or a diagnosis.
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void Run_WithADamagedState_ExitsWith2AndSaysWhatToDo()
    {
        Seed();
        string named = Damage("log-garbage");
        Dictionary<string, string> before = Snapshot();
        using var service = ServiceProcess.Start(new Dictionary<string, string?>(),
            "--replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--recordings", Path.Combine(_dir, "rec3"), "--state", State);
        Assert.True(service.Process.WaitForExit(TimeSpan.FromSeconds(60)), "appliance run did not exit: " + service.Log);
        service.Process.WaitForExit();
        output.WriteLine(service.Log);
        Assert.Equal(2, service.Process.ExitCode);
        Assert.Contains("appliance: Cannot recover the directory store", service.Log, StringComparison.Ordinal);
        Assert.Contains(named, service.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", service.Log, StringComparison.Ordinal); // one clear line, no stack trace
        Assert.Equal(before, Snapshot());
    }

    /// <summary>Damages the seeded state; returns the path the error must name.</summary>
    private string Damage(string kind)
    {
        switch (kind)
        {
            case "record-not-json":
            {
                // FASTER's framing intact, a directory record's JSON not: its first '{' becomes '#'.
                byte[] log = File.ReadAllBytes(Log);
                log[Array.IndexOf(log, (byte)'{')] = (byte)'#';
                File.WriteAllBytes(Log, log);
                return State;
            }

            case "log-garbage":
                File.WriteAllBytes(Log, RandomBytes((int)new FileInfo(Log).Length));
                return Log;
            case "log-is-a-directory":
                File.Delete(Log);
                Directory.CreateDirectory(Log);
                return Log;
            case "metadata-empty":
            {
                string metadata = Metadata;
                File.WriteAllBytes(metadata, []);
                return Path.Combine(State, "checkpoints", "cpr-checkpoints");
            }

            case "checkpoints-folder-missing":
                Directory.Delete(Path.Combine(State, "checkpoints"), recursive: true);
                return Path.Combine(State, "checkpoints");
            case "checkpoint-folder-removed":
                Directory.Delete(Path.GetDirectoryName(Metadata)!, recursive: true);
                return Path.Combine(State, "checkpoints", "cpr-checkpoints");
            case "log-all-zeros":
                File.WriteAllBytes(Log, new byte[new FileInfo(Log).Length]);
                return Log;
            case "log-unreadable-fifo":
            {
                File.Delete(Log);
                (int code, string text) = Repo.Run("mkfifo", [Log], TimeSpan.FromSeconds(10));
                Assert.True(code == 0, text);
                return Log;
            }

            case "log-symlink-loop":
                File.Delete(Log);
                File.CreateSymbolicLink(Log, "hlog.log.0");
                return Log;
            case "log-truncated":
                File.WriteAllBytes(Log, File.ReadAllBytes(Log).AsSpan(0, 100).ToArray());
                return Log;
            case "metadata-garbage":
            {
                string metadata = Metadata;
                byte[] bytes = File.ReadAllBytes(metadata);
                RandomBytes(bytes.Length - 4).CopyTo(bytes, 4); // a plausible length prefix, garbage after it
                File.WriteAllBytes(metadata, bytes);
                return metadata;
            }

            case "metadata-fifo":
            {
                string metadata = Metadata;
                File.Delete(metadata);
                (int code, string text) = Repo.Run("mkfifo", [metadata], TimeSpan.FromSeconds(10));
                Assert.True(code == 0, text);
                return Path.Combine(State, "checkpoints", "cpr-checkpoints");
            }

            case "state-is-a-file":
                Directory.Delete(State, recursive: true);
                File.WriteAllText(State, "not a folder\n");
                return State;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>Every entry under the state path with its type and content hash (a FIFO or link is never opened).</summary>
    private Dictionary<string, string> Snapshot()
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(State) && new FileInfo(State).LinkTarget is null)
        {
            entries[State] = Hash(State);
            return entries;
        }

        foreach (string path in Directory.EnumerateFileSystemEntries(State, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(path);
            entries[path] = info.LinkTarget is { } target ? "link " + target
                : Directory.Exists(path) ? "dir"
                : info.Length == 0 ? "empty" // also a FIFO: opening it would block
                : Hash(path);
        }

        return entries;
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static byte[] RandomBytes(int length)
    {
        byte[] bytes = new byte[length];
        new Random(13).NextBytes(bytes);
        return bytes;
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
