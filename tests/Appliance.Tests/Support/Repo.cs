using System.Diagnostics;

namespace Appliance.Tests.Support;

/// <summary>The checkout this test runs from, and the built appliance in it.</summary>
public static class Repo
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Appliance.sln")))
            {
                return d.FullName;
            }
        }

        throw new DirectoryNotFoundException("Appliance.sln not found above the test binaries");
    });

    public static string Root => s_root.Value;

    /// <summary>The appliance's own DLL, built beside the tests (the project reference copies it).</summary>
    public static string ApplianceDll => Path.Combine(AppContext.BaseDirectory, "appliance.dll");

    public static bool IsRoot => Environment.UserName == "root" || GetUid() == 0;

    private static int GetUid()
    {
        try
        {
            var psi = new ProcessStartInfo("id", "-u") { RedirectStandardOutput = true };
            using Process p = Process.Start(psi)!;
            string s = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return int.TryParse(s, out int uid) ? uid : -1;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }

    /// <summary>Runs a command to completion (bounded), returning exit code and combined output.</summary>
    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Root,
        };
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}");
        }

        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
