using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Appliance.Tests.Support;
using StackExchange.Redis;
using Xunit.Abstractions;
using static Appliance.Tests.Cluster.ServiceProbes;

namespace Appliance.Tests.Cluster;

/// <summary>
/// Issue 12 as one estate (README "Cluster"): a real Garnet and a real PostgreSQL 15, and three `appliance run`
/// processes, north, south and east, each with both Cluster:Redis and Cluster:Postgres set and each replaying its own
/// capture. bob logs in through north's API at south's phone and south's next call is his; north and east see the same
/// extension as line 1, north holds it and east reports the conflict; Garnet is killed while north records a call and
/// before south's call: all keep recording, and after Garnet restarts empty the directory converges (logins and
/// logouts made meanwhile all there, none resurrected, north still the one line-1 holder); north's search by bob's name
/// finds his calls at both sites with their holders and plays south's audio; east's search finds every appliance's.
/// </summary>
[Collection("cluster")]
public sealed class EstateTests(ITestOutputHelper output)
{
    /// <summary>desk-b is south's phone: the callee of sip-rtp-g722.pcap (10.0.2.15, "test").</summary>
    private const string Config = """
        {
          "devices": [
            { "id": "desk-a", "extensions": ["5001"], "site": "north" },
            { "id": "desk-b", "ips": ["10.0.2.15"], "extensions": ["test"], "site": "south" },
            { "id": "desk-c", "extensions": ["5003"], "site": "north" }
          ],
          "users": [
            { "id": "bob", "name": "Bob", "pin": "1234" },
            { "id": "alice" },
            { "id": "carol" },
            { "id": "dave" }
          ]
        }
        """;

