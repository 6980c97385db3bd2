using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Appliance.Tests.Support;

namespace Appliance.Tests.Api;

/// <summary>
/// Failed authentication on the real host (README "Roles"): wrong sign-ins, bearer tokens and appliance credentials
/// are audited with the client address and never the credential, counted in /metrics, and after ten within the window
/// one address is answered 429 with Retry-After, even with the right token, while another address is not.
/// </summary>
public sealed class FailedAuthApiTests
{
    // The host listens on 127.0.0.1; the whole of 127/8 is loopback on Linux, so a client bound to 127.0.0.2 is
    // another address reaching the same host.
    private static HttpClient ClientFrom(ApiHost host, string localAddress, string? token)
    {
        var handler = new SocketsHttpHandler
        {
            UseCookies = false, // each request stands on its credential alone, not on a session a sign-in left behind
            ConnectCallback = async (context, cancel) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler) { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    private static Task<HttpResponseMessage> GetWithAsync(HttpClient client, string path, string authorization)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return client.SendAsync(request);
    }

    private static async Task<TimeSpan> AssertTooManyAsync(HttpResponseMessage response, TimeSpan window)
    {
        JsonElement problem = await ApiHost.AssertProblemAsync(response, 429);
        Assert.Contains("try again in", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        TimeSpan retryAfter = Assert.IsType<TimeSpan>(response.Headers.RetryAfter?.Delta);
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), window);
        Assert.False(response.Headers.Contains("Set-Cookie"), "a refused sign-in must not start a session");
        return retryAfter;
    }

    [Fact]
    public async Task TenFailuresOfAnyKind_ThrottleTheAddress_429EvenWithTheRightToken_AnotherAddressUnaffected_AuditedAndCounted()
    {
        await using ApiHost host = await ApiHost.StartAsync(settings: ["--AuthThrottle:MaxFailures=10"]);
        using HttpClient attacker = ClientFrom(host, "127.0.0.1", token: null);
        using HttpClient admin = ClientFrom(host, "127.0.0.2", ApiHost.Token);

        // Ten failures from 127.0.0.1, of every kind: sign-in, bearer header, query token, appliance credential.
        for (int i = 0; i < 4; i++)
        {
            await ApiHost.AssertProblemAsync(await attacker.PostAsJsonAsync("/api/session", new { token = $"guess-signin-{i}" }), 401);
        }

        for (int i = 0; i < 4; i++)
        {
            await ApiHost.AssertProblemAsync(await GetWithAsync(attacker, "/api/recordings", $"Bearer guess-bearer-{i}"), 401);
        }

        await ApiHost.AssertProblemAsync(await attacker.GetAsync("/api/recordings/some-id/audio?access_token=guess-query"), 401);
        await ApiHost.AssertProblemAsync(await GetWithAsync(attacker, "/api/peer/alice/recordings/some-id", "Appliance north:guess-peer"), 401);

        // The eleventh attempt is refused unchecked: the right token too, at sign-in and as a bearer token.
        await AssertTooManyAsync(await attacker.PostAsJsonAsync("/api/session", new { token = ApiHost.Token }), TimeSpan.FromMinutes(5));
        await AssertTooManyAsync(await GetWithAsync(attacker, "/api/recordings", "Bearer " + ApiHost.Token), TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.OK, (await attacker.GetAsync("/healthz")).StatusCode); // no credential, nothing to refuse

        // Another address: the right token works, a wrong one is an ordinary 401.
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/recordings")).StatusCode);
        await ApiHost.AssertProblemAsync(await GetWithAsync(admin, "/api/devices", "Bearer guess-other-address"), 401);

        // The audit log: each failure with its address and route, one "throttled", and no credential anywhere.
        List<JsonElement> entries = await AuditAsync(admin, e => e.GetProperty("action").GetString() is "sign-in-failed" or "auth-failed" or "throttled");
        List<JsonElement> fromAttacker = [.. entries.Where(e => e.GetProperty("client").GetString() == "127.0.0.1")];
        Assert.Equal(4, fromAttacker.Count(e => e.GetProperty("action").GetString() == "sign-in-failed" && e.GetProperty("target").GetString() == "POST /api/session"
            && e.GetProperty("status").GetInt32() == 401));
        Assert.Equal(4, fromAttacker.Count(e => e.GetProperty("action").GetString() == "auth-failed" && e.GetProperty("target").GetString() == "GET /api/recordings"));
        Assert.Single(fromAttacker, e => e.GetProperty("action").GetString() == "auth-failed" && e.GetProperty("target").GetString() == "GET /api/recordings/some-id/audio");
        Assert.Single(fromAttacker, e => e.GetProperty("action").GetString() == "auth-failed" && e.GetProperty("target").GetString() == "GET /api/peer/alice/recordings/some-id"
            && e.GetProperty("reason").GetString()!.Contains("appliance", StringComparison.Ordinal));
        JsonElement throttled = Assert.Single(fromAttacker, e => e.GetProperty("action").GetString() == "throttled");
        Assert.Equal(429, throttled.GetProperty("status").GetInt32());
        Assert.All(fromAttacker, e => Assert.Equal("", e.GetProperty("token").GetString()));
        Assert.Equal(11, fromAttacker.Count); // the refused attempts are counted in /metrics, not one entry each
        Assert.Single(entries, e => e.GetProperty("client").GetString() == "127.0.0.2");

        string log = await File.ReadAllTextAsync(Path.Combine(host.State, "audit.jsonl"));
        Assert.DoesNotContain("guess-", log, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiHost.Token, log, StringComparison.Ordinal);

        Exposition.Document metrics = Exposition.Parse(await admin.GetStringAsync("/metrics"));
        Assert.Equal(4, metrics.Sum("appliance_api_auth_failures_total", ("kind", "sign-in")));
        Assert.Equal(6, metrics.Sum("appliance_api_auth_failures_total", ("kind", "bearer"))); // 4 headers, 1 query, 1 from 127.0.0.2
        Assert.Equal(1, metrics.Sum("appliance_api_auth_failures_total", ("kind", "appliance")));
        Assert.Equal(2, metrics.Sum("appliance_api_auth_throttled_total"));
    }

