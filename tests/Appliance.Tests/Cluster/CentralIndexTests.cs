using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Appliance.Cluster;
using Appliance.Recordings;
using Appliance.Tests.Support;
using Capture.Tests.Support;
using Npgsql;
using Xunit.Abstractions;
using static Appliance.Tests.Cluster.ServiceProbes;

namespace Appliance.Tests.Cluster;

/// <summary>
/// Issue 12, the central recordings index (README "Cluster"): a real PostgreSQL 15 of the test's own and two
/// `appliance run` processes, "north" and "south", each replaying its own capture with Cluster:Postgres, Cluster:Name,
/// Cluster:Site and Cluster:Secret set. A search on north finds south's recording (and its own), says south holds it,
/// and north plays it from south (whole and by range) with both audit logs saying who; PostgreSQL stopped mid-run:
/// recording goes on, degraded is reported, the rows are caught up when it is back; an older schema is brought up to
/// date once though two appliances start at once. Needs postgresql-15 (TEST_PACKAGES); otherwise says why and returns.
/// </summary>
[Collection("cluster")]
public sealed class CentralIndexTests(ITestOutputHelper output)
{
    [Fact]
    public void SearchOnNorth_FindsSouthsRecording_SaysSouthHoldsIt_AndPlaysSouthsBytes()
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

        // North's search of the estate: both, each saying who holds it.
        JsonElement list = Poll(() => Json(north, "/api/recordings") is var l && Ids(l).Contains(southId) && Ids(l).Contains(northId) ? l : (JsonElement?)null,
            TimeSpan.FromSeconds(30), "north's estate search listing both recordings", north);
        Assert.Equal("estate", list.GetProperty("scope").GetString());
        JsonElement theirs = Item(list, southId), ours = Item(list, northId);
        Assert.Equal(("south", "south"), (theirs.GetProperty("appliance").GetString(), theirs.GetProperty("site").GetString()));
        Assert.Equal(("north", "north"), (ours.GetProperty("appliance").GetString(), ours.GetProperty("site").GetString()));

        // The same filters as the local index: south's call by its extension, only there.
        string southExtension = theirs.GetProperty("parties")[0].GetProperty("extension").GetString()!;
        Assert.Equal([southId], Ids(Json(north, "/api/recordings?extension=" + Uri.EscapeDataString(southExtension))));
        Assert.DoesNotContain(southId, Ids(Json(north, "/api/recordings?scope=local")));
        Assert.Equal("local", Json(north, "/api/recordings?scope=local").GetProperty("scope").GetString());

        // Its sidecar and its audio through north are south's, byte for byte; a range request is passed through.
        Assert.Equal(Json(south, $"/api/recordings/{southId}").GetProperty("callId").GetString(), Json(north, $"/api/recordings/{southId}").GetProperty("callId").GetString());
        byte[] original = Bytes(south, $"/api/recordings/{southId}/audio", range: null, HttpStatusCode.OK, out _);
        Assert.True(original.Length > 5_000, $"south's audio is {original.Length} bytes");
        Assert.Equal(original, Bytes(north, $"/api/recordings/{southId}/audio", range: null, HttpStatusCode.OK, out _));
        byte[] part = Bytes(north, $"/api/recordings/{southId}/audio", range: "bytes=1000-4999", HttpStatusCode.PartialContent, out string? contentRange);
        Assert.Equal($"bytes 1000-4999/{original.Length}", contentRange);
        Assert.Equal(original[1000..5000], part);

        // Who played it: north's log has the user's play, south's has north's play for that user.
        Poll(() => Audit(north).Any(e => e.Token == "admin" && e.Action == "play" && e.Target == "recording:" + southId) ? "ok" : null,
            TimeSpan.FromSeconds(10), "north's audit entry of the user's play", north);
        Poll(() => Audit(south).Any(e => e.Token == "appliance:north" && e.Action == "play" && e.Target == $"recording:{southId} for admin") ? "ok" : null,
            TimeSpan.FromSeconds(10), "south's audit entry of north's play for the user", south);

