namespace Appliance.Tests.Support;

/// <summary>Finds ../shared/captures beside the checkout (CI), or beside any ancestor folder (worktrees).</summary>
public static class Captures
{
    private static readonly Lazy<string> s_dir = new(Find);

    public static string Dir => s_dir.Value;

    public static string PathOf(string fileName)
    {
        string path = System.IO.Path.Combine(Dir, fileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Shared capture {fileName} is missing from {Dir}", path);
        }

        return path;
    }

    private static string Find()
    {
        string? env = Environment.GetEnvironmentVariable("APPLIANCE_CAPTURES");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env))
        {
            return env;
        }

        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = System.IO.Path.Combine(d.FullName, "shared", "captures");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("shared/captures not found beside the checkout or any ancestor; set APPLIANCE_CAPTURES.");
    }
}
