using System.Diagnostics;
using System.Text.Json;
using Appliance.Tests.Support;

namespace Appliance.Tests.Cluster;

/// <summary>What the multi-appliance tests ask a running appliance again and again: a metric, /readyz, and "wait until".</summary>
internal static class ServiceProbes
{
    public static double Metric(ServiceProcess s, string name) => Exposition.Parse(s.Get("/metrics")).Sum(name);

    /// <summary>/readyz without a token: its status and body ("ready", or "ready, degraded: ...").</summary>
    public static (int Status, string Body) Readyz(ServiceProcess s)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using HttpResponseMessage r = http.GetAsync($"http://127.0.0.1:{s.Port}/readyz").Result;
        return ((int)r.StatusCode, r.Content.ReadAsStringAsync().Result);
    }

    /// <summary>The first non-null answer of <paramref name="probe"/>, asked every 100 ms; a failure with the appliance's log after <paramref name="timeout"/>.</summary>
    public static T Poll<T>(Func<T?> probe, TimeSpan timeout, string what, ServiceProcess s) where T : class =>
        Until(() => probe() is { } value ? value : null, timeout, what, s);

    public static JsonElement Poll(Func<JsonElement?> probe, TimeSpan timeout, string what, ServiceProcess s) =>
        Until(() => probe() is { } value ? (object)value : null, timeout, what, s) is JsonElement found ? found : default;

    private static T Until<T>(Func<T?> probe, TimeSpan timeout, string what, ServiceProcess s) where T : class
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (probe() is { } value)
            {
                return value;
            }

            Thread.Sleep(100);
        }

        throw new Xunit.Sdk.XunitException($"timed out waiting for {what}; log:\n{s.Log}");
    }
}
