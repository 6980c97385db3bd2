using System.Net;
using System.Text;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>Devices, users, profiles, recording groups and the whole configuration: reads, edits, validation, persistence.</summary>
public sealed class DirectoryApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private ApiHost Host => fixture.Host;

    private static async Task<JsonElement> JsonOf(HttpResponseMessage response, HttpStatusCode status)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private JsonElement SavedConfig() => JsonDocument.Parse(File.ReadAllText(Host.ConfigFile!)).RootElement.Clone();

    // ---- Devices ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task Devices_ListLearnedAndConfigured_WithTheirConfiguration()
    {
        using JsonDocument doc = await Host.GetJsonAsync("/api/devices");
        JsonElement[] devices = [.. doc.RootElement.EnumerateArray()];

        // Learned from the replayed SIPp call: the callee's phone at 127.0.0.1:5070 with line 1 = 2002 (from its answers).
        JsonElement callee = devices.Single(d => d.GetProperty("id").GetString() == "sip:127.0.0.1:5070");
        Assert.Equal("sip", callee.GetProperty("protocol").GetString());
        Assert.Equal("2002", callee.GetProperty("lines")[0].GetProperty("extension").GetString());
        Assert.Equal("signalling", callee.GetProperty("lines")[0].GetProperty("source").GetString());
        Assert.False(callee.GetProperty("configured").GetBoolean());
        Assert.Equal(JsonValueKind.Null, callee.GetProperty("configuration").ValueKind);

        // The caller's phone registered 2001 from :5061 and unregistered it after the call: its INVITEs (Contact :5060,
        // same address) were that phone's, so no second device holds 2001 now.
        JsonElement phone = devices.Single(d => d.GetProperty("id").GetString() == "sip:127.0.0.1:5061");
        Assert.Empty(phone.GetProperty("lines").EnumerateArray());
        Assert.DoesNotContain(devices, d => d.GetProperty("id").GetString() == "sip:127.0.0.1:5060");

        JsonElement desk = devices.Single(d => d.GetProperty("id").GetString() == "desk-1");
        Assert.True(desk.GetProperty("configured").GetBoolean());
        Assert.Equal("agents", desk.GetProperty("recordingGroup").GetString());
        Assert.Equal("4001", desk.GetProperty("configuration").GetProperty("extensions")[0].GetString());

        // Ordered by id, paged with after + limit.
        Assert.Equal([.. devices.Select(d => d.GetProperty("id").GetString()).Order(StringComparer.Ordinal)], devices.Select(d => d.GetProperty("id").GetString()));
        using JsonDocument page = await Host.GetJsonAsync("/api/devices?after=desk-1&limit=1");
        Assert.Equal("desk-2", Assert.Single(page.RootElement.EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Devices_GetOne_Or404()
    {
        using JsonDocument desk = await Host.GetJsonAsync("/api/devices/desk-2");
        Assert.Equal("desk-2", desk.RootElement.GetProperty("id").GetString());
        using JsonDocument learned = await Host.GetJsonAsync("/api/devices/" + Uri.EscapeDataString("sip:127.0.0.1:5070"));
        Assert.Equal("127.0.0.1", learned.RootElement.GetProperty("ips")[0].GetString());

        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/devices/no-such-desk"), 404);
        Assert.Contains("no-such-desk", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/devices?limit=0"), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/devices?limit=ten"), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/devices/" + new string('d', 300)), 400);
    }

    [Fact]
    public async Task Devices_Put_CreatesThenReplaces_AndSavesTheConfiguration()
    {
        JsonElement created = await JsonOf(await Host.PutJsonAsync("/api/devices/desk-10", """{ "name": "Desk 10", "extensions": ["4010", "4900"], "ips": ["10.9.0.10"], "recordingGroup": "agents" }"""), HttpStatusCode.Created);
        Assert.Equal("desk-10", created.GetProperty("id").GetString());
        Assert.True(created.GetProperty("configured").GetBoolean());
        Assert.Equal(["4010", "4900"], created.GetProperty("configuration").GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("10.9.0.10", created.GetProperty("ips")[0].GetString());

        JsonElement replaced = await JsonOf(await Host.PutJsonAsync("/api/devices/desk-10", """{ "id": "desk-10", "name": "Desk ten", "extensions": ["4010"] }"""), HttpStatusCode.OK);
        Assert.Equal("Desk ten", replaced.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, replaced.GetProperty("configuration").GetProperty("recordingGroup").ValueKind);

        JsonElement saved = SavedConfig().GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("id").GetString() == "desk-10");
        Assert.Equal("Desk ten", saved.GetProperty("name").GetString());
        Assert.Equal(["4010"], saved.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));

        Assert.Equal(HttpStatusCode.NoContent, (await Host.Client.DeleteAsync("/api/devices/desk-10")).StatusCode);
        Assert.DoesNotContain(SavedConfig().GetProperty("devices").EnumerateArray(), d => d.GetProperty("id").GetString() == "desk-10");
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/devices/desk-10"), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.DeleteAsync("/api/devices/desk-10"), 404);
    }

    [Fact]
    public async Task Devices_PutInvalid_Is400WithEveryProblemByLocation()
    {
        string before = File.ReadAllText(Host.ConfigFile!);
        JsonElement problem = await ApiHost.AssertProblemAsync(
            await Host.PutJsonAsync("/api/devices/desk-11", """{ "extensions": ["40 11"], "colour": "red", "mac": "not-a-mac", "recordingGroup": "nobody" }"""), 400);
        // A body of the wrong shape is reported as such first (as the configuration file is).
        Assert.Contains("unknown property 'colour'", problem.GetProperty("errors").GetProperty("colour")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(Host.ConfigFile!)); // nothing saved
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/devices/desk-11"), 404);

        problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/devices/desk-11", """{ "extensions": ["40 11"], "mac": "not-a-mac", "recordingGroup": "nobody" }"""), 400);
        JsonElement errors = problem.GetProperty("errors");
        Assert.Contains("40 11", errors.GetProperty("extensions[0]")[0].GetString(), StringComparison.Ordinal);
        Assert.True(errors.TryGetProperty("mac", out _) && errors.TryGetProperty("recordingGroup", out _), errors.ToString());
        List<string> all = ApiHost.Errors(problem);
        Assert.Contains(all, e => e.Contains("40 11", StringComparison.Ordinal));
        Assert.Contains(all, e => e.Contains("not-a-mac", StringComparison.Ordinal));
        Assert.Contains(all, e => e.Contains("nobody", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/api/devices/desk-13", """{ "extensions": ["4013"], "extensions": ["4014"] }""")]
    [InlineData("/api/users/dup", """{ "name": "A", "name": "B" }""")]
    [InlineData("/api/profiles/dup", """{ "user": "alice", "user": "bob", "extensions": ["5001"] }""")]
    [InlineData("/api/recording-groups/dup", """{ "record": true, "record": false }""")]
    [InlineData("/api/config", """{ "devices": [], "devices": [] }""")]
    public async Task Put_WithADuplicateKey_Is400_NeverA500(string path, string json)
    {
        string before = File.ReadAllText(Host.ConfigFile!);
        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync(path, json), 400);
        Assert.Contains("not valid JSON", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(Host.ConfigFile!)); // nothing saved
    }

    [Fact]
    public async Task Devices_PutMalformedOrMismatched_Is400()
    {
        await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/devices/desk-12", """{ "extensions": ["4012" """), 400);
        await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/devices/desk-12", """["4012"]"""), 400);
        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/devices/desk-12", """{ "id": "desk-13", "extensions": ["4012"] }"""), 400);
        Assert.True(problem.GetProperty("errors").TryGetProperty("id", out _));
    }

    [Fact]
    public async Task Devices_PutLine1OfAnotherDevice_Is409()
    {
        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/devices/desk-14", """{ "extensions": ["4001"] }"""), 409);
        Assert.Contains(ApiHost.Errors(problem), e => e.Contains("4001", StringComparison.Ordinal) && e.Contains("desk-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Request_LargerThan1MB_Is413Problem()
    {
        string huge = "{ \"name\": \"" + new string('x', 2 * 1024 * 1024) + "\" }";

        // Expect: 100-continue, as careful clients send a large body: the server refuses on the declared length before
        // a byte of it is sent. Without it the client may still be writing the 2 MB when the 413 closes the connection,
        // and sees a broken pipe instead of the answer (it did, on a loaded machine).
        using var handler = new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromSeconds(30) };
        using var client = new HttpClient(handler) { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = Host.Client.DefaultRequestHeaders.Authorization;
        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/devices/desk-15") { Content = new StringContent(huge, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        JsonElement problem = await ApiHost.AssertProblemAsync(await client.SendAsync(request), 413);
        Assert.Contains("too large", problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    // ---- Users ------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Users_ShowWhetherAPinIsSetButNeverThePin()
    {
        using JsonDocument users = await Host.GetJsonAsync("/api/users");
        JsonElement bob = users.RootElement.EnumerateArray().Single(u => u.GetProperty("id").GetString() == "bob");
        Assert.True(bob.GetProperty("hasPin").GetBoolean());
        Assert.False(bob.TryGetProperty("pin", out _));
        Assert.DoesNotContain("1234", users.RootElement.GetRawText(), StringComparison.Ordinal);

        using JsonDocument alice = await Host.GetJsonAsync("/api/users/alice");
        Assert.Equal(["alice-em"], alice.RootElement.GetProperty("profiles").EnumerateArray().Select(p => p.GetString()));
        Assert.False(alice.RootElement.GetProperty("hasPin").GetBoolean());
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/users/nobody"), 404);
    }

    [Fact]
    public async Task Users_PutWithoutPin_KeepsThePin_NullRemovesIt()
    {
        await JsonOf(await Host.PutJsonAsync("/api/users/frank", """{ "name": "Frank", "pin": "9876" }"""), HttpStatusCode.Created);
        // A GET's body sent back (with its read-only properties) keeps the PIN.
        string got = await Host.Client.GetStringAsync("/api/users/frank");
        JsonElement updated = await JsonOf(await Host.PutJsonAsync("/api/users/frank", got.Replace("\"Frank\"", "\"Frank F.\"", StringComparison.Ordinal)), HttpStatusCode.OK);
        Assert.True(updated.GetProperty("hasPin").GetBoolean());
        Assert.Equal("Frank F.", updated.GetProperty("name").GetString());
        Assert.Equal("9876", SavedConfig().GetProperty("users").EnumerateArray().Single(u => u.GetProperty("id").GetString() == "frank").GetProperty("pin").GetString());

        updated = await JsonOf(await Host.PutJsonAsync("/api/users/frank", """{ "name": "Frank", "pin": null }"""), HttpStatusCode.OK);
        Assert.False(updated.GetProperty("hasPin").GetBoolean());

        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/users/frank", """{ "pin": "12a" }"""), 400);
        Assert.True(problem.GetProperty("errors").TryGetProperty("pin", out _), problem.ToString());
        Assert.Equal(HttpStatusCode.NoContent, (await Host.Client.DeleteAsync("/api/users/frank")).StatusCode);
    }

    [Fact]
    public async Task Users_DeleteWhileAProfileRefersToIt_Is409()
    {
        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.Client.DeleteAsync("/api/users/alice"), 409);
        Assert.Contains(ApiHost.Errors(problem), e => e.Contains("alice", StringComparison.Ordinal));
        await ApiHost.AssertProblemAsync(await Host.Client.DeleteAsync("/api/users/nobody"), 404);
        using JsonDocument still = await Host.GetJsonAsync("/api/users/alice");
    }

    // ---- Profiles ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Profiles_SetEqualToAnotherProfileOrADevice_Is409_BadExtension400()
    {
        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/profiles/carol-em", """{ "user": "carol", "extensions": ["3002", "3001"] }"""), 409);
        Assert.Contains(ApiHost.Errors(problem), e => e.Contains("alice-em", StringComparison.Ordinal));

        problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/profiles/carol-em", """{ "user": "carol", "extensions": ["4002"] }"""), 409);
        Assert.Contains(ApiHost.Errors(problem), e => e.Contains("desk-2", StringComparison.Ordinal));

        problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/profiles/carol-em", """{ "user": "nobody", "extensions": ["3x 1"] }"""), 400);
        Assert.Contains(ApiHost.Errors(problem), e => e.Contains("3x 1", StringComparison.Ordinal));
        Assert.Contains(ApiHost.Errors(problem), e => e.Contains("nobody", StringComparison.Ordinal));

        JsonElement created = await JsonOf(await Host.PutJsonAsync("/api/profiles/carol-em", """{ "user": "carol", "extensions": ["3101", "3102"] }"""), HttpStatusCode.Created);
        Assert.Equal("carol", created.GetProperty("user").GetString());
        using JsonDocument got = await Host.GetJsonAsync("/api/profiles/carol-em");
        Assert.Equal(["3101", "3102"], got.RootElement.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
        using JsonDocument list = await Host.GetJsonAsync("/api/profiles");
        Assert.Contains(list.RootElement.EnumerateArray(), p => p.GetProperty("id").GetString() == "carol-em");
        Assert.Equal(HttpStatusCode.NoContent, (await Host.Client.DeleteAsync("/api/profiles/carol-em")).StatusCode);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/profiles/carol-em"), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.DeleteAsync("/api/profiles/carol-em"), 404);
    }

    // ---- Recording groups -------------------------------------------------------------------------------------

    [Fact]
    public async Task RecordingGroups_PutGetDelete_And409WhileInUse()
    {
        JsonElement created = await JsonOf(await Host.PutJsonAsync("/api/recording-groups/night", """{ "record": false }"""), HttpStatusCode.Created);
        Assert.False(created.GetProperty("record").GetBoolean());
        using JsonDocument list = await Host.GetJsonAsync("/api/recording-groups");
        Assert.Equal(["agents", "quiet", "night"], list.RootElement.EnumerateArray().Select(g => g.GetProperty("id").GetString()));
        using JsonDocument one = await Host.GetJsonAsync("/api/recording-groups/night");
        Assert.Equal(HttpStatusCode.NoContent, (await Host.Client.DeleteAsync("/api/recording-groups/night")).StatusCode);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recording-groups/night"), 404);

        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.Client.DeleteAsync("/api/recording-groups/agents"), 409);
        Assert.Contains(ApiHost.Errors(problem), e => e.Contains("agents", StringComparison.Ordinal));
        await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/recording-groups/g2", """{ "record": "yes" }"""), 400);
    }

    // ---- The whole configuration ------------------------------------------------------------------------------

    [Fact]
    public async Task Config_GetHasAnETagAndNoPins_PutHonoursIfMatch()
    {
        using HttpResponseMessage get = await Host.Client.GetAsync("/api/config");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        string etag = get.Headers.ETag!.Tag;
        string json = await get.Content.ReadAsStringAsync();
        Assert.DoesNotContain("1234", json, StringComparison.Ordinal);
        Assert.Contains("alice-em", json, StringComparison.Ordinal);

        using var stale = new HttpRequestMessage(HttpMethod.Put, "/api/config") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        stale.Headers.TryAddWithoutValidation("If-Match", "\"0123\"");
        await ApiHost.AssertProblemAsync(await Host.Client.SendAsync(stale), 412);

        // The same configuration back, with the ETag: accepted, and bob keeps his PIN.
        using var put = new HttpRequestMessage(HttpMethod.Put, "/api/config") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        put.Headers.TryAddWithoutValidation("If-Match", etag);
        using HttpResponseMessage ok = await Host.Client.SendAsync(put);
        Assert.True(ok.StatusCode == HttpStatusCode.OK, await ok.Content.ReadAsStringAsync());
        Assert.Equal("1234", SavedConfig().GetProperty("users").EnumerateArray().Single(u => u.GetProperty("id").GetString() == "bob").GetProperty("pin").GetString());

        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.PutJsonAsync("/api/config", """{ "users": [ { "id": "x" }, { "id": "x" } ], "timeZone": "Mars/Olympus" }"""), 400);
        List<string> errors = ApiHost.Errors(problem);
        Assert.Contains(errors, e => e.StartsWith("users[1].id", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Mars/Olympus", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Conflicts_ListIsAvailable()
    {
        using JsonDocument all = await Host.GetJsonAsync("/api/conflicts");
        Assert.Equal(JsonValueKind.Array, all.RootElement.ValueKind);
        using JsonDocument open = await Host.GetJsonAsync("/api/conflicts?open=true");
        Assert.Empty(open.RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Servers_ListTheInfrastructureWithItsEvidence_NotAsDevices()
    {
        // The sample call (SIPp on loopback) registers its phone with the SIPp registrar at 127.0.0.1:5080.
        await Host.WaitForRecordingAsync(); // the whole sample replayed
        using JsonDocument servers = await Host.GetJsonAsync("/api/servers");
        JsonElement registrar = Assert.Single(servers.RootElement.EnumerateArray());
        Assert.Equal(("127.0.0.1", 5080, "receives-registers"),
            (registrar.GetProperty("ip").GetString(), registrar.GetProperty("port").GetInt32(), registrar.GetProperty("evidence").GetString()));
        using JsonDocument devices = await Host.GetJsonAsync("/api/devices");
        Assert.DoesNotContain(devices.RootElement.EnumerateArray(), d => d.GetProperty("id").GetString()!.Contains("127.0.0.1:5080", StringComparison.Ordinal));
    }
}
