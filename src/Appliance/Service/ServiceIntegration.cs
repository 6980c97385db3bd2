using Appliance.Metrics;
using Appliance.Systemd;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Appliance.Service;

/// <summary>What makes `appliance run` a well-behaved service: console logs in journald's format under systemd, sd_notify, metrics.</summary>
public static class ServiceIntegration
{
    /// <summary>Started by systemd: JOURNAL_STREAM (stdout/stderr go to the journal) or INVOCATION_ID (any unit).</summary>
    public static bool RunningUnderSystemd(Func<string, string?> env) =>
        !string.IsNullOrEmpty(env("JOURNAL_STREAM")) || !string.IsNullOrEmpty(env("INVOCATION_ID"));

    /// <summary>Registers logging, the systemd notifier and the metrics; call after the capture service is registered (hosted services start in order).</summary>
    public static WebApplicationBuilder AddServiceIntegration(this WebApplicationBuilder builder)
    {
        bool systemd = RunningUnderSystemd(Environment.GetEnvironmentVariable);
        builder.Logging.ClearProviders();
        if (systemd)
        {
            // One line per message with a <N> syslog priority prefix; the journal adds the timestamp.
            builder.Logging.AddSystemdConsole(o => o.IncludeScopes = false);
            builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.IncludeScopes = false;
                o.TimestampFormat = "HH:mm:ss ";
                o.ColorBehavior = LoggerColorBehavior.Default;
            });
        }

        builder.Services.AddSingleton<ApplianceMetrics>();
        builder.Services.AddSingleton(sp =>
        {
            ApplianceMetrics metrics = sp.GetRequiredService<ApplianceMetrics>();
            return new PrometheusExporter(m => ReferenceEquals(m, metrics.Meter) || m.Name == "System.Runtime");
        });
        builder.Services.AddHostedService<SystemdService>();
        return builder;
    }
}
