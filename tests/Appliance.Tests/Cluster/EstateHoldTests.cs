using System.Net;
using System.Text.Json;
using Appliance.Tests.Api;
using Appliance.Tests.Support;
using Appliance.Tests.Web;
using Capture.Tests.Support;
using Xunit.Abstractions;
using static Appliance.Tests.Cluster.ServiceProbes;

namespace Appliance.Tests.Cluster;

/// <summary>
/// A legal hold placed from any appliance of an estate (README "Cluster", central index): a real PostgreSQL 15 and two
/// `appliance run` processes, north and south, each with its own call. North holds south's recording: south keeps the
/// hold as its own (its index, the `&lt;id&gt;.hold` marker retention checks), north's estate search shows it, both audit
/// logs say who; released from north, gone everywhere; the web app's Call page at north names south and toggles the
/// hold there; a forged secret at the peer route is 401; south stopped: north answers a problem naming south, and
/// nothing changed. Needs postgresql-15 (TEST_PACKAGES); otherwise says why and returns.
/// </summary>
[Collection("cluster")]
public sealed class EstateHoldTests(ITestOutputHelper output)
{
    [Fact]
    public async Task HoldFromNorth_OnSouthsRecording_IsSouthsHold_SeenInTheEstate_ReleasedFromNorth_HolderDownIsAProblem()
    {
        if (PostgresServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(config: null);
        using PostgresServer pg = PostgresServer.Start();
        using ServiceProcess north = dir.Start("north", Estate.SippCall, paced: false, pg: pg);
        using ServiceProcess south = dir.Start("south", Captures.PathOf("sip-rtp-g722.pcap"), paced: false, pg: pg);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(60)), "north never ready: " + north.Log);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(60)), "south never ready: " + south.Log);
        string northId = OnlyLocal(north), southId = OnlyLocal(south);
        Poll(() => Ids(Json(north, "/api/recordings")).Contains(southId) ? "ok" : null, TimeSpan.FromSeconds(30), "south's recording in north's estate search", north);
        string southRecordings = Path.Combine(dir.Path, "south", "rec");

        // North holds it: answered with south's summary (south holds it), applied at south as a local hold.
        JsonElement summary = Answer(Send(north, HttpMethod.Put, $"/api/recordings/{southId}/hold"), HttpStatusCode.OK);
        Assert.Equal((southId, true, "south"), (summary.GetProperty("id").GetString(), summary.GetProperty("legalHold").GetBoolean(), summary.GetProperty("appliance").GetString()));
        Assert.Equal([southId], Ids(Json(south, "/api/recordings?scope=local&legalHold=true")));
        string marker = Marker(southRecordings, southId) ?? throw new Xunit.Sdk.XunitException("no hold marker beside south's recording");
        JsonElement placed = JsonDocument.Parse(marker).RootElement.Clone();
        Assert.Equal("admin via appliance:north", placed.GetProperty("heldBy").GetString());
        Assert.Equal(1, Metric(south, "appliance_retention_held")); // what retention counts (and skips) as held
        Assert.Empty(Ids(Json(north, "/api/recordings?scope=local&legalHold=true"))); // nothing held at north itself

        // Held again from north: the first hold's who and when stay.
        Answer(Send(north, HttpMethod.Put, $"/api/recordings/{southId}/hold"), HttpStatusCode.OK);
        Assert.Equal(marker, Marker(southRecordings, southId));

        // The estate sees it (south's queue sends it), and north's sidecar of it names south and the hold.
        Poll(() => Ids(Json(north, "/api/recordings?legalHold=true")).SequenceEqual([southId]) ? "ok" : null, TimeSpan.FromSeconds(15), "the hold in north's estate search", north);
        JsonElement sidecar = Json(north, $"/api/recordings/{southId}");
        Assert.Equal((true, "south"), (sidecar.GetProperty("legalHold").GetBoolean(), sidecar.GetProperty("appliance").GetString()));

        // Who did it: north's log has the user's hold, south's has north's hold for that user.
        Poll(() => Audit(north).Any(e => e is { Token: "admin", Action: "hold" } && e.Target == "recording:" + southId) ? "ok" : null,
            TimeSpan.FromSeconds(10), "north's audit entry of the user's hold", north);
        Poll(() => Audit(south).Count(e => e is { Token: "appliance:north", Action: "hold" } && e.Target == $"recording:{southId} for admin") == 2 ? "ok" : null,
            TimeSpan.FromSeconds(10), "south's audit entries of north's holds for the user", south);

        // Released from north: gone at south (marker, index) and from the estate's search.
        summary = Answer(Send(north, HttpMethod.Delete, $"/api/recordings/{southId}/hold"), HttpStatusCode.OK);
        Assert.False(summary.GetProperty("legalHold").GetBoolean());
        Assert.Null(Marker(southRecordings, southId));
        Assert.Empty(Ids(Json(south, "/api/recordings?scope=local&legalHold=true")));
        Poll(() => Ids(Json(north, "/api/recordings?legalHold=true")).Count == 0 ? "ok" : null, TimeSpan.FromSeconds(15), "the release in north's estate search", north);
        Poll(() => Audit(north).Any(e => e is { Token: "admin", Action: "release" } && e.Target == "recording:" + southId)
                && Audit(south).Any(e => e is { Token: "appliance:north", Action: "release" } && e.Target == $"recording:{southId} for admin") ? "ok" : null,
            TimeSpan.FromSeconds(10), "both audit entries of the release", south);

        await WebAppHoldsAtSouthAsync(north, southId, southRecordings);

        // The new peer route: a forged secret is 401 and changes nothing; a user's token there is 403.
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
        using (var forged = new HttpRequestMessage(HttpMethod.Put, $"http://127.0.0.1:{south.Port}/api/peer/admin/recordings/{southId}/hold"))
        {
            forged.Headers.TryAddWithoutValidation("Authorization", "Appliance north:not-the-secret");
            using HttpResponseMessage refused = http.Send(forged);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Forbidden, Status(Send(south, HttpMethod.Delete, $"/api/peer/admin/recordings/{southId}/hold")));
        Assert.Null(Marker(southRecordings, southId));

        // A recording no appliance has: 404 as on a single box.
        Answer(Send(north, HttpMethod.Put, $"/api/recordings/{Guid.NewGuid():D}/hold"), HttpStatusCode.NotFound);

        // South stopped: north says which appliance and why, for a hold and a release; nothing is held anywhere.
        south.Process.Kill(entireProcessTree: true);
        south.Process.WaitForExit();
        foreach (HttpMethod method in (HttpMethod[])[HttpMethod.Put, HttpMethod.Delete])
        {
            using HttpResponseMessage down = Send(north, method, $"/api/recordings/{southId}/hold");
            JsonElement problem = await ApiHost.AssertProblemAsync(down, 502);
            string detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains("'south'", detail, StringComparison.Ordinal);
            Assert.Contains("does not answer", detail, StringComparison.Ordinal);
        }

        Assert.Null(Marker(southRecordings, southId));
        Assert.Empty(Ids(Json(north, "/api/recordings?legalHold=true")));
        Assert.Contains(northId, Ids(Json(north, "/api/recordings?scope=local")));
    }

    // The web app at north (Chromium): the Call page of south's recording names south and its toggle places the hold there.
    private async Task WebAppHoldsAtSouthAsync(ServiceProcess north, string southId, string southRecordings)
    {
        if (BrowserLauncher.Unavailable(WebBrowser.Chromium) is { } reason)
        {
            output.WriteLine("web app step SKIPPED: " + reason);
            return;
        }

        await using BrowserSession browser = await BrowserSession.OpenAsync(new Uri($"http://127.0.0.1:{north.Port}/"));
        await browser.SignInAsync(ServiceProcess.Token);
        await browser.GoAsync($"#/call/{southId}", "#legal-hold-toggle");
        Assert.Equal("on south (south)", await browser.EvalAsync<string>("document.getElementById('recording-appliance').textContent"));
        Assert.Equal("No legal hold", await browser.EvalAsync<string>("document.getElementById('legal-hold').textContent"));
        await browser.ClickAsync("#legal-hold-toggle");
        await browser.WaitAsync("document.getElementById('legal-hold').textContent === 'Legal hold'");
        Assert.NotNull(Marker(southRecordings, southId));

        await browser.ClickAsync("#legal-hold-toggle");
        await browser.WaitAsync("document.getElementById('legal-hold').textContent === 'No legal hold'");
        Assert.Null(Marker(southRecordings, southId));
        Assert.False(await browser.EvalAsync<bool>("document.querySelector('.call-head [role=alert]') !== null"));
        output.WriteLine("web app: the hold placed and released at south from north's Call page");
    }

    private static HttpResponseMessage Send(ServiceProcess s, HttpMethod method, string path) => s.Send(path, r => r.Method = method);

    private static HttpStatusCode Status(HttpResponseMessage r)
    {
        using (r)
        {
            return r.StatusCode;
        }
    }

    private static JsonElement Answer(HttpResponseMessage r, HttpStatusCode expected)
    {
        using (r)
        {
            string body = r.Content.ReadAsStringAsync().Result;
            Assert.True(r.StatusCode == expected, $"{(int)r.StatusCode}: {body}");
            return JsonDocument.Parse(body).RootElement.Clone();
        }
    }

    /// <summary>The hold marker beside the recording (&lt;id&gt;.hold under the appliance's recordings folder), null when there is none.</summary>
    private static string? Marker(string recordings, string id) =>
        Directory.EnumerateFiles(recordings, id + ".hold", SearchOption.AllDirectories).Select(File.ReadAllText).SingleOrDefault();
}