    [Fact]
    public async Task AfterTheWindow_TheRightTokenWorksAgain_AndFailuresCountAfresh()
    {
        TimeSpan window = TimeSpan.FromSeconds(3);
        await using ApiHost host = await ApiHost.StartAsync(settings: ["--AuthThrottle:MaxFailures=10", $"--AuthThrottle:WindowSeconds={window.TotalSeconds}"]);
        using HttpClient client = ClientFrom(host, "127.0.0.1", token: null);
        for (int i = 0; i < 10; i++)
        {
            await ApiHost.AssertProblemAsync(await GetWithAsync(client, "/api/devices", $"Bearer guess-{i}"), 401);
        }

        TimeSpan retryAfter = await AssertTooManyAsync(await client.PostAsJsonAsync("/api/session", new { token = ApiHost.Token }), window);

        await Task.Delay(retryAfter + TimeSpan.FromMilliseconds(200));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/session", new { token = ApiHost.Token })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetWithAsync(client, "/api/devices", "Bearer " + ApiHost.Token)).StatusCode);
        await ApiHost.AssertProblemAsync(await GetWithAsync(client, "/api/devices", "Bearer guess-after"), 401); // one failure of ten, not the eleventh
    }

    private static async Task<List<JsonElement>> AuditAsync(HttpClient admin, Func<JsonElement, bool> match)
    {
        using JsonDocument page = JsonDocument.Parse(await admin.GetStringAsync("/api/audit?limit=1000"));
        Assert.Equal(JsonValueKind.Null, page.RootElement.GetProperty("next").ValueKind);
        return [.. page.RootElement.GetProperty("items").EnumerateArray().Where(match).Select(e => e.Clone())];
    }
}
