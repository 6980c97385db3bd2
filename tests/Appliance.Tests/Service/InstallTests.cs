using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>linux/systemd and `make install`: the unit passes systemd-analyze verify, the install lays out files with the right owners and modes.</summary>
public sealed partial class InstallTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appl-install-" + Guid.NewGuid().ToString("N"));

    /// <summary>The appliance's own build output (what `make publish` would produce), e.g. src/Appliance/bin/Release/net10.0.</summary>
    private static string BuildOutput => Path.Combine(Repo.Root, "src", "Appliance", "bin", new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name, "net10.0");

    private bool HaveSystemdTools()
    {
        if (File.Exists("/usr/bin/systemd-analyze") && File.Exists("/usr/bin/systemd-sysusers"))
        {
            return true;
        }

        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: systemd-analyze/systemd-sysusers missing and not root to install the systemd package (make deps-test does; CI runs as root).");
            return false;
        }

        (int code, string log) = Repo.Run("scripts/ensure-packages.sh", ["systemd"], TimeSpan.FromMinutes(5));
        Assert.True(code == 0, "installing systemd: " + log);
        return true;
    }

    [Fact]
    public void Unit_PassesSystemdAnalyzeVerify_AndItsStopTimeoutCoversShutdownSeconds()
    {
        if (!HaveSystemdTools())
        {
            return;
        }

        Directory.CreateDirectory(_dir);
        string template = File.ReadAllText(Path.Combine(Repo.Root, "linux", "systemd", "appliance.service"));
        string unit = Path.Combine(_dir, "appliance.service");
        File.WriteAllText(unit, template.Replace("@PREFIX@", BuildOutput.TrimEnd('/'), StringComparison.Ordinal));
        (int code, string log) = Repo.Run("systemd-analyze", ["verify", unit], TimeSpan.FromSeconds(60));
        output.WriteLine(log);
        Assert.True(code == 0 && log.Trim().Length == 0, "systemd-analyze verify: " + log);

        // The check is real: a broken copy fails.
        string broken = Path.Combine(_dir, "broken.service");
        File.WriteAllText(broken, template.Replace("@PREFIX@", "/nonexistent", StringComparison.Ordinal));
        Assert.NotEqual(0, Repo.Run("systemd-analyze", ["verify", broken], TimeSpan.FromSeconds(60)).ExitCode);

        // SIGTERM has ShutdownSeconds to finalise; systemd must wait longer than that before SIGKILL.
        using JsonDocument settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, "linux", "systemd", "appliance.json")));
        int shutdown = settings.RootElement.GetProperty("ShutdownSeconds").GetInt32();
        int stop = int.Parse(StopTimeout().Match(template).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(stop, shutdown + 5, shutdown + 30);
        Assert.Contains("Type=notify\n", template, StringComparison.Ordinal);
        Assert.Contains("AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN\n", template, StringComparison.Ordinal);
    }

    [Fact]
    public void MakeInstall_IntoDestdir_LaysOutFilesWithOwnersAndModes_AndKeepsExistingSettingsAndToken()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: make install sets owners (root:appliance) and needs root; CI runs as root.");
            return;
        }

        if (!HaveSystemdTools())
        {
            return;
        }

        string[] make = ["--no-print-directory", "install-files", $"DESTDIR={_dir}", $"PUBLISH_DIR={BuildOutput}"];
        (int code, string log) = Repo.Run("make", make, TimeSpan.FromMinutes(2));
        output.WriteLine(log);
        Assert.True(code == 0, log);

        // The service account exists in the DESTDIR's own user database.
        string passwd = Assert.Single(File.ReadAllLines(Path.Combine(_dir, "etc", "passwd")), l => l.StartsWith("appliance:", StringComparison.Ordinal));
        string[] pw = passwd.Split(':');
        string uid = pw[2], gid = pw[3];
        Assert.Equal("/usr/sbin/nologin", pw[6]);

        Assert.Equal(("755", "0", "0"), Stat("opt/appliance/appliance"));
        Assert.Equal(("644", "0", "0"), Stat("opt/appliance/appliance.dll"));
        Assert.Equal(("644", "0", "0"), Stat("etc/systemd/system/appliance.service"));
        Assert.Contains("ExecStart=/opt/appliance/appliance run --settings /etc/appliance/appliance.json\n",
            File.ReadAllText(Path.Combine(_dir, "etc/systemd/system/appliance.service")), StringComparison.Ordinal);
        Assert.Equal(("644", "0", "0"), Stat("etc/sysusers.d/appliance.conf"));
        Assert.Equal(("644", "0", "0"), Stat("etc/tmpfiles.d/appliance.conf"));
        Assert.Equal(("750", "0", gid), Stat("etc/appliance"));
        Assert.Equal(("640", "0", gid), Stat("etc/appliance/appliance.json"));
        Assert.Equal(("600", uid, gid), Stat("etc/appliance/api-token"));
        foreach (string d in new[] { "var/lib/appliance", "var/lib/appliance/recordings", "var/lib/appliance/state", "var/log/appliance" })
        {
            Assert.Equal(("750", uid, gid), Stat(d));
        }

        string token = File.ReadAllText(Path.Combine(_dir, "etc/appliance/api-token")).Trim();
        Assert.Matches("^[0-9a-f]{64}$", token);
        using (JsonDocument settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "etc/appliance/appliance.json"))))
        {
            Assert.Equal("/etc/appliance/api-token", settings.RootElement.GetProperty("TokenFile").GetString());
            Assert.Equal("/var/lib/appliance/recordings", settings.RootElement.GetProperty("Recordings").GetString());
        }

        // A second install keeps what the administrator set and the token clients already use.
        File.WriteAllText(Path.Combine(_dir, "etc/appliance/appliance.json"), "{ \"Interfaces\": [\"ens5\"] }\n");
        (code, log) = Repo.Run("make", make, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, log);
        Assert.Contains("kept the existing", log, StringComparison.Ordinal);
        Assert.Contains("ens5", File.ReadAllText(Path.Combine(_dir, "etc/appliance/appliance.json")), StringComparison.Ordinal);
        Assert.Equal(token, File.ReadAllText(Path.Combine(_dir, "etc/appliance/api-token")).Trim());
        Assert.Single(File.ReadAllLines(Path.Combine(_dir, "etc", "passwd")), l => l.StartsWith("appliance:", StringComparison.Ordinal));
    }

    private (string Mode, string Uid, string Gid) Stat(string relative)
    {
        (int code, string s) = Repo.Run("stat", ["-c", "%a %u %g", Path.Combine(_dir, relative)], TimeSpan.FromSeconds(10));
        Assert.True(code == 0, s);
        string[] f = s.Trim().Split(' ');
        return (f[0], f[1], f[2]);
    }

    [GeneratedRegex(@"(?m)^TimeoutStopSec=(\d+)s?$")]
    private static partial Regex StopTimeout();

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
