using Appliance.Endpoints;
using Appliance.Metrics;
using Appliance.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Service;

/// <summary>`appliance run`: the service as operators run it (capture, directory, control API, metrics).</summary>
public static class ApplianceHost
{
    public const string DefaultSettingsFile = "/etc/appliance/appliance.json";

    /// <summary>Flags of `appliance run` and the settings keys they set.</summary>
    private static readonly Dictionary<string, string> s_flags = new(StringComparer.Ordinal)
    {
        ["--interface"] = "Interfaces:0",
        ["--replay"] = "Replay",
        ["--recordings"] = "Recordings",
        ["--out"] = "Recordings",
        ["--state"] = "State",
        ["--config"] = "DirectoryConfig",
        ["--listen"] = "Listen",
        ["--token-file"] = "TokenFile",
        ["--workers"] = "Workers",
        ["--filter"] = "Filter",
        ["--checkpoint-seconds"] = "CheckpointSeconds",
    };

    public static string FlagsUsage => "[--settings FILE] " + string.Join(' ', s_flags.Keys.Select(f => $"[{f} V]")) + " [--no-pacing]";

    /// <summary>Builds the host from `appliance run` arguments; throws <see cref="SettingsException"/> on bad settings.</summary>
    public static WebApplication Build(string[] args)
    {
        (string? settingsFile, bool explicitSettings, List<string> rest) = SplitSettingsFlag(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Configuration.Sources.Clear();
        var config = builder.Configuration;
        if (settingsFile is not null && (explicitSettings || File.Exists(settingsFile)))
        {
            if (!File.Exists(settingsFile))
            {
                throw new SettingsException($"settings file {settingsFile} does not exist");
            }

            config.AddJsonFile(Path.GetFullPath(settingsFile), optional: false, reloadOnChange: false);
        }

        config.AddEnvironmentVariables("APPLIANCE_");
        config.AddCommandLine([.. rest], s_flags);

        ApplianceSettings settings = new() { Replay = DefaultReplay() };
        try
        {
            config.Bind(settings);
        }
        catch (InvalidOperationException ex)
        {
            throw new SettingsException(ex.Message);
        }

        List<string> problems = settings.Validate();
        if (problems.Count > 0)
        {
            throw new SettingsException("invalid settings:\n  " + string.Join("\n  ", problems));
        }

        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning); // no per-request logging

        // A start refused for a known reason (damaged state folder, bad configuration) is one line on stderr and exit
        // code 2 (Cli.Run); the host's own "Hosting failed to start" would repeat it with a stack trace. Anything
        // else that fails the start is unhandled and printed with its stack trace by the runtime anyway.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.WebHost.UseUrls(settings.Listen.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(settings.ShutdownSeconds));
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<ApplianceRuntime>();
        builder.Services.AddSingleton<CaptureService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CaptureService>());
        builder.AddServiceIntegration(); // logs (journald under systemd), sd_notify, metrics: after capture, so READY follows it
        builder.AddApplianceApi(settings);

        WebApplication app = builder.Build();
        // Everything needs the API token (fallback policy) except these two probes.
        app.MapGet("/healthz", () => Results.Text("ok\n")).AllowAnonymous();
        app.MapGet("/readyz", (ApplianceRuntime rt) => !rt.Ready ? Results.Text("starting\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : rt.Cluster is { Degraded: true } c ? Results.Text(Appliance.Cluster.ClusterEndpoints.DegradedDetail(c)) // recording goes on: still ready
            : rt.Central is { Degraded: true } central ? Results.Text(Appliance.Cluster.CentralEndpoints.DegradedDetail(central)) // likewise
            : Results.Text("ready\n")).AllowAnonymous();
        app.MapMetrics(); // Prometheus text format, behind the token like the API (Prometheus: authorization.credentials_file)
        app.MapApplianceApi();
        app.MapWebApp(); // the web app at / (public pages; their data comes from /api)
        return app;
    }

    /// <summary>The bundled sample beside the binary: what `make run` replays on the embedded defaults.</summary>
    private static string? DefaultReplay()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "samples", "sipp-g711a-call.pcap");
        return File.Exists(path) ? path : null;
    }

    private static (string? File, bool Explicit, List<string> Others) SplitSettingsFlag(string[] args)
    {
        string? file = DefaultSettingsFile;
        bool explicitFile = false;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--settings")
            {
                if (++i >= args.Length)
                {
                    throw new SettingsException("--settings needs a FILE (or 'none')");
                }

                file = args[i] == "none" ? null : args[i];
                explicitFile = file is not null;
            }
            else if (args[i] == "--no-pacing")
            {
                rest.Add("--ReplayPaced=false");
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal) && !args[i].Contains('=', StringComparison.Ordinal) && !s_flags.ContainsKey(args[i]))
            {
                throw new SettingsException($"unknown flag '{args[i]}'");
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return (file, explicitFile, rest);
    }
}

/// <summary>Unusable settings: the message names each problem; `appliance run` exits 2 with it.</summary>
public sealed class SettingsException(string message) : Exception(message);