        // A legal hold placed at south reaches the estate's search.
        using (HttpResponseMessage held = south.Send($"/api/recordings/{southId}/hold", r => r.Method = HttpMethod.Put))
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        Poll(() => Ids(Json(north, "/api/recordings?legalHold=true")).SequenceEqual([southId]) ? "ok" : null, TimeSpan.FromSeconds(15), "south's hold seen at north", north);

        // A wrong secret is no way in: south's peer route refuses it, and a user's token cannot use it either.
        using (HttpResponseMessage forged = Peer(south, southId, "north:not-the-secret"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }

        using (HttpResponseMessage user = south.Send($"/api/peer/admin/recordings/{southId}/audio"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, user.StatusCode);
        }

        Assert.Equal(0, Metric(north, "appliance_central_degraded"));
        Assert.True(Metric(south, "appliance_central_sent_total") >= 1);

        // The forged credential was a failed authentication at south, of kind appliance; north's real ones were not.
        Assert.Equal(1, Exposition.Parse(south.Get("/metrics")).Sum("appliance_api_auth_failures_total", ("kind", "appliance")));
    }

    [Fact]
    public void PostgresStoppedMidRun_RecordingGoesOn_DegradedReported_RowsCaughtUpAfterRestart()
    {
        if (PostgresServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(config: null);
        using PostgresServer pg = PostgresServer.Start();

        // South's capture: one call at once (G.722), a second (Opus) 10 s after it, replayed at their pace.
        string pcap = dir.TwoCalls(Captures.PathOf("sip-rtp-g722.pcap"), Captures.PathOf("sip-rtp-opus.pcap"), TimeSpan.FromSeconds(10));
        using ServiceProcess south = dir.Start("south", pcap, paced: true, pg: pg);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(60)), "south never ready: " + south.Log);
        string first = Poll(() => Central(pg, "south").FirstOrDefault(), TimeSpan.FromSeconds(30), "the first call in the central index", south);

        pg.Stop();
        Poll(() => Readyz(south) is (200, { } body) && body.Contains("central recordings index is unreachable", StringComparison.Ordinal) ? body : null,
            TimeSpan.FromSeconds(30), "readyz degraded", south);

        // The second call is recorded while PostgreSQL is down, and queued.
        Poll(() => Ids(Json(south, "/api/recordings?scope=local")).Count == 2 ? "ok" : null, TimeSpan.FromSeconds(60), "the second call recorded", south);
        Assert.Equal(1, Metric(south, "appliance_central_degraded"));
        south.WaitForMetrics(d => d.Sum("appliance_central_pending") >= 1, TimeSpan.FromSeconds(10));
        Assert.True(Metric(south, "appliance_central_pending") >= 1, "nothing queued while PostgreSQL was down");

        // Its estate search falls back to its own recordings, and says so.
        JsonElement fallback = Json(south, "/api/recordings");
        Assert.Equal("local", fallback.GetProperty("scope").GetString());
        Assert.Equal(2, Ids(fallback).Count);
        using (HttpResponseMessage estate = south.Send("/api/recordings?scope=estate"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, estate.StatusCode); // asked for the estate explicitly: not silently less
        }