    [Fact]
    public void ThreeAppliances_OneDirectoryOneLineOneOwnerOneSearch_ThroughAGarnetOutage()
    {
        if ((GarnetServer.SkipReason() ?? PostgresServer.SkipReason()) is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(Config);
        using GarnetServer garnet = GarnetServer.Start();
        using PostgresServer pg = PostgresServer.Start();

        // North: the SIPp call (its phone sip:127.0.0.1:5070 takes 2002 as line 1 at 0.5 s), then 10 s after its end an
        // Opus call to extension "test" (desk-b's) from its own network, 10.0.3.x. South: one G.722 call to desk-b 30 s in.
        // East: the SIPp call an hour later by the capture clock, so north's phone was seen first.
        string northPcap = dir.TwoCalls(Estate.SippCall, dir.Moved(Captures.PathOf("sip-rtp-opus.pcap"), "10.0.2.", "10.0.3."), TimeSpan.FromSeconds(10));
        string southPcap = dir.Delayed(Captures.PathOf("sip-rtp-g722.pcap"), TimeSpan.FromSeconds(30));
        string eastPcap = dir.Stretched(Estate.SippCall, TimeSpan.Zero, TimeSpan.FromHours(1));
        var clock = Stopwatch.StartNew();
        using ServiceProcess north = dir.Start("north", northPcap, paced: true, garnet, pg);
        using ServiceProcess south = dir.Start("south", southPcap, paced: true, garnet, pg);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(60)), "north never ready: " + north.Log);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(60)), "south never ready: " + south.Log);

        // bob logs in through north's API at south's phone; south has it at once.
        Created(Post(north, "/api/logins", new { user = "bob", device = "desk-b", pin = "1234" }));
        Poll(() => Located(south, "bob") == "desk-b" ? "ok" : null, TimeSpan.FromSeconds(10), "bob at desk-b at south", south);
        Created(Post(north, "/api/logins", new { user = "alice", device = "desk-a" }));
        Created(Post(south, "/api/logins", new { user = "dave", device = "desk-c" }));

        // Line 1 of 2002: north's phone has it; east, seeing the same extension as line 1 on its phone, is refused.
        Poll(() => Line(north, "2002") is { } l && l.GetProperty("held").GetBoolean() ? l : null, TimeSpan.FromSeconds(20), "2002 held by north", north);
        using ServiceProcess east = dir.Start("east", eastPcap, paced: false, garnet, pg);
        Assert.True(east.WaitForReady(TimeSpan.FromSeconds(60)), "east never ready: " + east.Log);
        Poll(() => Line(east, "2002") is { } l && !l.GetProperty("held").GetBoolean() ? l : null, TimeSpan.FromSeconds(20), "2002 refused at east", east);
        AssertOneHolderOf2002(garnet, dir, north, east);
        foreach (ServiceProcess s in new[] { north, south, east })
        {
            Poll(() => Located(s, "alice") == "desk-a" && Located(s, "dave") == "desk-c" && Located(s, "bob") == "desk-b" ? "ok" : null,
                TimeSpan.FromSeconds(10), "alice, dave and bob known", s);
        }

        // Garnet dies before south's call (else bob's login could not be what attributes it).
        Assert.Empty(Json(south, "/api/calls").EnumerateArray());
        garnet.Kill();
        output.WriteLine($"Garnet killed {clock.Elapsed.TotalSeconds:F1} s after the appliances started");
        foreach (ServiceProcess s in new[] { north, south, east })
        {
            Poll(() => Readyz(s) is (200, { } body) && body.Contains("degraded", StringComparison.Ordinal) ? body : null, TimeSpan.FromSeconds(15), "readyz degraded", s);
        }

        // Meanwhile: south logs alice out (north does not know), north logs dave out and carol in at desk-c (south does not know).
        Ok(Post(south, "/api/users/alice/logout", null));
        Ok(Post(north, "/api/users/dave/logout", null));
        Created(Post(north, "/api/logins", new { user = "carol", device = "desk-c" }));
        Assert.True(Located(north, "alice") == "desk-a" && Located(south, "dave") == "desk-c", "each still has the other's old state: the test means something");

        // Everyone records while the directory server is down; south's call is bob's.
        JsonElement bobsParty = Poll(() => Json(south, "/api/calls").EnumerateArray().SelectMany(c => new[] { c.GetProperty("left"), c.GetProperty("right") })
                .Where(p => p.GetProperty("user").GetString() == "bob").Select(p => (JsonElement?)p).FirstOrDefault(),
            TimeSpan.FromSeconds(60), "south's call attributed to bob", south);
        output.WriteLine("bob's party in south's call: " + bobsParty);
        Assert.Equal(("desk-b", "test", "explicit"),
            (bobsParty.GetProperty("hostDevice").GetString(), bobsParty.GetProperty("extension").GetString(), bobsParty.GetProperty("login").GetString()));
        foreach ((ServiceProcess s, int calls) in new[] { (north, 2), (south, 1), (east, 1) })
        {
            Exposition.Document m = s.WaitForMetrics(d => d.Sum("appliance_recordings_written_total") >= calls, TimeSpan.FromSeconds(90));
            Assert.True(m.Sum("appliance_recordings_written_total") >= calls, "not every call recorded while degraded: " + s.Log);
            Assert.Equal(1, m.Sum("appliance_cluster_degraded"));
        }

        // Garnet comes back empty: the directory converges everywhere, line 1 of 2002 still north's alone.
        garnet.Restart();
        output.WriteLine($"Garnet restarted {clock.Elapsed.TotalSeconds:F1} s after the appliances started");
        foreach (ServiceProcess s in new[] { north, south, east })
        {
            Poll(() => Readyz(s) is (200, "ready\n") ? "ok" : null, TimeSpan.FromSeconds(20), "readyz ready again", s);
            Poll(() => Located(s, "alice") is null && Located(s, "dave") is null && Located(s, "carol") == "desk-c" && Located(s, "bob") == "desk-b" ? "ok" : null,
                TimeSpan.FromSeconds(20), "alice and dave out, carol at desk-c, bob at desk-b", s);
        }

        Poll(() => Line(north, "2002") is { } l && l.GetProperty("held").GetBoolean() && Line(east, "2002") is { } e && !e.GetProperty("held").GetBoolean() ? "ok" : null,
            TimeSpan.FromSeconds(20), "2002 re-claimed: north holds it, east refused", north);
        AssertOneHolderOf2002(garnet, dir, north, east);
        using (ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration))
        {
            IDatabase db = redis.GetDatabase();
            Assert.Equal(("out", "out", "in", "in"), ((string?)db.HashGet(dir.Prefix + "user:alice", "state"), (string?)db.HashGet(dir.Prefix + "user:dave", "state"),
                (string?)db.HashGet(dir.Prefix + "user:carol", "state"), (string?)db.HashGet(dir.Prefix + "user:bob", "state")));
        }

        // North's search of the estate finds bob's calls wherever they were recorded, each saying who holds it: south's
        // call at his desk, and north's own call to his extension "test" (attributed to desk-b by its line).
        JsonElement bobsCalls = Poll(() => Json(north, "/api/recordings?user=bob") is var l && Ids(l).Count == 2 ? l : (JsonElement?)null,
            TimeSpan.FromSeconds(30), "bob's two recordings in north's search", north);
        Assert.Equal(["north", "south"], bobsCalls.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("appliance").GetString()!).Order());
        string southId = Assert.Single(Ids(Json(south, "/api/recordings?scope=local&user=bob")));
        Assert.Equal(("south", "G722"), (Item(bobsCalls, southId).GetProperty("site").GetString(), Item(bobsCalls, southId).GetProperty("codecs")[0].GetString()));
        Assert.DoesNotContain(southId, Ids(Json(north, "/api/recordings?scope=local&user=bob")));
        byte[] original = Bytes(south, $"/api/recordings/{southId}/audio", range: null, HttpStatusCode.OK, out _);
        Assert.True(original.Length > 5_000, $"south's audio is {original.Length} bytes");
        Assert.Equal(original, Bytes(north, $"/api/recordings/{southId}/audio", range: null, HttpStatusCode.OK, out _));
        // As a browser's player asks: a range, passed through to south; south's audit says who listened through north.
        byte[] part = Bytes(north, $"/api/recordings/{southId}/audio", range: "bytes=0-", HttpStatusCode.PartialContent, out string? contentRange);
        Assert.Equal($"bytes 0-{original.Length - 1}/{original.Length}", contentRange);
        Assert.Equal(original, part);
        Poll(() => Audit(south) is var log && log.Any(e => e.Token == "appliance:north" && e.Action == "download" && e.Target == $"recording:{southId} for admin")
                && log.Any(e => e.Token == "appliance:north" && e.Action == "play" && e.Target == $"recording:{southId} for admin") ? "ok" : null,
            TimeSpan.FromSeconds(10), "south's audit entries of north's download and play for the user", south);

        // East's search covers the estate: north's two recordings (one made during the outage), south's and its own.
        JsonElement all = Poll(() => Json(east, "/api/recordings") is var l && l.GetProperty("items").GetArrayLength() == 4 ? l : (JsonElement?)null,
            TimeSpan.FromSeconds(30), "four recordings in east's search", east);
        Assert.Equal(["east", "north", "north", "south"], all.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("appliance").GetString()!).Order());
        output.WriteLine($"converged and searched {clock.Elapsed.TotalSeconds:F1} s after the appliances started");
    }

    /// <summary>The server and both appliances agree: north's phone owns line 1 of 2002, east reports the conflict.</summary>
    private static void AssertOneHolderOf2002(GarnetServer garnet, Estate dir, ServiceProcess north, ServiceProcess east)
    {
        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        Assert.Equal("north", (string?)redis.GetDatabase().HashGet(dir.Prefix + "line1:2002", "appliance"));
        Assert.Equal("sip:127.0.0.1:5070 at north", Line(east, "2002")!.Value.GetProperty("holder").GetString());
        JsonElement conflict = Assert.Single(Json(east, "/api/conflicts?open=true").EnumerateArray(), c => c.GetProperty("extension").GetString() == "2002");
        Assert.Equal("sip:127.0.0.1:5070 at north", conflict.GetProperty("holder").GetString());
        Assert.DoesNotContain(Json(north, "/api/conflicts?open=true").EnumerateArray(), c => c.GetProperty("extension").GetString() == "2002");
    }
}
