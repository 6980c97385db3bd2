using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>The web app's session over HTTP (README "Web app"): the cookie, CSRF, revocation, the audit entries, and how the app is served.</summary>
public sealed class SessionApiTests(RoleHostFixture fixture) : IClassFixture<RoleHostFixture>
{
    private ApiHost Host => fixture.Host;

    // Cookies as each test sends them, not as a client's cookie container would (it would send the latest session's).
    private readonly HttpClient _http = new(new HttpClientHandler { UseCookies = false }) { BaseAddress = fixture.Host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    private async Task<(string Cookie, string Csrf, HttpResponseMessage Answer)> SignInAsync(string token)
    {
        HttpResponseMessage answer = await _http.PostAsJsonAsync("/api/session", new { token });
        string body = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.OK, body);
        string setCookie = Assert.Single(answer.Headers.GetValues("Set-Cookie"));
        string cookie = setCookie.Split(';')[0];
        using JsonDocument json = JsonDocument.Parse(body);
        return (cookie, json.RootElement.GetProperty("csrf").GetString()!, answer);
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? cookie, string? csrf = null, string? json = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        if (csrf is not null)
        {
            request.Headers.Add("X-CSRF-Token", csrf);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return _http.SendAsync(request);
    }

    [Fact]
    public async Task SignIn_SetsAnHttpOnlySameSiteStrictCookie_ThatCarriesTheTokensRole_AndAWrongTokenIs401()
    {
        await ApiHost.AssertProblemAsync(await _http.PostAsJsonAsync("/api/session", new { token = "wrong-token" }), 401);
        await ApiHost.AssertProblemAsync(await _http.PostAsJsonAsync("/api/session", new { }), 400);

        (string cookie, string csrf, HttpResponseMessage answer) = await SignInAsync(fixture.Tokens["viewer"]);
        string setCookie = answer.Headers.GetValues("Set-Cookie").Single().ToLowerInvariant();
        Assert.Contains("httponly", setCookie, StringComparison.Ordinal);
        Assert.Contains("samesite=strict", setCookie, StringComparison.Ordinal);
        Assert.Contains("path=/", setCookie, StringComparison.Ordinal);
        Assert.DoesNotContain("secure", setCookie, StringComparison.Ordinal); // plain HTTP here: a Secure cookie would never be sent back
        Assert.DoesNotContain(fixture.Tokens["viewer"], setCookie, StringComparison.Ordinal);
        Assert.True(csrf.Length >= 32);

        // The session is the viewer: search yes, audio no (the same policies as its bearer token).
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/api/recordings", cookie)).StatusCode);
        await ApiHost.AssertProblemAsync(await SendAsync(HttpMethod.Get, $"/api/recordings/{fixture.RecordingId}/audio", cookie), 403);
        using JsonDocument who = JsonDocument.Parse(await (await SendAsync(HttpMethod.Get, "/api/session", cookie)).Content.ReadAsStringAsync());
        Assert.Equal(("the-viewer", "viewer", csrf), (who.RootElement.GetProperty("name").GetString(), who.RootElement.GetProperty("role").GetString(), who.RootElement.GetProperty("csrf").GetString()));
    }

    [Fact]
    public async Task CookieRequestsThatChangeState_NeedTheSessionsCsrfToken_BearerRequestsDoNot()
    {
        (string cookie, string csrf, _) = await SignInAsync(ApiHost.Token);
        const string Body = """{ "scope": "external" }""";
        JsonElement refused = await ApiHost.AssertProblemAsync(await SendAsync(HttpMethod.Post, "/api/logins/logout-all", cookie, json: Body), 403);
        Assert.Contains("X-CSRF-Token", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ApiHost.AssertProblemAsync(await SendAsync(HttpMethod.Post, "/api/logins/logout-all", cookie, csrf: "not-" + csrf, json: Body), 403);
        (string otherCookie, string otherCsrf, _) = await SignInAsync(ApiHost.Token);
        await ApiHost.AssertProblemAsync(await SendAsync(HttpMethod.Post, "/api/logins/logout-all", cookie, csrf: otherCsrf, json: Body), 403); // another session's
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/logins/logout-all", cookie, csrf: csrf, json: Body)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/logins/logout-all", otherCookie, bearer: ApiHost.Token, json: Body)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/logins/logout-all", null, bearer: ApiHost.Token, json: Body)).StatusCode);

        // A signed-in page asking for what is not there is told so (404), not signed out (401).
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/api/no-such-thing", cookie)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, $"/api/calls/{Guid.NewGuid()}/pause", cookie, csrf: csrf)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/api/no-such-thing", null)).StatusCode);
    }

    [Fact]
    public async Task SignOut_EndsTheSessionOnTheServer_RevokingItsTokenEndsItsSessions_BothSignInAndOutAreAudited()
    {
        string token = await RoleApiTests.CreateTokenAsync(Host.Client, "session-" + Guid.NewGuid().ToString("N")[..8], "supervisor");
        string name = JsonDocument.Parse(await (await SendAsync(HttpMethod.Get, "/api/session", null, bearer: token)).Content.ReadAsStringAsync())
            .RootElement.GetProperty("name").GetString()!;
        (string first, string csrf, _) = await SignInAsync(token);
        (string second, _, _) = await SignInAsync(token);

        // Signing out without the CSRF token is refused like any change; with it the session is gone, whatever the browser keeps.
        await ApiHost.AssertProblemAsync(await SendAsync(HttpMethod.Delete, "/api/session", first), 403);
        HttpResponseMessage signedOut = await SendAsync(HttpMethod.Delete, "/api/session", first, csrf: csrf);
        Assert.Equal(HttpStatusCode.NoContent, signedOut.StatusCode);
        Assert.Contains("appliance-session=;", signedOut.Headers.GetValues("Set-Cookie").Single(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/api/calls", first)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/api/calls", second)).StatusCode);

        // Signing in again from the browser of the second session replaces it.
        HttpResponseMessage again = await SendAsync(HttpMethod.Post, "/api/session", second, json: JsonSerializer.Serialize(new { token }));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/api/calls", second)).StatusCode);
        second = again.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/api/calls", second)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Host.Client.DeleteAsync($"/api/tokens/{name}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/api/calls", second)).StatusCode);

        using JsonDocument audit = await Host.GetJsonAsync("/api/audit?limit=1000");
        string[] mine = [.. audit.RootElement.GetProperty("items").EnumerateArray()
            .Where(e => e.GetProperty("token").GetString() == name)
            .Select(e => $"{e.GetProperty("action").GetString()} {e.GetProperty("status").GetInt32()}")];
        Assert.Equal(["sign-in 200", "sign-in 200", "denied 403", "sign-out 204", "sign-in 200"], mine);
        Assert.DoesNotContain(token, File.ReadAllText(Path.Combine(Host.State, "audit.jsonl")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAppIsServedWithoutAToken_SameOriginOnly_RevalidatedByETag()
    {
        using HttpResponseMessage index = await Host.Anonymous.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        string csp = index.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Equal("no-cache", index.Headers.CacheControl?.ToString());
        string html = await index.Content.ReadAsStringAsync();
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal); // no CDN, no external font
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);

        foreach (string asset in (string[])["/app/main.js", "/app/app.css", "/app/pages/call.js"])
        {
            using HttpResponseMessage first = await Host.Anonymous.GetAsync(asset);
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            string body = await first.Content.ReadAsStringAsync();
            Assert.DoesNotContain("https://", body, StringComparison.Ordinal);
            using var again = new HttpRequestMessage(HttpMethod.Get, asset);
            again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
            using HttpResponseMessage revalidated = await Host.Anonymous.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await Host.Anonymous.GetAsync("/app/..%2Fappliance.dll")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Anonymous.GetAsync("/app/no-such.js")).StatusCode);
    }
}
