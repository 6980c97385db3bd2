using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>The bearer token on every endpoint but /healthz and /readyz; the OpenAPI document.</summary>
public sealed class AuthApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private ApiHost Host => fixture.Host;

    /// <summary>Every route of the API (ids filled in), and paths that match none.</summary>
    private (HttpMethod Method, string Path)[] Routes() =>
    [
        (HttpMethod.Get, "/api/devices"), (HttpMethod.Get, "/api/devices/desk-1"), (HttpMethod.Put, "/api/devices/desk-9"),
        (HttpMethod.Delete, "/api/devices/desk-9"), (HttpMethod.Post, "/api/devices/desk-1/logout"),
        (HttpMethod.Get, "/api/users"), (HttpMethod.Get, "/api/users/alice"), (HttpMethod.Put, "/api/users/zed"),
        (HttpMethod.Delete, "/api/users/zed"), (HttpMethod.Post, "/api/users/alice/logout"),
        (HttpMethod.Get, "/api/profiles"), (HttpMethod.Get, "/api/profiles/alice-em"), (HttpMethod.Put, "/api/profiles/p"), (HttpMethod.Delete, "/api/profiles/p"),
        (HttpMethod.Get, "/api/recording-groups"), (HttpMethod.Get, "/api/recording-groups/agents"), (HttpMethod.Put, "/api/recording-groups/g"),
        (HttpMethod.Delete, "/api/recording-groups/g"), (HttpMethod.Get, "/api/config"), (HttpMethod.Put, "/api/config"),
        (HttpMethod.Get, "/api/conflicts"), (HttpMethod.Get, "/api/logins"), (HttpMethod.Post, "/api/logins"),
        (HttpMethod.Post, "/api/logins/logout-all"), (HttpMethod.Get, "/api/logins/history"),
        (HttpMethod.Get, "/api/locate/extension/2001"), (HttpMethod.Get, "/api/locate/user/alice"),
        (HttpMethod.Get, "/api/calls"), (HttpMethod.Get, $"/api/calls/{fixture.RecordingId}"),
        (HttpMethod.Get, "/api/recordings"), (HttpMethod.Get, $"/api/recordings/{fixture.RecordingId}"),
        (HttpMethod.Get, $"/api/recordings/{fixture.RecordingId}/audio"), (HttpMethod.Get, "/api/events"),
        (HttpMethod.Get, "/openapi/v1.json"), (HttpMethod.Get, "/metrics"), (HttpMethod.Get, "/no/such/path"),
    ];

    [Fact]
    public async Task EveryEndpoint_WithoutToken_Is401ProblemWithBearerChallenge()
    {
        foreach ((HttpMethod method, string path) in Routes())
        {
            using var request = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Get ? null : new StringContent("{}", null, "application/json") };
            using HttpResponseMessage response = await Host.Anonymous.SendAsync(request);
            JsonElement problem = await ApiHost.AssertProblemAsync(response, 401);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Contains("Bearer <token>", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EveryEndpoint_WithAWrongToken_Is401WithInvalidToken()
    {
        foreach (string token in (string[])["wrong", ApiHost.Token + "x", ApiHost.Token[..^1], new string('a', 4000)])
        {
            foreach ((HttpMethod method, string path) in Routes())
            {
                using var request = new HttpRequestMessage(method, path);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using HttpResponseMessage response = await Host.Anonymous.SendAsync(request);
                await ApiHost.AssertProblemAsync(response, 401);
                Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.Single().Parameter, StringComparison.Ordinal);
            }
        }

        // Not a bearer scheme at all.
        using var basic = new HttpRequestMessage(HttpMethod.Get, "/api/devices");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", "YWRtaW46YWRtaW4=");
        await ApiHost.AssertProblemAsync(await Host.Anonymous.SendAsync(basic), 401);
    }

    [Fact]
    public async Task HealthAndReadiness_NeedNoToken()
    {
        Assert.Equal("ok\n", await Host.Anonymous.GetStringAsync("/healthz"));
        Assert.Equal("ready\n", await Host.Anonymous.GetStringAsync("/readyz"));
    }

    [Fact]
    public async Task QueryToken_IsAcceptedOnlyWhereABrowserElementNeedsIt()
    {
        using HttpResponseMessage audio = await Host.Anonymous.GetAsync($"/api/recordings/{fixture.RecordingId}/audio?access_token={ApiHost.Token}");
        Assert.Equal(HttpStatusCode.OK, audio.StatusCode);
        await ApiHost.AssertProblemAsync(await Host.Anonymous.GetAsync($"/api/recordings/{fixture.RecordingId}/audio?access_token=wrong"), 401);
        await ApiHost.AssertProblemAsync(await Host.Anonymous.GetAsync($"/api/devices?access_token={ApiHost.Token}"), 401);
    }

    [Fact]
    public async Task UnknownPath_WithToken_Is404Problem()
    {
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/nothing-here"), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.PatchAsync("/api/devices", null), 405);
    }

    [Fact]
    public async Task OpenApi_DescribesEveryRouteAndTheBearerScheme()
    {
        using JsonDocument doc = await Host.GetJsonAsync("/openapi/v1.json");
        JsonElement paths = doc.RootElement.GetProperty("paths");
        string[] expected =
        [
            "/api/devices", "/api/devices/{id}", "/api/devices/{id}/logout", "/api/users", "/api/users/{id}", "/api/users/{id}/logout",
            "/api/profiles", "/api/profiles/{id}", "/api/recording-groups", "/api/recording-groups/{id}", "/api/config", "/api/conflicts",
            "/api/logins", "/api/logins/logout-all", "/api/logins/history", "/api/locate/extension/{extension}", "/api/locate/user/{id}",
            "/api/calls", "/api/calls/{id}", "/api/recordings", "/api/recordings/{id}", "/api/recordings/{id}/audio", "/api/events",
        ];
        foreach (string path in expected)
        {
            Assert.True(paths.TryGetProperty(path, out _) || paths.TryGetProperty(path + "/", out _), $"{path} is not in the OpenAPI document");
        }

        JsonElement scheme = doc.RootElement.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        Assert.Equal(JsonValueKind.Array, doc.RootElement.GetProperty("security").ValueKind);
    }
}
