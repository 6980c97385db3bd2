using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Appliance.Tests.Support;

namespace Appliance.Tests.Cluster;

/// <summary>What the multi-appliance tests ask a running appliance again and again: JSON, a metric, /readyz, and "wait until".</summary>
internal static class ServiceProbes
{
    public static JsonElement Json(ServiceProcess s, string path) => JsonDocument.Parse(s.Get(path)).RootElement.Clone();

    /// <summary>Null while the resource is not there (404).</summary>
    public static JsonElement? TryJson(ServiceProcess s, string path)
    {
        using HttpResponseMessage r = s.Send(path);
        return r.StatusCode == HttpStatusCode.NotFound ? null : JsonDocument.Parse(r.Content.ReadAsStream()).RootElement.Clone();
    }

    public static HttpResponseMessage Post(ServiceProcess s, string path, object? body) => s.Send(path, r =>
    {
        r.Method = HttpMethod.Post;
        if (body is not null)
        {
            r.Content = JsonContent.Create(body);
        }
    });

    public static void Created(HttpResponseMessage r) => Expect(r, HttpStatusCode.Created);

    public static void Ok(HttpResponseMessage r) => Expect(r, HttpStatusCode.OK);

    private static void Expect(HttpResponseMessage r, HttpStatusCode status)
    {
        using (r)
        {
            Assert.True(r.StatusCode == status, $"{(int)r.StatusCode}: {r.Content.ReadAsStringAsync().Result}");
        }
    }

    /// <summary>The ids of a recordings page.</summary>
    public static List<string> Ids(JsonElement list) => [.. list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];

    /// <summary>The one recording this appliance made, once written (its own index).</summary>
    public static string OnlyLocal(ServiceProcess s) =>
        Poll(() => Ids(Json(s, "/api/recordings?scope=local")) is [var id] ? id : null, TimeSpan.FromSeconds(60), "the appliance's recording", s);

    public static JsonElement Item(JsonElement list, string id) => list.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("id").GetString() == id);

    /// <summary>The body of a GET that must answer <paramref name="expected"/>, with its Content-Range.</summary>
    public static byte[] Bytes(ServiceProcess s, string path, string? range, HttpStatusCode expected, out string? contentRange)
    {
        using HttpResponseMessage r = s.Send(path, m =>
        {
            if (range is not null)
            {
                m.Headers.TryAddWithoutValidation("Range", range);
            }
        });
        byte[] body = r.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        Assert.True(r.StatusCode == expected, $"{path}: {(int)r.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        contentRange = r.Content.Headers.ContentRange?.ToString();
        return body;
    }

    /// <summary>The device the user is logged in at, as this appliance knows it (null: nowhere).</summary>
    public static string? Located(ServiceProcess s, string user) =>
        Json(s, "/api/locate/user/" + user) is var l && l.GetProperty("loggedIn").GetBoolean() ? l.GetProperty("hostDevice").GetString() : null;

    /// <summary>This appliance's entry for that extension's line 1 in GET /api/cluster (held, holder), if it claims it.</summary>
    public static JsonElement? Line(ServiceProcess s, string extension) =>
        Json(s, "/api/cluster").GetProperty("lines").EnumerateArray().Where(l => l.GetProperty("extension").GetString() == extension)
            .Select(l => (JsonElement?)l).FirstOrDefault();

    /// <summary>An entry of an appliance's audit log: who (token name), what, on what.</summary>
    public sealed record AuditRow(string Token, string Action, string? Target);

    /// <summary>The appliance's last 1,000 audit entries.</summary>
    public static List<AuditRow> Audit(ServiceProcess s) =>
        [.. Json(s, "/api/audit?limit=1000").GetProperty("items").EnumerateArray()
            .Select(e => new AuditRow(e.GetProperty("token").GetString()!, e.GetProperty("action").GetString()!, e.GetProperty("target").GetString()))];

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
