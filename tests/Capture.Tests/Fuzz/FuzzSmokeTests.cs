using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Capture.Tests.Fuzz;

/// <summary>
/// The short fuzz run of `make test`: every target of the harness (fuzz/) for a few seconds, on a copy of its build with
/// Capture.dll instrumented by SharpFuzz (the local dotnet tool), seeded from the shared captures. Fails on any crash,
/// broken invariant, hang or runaway memory, and the failure message carries the harness's report: the input as a C#
/// byte literal, ready for <see cref="FuzzFindsTests"/>.
/// </summary>
public sealed partial class FuzzSmokeTests(ITestOutputHelper output) : IDisposable
{
    private const int SecondsPerTarget = 6;

    private static readonly string[] s_targets = ["frame", "sip", "sdp", "sip-stream", "skinny", "skinny-stream", "rtp", "pipeline"];

    private readonly string _directory = Directory.CreateTempSubdirectory("fuzz-smoke-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void EveryTarget_ShortInstrumentedRun_FindsNoCrashHangOrRunawayMemory()
    {
        string root = RepoRoot();
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Release|Debug>/net10.0
        string build = Path.Combine(root, "fuzz", "bin", configuration, "net10.0");
        Assert.True(File.Exists(Path.Combine(build, "Fuzz.dll")), $"the fuzz harness is not built in {build} (make test builds Appliance.sln, which has it)");
        string copy = Path.Combine(_directory, "fuzz");
        CopyDirectory(build, copy);
        Dotnet(root, 300, "tool", "restore");
        Dotnet(root, 300, "tool", "run", "sharpfuzz", Path.Combine(copy, "Capture.dll"));

        // A new random seed each run (printed, so that a find can be replayed with --seed) keeps CI exploring.
        int seed = Random.Shared.Next();
        (int exit, string log) = Dotnet(root, 600, Path.Combine(copy, "Fuzz.dll"), "run", "all", "--seconds", SecondsPerTarget.ToString(CultureInfo.InvariantCulture),
            "--seed", seed.ToString(CultureInfo.InvariantCulture), "--findings", Path.Combine(_directory, "findings"), "--hang-seconds", "60");
        Assert.True(exit == 0, $"the fuzz run (seed {seed}) found something (exit {exit}):\n{log}");

        foreach (string target in s_targets)
        {
            int at = log.IndexOf($"target={target} ", StringComparison.Ordinal);
            Assert.True(at >= 0, $"no summary for {target}:\n{log}");
            Match summary = SummaryLine().Match(log[at..]);
            Assert.True(summary.Success, $"no summary for {target}:\n{log}");
            long inputs = long.Parse(summary.Groups["inputs"].Value, CultureInfo.InvariantCulture);
            int corpus = int.Parse(summary.Groups["corpus"].Value, CultureInfo.InvariantCulture);
            int edges = int.Parse(summary.Groups["edges"].Value, CultureInfo.InvariantCulture);
            Assert.True(inputs > corpus, $"{target} mutated beyond its seeds ({inputs} inputs, corpus {corpus})");
            Assert.True(corpus > 1, $"{target} was seeded from the shared captures (corpus {corpus})");
            Assert.True(edges > 100, $"{target} reached instrumented code ({edges} edges): Capture.dll was instrumented and the target feeds it");
            Assert.Equal("0", summary.Groups["crashes"].Value);
            Assert.Equal("0", summary.Groups["hangs"].Value);
        }
    }

    [GeneratedRegex(@"^target=\S+ inputs=(?<inputs>\d+) .*crashes=(?<crashes>\d+) hangs=(?<hangs>\d+) memory=\d+ corpus=(?<corpus>\d+) edges=(?<edges>\d+)", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();

    private (int Exit, string Log) Dotnet(string workingDirectory, int timeoutSeconds, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not end within {timeoutSeconds} s");
        }

        process.WaitForExit();
        string log = stdout.Result + stderr.Result;
        output.WriteLine($"$ dotnet {string.Join(' ', args)}\n{log}");
        if (args[0] == "tool")
        {
            Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed:\n{log}");
        }

        return (process.ExitCode, log);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }

        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }

    private static string RepoRoot()
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