        pg.Restart();
        Poll(() => Central(pg, "south").Count == 2 ? "ok" : null, TimeSpan.FromSeconds(30), "the queued row sent after the restart", south);
        Poll(() => Readyz(south) is (200, "ready\n") ? "ok" : null, TimeSpan.FromSeconds(20), "readyz ready again", south);
        Assert.Equal(Ids(Json(south, "/api/recordings?scope=local")).Order(), Central(pg, "south").Order());
        Assert.Contains(first, Central(pg, "south"));
        Assert.Equal(0, Metric(south, "appliance_central_pending"));
        Assert.Equal("estate", Json(south, "/api/recordings").GetProperty("scope").GetString());
    }

    [Fact]
    public async Task OlderSchema_IsMigratedOnce_WhenTwoAppliancesStartAtOnce()
    {
        if (PostgresServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(config: null);
        using PostgresServer pg = PostgresServer.Start();

        // The database as an appliance of schema version 1 left it, with one recording of a third appliance.
        using (var db = new NpgsqlConnection(pg.ConnectionString()))
        {
            db.Open();
            Assert.Equal([1], await CentralSchema.MigrateAsync(db, "old", CancellationToken.None, target: 1));
            using var insert = new NpgsqlCommand("""
                INSERT INTO recordings(id, appliance, site, started_at, duration_ms, direction, extensions, users, devices, call_ids, summary)
                VALUES ('6f1c0c1e-8d8a-4f7e-9a52-000000000001', 'east', 'east', 1, 1000, 0, '{9999}', '{}', '{}', '{c1}', '{"id":"6f1c0c1e-8d8a-4f7e-9a52-000000000001","protocol":"sip","callId":"c1","startedAt":"1970-01-01T00:00:00.001+00:00","endedAt":"1970-01-01T00:00:01.001+00:00","durationSeconds":1,"mediaDurationSeconds":1,"parties":[{"extension":"9999"}],"codecs":[],"endReason":"bye","hasAudio":false}')
                """, db);
            insert.ExecuteNonQuery();
        }

        using ServiceProcess north = dir.Start("north", Estate.SippCall, paced: false, pg: pg);
        using ServiceProcess south = dir.Start("south", Estate.SippCall, paced: false, pg: pg);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(60)), "north never ready: " + north.Log);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(60)), "south never ready: " + south.Log);
        Poll(() => Readyz(north) is (200, "ready\n") && Readyz(south) is (200, "ready\n") ? "ok" : null, TimeSpan.FromSeconds(30), "both connected", north);

        using (var db = new NpgsqlConnection(pg.ConnectionString()))
        {
            db.Open();
            var versions = new List<(int Version, string By)>();
            using (var cmd = new NpgsqlCommand("SELECT version, applied_by FROM schema_version ORDER BY version", db))
            using (NpgsqlDataReader row = cmd.ExecuteReader())
            {
                while (row.Read())
                {
                    versions.Add((row.GetInt32(0), row.GetString(1)));
                }
            }

            output.WriteLine(string.Join(", ", versions));
            Assert.Equal([1, 2], versions.Select(v => v.Version));
            Assert.Equal("old", versions[0].By);
            Assert.Contains(versions[1].By, (string[])["north", "south"]);
        }

        // The older row is still found, now with the others, from either appliance.
        Poll(() => Json(south, "/api/recordings?extension=9999") is var l && Ids(l).SequenceEqual(["6f1c0c1e-8d8a-4f7e-9a52-000000000001"]) ? "ok" : null,
            TimeSpan.FromSeconds(10), "the version-1 row found", south);
        Poll(() => Json(north, "/api/recordings").GetProperty("items").EnumerateArray().Select(i => i.GetProperty("appliance").GetString()).Distinct().Count() == 3 ? "ok" : null,
            TimeSpan.FromSeconds(30), "north, south and east in the estate search", north);
    }

    [Fact]
    public async Task ConcurrentMigrations_ApplyEachStepOnce()
    {
        if (PostgresServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using PostgresServer pg = PostgresServer.Start();
        List<int>[] applied = await Task.WhenAll(Enumerable.Range(0, 4).Select(async i =>
        {
            await using var db = new NpgsqlConnection(pg.ConnectionString());
            await db.OpenAsync();
            return await CentralSchema.MigrateAsync(db, "a" + i, CancellationToken.None);
        }));

        // One of them applied every step, the others found nothing to do; no error, no step twice.
        Assert.Single(applied, a => a.SequenceEqual(Enumerable.Range(1, CentralSchema.Version)));
        Assert.Equal(3, applied.Count(a => a.Count == 0));
    }

    [Fact]
    public async Task Backlog_HoldsAndRetentionDeletions_ReachTheCentralIndex_AndItsPagesCoverEachRecordingOnce()
    {
        if (PostgresServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(config: null);
        using PostgresServer pg = PostgresServer.Start();

        // 1,200 recordings indexed before Cluster:Postgres was set (more than one batch), extension 1000 + i % 7.
        string path = Path.Combine(dir.Path, RecordingIndex.FileName);
        var index = RecordingIndex.Open(path, out _, out _);
        var ids = Enumerable.Range(0, 1200).Select(i => new Guid(i, 0, 0, new byte[8]).ToString("D")).ToList();
        using (var writer = index.CreateWriter())
        {
            writer.Begin();
            for (int i = 0; i < ids.Count; i++)
            {
                string json = $$"""
                    {"id":"{{ids[i]}}","protocol":"sip","callId":"c{{i}}","startedAt":"{{DateTimeOffset.UnixEpoch.AddMinutes(i):O}}","endedAt":"{{DateTimeOffset.UnixEpoch.AddMinutes(i).AddSeconds(30):O}}",
                     "durationSeconds":30,"mediaDurationSeconds":30,"parties":[{"extension":"{{1000 + (i % 7)}}"}],"codecs":["PCMA"],"endReason":"bye","hasAudio":true,"callIds":[]}
                    """;
                writer.Upsert(JsonSerializer.Deserialize(json, Appliance.Endpoints.ApiJsonContext.Default.RecordingSummary)!, "1970/01/01");
            }

            writer.Commit();
        }

        CentralOutbox.Install(path);
        var settings = new Appliance.Service.ApplianceSettings { Listen = "http://127.0.0.1:9" };
        settings.Cluster.Postgres = pg.ConnectionString();
        settings.Cluster.Name = "north";
        await using var central = new CentralIndex(settings, path, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        central.Start();
        await Until(() => Central(pg, "north").Count == 1200, "the backlog sent");

        // A legal hold and a retention deletion, made as the catalog makes them (through the local index).
        Assert.True(index.SetHold(Guid.Parse(ids[0]), true));
        Assert.True(index.Delete(Guid.Parse(ids[1])));
        await Until(() => Central(pg, "north").Count == 1199 && central.Pending == 0, "the deletion sent");
        RecordingPage held = await central.SearchAsync(new RecordingQuery { LegalHold = true }, CancellationToken.None);
        Assert.Equal([ids[0]], held.Items.Select(r => r.Id));
        Assert.DoesNotContain(ids[1], Central(pg, "north"));

        // Pages of 50 by extension, oldest first: each recording of that extension once, in order.
        var seen = new List<string>();
        RecordingCursor? after = null;
        do
        {
            RecordingPage page = await central.SearchAsync(new RecordingQuery { Extension = "1003", Ascending = true, After = after, Limit = 50 }, CancellationToken.None);
            seen.AddRange(page.Items.Select(r => r.Id));
            after = page.Next;
        }
        while (after is not null);
        Assert.Equal(Enumerable.Range(0, 1200).Where(i => i % 7 == 3 && i != 1).Select(i => ids[i]), seen);
        Assert.True(central.Sent >= 1201);
    }

    private static async Task Until(Func<bool> done, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "timed out waiting for " + what);
            await Task.Delay(200);
        }
    }

    /// <summary>The ids of the central index's rows held by <paramref name="appliance"/> (a row per recording: the primary key is its id).</summary>
    private static List<string> Central(PostgresServer pg, string appliance)
    {
        try
        {
            using var db = new NpgsqlConnection(pg.ConnectionString());
            db.Open();
            using var cmd = new NpgsqlCommand("SELECT id FROM recordings WHERE appliance = $1", db);
            cmd.Parameters.AddWithValue(appliance);
            var ids = new List<string>();
            using NpgsqlDataReader row = cmd.ExecuteReader();
            while (row.Read())
            {
                ids.Add(row.GetGuid(0).ToString("D"));
            }

            return ids;
        }
        catch (PostgresException e) when (e.SqlState == "42P01")
        {
            return []; // not migrated yet
        }
    }

    private static HttpResponseMessage Peer(ServiceProcess s, string id, string credentials)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{s.Port}/api/peer/admin/recordings/{id}/audio");
        request.Headers.TryAddWithoutValidation("Authorization", "Appliance " + credentials);
        return http.Send(request);
    }
}
