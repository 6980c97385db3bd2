using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>
/// `make test` on a fresh Debian 12: every program that a test, a script or a make target runs comes from a Debian package the
/// Makefile installs (RUNTIME_PACKAGES, TEST_PACKAGES, INSTALL_PACKAGES) or from one every Debian has (Priority required).
/// The programs are read from the sources (<see cref="ExternalPrograms"/>), not listed here.
/// </summary>
public sealed class ToolchainTests(ITestOutputHelper output)
{
    private static readonly string[] s_packageLists = ["RUNTIME_PACKAGES", "TEST_PACKAGES", "INSTALL_PACKAGES"];

    /// <summary>What runs `make test` itself, so no package list can provide it: README says to have them.</summary>
    private static readonly Dictionary<string, string> s_prerequisites = new(StringComparer.Ordinal)
    {
        ["dotnet"] = "the .NET 10 SDK, on PATH (not a Debian package)",
        ["make"] = "make itself (apt-get install make)",
    };

    [Fact]
    public void EveryProgramThatTestsScriptsAndMakeTargetsRun_ComesFromAPackageTheMakefileInstalls()
    {
        ProgramScan scan = ExternalPrograms.Scan(Repo.Root);
        Assert.True(scan.Unrecognised.Count == 0,
            "Run sites whose program the scan cannot name (pass a literal, or teach Support/ExternalPrograms.cs the shape):\n"
            + string.Join('\n', scan.Unrecognised));

        Dictionary<string, string> listed = new(StringComparer.Ordinal); // package -> its list
        foreach (string list in s_packageLists)
        {
            foreach (string package in scan.MakeVariables.GetValueOrDefault(list, "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                listed.TryAdd(package, list);
            }
        }

        Assert.Contains("TEST_PACKAGES", scan.MakeVariables.Keys);
        var programs = scan.Uses.GroupBy(u => u.Program, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(u => u.Where).Distinct().ToList(), StringComparer.Ordinal);
        Dictionary<string, List<string>> onPath = FindOnPath([.. programs.Keys]);
        Dictionary<string, HashSet<string>> owners = Owners([.. onPath.Values.SelectMany(p => p)]);
        Dictionary<string, string> priorities = Priorities([.. owners.Values.SelectMany(p => p).Distinct()]);

        var problems = new List<string>();
        foreach ((string program, List<string> where) in programs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            string usedIn = string.Join(", ", where.Take(3)) + (where.Count > 3 ? $" and {where.Count - 3} more" : "");
            List<string> paths = onPath.GetValueOrDefault(program, []);
            if (paths.Count == 0)
            {
                problems.Add($"{program} (run in {usedIn}) is not on PATH: add the Debian package that provides it to TEST_PACKAGES"
                    + (s_prerequisites.TryGetValue(program, out string? what) ? $" (or install {what})" : ""));
                continue;
            }

            if (s_prerequisites.TryGetValue(program, out string? prerequisite))
            {
                output.WriteLine($"{program}: {paths[0]}, {prerequisite}");
                continue;
            }

            var packages = paths.SelectMany(p => owners.GetValueOrDefault(p, [])).Distinct().Order(StringComparer.Ordinal).ToList();
            string? provider = packages.FirstOrDefault(listed.ContainsKey)
                ?? packages.FirstOrDefault(p => priorities.GetValueOrDefault(p) == "required");
            if (provider is not null)
            {
                output.WriteLine($"{program}: {paths[0]}, package {provider} ({(listed.TryGetValue(provider, out string? list) ? list : "Priority required")})");
            }
            else if (packages.Count == 0)
            {
                problems.Add($"{program} (run in {usedIn}) is only at {string.Join(", ", paths)}, which no Debian package owns: "
                    + "add the Debian package that provides it to TEST_PACKAGES");
            }
            else
            {
                string package = packages[0];
                problems.Add($"{program} (run in {usedIn}) comes from the Debian package {package} (Priority "
                    + $"{priorities.GetValueOrDefault(package, "unknown")}), which no package list of the Makefile installs: add {package} to TEST_PACKAGES"
                    + " (or to RUNTIME_PACKAGES or INSTALL_PACKAGES when only `make run` or `make install` runs it)");
            }
        }

        Assert.True(problems.Count == 0, "Programs that a fresh Debian 12 would lack after `make test` installed its packages:\n"
            + string.Join('\n', problems));
    }

    /// <summary>
    /// Every file each program is on PATH as (bash's type -aP: command -v without builtins and functions), each with its
    /// merged-/usr alias, its resolved path (update-alternatives links) and that one's alias: what dpkg may know it as.
    /// </summary>
    private static Dictionary<string, List<string>> FindOnPath(string[] programs)
    {
        const string Script = "for p; do for f in $(type -aP -- \"$p\"); do printf '%s\\t%s\\t%s\\n' \"$p\" \"$f\" \"$(readlink -f -- \"$f\")\"; done; done";
        (_, string text) = Repo.Run("bash", ["-c", Script, "bash", .. programs], TimeSpan.FromSeconds(60));
        var found = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split('\t');
            if (f.Length == 3 && f[1].StartsWith('/'))
            {
                List<string> paths = found.TryGetValue(f[0], out List<string>? p) ? p : found[f[0]] = [];
                paths.AddRange(new[] { f[1], UsrAlias(f[1]), f[2], UsrAlias(f[2]) }.Where(x => x.Length > 0 && !paths.Contains(x)));
            }
        }

        return found;
    }

