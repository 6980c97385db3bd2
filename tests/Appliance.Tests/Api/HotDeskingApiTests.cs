using System.Net;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>Explicit login and logout through the API, locate, history and the event stream.</summary>
public sealed class HotDeskingApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private ApiHost Host => fixture.Host;

    private static async Task<JsonElement> JsonOf(HttpResponseMessage response, HttpStatusCode status)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task Login_ChecksUserDevicePinAndClash_ThenLocateHistoryAndLogout()
    {
        await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins", """{ "user": "bob" }"""), 400);
        await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins", """{ "user": "bob", "device": """), 400);
        await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins", """{ "user": "nobody", "device": "desk-2" }"""), 404);
        await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins", """{ "user": "bob", "device": "no-desk" }"""), 404);
        await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins", """{ "user": "bob", "device": "desk-2" }"""), 403);
        await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins", """{ "user": "bob", "device": "desk-2", "pin": "9999" }"""), 403);

        JsonElement login = await JsonOf(await Host.PostJsonAsync("/api/logins", """{ "user": "bob", "device": "desk-2", "pin": "1234" }"""), HttpStatusCode.Created);
        Assert.Equal(("bob", "desk-2", "explicit"), (login.GetProperty("user").GetString(), login.GetProperty("hostDevice").GetString(), login.GetProperty("kind").GetString()));
        Assert.Equal(["4002"], login.GetProperty("guest").EnumerateArray().Select(e => e.GetString()));
        await JsonOf(await Host.PostJsonAsync("/api/logins", """{ "user": "bob", "device": "desk-2", "pin": "1234" }"""), HttpStatusCode.OK); // already there

        // Someone else at the desk: a clash unless replace.
        JsonElement clash = await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins", """{ "user": "carol", "device": "desk-2" }"""), 409);
        Assert.Contains("bob", clash.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using (JsonDocument now = await Host.GetJsonAsync("/api/logins"))
        {
            Assert.Contains(now.RootElement.EnumerateArray(), l => l.GetProperty("user").GetString() == "bob" && l.GetProperty("hostDevice").GetString() == "desk-2");
        }

        using (JsonDocument where = await Host.GetJsonAsync("/api/locate/user/bob"))
        {
            Assert.True(where.RootElement.GetProperty("loggedIn").GetBoolean());
            Assert.Equal("desk-2", where.RootElement.GetProperty("hostDevice").GetString());
        }

        using (JsonDocument ext = await Host.GetJsonAsync("/api/locate/extension/4002"))
        {
            Assert.Equal("bob", ext.RootElement.GetProperty("user").GetString());
        }

        using (JsonDocument view = await Host.GetJsonAsync("/api/users/bob"))
        {
            Assert.Equal("desk-2", view.RootElement.GetProperty("location").GetProperty("hostDevice").GetString());
        }

        JsonElement replaced = await JsonOf(await Host.PostJsonAsync("/api/logins", """{ "user": "carol", "device": "desk-2", "replace": true }"""), HttpStatusCode.Created);
        Assert.Equal("carol", replaced.GetProperty("user").GetString());

        JsonElement ended = await JsonOf(await Host.Client.PostAsync("/api/devices/desk-2/logout", null), HttpStatusCode.OK);
        Assert.Equal(("carol", "logout"), (ended.GetProperty("user").GetString(), ended.GetProperty("endReason").GetString()));
        Assert.NotEqual(JsonValueKind.Null, ended.GetProperty("until").ValueKind);
        await ApiHost.AssertProblemAsync(await Host.Client.PostAsync("/api/devices/desk-2/logout", null), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.PostAsync("/api/devices/no-desk/logout", null), 404);

        // History of the desk, newest first: carol (logout), bob (replaced).
        using JsonDocument history = await Host.GetJsonAsync("/api/logins/history?device=desk-2");
        Assert.Equal([("carol", "logout"), ("bob", "replaced")],
            history.RootElement.EnumerateArray().Select(e => (e.GetProperty("user").GetString(), e.GetProperty("endReason").GetString())));
        DateTimeOffset bobAt = login.GetProperty("since").GetDateTimeOffset().AddTicks(1);
        using JsonDocument at = await Host.GetJsonAsync($"/api/logins/history?device=desk-2&from={Uri.EscapeDataString(bobAt.ToString("O"))}&to={Uri.EscapeDataString(bobAt.ToString("O"))}");
        Assert.Equal("bob", Assert.Single(at.RootElement.EnumerateArray()).GetProperty("user").GetString());
        using JsonDocument bobs = await Host.GetJsonAsync("/api/logins/history?user=bob&limit=1");
        Assert.Single(bobs.RootElement.EnumerateArray());
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/logins/history?from=yesterday"), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/logins/history?limit=100000"), 400);
    }

    [Fact]
    public async Task RemoteLogout_AndLogoutAll()
    {
        await JsonOf(await Host.PostJsonAsync("/api/logins", """{ "user": "dave", "device": "desk-3" }"""), HttpStatusCode.Created);
        JsonElement ended = await JsonOf(await Host.Client.PostAsync("/api/users/dave/logout", null), HttpStatusCode.OK);
        Assert.Equal(("dave", "desk-3", "remote-logout"), (ended.GetProperty("user").GetString(), ended.GetProperty("hostDevice").GetString(), ended.GetProperty("endReason").GetString()));
        await ApiHost.AssertProblemAsync(await Host.Client.PostAsync("/api/users/dave/logout", null), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.PostAsync("/api/users/nobody/logout", null), 404);

        using (JsonDocument nowhere = await Host.GetJsonAsync("/api/locate/user/dave"))
        {
            Assert.False(nowhere.RootElement.GetProperty("loggedIn").GetBoolean());
        }

        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/locate/user/nobody"), 404);

        await JsonOf(await Host.PostJsonAsync("/api/logins", """{ "user": "dave", "device": "desk-3" }"""), HttpStatusCode.Created);
        JsonElement all = await JsonOf(await Host.PostJsonAsync("/api/logins/logout-all", """{ "scope": "internal" }"""), HttpStatusCode.OK);
        Assert.True(all.GetProperty("loggedOut").GetInt32() >= 1);
        using JsonDocument none = await Host.GetJsonAsync("/api/logins");
        Assert.DoesNotContain(none.RootElement.EnumerateArray(), l => l.GetProperty("user").GetString() == "dave");
        await ApiHost.AssertProblemAsync(await Host.PostJsonAsync("/api/logins/logout-all", """{ "scope": "everyone" }"""), 400);
    }

    [Fact]
    public async Task LocateExtension_FindsTheLearnedPhone_Or404()
    {
        using JsonDocument doc = await Host.GetJsonAsync("/api/locate/extension/2002");
        Assert.Equal("sip:127.0.0.1:5070", doc.RootElement.GetProperty("hostDevice").GetString());
        Assert.Equal(["127.0.0.1"], doc.RootElement.GetProperty("ips").EnumerateArray().Select(e => e.GetString()));
        Assert.False(doc.RootElement.GetProperty("loggedIn").GetBoolean());
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/locate/extension/9999"), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/locate/extension/2001"), 404); // unregistered after the call
    }

    [Fact]
    public async Task Events_StreamALoginWithHostAndGuest()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events?types=login,device");
        using HttpResponseMessage response = await Host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        (string Name, string Data, string? Id) first = await Sse.ReadAsync(reader, cts.Token);
        Assert.Equal("stream.open", first.Name);

        await JsonOf(await Host.PostJsonAsync("/api/logins", """{ "user": "erin", "device": "desk-4" }"""), HttpStatusCode.Created);
        await JsonOf(await Host.Client.PostAsync("/api/devices/desk-4/logout", null), HttpStatusCode.OK);

        (string Name, string Data, string? Id) established = await Sse.ReadAsync(reader, cts.Token);
        Assert.Equal("login.established", established.Name);
        using JsonDocument data = JsonDocument.Parse(established.Data);
        Assert.Equal("login-established", data.RootElement.GetProperty("kind").GetString());
        Assert.Equal(("erin", "desk-4"), (data.RootElement.GetProperty("user").GetString(), data.RootElement.GetProperty("hostDevice").GetString()));
        Assert.Equal(["4004"], data.RootElement.GetProperty("guest").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(data.RootElement.GetProperty("seq").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), established.Id);

        (string Name, string Data, string? Id) cancelled = await Sse.ReadAsync(reader, cts.Token);
        Assert.Equal("login.cancelled", cancelled.Name);

        // Last-Event-ID replays what came after it.
        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/events?types=login");
        again.Headers.Add("Last-Event-ID", established.Id);
        using HttpResponseMessage replay = await Host.Client.SendAsync(again, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var replayReader = new StreamReader(await replay.Content.ReadAsStreamAsync(cts.Token));
        Assert.Equal("stream.open", (await Sse.ReadAsync(replayReader, cts.Token)).Name);
        (string Name, string _, string? Id) replayed = await Sse.ReadAsync(replayReader, cts.Token);
        Assert.Equal(("login.cancelled", cancelled.Id), (replayed.Name, replayed.Id));

        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/events?types=" + string.Join(',', Enumerable.Repeat("x", 40))), 400);
    }
}
