namespace Fuzz.Driver;

internal static class FuzzPaths
{
    /// <summary>A new folder for a target's files: in /dev/shm when there is one (no disk writes per input).</summary>
    public static string ScratchDirectory(string name)
    {
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        return Directory.CreateDirectory(Path.Combine(root, $"appliance-fuzz-{name}-{Environment.ProcessId}")).FullName;
    }

    /// <summary>../shared/captures beside the checkout or an ancestor folder (as the tests find it), or APPLIANCE_CAPTURES.</summary>
    public static string FindCaptures()
    {
        string? env = Environment.GetEnvironmentVariable("APPLIANCE_CAPTURES");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env))
        {
            return env;
        }

        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "shared", "captures");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException("shared/captures not found beside the checkout or any ancestor; set APPLIANCE_CAPTURES or --captures");
    }
}