    /// <summary>/usr/bin/x for /bin/x and back (Debian 12 merged /usr: dpkg knows a file under the name its package ships).</summary>
    private static string UsrAlias(string path) =>
        path.StartsWith("/usr/", StringComparison.Ordinal) ? path[4..]
        : path.StartsWith("/bin/", StringComparison.Ordinal) || path.StartsWith("/sbin/", StringComparison.Ordinal) || path.StartsWith("/lib", StringComparison.Ordinal) ? "/usr" + path
        : "";

    /// <summary>The packages owning each path (dpkg -S), arch qualifiers dropped; paths no package owns are absent.</summary>
    private static Dictionary<string, HashSet<string>> Owners(string[] paths)
    {
        var owners = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        if (paths.Length == 0)
        {
            return owners;
        }

        (_, string text) = Repo.Run("dpkg-query", ["-S", .. paths], TimeSpan.FromSeconds(120)); // exit 1: some path has no owner
        foreach (string line in text.Split('\n'))
        {
            int colon = line.IndexOf(": /", StringComparison.Ordinal);
            if (colon < 0 || line.StartsWith("diversion by", StringComparison.Ordinal) || !paths.Contains(line[(colon + 2)..]))
            {
                continue;
            }

            HashSet<string> set = owners.TryGetValue(line[(colon + 2)..], out HashSet<string>? o) ? o : owners[line[(colon + 2)..]] = [];
            set.UnionWith(line[..colon].Split(", ").Select(p => p.Split(':')[0]));
        }

        return owners;
    }

    /// <summary>Each installed package's Priority (required, important, standard, optional, extra).</summary>
    private static Dictionary<string, string> Priorities(string[] packages)
    {
        var priorities = new Dictionary<string, string>(StringComparer.Ordinal);
        if (packages.Length == 0)
        {
            return priorities;
        }

        (_, string text) = Repo.Run("dpkg-query", ["-W", "-f=${Package}\t${Priority}\n", .. packages], TimeSpan.FromSeconds(60));
        foreach (string line in text.Split('\n'))
        {
            string[] f = line.Split('\t');
            if (f.Length == 2)
            {
                priorities[f[0]] = f[1];
            }
        }

        return priorities;
    }

