using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Appliance.Endpoints;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Api;

/// <summary>A host with one token of each role, created by the configured (administrator) token through /api/tokens.</summary>
public sealed class RoleHostFixture : IAsyncLifetime
{
    public ApiHost Host { get; private set; } = null!;

    public string RecordingId { get; private set; } = "";

    /// <summary>Role name to its token's secret ("administrator" is the configured token, named "admin").</summary>
    public Dictionary<string, string> Tokens { get; } = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        Host = await ApiHost.StartAsync();
        RecordingId = await Host.WaitForRecordingAsync();
        Tokens["administrator"] = ApiHost.Token;
        foreach (string role in (string[])["supervisor", "auditor", "viewer"])
        {
            Tokens[role] = await RoleApiTests.CreateTokenAsync(Host.Client, "the-" + role, role);
        }
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Each role gets exactly its endpoints (README "Roles"), and the audit log records who did what.</summary>
public sealed class RoleApiTests(RoleHostFixture fixture) : IClassFixture<RoleHostFixture>
{
    private const string Admin = "administrator";
    private const string Supervisor = "supervisor";
    private const string Auditor = "auditor";
    private const string Viewer = "viewer";

    /// <summary>
    /// The README's matrix, written out here rather than read from the code: every route the host maps must be in
    /// it (a new endpoint fails this test until someone decides who may call it).
    /// </summary>
    private static readonly Dictionary<string, string[]> s_allowed = new(StringComparer.Ordinal)
    {
        ["GET /api/recordings"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /api/recordings/{id}"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /api/recordings/{id}/audio"] = [Admin, Supervisor],
        ["PUT /api/recordings/{id}/hold"] = [Admin],
        ["DELETE /api/recordings/{id}/hold"] = [Admin],
        ["GET /api/calls"] = [Admin, Supervisor],
        ["GET /api/calls/{id}"] = [Admin, Supervisor],
        ["GET /api/events"] = [Admin, Supervisor],
        ["POST /api/calls/{id}/pause"] = [Admin, Supervisor],
        ["POST /api/calls/{id}/resume"] = [Admin, Supervisor],
        ["POST /api/extensions/{extension}/pause"] = [Admin, Supervisor],
        ["POST /api/extensions/{extension}/resume"] = [Admin, Supervisor],
        ["POST /api/users/{id}/pause"] = [Admin, Supervisor],
        ["POST /api/users/{id}/resume"] = [Admin, Supervisor],
        ["GET /api/devices"] = [Admin, Supervisor],
        ["GET /api/devices/{id}"] = [Admin, Supervisor],
        ["GET /api/users"] = [Admin, Supervisor],
        ["GET /api/users/{id}"] = [Admin, Supervisor],
        ["GET /api/logins"] = [Admin, Supervisor],
        ["GET /api/logins/history"] = [Admin, Supervisor],
        ["GET /api/locate/extension/{extension}"] = [Admin, Supervisor],
        ["GET /api/locate/user/{id}"] = [Admin, Supervisor],
        ["GET /api/cluster"] = [Admin, Supervisor],
        ["GET /api/cluster/users/{id}"] = [Admin, Supervisor],
        ["GET /api/audit"] = [Admin, Auditor],
        ["GET /metrics"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /openapi/{documentName}.json"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /healthz"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /readyz"] = [Admin, Supervisor, Auditor, Viewer],
        ["POST /api/logins"] = [Admin],
        ["POST /api/logins/logout-all"] = [Admin],
        ["POST /api/devices/{id}/logout"] = [Admin],
        ["POST /api/users/{id}/logout"] = [Admin],
        ["PUT /api/devices/{id}"] = [Admin],
        ["DELETE /api/devices/{id}"] = [Admin],
        ["PUT /api/users/{id}"] = [Admin],
        ["DELETE /api/users/{id}"] = [Admin],
        ["GET /api/profiles"] = [Admin],
        ["GET /api/profiles/{id}"] = [Admin],
        ["PUT /api/profiles/{id}"] = [Admin],
        ["DELETE /api/profiles/{id}"] = [Admin],
        ["GET /api/recording-groups"] = [Admin],
        ["GET /api/recording-groups/{id}"] = [Admin],
        ["PUT /api/recording-groups/{id}"] = [Admin],
        ["DELETE /api/recording-groups/{id}"] = [Admin],
        ["GET /api/config"] = [Admin],
        ["PUT /api/config"] = [Admin],
        ["GET /api/servers"] = [Admin],
        ["GET /api/conflicts"] = [Admin],
        ["GET /api/tokens"] = [Admin],
        ["POST /api/tokens"] = [Admin],
        ["DELETE /api/tokens/{name}"] = [Admin],
        ["POST /api/session"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /api/session"] = [Admin, Supervisor, Auditor, Viewer],
        ["DELETE /api/session"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /api/health"] = [Admin, Supervisor],
        ["GET /api/peer/{user}/recordings/{id}"] = [], // another appliance of the estate only (Cluster:Secret), no user role
        ["GET /api/peer/{user}/recordings/{id}/audio"] = [],
        ["PUT /api/peer/{user}/recordings/{id}/hold"] = [],
        ["DELETE /api/peer/{user}/recordings/{id}/hold"] = [],
        ["GET /"] = [Admin, Supervisor, Auditor, Viewer],
        ["GET /app/{**file}"] = [Admin, Supervisor, Auditor, Viewer],
    };

    private ApiHost Host => fixture.Host;

    public static async Task<string> CreateTokenAsync(HttpClient admin, string name, string role)
    {
        using HttpResponseMessage created = await admin.PostAsJsonAsync("/api/tokens", new { name, role });
        string body = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, body);
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.Equal(role, json.RootElement.GetProperty("role").GetString());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    [Fact]
    public async Task EveryRoute_EveryRole_GetsExactlyItsEndpoints_Others403_NoToken401()
    {
        List<ApiRoute> routes = ApiRoutes.Of(Host.App);
        string[] unlisted = [.. routes.Select(r => r.ToString()).Where(r => !s_allowed.ContainsKey(r))];
        Assert.True(unlisted.Length == 0, "routes nobody decided on: " + string.Join(", ", unlisted));
        string[] gone = [.. s_allowed.Keys.Where(k => !routes.Any(r => r.ToString() == k))];
        Assert.True(gone.Length == 0, "rows for routes that are gone: " + string.Join(", ", gone));

        var failures = new List<string>();
        foreach (ApiRoute route in routes)
        {
            string path = route.Path(p => p switch
            {
                "documentName" => "v1",
                "extension" => "4001",
                "name" => "no-such-token",
                "file" => "app.css",
                _ => route.ByRecordingId ? fixture.RecordingId : route.Pattern.StartsWith("/api/users", StringComparison.Ordinal) || route.Pattern.StartsWith("/api/locate/user", StringComparison.Ordinal)
                    || route.Pattern.StartsWith("/api/cluster/users", StringComparison.Ordinal) ? "alice"
                    : route.Pattern.StartsWith("/api/profiles", StringComparison.Ordinal) ? "alice-em"
                    : route.Pattern.StartsWith("/api/recording-groups", StringComparison.Ordinal) ? "agents" : "desk-1",
            });
            bool mutates = route.Method != "GET";
            if (mutates && route.Parameters.Count > 0 && route.Method is "PUT" or "DELETE")
            {
                // What an allowed role changes must not disturb the other rows: another id, or, for a recording's
                // sub-resource (its hold), a recording that is not there.
                path = route.Pattern.EndsWith('}') ? path[..(path.LastIndexOf('/') + 1)] + "not-there" : route.Path(_ => Guid.NewGuid().ToString("D"));
            }

            foreach ((string role, string token) in fixture.Tokens.Append(new("none", "")))
            {
                int status = await SendAsync(route.Method, path, token, route.TakesBody);
                bool allowed = s_allowed[route.ToString()].Contains(role);
                string row = $"{route} as {role}: {status}";
                if (role == "none")
                {
                    if (route.Anonymous != (status != 401))
                    {
                        failures.Add(row + " (no token)");
                    }
                }
                else if (allowed ? status is 401 or 403 : status != 403)
                {
                    failures.Add(row + (allowed ? " (should be allowed)" : " (should be 403)"));
                }
                else if (allowed && !mutates && status / 100 != 2 && !(route.Pattern == "/api/calls/{id}" && status == 404))
                {
                    failures.Add(row + " (a read should succeed)"); // the call of /api/calls/{id} has ended: 404 is its answer
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task Forbidden_IsAProblemNamingTheRolesThatMay_AndIsAudited()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/recordings/{fixture.RecordingId}/audio");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fixture.Tokens[Viewer]);
        using HttpResponseMessage response = await Host.Anonymous.SendAsync(request);
        JsonElement problem = await ApiHost.AssertProblemAsync(response, 403);
        string detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("the-viewer", detail, StringComparison.Ordinal);
        Assert.Contains("administrator or supervisor", detail, StringComparison.Ordinal);

        List<JsonElement> denied = await AuditAsync(e => e.GetProperty("action").GetString() == "denied" && e.GetProperty("token").GetString() == "the-viewer");
        Assert.Contains(denied, e => e.GetProperty("target").GetString() == $"GET /api/recordings/{fixture.RecordingId}/audio" && e.GetProperty("status").GetInt32() == 403);
        Assert.Empty(await AuditAsync(e => e.GetProperty("token").GetString() == "the-viewer" && e.GetProperty("action").GetString() is "play" or "download"));
    }

    [Fact]
    public async Task AuditLog_RecordsEachAction_WithItsTokenRoleTargetAndClient()
    {
        string id = fixture.RecordingId;
        HttpClient viewer = Client(fixture.Tokens[Viewer]);
        HttpClient supervisor = Client(fixture.Tokens[Supervisor]);
        long before = await LastSeqAsync();

        (await viewer.GetAsync("/api/recordings?extension=2001&limit=5")).EnsureSuccessStatusCode();
        (await viewer.GetAsync($"/api/recordings/{id}")).EnsureSuccessStatusCode();

        // A player's range requests are one play; a whole-file request is a download; the query token is accepted and not logged.
        foreach (string range in (string[])["bytes=0-", "bytes=100-", "bytes=0-99"])
        {
            using var play = new HttpRequestMessage(HttpMethod.Get, $"/api/recordings/{id}/audio?access_token={fixture.Tokens[Supervisor]}");
            play.Headers.Range = RangeHeaderValue.Parse(range);
            using HttpResponseMessage played = await Host.Anonymous.SendAsync(play);
            Assert.Equal(HttpStatusCode.PartialContent, played.StatusCode);
        }

        (await supervisor.GetAsync($"/api/recordings/{id}/audio")).EnsureSuccessStatusCode();

        // Hot desking and configuration by the configured token, named "admin".
        using (HttpResponseMessage login = await Host.PostJsonAsync("/api/logins", """{ "user": "carol", "device": "desk-3" }"""))
        {
            Assert.True(login.IsSuccessStatusCode, await login.Content.ReadAsStringAsync());
        }

        (await Host.Client.PostAsync("/api/users/carol/logout", null)).EnsureSuccessStatusCode();
        (await Host.PostJsonAsync("/api/logins", """{ "user": "carol", "device": "desk-3" }""")).EnsureSuccessStatusCode();
        (await Host.Client.PostAsync("/api/devices/desk-3/logout", null)).EnsureSuccessStatusCode();
        (await Host.PostJsonAsync("/api/logins/logout-all", """{ "scope": "external" }""")).EnsureSuccessStatusCode();
        (await Host.PutJsonAsync("/api/users/frank", """{ "name": "Frank" }""")).EnsureSuccessStatusCode();
        string temporary = await CreateTokenAsync(Host.Client, "temp-viewer", Viewer);
        (await Client(temporary).GetAsync("/api/recordings")).EnsureSuccessStatusCode();
        (await Host.Client.DeleteAsync("/api/tokens/temp-viewer")).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Unauthorized, (await Client(temporary).GetAsync("/api/recordings")).StatusCode); // revoked at once

        List<JsonElement> entries = await AuditAsync(e => e.GetProperty("seq").GetInt64() > before);
        string[] seen = [.. entries.Select(e => string.Join(' ', e.GetProperty("token").GetString(), e.GetProperty("role").GetString(),
            e.GetProperty("action").GetString(), e.GetProperty("target").GetString() ?? "-", e.GetProperty("status").GetInt32()))];
        Assert.Equal(
        [
            "the-viewer viewer search - 200",
            $"the-viewer viewer sidecar recording:{id} 200",
            $"the-supervisor supervisor play recording:{id} 206",
            $"the-supervisor supervisor download recording:{id} 200",
            "admin administrator login user:carol device:desk-3 201",
            "admin administrator remote-logout user:carol 200",
            "admin administrator login user:carol device:desk-3 201",
            "admin administrator logout device:desk-3 200",
            "admin administrator logout-all scope:external 200",
            "admin administrator config-change user:frank 201",
            "admin administrator token-created token:temp-viewer 201",
            "temp-viewer viewer search - 200",
            "admin administrator token-revoked token:temp-viewer 204",
            "  auth-failed GET /api/recordings 401", // the revoked token: no name (none was accepted), never the token
        ], seen, StringComparer.Ordinal);
        Assert.Equal("extension=2001&limit=5", entries[0].GetProperty("query").GetString());
        Assert.All(entries, e => Assert.Equal("127.0.0.1", e.GetProperty("client").GetString()));
        string log = File.ReadAllText(Path.Combine(Host.State, "audit.jsonl"));
        Assert.DoesNotContain(fixture.Tokens[Supervisor], log, StringComparison.Ordinal);
        Assert.DoesNotContain(temporary, log, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task TokensFile_KeepsOnlyDigests_AndTheListShowsNoSecret()
    {
        string file = File.ReadAllText(Path.Combine(Host.State, "api-tokens.json"));
        string list = await Host.Client.GetStringAsync("/api/tokens");
        foreach (string secret in fixture.Tokens.Values)
        {
            Assert.DoesNotContain(secret, file, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, list, StringComparison.Ordinal);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Host.State, "api-tokens.json")));
        using JsonDocument tokens = JsonDocument.Parse(list);
        Assert.Equal(["admin administrator", "the-supervisor supervisor", "the-auditor auditor", "the-viewer viewer"],
            tokens.RootElement.EnumerateArray().Select(t => t.GetProperty("name").GetString() + " " + t.GetProperty("role").GetString()));

        await ApiHost.AssertProblemAsync(await Host.PostAsync("/api/tokens", new { name = "the-viewer", role = Viewer }), 409);
        await ApiHost.AssertProblemAsync(await Host.PostAsync("/api/tokens", new { name = "admin", role = Viewer }), 409);
        await ApiHost.AssertProblemAsync(await Host.PostAsync("/api/tokens", new { name = "bad name", role = Viewer }), 400);
        await ApiHost.AssertProblemAsync(await Host.PostAsync("/api/tokens", new { name = "x", role = "root" }), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.DeleteAsync("/api/tokens/admin"), 409);
    }

    [Fact]
    public async Task AuditPaging_ByTimeAndSequence()
    {
        for (int i = 0; i < 3; i++)
        {
            (await Client(fixture.Tokens[Viewer]).GetAsync("/api/recordings?user=paging")).EnsureSuccessStatusCode();
        }

        HttpClient auditor = Client(fixture.Tokens[Auditor]);
        var all = new List<long>();
        long? after = 0;
        while (after is { } a)
        {
            using JsonDocument page = JsonDocument.Parse(await auditor.GetStringAsync($"/api/audit?limit=2&after={a}"));
            JsonElement[] items = [.. page.RootElement.GetProperty("items").EnumerateArray()];
            Assert.True(items.Length <= 2);
            all.AddRange(items.Select(e => e.GetProperty("seq").GetInt64()));
            after = page.RootElement.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.RootElement.GetProperty("next").GetInt64();
        }

        Assert.True(all.Count >= 3);
        Assert.Equal(all.Order(), all);
        Assert.Equal(all.Count, all.Distinct().Count());

        string future = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"));
        using JsonDocument none = JsonDocument.Parse(await auditor.GetStringAsync($"/api/audit?from={future}"));
        Assert.Empty(none.RootElement.GetProperty("items").EnumerateArray());
        await ApiHost.AssertProblemAsync(await auditor.GetAsync("/api/audit?from=yesterday"), 400);
    }

    private HttpClient Client(string token)
    {
        var client = new HttpClient { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<int> SendAsync(string method, string path, string token, bool body)
    {
        // A body that every endpoint refuses (400): an allowed role passes authorization and changes nothing.
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = body ? new StringContent("[]", Encoding.UTF8, "application/json") : null,
        };
        if (token.Length > 0)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using HttpResponseMessage response = await Host.Anonymous.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return (int)response.StatusCode; // the event stream's body never ends: only its headers are read
    }

    private async Task<long> LastSeqAsync()
    {
        List<JsonElement> all = await AuditAsync(_ => true);
        return all.Count == 0 ? 0 : all[^1].GetProperty("seq").GetInt64();
    }

    /// <summary>Every audit entry (read by the auditor, page by page) that <paramref name="match"/> accepts.</summary>
    private async Task<List<JsonElement>> AuditAsync(Func<JsonElement, bool> match)
    {
        HttpClient auditor = Client(fixture.Tokens[Auditor]);
        var found = new List<JsonElement>();
        long? after = 0;
        while (after is { } a)
        {
            using JsonDocument page = JsonDocument.Parse(await auditor.GetStringAsync($"/api/audit?limit=1000&after={a}"));
            found.AddRange(page.RootElement.GetProperty("items").EnumerateArray().Where(e => e.GetProperty("action").GetString() != "audit-read").Where(match).Select(e => e.Clone()));
            JsonElement next = page.RootElement.GetProperty("next");
            after = next.ValueKind == JsonValueKind.Null ? null : next.GetInt64();
        }

        return found;
    }
}

/// <summary>The audit log and the named tokens across a restart; the configured single token as the administrator.</summary>
public sealed class RoleRestartTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task AuditEntriesAndTokens_SurviveARestart_AndSequenceNumbersContinue()
    {
        await using ApiHost first = await ApiHost.StartAsync(withToken: false); // the generated <State>/api-token: administrator
        string viewer = await RoleApiTests.CreateTokenAsync(first.Client, "desk-viewer", "viewer");
        string id = await first.WaitForRecordingAsync();
        (await first.Client.GetAsync($"/api/recordings/{id}")).EnsureSuccessStatusCode();
        first.Services.GetRequiredService<AuditLog>().AppendSystem("retention", AuditActions.Delete, "recording:" + id); // what the appliance does itself
        await first.StopAsync(); // as SIGTERM: whatever is queued is written

        string[] lines = File.ReadAllLines(Path.Combine(first.State, "audit.jsonl"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(first.State, "audit.jsonl")));
        Assert.Contains(lines, l => l.Contains("\"sidecar\"", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal));

        // A crash in the middle of a line: the next start goes on after it, and readers skip it.
        File.AppendAllText(Path.Combine(first.State, "audit.jsonl"), "{\"seq\":99999,\"ti");

        await using ApiHost second = await ApiHost.StartAsync(folder: first.Folder, withToken: false);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/recordings?device=x");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", viewer);
        (await second.Anonymous.SendAsync(request)).EnsureSuccessStatusCode(); // the named token still works

        using JsonDocument audit = await second.GetJsonAsync("/api/audit?limit=1000");
        JsonElement[] entries = [.. audit.RootElement.GetProperty("items").EnumerateArray()];
        long[] seqs = [.. entries.Select(e => e.GetProperty("seq").GetInt64())];
        Assert.Equal(Enumerable.Range(1, seqs.Length).Select(i => (long)i), seqs); // continued, none lost, the torn line skipped
        Assert.Contains(entries, e => e.GetProperty("action").GetString() == "token-created" && e.GetProperty("token").GetString() == "admin");
        Assert.Contains(entries, e => e.GetProperty("action").GetString() == "sidecar" && e.GetProperty("target").GetString() == "recording:" + id);
        Assert.Contains(entries, e => e.GetProperty("action").GetString() == "delete" && e.GetProperty("token").GetString() == "retention"
            && e.GetProperty("role").GetString() == "system" && e.GetProperty("target").GetString() == "recording:" + id);
        Assert.Contains(entries, e => e.GetProperty("action").GetString() == "search" && e.GetProperty("token").GetString() == "desk-viewer"
            && e.GetProperty("query").GetString() == "device=x");
    }
}
