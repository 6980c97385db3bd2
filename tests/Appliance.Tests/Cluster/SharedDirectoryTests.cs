using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Appliance.Tests.Support;
using StackExchange.Redis;
using Xunit.Abstractions;
using static Appliance.Tests.Cluster.ServiceProbes;

namespace Appliance.Tests.Cluster;

/// <summary>
/// Issue 12, the shared directory (README "Cluster"): a real Garnet server and two `appliance run` processes, each with
/// its own state folder and its own capture, named "north" and "south" in the settings (Cluster:Redis, Cluster:Name,
/// Cluster:Site). A login made through one appliance's API attributes the other's next call; one extension claimed as
/// line 1 on both is held by exactly one; the server killed mid-run: both keep recording, report degraded, and after
/// it comes back (empty) the directory converges with the logins and logouts made meanwhile, none resurrected.
/// Needs out/garnet/garnet-server (`make garnet`, a dependency of `make test`); otherwise says why and returns.
/// </summary>
[Collection("cluster")]
public sealed partial class SharedDirectoryTests(ITestOutputHelper output)
{
    /// <summary>The estate's configuration, the same file on both: desk-b is the phone at 200.57.7.204 (south's capture).</summary>
    private const string Config = """
        {
          "devices": [
            { "id": "desk-a", "extensions": ["5001"], "site": "north" },
            { "id": "desk-b", "ips": ["200.57.7.204"], "extensions": ["francisco"], "site": "south" },
            { "id": "desk-c", "extensions": ["5003"], "site": "north" }
          ],
          "users": [
            { "id": "bob", "name": "Bob", "pin": "1234" },
            { "id": "alice" },
            { "id": "carol" },
            { "id": "dave" }
          ],
          "profiles": [ { "id": "alice-em", "user": "alice", "extensions": ["3001", "3002"] } ]
        }
        """;

