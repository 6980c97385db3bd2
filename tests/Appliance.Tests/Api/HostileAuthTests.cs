using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>
/// Issue 13: every route the host maps (read from its endpoint data source, so a route added later is covered) without
/// a token, with wrong ones, and with the right one only in the query string.
/// </summary>
[Collection(Support.HostileCollection.Name)]
public sealed class HostileAuthTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private ApiHost Host => fixture.Host;

    private List<ApiRoute> Routes => ApiRoutes.Of(Host.App);

    private string PathOf(ApiRoute route) => route.Path(p => route.ByRecordingId ? fixture.RecordingId : p switch { "extension" => "4001", "documentName" => "v1", _ => "desk-1" });

    private static HttpRequestMessage Request(ApiRoute route, string path) => new(new HttpMethod(route.Method), path)
    {
        Content = route.TakesBody ? new StringContent("{}", null, "application/json") : null,
    };

    [Fact]
    public void TheRouteList_IsTheHostsOwn_AndOnlyTheProbesTheWebAppAndSignInAreAnonymous()
    {
        List<ApiRoute> routes = Routes;
        string[] patterns = [.. routes.Select(r => r.Pattern)];
        foreach (string expected in (string[])["/api/devices/{id}", "/api/config", "/api/logins", "/api/recordings/{id}/audio", "/api/events", "/metrics", "/openapi/{documentName}.json", "/api/locate/extension/{extension}"])
        {
            Assert.Contains(expected, patterns);
        }

        Assert.True(routes.Count >= 35, $"only {routes.Count} routes read from the endpoint data source");
        // The probes, the web app's pages (no data in them) and its sign-in (which takes a token in its body).
        Assert.Equal(["/", "/api/session", "/app/{**file}", "/healthz", "/readyz"], routes.Where(r => r.Anonymous).Select(r => r.Pattern).Order(StringComparer.Ordinal));
        Assert.Equal(["/api/events", "/api/recordings/{id}/audio"], routes.Where(r => r.QueryToken).Select(r => r.Pattern).Order());
        Assert.All(routes.Where(r => r.QueryToken), r => Assert.Equal("GET", r.Method));
    }

    [Fact]
    public async Task EveryRoute_WithoutAToken_Is401Problem()
    {
        foreach (ApiRoute route in Routes.Where(r => !r.Anonymous))
        {
            using HttpRequestMessage request = Request(route, PathOf(route));
            using HttpResponseMessage response = await Host.Anonymous.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await AssertUnauthorizedAsync(route, response, invalidToken: false);
        }
    }

    [Fact]
    public async Task EveryRoute_WithAWrongToken_Is401Problem()
    {
        string[] wrong = ["wrong", ApiHost.Token + "x", ApiHost.Token[..^1], ApiHost.Token.ToUpperInvariant(), " " + ApiHost.Token + "\u0001", new string('a', 4000)];
        foreach (ApiRoute route in Routes.Where(r => !r.Anonymous))
        {
            foreach (string token in wrong)
            {
                using HttpRequestMessage request = Request(route, PathOf(route));
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
                using HttpResponseMessage response = await Host.Anonymous.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                await AssertUnauthorizedAsync(route, response, invalidToken: true);
            }

            // The right token, but not as a bearer credential.
            foreach (string header in (string[])[ApiHost.Token, "Basic " + ApiHost.Token, "Token " + ApiHost.Token, "Bearer", "Bearer "])
            {
                using HttpRequestMessage request = Request(route, PathOf(route));
                request.Headers.TryAddWithoutValidation("Authorization", header);
                using HttpResponseMessage response = await Host.Anonymous.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route} with Authorization '{header}': {(int)response.StatusCode}");
            }
        }
    }

    [Fact]
    public async Task EveryRoute_WithTheTokenOnlyInTheQueryString_Is401_ButWhereABrowserElementNeedsIt()
    {
        foreach (ApiRoute route in Routes.Where(r => !r.Anonymous))
        {
            foreach (string parameter in (string[])["access_token", "token", "api_token", "bearer", "Authorization"])
            {
                string path = PathOf(route) + "?" + parameter + "=" + Uri.EscapeDataString(ApiHost.Token);
                using HttpRequestMessage request = Request(route, path);
                using HttpResponseMessage response = await Host.Anonymous.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                if (route.QueryToken && parameter == "access_token")
                {
                    Assert.True(response.StatusCode != HttpStatusCode.Unauthorized, $"{route}: ?access_token= must be accepted here (audio, event stream)");
                }
                else
                {
                    await AssertUnauthorizedAsync(route, response, invalidToken: false);
                }
            }

            // The query token is never accepted beside a wrong header, nor as another method.
            using HttpRequestMessage both = Request(route, PathOf(route) + "?access_token=" + Uri.EscapeDataString(ApiHost.Token));
            both.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong-token");
            using HttpResponseMessage refused = await Host.Anonymous.SendAsync(both, HttpCompletionOption.ResponseHeadersRead);
            await AssertUnauthorizedAsync(route, refused, invalidToken: true);
        }
    }

    private static async Task AssertUnauthorizedAsync(ApiRoute route, HttpResponseMessage response, bool invalidToken)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route}: expected 401, got {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using JsonDocument problem = JsonDocument.Parse(body);
        Assert.Equal(401, problem.RootElement.GetProperty("status").GetInt32());
        AuthenticationHeaderValue challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Equal(invalidToken, challenge.Parameter?.Contains("invalid_token", StringComparison.Ordinal) ?? false);
        Assert.DoesNotContain(ApiHost.Token, body, StringComparison.Ordinal);
    }
}