    [Fact]
    public void Scan_FindsTheToolsWhereTheLiveScriptsTheInstallScriptAndTheTestsRunThem()
    {
        ProgramScan scan = ExternalPrograms.Scan(Repo.Root);
        HashSet<string> at = [.. scan.Uses.Select(u => $"{u.Program} {u.Where.Split(':')[0]}")];

        // tests/live/lib.sh checks for them in a loop (for t in sipp tcpdump tshark timeout; do command -v "$t" ...).
        Assert.Contains("tshark tests/live/lib.sh", at);
        Assert.Contains("sipp tests/live/lib.sh", at);
        Assert.Contains("editcap bench/load/make-load-capture.sh", at); // the load benchmark cuts a voice with Wireshark's editcap
        Assert.Contains("python3 tests/live/netns.sh", at);   // ip netns exec NS timeout 5 python3 -c '...'
        Assert.Contains("sysctl tests/live/netns.sh", at);
        Assert.Contains("chmod scripts/install.sh", at);      // find ... -exec chmod
        Assert.Contains("awk scripts/run-tests.sh", at);      // read ... < <(awk ...)
        Assert.Contains("systemctl Makefile", at);
        Assert.Contains("make Makefile", at);                 // $(MAKE)
        Assert.Contains("dotnet Makefile", at);               // $(APP), $(DOTNET)
        Assert.Contains("opusdec tests/Capture.Tests/Support/SipScenario.cs", at); // AudioSignals.FindTool("opusdec")
        Assert.Contains("systemd-analyze tests/Appliance.Tests/Service/InstallTests.cs", at); // Repo.Run("systemd-analyze", ...)
        Assert.Contains("kill tests/Appliance.Tests/Support/ServiceProcess.cs", at); // Process.Start("kill", ...)
        Assert.Contains("tcpdump bench/Pipeline/ReplayBenchmarks.cs", at);
        Assert.Contains("sipp tests/Appliance.Tests/Support/LiveRig.cs", at); // looked up on PATH by the live tests' skip check

        // Functions, builtins, variables and repository paths are not programs.
        string[] programs = [.. scan.Uses.Select(u => u.Program).Distinct()];
        Assert.DoesNotContain("live_sipp", programs);
        Assert.DoesNotContain("say", programs);
        Assert.DoesNotContain("echo", programs);
        Assert.DoesNotContain("import", programs); // python inside '...'
        Assert.All(programs, p => Assert.True(!p.Contains('/', StringComparison.Ordinal) || p.StartsWith('/'), p));
    }

    [Fact]
    public void ScanShell_FindsCommandsBehindWrappersSubstitutionsLoopsAndTraps()
    {
        const string Script = """
            #!/usr/bin/env bash
            tool_check() { command -v "$1"; }
            for t in alpha beta; do
                command -v "$t" >/dev/null || { echo "missing $t" >&2; return 1; }
            done
            x=$(gamma -q | delta 2>&1) # comment: epsilon
            [[ -n $x && -z $y ]] && pre=(ip netns exec ns)
            "${pre[@]}" timeout -s INT -k 3 10 zeta --flag 'eta theta'
            case $1 in
                up|start) iota ;;
                *) tool_check kappa ;;
            esac
            trap 'lambda "$x" 2>/dev/null' EXIT
            find . -name '*.tmp' -exec mu {} +
            if ! nu; then exit 2; fi
            """;
        var uses = new List<ProgramUse>();
        var functions = new HashSet<string>(StringComparer.Ordinal);
        ExternalPrograms.ScanShell(Script, "t.sh", 1, uses, functions);
        string[] found = [.. uses.Where(u => !functions.Contains(u.Program)).Select(u => u.Program).Distinct().Order(StringComparer.Ordinal)];
        Assert.Equal(["alpha", "beta", "delta", "find", "gamma", "iota", "lambda", "mu", "nu", "timeout", "zeta"], found);
        Assert.Contains(new ProgramUse("alpha", "t.sh:4"), uses);
    }
}