    [Fact]
    public void LoginThroughNorthsApi_IsAppliedAtSouthAtOnce_AndAttributesSouthsNextCall()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        // South's capture: the Wireshark sample call to francisco (200.57.7.204, desk-b), starting 15 s after the replay does.
        string southPcap = dir.Delayed(Captures.PathOf("SIP_CALL_RTP_G711.pcap"), TimeSpan.FromSeconds(15));
        using ServiceProcess north = dir.Start("north", Estate.SippCall, paced: false, garnet);
        using ServiceProcess south = dir.Start("south", southPcap, paced: true, garnet);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(30)), "south never ready: " + south.Log);

        Created(Post(north, "/api/logins", new { user = "bob", device = "desk-b", pin = "1234" }));

        var sw = Stopwatch.StartNew();
        JsonElement where = Poll(() => Json(south, "/api/locate/user/bob") is { } l && l.GetProperty("loggedIn").GetBoolean() ? l : (JsonElement?)null,
            TimeSpan.FromSeconds(10), "bob logged in at south", south);
        output.WriteLine($"south applied north's login after {sw.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal("desk-b", where.GetProperty("hostDevice").GetString());
        Assert.Empty(Json(south, "/api/calls").EnumerateArray()); // else the call began before the login: nothing shown

        // South's next call at desk-b is bob's (explicit login), though bob logged in through north.
        JsonElement call = Poll(() => Json(south, "/api/calls").EnumerateArray().Where(c => c.GetProperty("left").GetProperty("user").GetString() == "bob"
                || c.GetProperty("right").GetProperty("user").GetString() == "bob").Select(c => (JsonElement?)c).FirstOrDefault(),
            TimeSpan.FromSeconds(40), "south's call attributed to bob", south);
        JsonElement party = call.GetProperty("left").GetProperty("user").GetString() == "bob" ? call.GetProperty("left") : call.GetProperty("right");
        output.WriteLine("south's call: " + call);
        Assert.Equal("desk-b", party.GetProperty("hostDevice").GetString());
        Assert.Equal("francisco", party.GetProperty("extension").GetString());
        Assert.Equal("explicit", party.GetProperty("login").GetString());

        // South's event stream told its clients, as for a login made there.
        string streamed = EventData(south, "login.established", "\"user\":\"bob\"");
        Assert.Contains("\"hostDevice\":\"desk-b\"", streamed, StringComparison.Ordinal);

        // Both count it: north published, south applied.
        Assert.True(Metric(north, "appliance_cluster_published_total") >= 1);
        Assert.True(Metric(south, "appliance_cluster_applied_total") >= 1);
        Assert.Equal(0, Metric(south, "appliance_cluster_degraded"));
    }

    [Fact]
    public void LearnedLoginAndLogoutAtNorthsPhone_AreKnownAtSouth_ThoughSouthNeverSawThePhone()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        using ServiceProcess south = dir.Start("south", Estate.SippCall, paced: false, garnet);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(30)), "south never ready: " + south.Log);
        // North's capture: a phone's REGISTERs take alice's profile set {3001, 3002} at 1.0 s and leave it at 2.5 s
        // (extension mobility: a login and a logout learned from traffic, at a phone only north sees).
        using ServiceProcess north = dir.Start("north", Path.Combine(Repo.Root, "samples", "sipp-mobility-registers.pcap"), paced: true, garnet);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);

        JsonElement ended = Poll(() => TryJson(south, "/api/cluster/users/alice") is { } a && a.GetProperty("appliance").GetString() == "north"
                && !a.GetProperty("loggedIn").GetBoolean() ? a : null,
            TimeSpan.FromSeconds(20), "alice's learned logout known at south", south);
        output.WriteLine("south: " + ended);
        Assert.Equal(("sip:10.77.0.10:5061", "north", "set-changed"),
            (ended.GetProperty("device").GetString(), ended.GetProperty("appliance").GetString(), ended.GetProperty("endReason").GetString()));
        Assert.False(Json(south, "/api/locate/user/alice").GetProperty("loggedIn").GetBoolean());

        // The login before it is in the estate's history, as north learned it.
        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        Assert.Contains(redis.GetDatabase().HashGetAll(dir.Prefix + "history"), e => e.Name.ToString().StartsWith("north/", StringComparison.Ordinal)
            && e.Value.ToString().Contains("\"kind\":\"Mobility\"", StringComparison.Ordinal) && e.Value.ToString().Contains("\"user\":\"alice\"", StringComparison.Ordinal));
        using HttpResponseMessage unknown = south.Send("/api/cluster/users/nobody");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public void SameExtensionAsLineOneOnBoth_ExactlyOneHoldsIt_TheOtherReportsTheConflict()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        // Both capture the same SIPp call: phone sip:127.0.0.1:5070 registers 2002 (and stays registered) at each site.
        using ServiceProcess north = dir.Start("north", Estate.SippCall, paced: false, garnet);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);
        Poll(() => Line(north, "2002") is { } l && l.GetProperty("held").GetBoolean() ? l : null, TimeSpan.FromSeconds(20), "2002 held by north", north);

        using ServiceProcess south = dir.Start("south", Estate.SippCall, paced: false, garnet);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(30)), "south never ready: " + south.Log);
        JsonElement refused = Poll(() => Line(south, "2002") is { } l && !l.GetProperty("held").GetBoolean() ? l : null,
            TimeSpan.FromSeconds(20), "2002 refused at south", south);
        Assert.Equal("sip:127.0.0.1:5070 at north", refused.GetProperty("holder").GetString());

        // South reports it like any line-1 conflict: API, metric; north has none.
        JsonElement conflict = Assert.Single(Json(south, "/api/conflicts?open=true").EnumerateArray(), c => c.GetProperty("extension").GetString() == "2002");
        Assert.Equal(("sip:127.0.0.1:5070 at north", "sip:127.0.0.1:5070"), (conflict.GetProperty("holder").GetString(), conflict.GetProperty("claimant").GetString()));
        Assert.DoesNotContain(Json(north, "/api/conflicts?open=true").EnumerateArray(), c => c.GetProperty("extension").GetString() == "2002");
        Assert.True(Metric(south, "appliance_directory_conflicts") >= 1);
        Assert.True(Line(north, "2002")!.Value.GetProperty("held").GetBoolean());

        // The server agrees: one holder.
        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        HashEntry[] line = redis.GetDatabase().HashGetAll(dir.Prefix + "line1:2002");
        Assert.Equal("north", line.Single(e => e.Name == "appliance").Value.ToString());
    }

    [Fact]
    public void HolderGivesLineOneUp_TheWaitingClaimantAtTheOtherApplianceTakesIt()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        // Both replay the SIPp call at its pace, its end 15 s later: 2001 registers at 0 s and unregisters at 25 s, north's first.
        string pcap = dir.Stretched(Estate.SippCall, TimeSpan.FromSeconds(9.5), TimeSpan.FromSeconds(15));
        using ServiceProcess north = dir.Start("north", pcap, paced: true, garnet);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);
        Poll(() => Line(north, "2001") is { } l && l.GetProperty("held").GetBoolean() ? l : null, TimeSpan.FromSeconds(8), "2001 held by north", north);

        using ServiceProcess south = dir.Start("south", pcap, paced: true, garnet);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(30)), "south never ready: " + south.Log);
        Poll(() => Json(south, "/api/conflicts?open=true").EnumerateArray().Any(c => c.GetProperty("extension").GetString() == "2001"
            && c.GetProperty("holder").GetString() == "sip:127.0.0.1:5061 at north") ? "open" : null, TimeSpan.FromSeconds(15), "south's conflict on 2001", south);

        // North's phone unregisters: north releases the line, south's phone (still registered) takes it.
        JsonElement resolved = Poll(() => Json(south, "/api/conflicts").EnumerateArray().Where(c => c.GetProperty("extension").GetString() == "2001"
                && c.GetProperty("resolution").GetString() == "holder-released").Select(c => (JsonElement?)c).FirstOrDefault(),
            TimeSpan.FromSeconds(40), "south's conflict on 2001 resolved as holder-released", south);
        output.WriteLine("resolved: " + resolved);
        Assert.Equal("sip:127.0.0.1:5061", resolved.GetProperty("claimant").GetString());
    }

    [Fact]
    public void ApplianceGoneForGood_ItsLineOneClaimLapses_TheWaitingClaimantTakesIt()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        using ServiceProcess north = dir.Start("north", Estate.SippCall, paced: false, garnet, claimSeconds: 4);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);
        Poll(() => Line(north, "2002") is { } l && l.GetProperty("held").GetBoolean() ? l : null, TimeSpan.FromSeconds(20), "2002 held by north", north);
        using ServiceProcess south = dir.Start("south", Estate.SippCall, paced: false, garnet, claimSeconds: 4);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(30)), "south never ready: " + south.Log);
        Poll(() => Line(south, "2002") is { } l && !l.GetProperty("held").GetBoolean() ? l : null, TimeSpan.FromSeconds(20), "2002 refused at south", south);
        Thread.Sleep(6000); // longer than a claim lasts: north renews its claim while it runs
        Assert.False(Line(south, "2002")!.Value.GetProperty("held").GetBoolean());

        north.Process.Kill(); // SIGKILL: north never releases anything
        north.Process.WaitForExit();
        var sw = Stopwatch.StartNew();
        Poll(() => Line(south, "2002") is { } l && l.GetProperty("held").GetBoolean() ? l : null, TimeSpan.FromSeconds(20), "2002 held by south", south);
        output.WriteLine($"south holds 2002 {sw.Elapsed.TotalSeconds:F1} s after north died");
        Assert.Contains(Json(south, "/api/conflicts").EnumerateArray(), c => c.GetProperty("extension").GetString() == "2002"
            && c.GetProperty("resolution").GetString() == "holder-released");
        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        Assert.Equal("south", (string?)redis.GetDatabase().HashGet(dir.Prefix + "line1:2002", "appliance"));
    }

    [Fact]
    public void ServerKilledMidRun_BothKeepRecordingDegraded_ThenConverge_NoLoginLost_NoLogoutResurrected()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        // Each site's own call (the SIPp call, 10 s) starts 20 s after its replay: while the server is down.
        string pcap = dir.Delayed(Estate.SippCall, TimeSpan.FromSeconds(20));
        using ServiceProcess north = dir.Start("north", pcap, paced: true, garnet);
        using ServiceProcess south = dir.Start("south", pcap, paced: true, garnet);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(30)), "south never ready: " + south.Log);

        // Before: alice at desk-a (through north), dave at desk-b (through south); both know both.
        Created(Post(north, "/api/logins", new { user = "alice", device = "desk-a" }));
        Created(Post(south, "/api/logins", new { user = "dave", device = "desk-b" }));
        foreach (ServiceProcess s in new[] { north, south })
        {
            AssertEventually(s, "alice", "desk-a");
            AssertEventually(s, "dave", "desk-b");
        }

        garnet.Kill();
        Assert.Empty(Json(north, "/api/calls").EnumerateArray()); // the calls to record come after this
        Assert.Empty(Json(south, "/api/calls").EnumerateArray());
        foreach (ServiceProcess s in new[] { north, south })
        {
            Poll(() => Readyz(s) is (200, { } body) && body.Contains("degraded", StringComparison.Ordinal) ? body : null, TimeSpan.FromSeconds(15), "readyz degraded", s);
            Assert.Equal(1, Metric(s, "appliance_cluster_degraded"));
        }

        // Meanwhile: south logs alice out (north does not know), north logs carol in at desk-c and logs dave out.
        Ok(Post(south, "/api/users/alice/logout", null));
        Created(Post(north, "/api/logins", new { user = "carol", device = "desk-c" }));
        Ok(Post(north, "/api/users/dave/logout", null));
        Assert.True(Metric(north, "appliance_cluster_pending_changes") >= 1, "north queued its changes");
        Assert.True(Located(north, "alice") == "desk-a" && Located(south, "dave") == "desk-b", "each still has the other's old state: the test means something");

        // Both record their call while degraded.
        foreach (ServiceProcess s in new[] { north, south })
        {
            Exposition.Document m = s.WaitForMetrics(d => d.Sum("appliance_recordings_written_total") >= 1, TimeSpan.FromSeconds(60));
            Assert.True(m.Sum("appliance_recordings_written_total") >= 1, "no recording while degraded: " + s.Log);
            Assert.Equal(1, m.Sum("appliance_cluster_degraded"));
        }

        Assert.Contains("shared directory at", north.Log, StringComparison.Ordinal); // the log line

        // The server comes back empty: both reconcile, and the directory converges.
        garnet.Restart();
        foreach (ServiceProcess s in new[] { north, south })
        {
            Poll(() => Readyz(s) is (200, "ready\n") ? "ok" : null, TimeSpan.FromSeconds(20), "readyz ready again", s);
        }

        foreach (ServiceProcess s in new[] { north, south })
        {
            Poll(() => Located(s, "alice") is null && Located(s, "dave") is null && Located(s, "carol") == "desk-c" ? "ok" : null,
                TimeSpan.FromSeconds(20), "alice and dave out, carol at desk-c", s);
        }

        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        IDatabase db = redis.GetDatabase();
        Assert.Equal("out", (string?)db.HashGet(dir.Prefix + "user:alice", "state"));
        Assert.Equal("out", (string?)db.HashGet(dir.Prefix + "user:dave", "state"));
        Assert.Equal(("in", "desk-c"), ((string?)db.HashGet(dir.Prefix + "user:carol", "state"), (string?)db.HashGet(dir.Prefix + "user:carol", "device")));

        // The history the server lost is written again: north's logins, alice's ended as south's logout ended it there.
        HashEntry[] history = db.HashGetAll(dir.Prefix + "history");
        Assert.Contains(history, e => e.Name.ToString().StartsWith("north/", StringComparison.Ordinal) && e.Value.ToString().Contains("\"user\":\"carol\"", StringComparison.Ordinal));
        Assert.Contains(history, e => e.Name.ToString().StartsWith("south/", StringComparison.Ordinal) && e.Value.ToString().Contains("\"user\":\"alice\"", StringComparison.Ordinal)
            && e.Value.ToString().Contains("\"endReason\":\"remote-logout\"", StringComparison.Ordinal));

        // Still converged a reconciliation later (nothing flips back), and south's history has carol's login from north.
        Thread.Sleep(1500);
        Assert.Null(Located(north, "alice"));
        Assert.Contains(Json(south, "/api/logins/history?user=carol").EnumerateArray(), e => e.GetProperty("hostDevice").GetString() == "desk-c");
    }

    [Fact]
    public void StartedWhileTheServerIsDown_StartsDegraded_AndJoinsWhenItComes()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        garnet.Kill(); // its port, nobody listening
        var sw = Stopwatch.StartNew();
        using ServiceProcess north = dir.Start("north", Estate.SippCall, paced: false, garnet);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);
        output.WriteLine($"ready after {sw.Elapsed.TotalSeconds:F1} s with the server down");
        Assert.Contains("degraded", Readyz(north).Body, StringComparison.Ordinal);
        north.WaitForMetrics(d => d.Sum("appliance_recordings_written_total") >= 1, TimeSpan.FromSeconds(30));
        Assert.True(Metric(north, "appliance_recordings_written_total") >= 1, "recorded while degraded");
        Created(Post(north, "/api/logins", new { user = "alice", device = "desk-a" }));

        garnet.Restart();
        Poll(() => Readyz(north) is (200, "ready\n") ? "ok" : null, TimeSpan.FromSeconds(20), "readyz ready once the server answers", north);
        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        IDatabase db = redis.GetDatabase();
        Poll(() => (string?)db.HashGet(dir.Prefix + "user:alice", "device") == "desk-a" ? "ok" : null, TimeSpan.FromSeconds(10), "alice's login on the server", north);
        Assert.Equal(("in", "north"), ((string?)db.HashGet(dir.Prefix + "user:alice", "state"), (string?)db.HashGet(dir.Prefix + "user:alice", "appliance")));
    }

    [Fact]
    public void TwoAppliancesWithOneName_TheSecondSaysSo_AndIsDegraded()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        using ServiceProcess first = dir.Start("north", Estate.SippCall, paced: false, garnet);
        Assert.True(first.WaitForReady(TimeSpan.FromSeconds(30)), "never ready: " + first.Log);
        Poll(() => Readyz(first) is (200, "ready\n") ? "ok" : null, TimeSpan.FromSeconds(10), "the first north ready, not degraded", first);

        // A second appliance (its own state folder) named north too, e.g. a cloned machine keeping its host name.
        string root = Path.Combine(dir.Path, "north-clone");
        using ServiceProcess clone = ServiceProcess.Start(new Dictionary<string, string?>
        {
            ["APPLIANCE_CLUSTER__REDIS"] = garnet.Configuration,
            ["APPLIANCE_CLUSTER__NAME"] = "north",
            ["APPLIANCE_CLUSTER__PREFIX"] = dir.Prefix,
            ["APPLIANCE_CLUSTER__RECONCILESECONDS"] = "1",
        }, "--replay", Estate.SippCall, "--no-pacing", "--recordings", Path.Combine(root, "rec"), "--state", Path.Combine(root, "state"), "--config", dir.ConfigFile);
        Assert.True(clone.WaitForReady(TimeSpan.FromSeconds(30)), "never ready: " + clone.Log);
        string body = Poll(() => Readyz(clone) is (200, { } b) && b.Contains("uses the name 'north'", StringComparison.Ordinal) ? b : null,
            TimeSpan.FromSeconds(10), "the clone's readyz naming the clash", clone);
        output.WriteLine(body);
        Assert.Contains("another appliance", clone.Log, StringComparison.Ordinal);
        Assert.Equal(1, Metric(clone, "appliance_cluster_degraded"));
        Assert.NotEqual(JsonValueKind.Null, Json(clone, "/api/cluster").GetProperty("nameClash").ValueKind);
    }

    [Fact]
    public void WithoutClusterSettings_NothingOfTheClusterRuns_AndABadServerStringIsRefused()
    {
        using var dir = new Estate(Config);
        string root = Path.Combine(dir.Path, "single");
        using (ServiceProcess single = ServiceProcess.Start(new Dictionary<string, string?>(), "--replay", Estate.SippCall, "--no-pacing",
            "--recordings", Path.Combine(root, "rec"), "--state", Path.Combine(root, "state"), "--workers", "1"))
        {
            Assert.True(single.WaitForReady(TimeSpan.FromSeconds(30)), "never ready: " + single.Log);
            Assert.Equal((200, "ready\n"), Readyz(single));
            Assert.False(Json(single, "/api/cluster").GetProperty("enabled").GetBoolean());
            Assert.DoesNotContain(Exposition.Parse(single.Get("/metrics")).Samples, m => m.Name.StartsWith("appliance_cluster_", StringComparison.Ordinal));
            Assert.DoesNotContain("cluster:", single.Log, StringComparison.Ordinal); // no line of the shared directory
        }

        using ServiceProcess bad = ServiceProcess.Start(new Dictionary<string, string?> { ["APPLIANCE_CLUSTER__REDIS"] = "127.0.0.1:6379,nonsense=1" },
            "--replay", Estate.SippCall, "--recordings", Path.Combine(root, "rec2"), "--state", Path.Combine(root, "state2"));
        Assert.True(bad.Process.WaitForExit(30_000), "a bad Cluster:Redis must stop the start");
        Assert.Equal(2, bad.Process.ExitCode);
        Assert.Contains("Cluster:Redis", bad.Log, StringComparison.Ordinal);
    }

    // ---- Helpers ------------------------------------------------------------------------------------------------

    private static void AssertEventually(ServiceProcess s, string user, string device) =>
        Poll(() => Located(s, user) == device ? "ok" : null, TimeSpan.FromSeconds(10), $"{user} at {device}", s);

    /// <summary>The data of the first event of that name whose data holds <paramref name="contains"/>, replayed from the start of the stream.</summary>
    private static string EventData(ServiceProcess s, string name, string contains)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{s.Port}/api/events?types=login");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ServiceProcess.Token);
        request.Headers.Add("Last-Event-ID", "0");
        using HttpResponseMessage response = http.Send(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(response.Content.ReadAsStream(cts.Token));
        string? ev = null;
        while (reader.ReadLineAsync(cts.Token).AsTask().GetAwaiter().GetResult() is { } line) // cancelled (throws) after 10 s
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                ev = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && ev == name && line.Contains(contains, StringComparison.Ordinal))
            {
                return line["data: ".Length..];
            }
        }

        throw new Xunit.Sdk.XunitException($"no {name} event with {contains} in the stream");
    }
}
