using System.Text.Json;
using Appliance.Recordings;
using Appliance.Tests.Support;
using Capture.Recording;
using Capture.Tests.Support;

namespace Appliance.Tests.Api;

/// <summary>
/// A recordings folder filled by real replays before the appliance starts (its index is built from those sidecars), and
/// the host's own replay of the bundled call on top (indexed as it is written):
/// <list type="bullet">
/// <item>samples/sipp-g711a-call.pcap with both phones configured (desk-9 {2001} at 127.0.0.1, hoteling agent alice;
/// desk-8 {2002}, agent bob): an internal call, Call-ID 1-12907@127.0.0.1, 8.5 s;</item>
/// <item>samples/sipp-blind-transfer.pcap and sipp-topology-hold.pcap: 2001 (phone sip:10.77.0.10:5061) with the outside,
/// 3.5, 8.5 and 22.3 s;</item>
/// <item>shared SIP_CALL_RTP_G711.pcap (2005): a call with neither party known (34.9 s), francisco's phone calling
/// 5514540002 (12015624@200.57.7.195, 10.2 s) and its unsignalled RTP (10.3 s);</item>
/// <item>the host's replay: the bundled call again, 2001 at sip:127.0.0.1:5061, no user.</item>
/// </list>
/// Expected results are computed from the sidecars on disk, independently of the index.
/// </summary>
public sealed class RecordingIndexTests(RecordingArchiveFixture fixture) : IClassFixture<RecordingArchiveFixture>
{
    private ApiHost Host => fixture.Host;

    private List<CallSidecar> All => fixture.Sidecars();

    private Task<(string[] Ids, string? Next)> Page(string query) => RecordingArchive.Page(Host, query);

    private static string[] Newest(IEnumerable<CallSidecar> s) => Ids(s.OrderByDescending(r => r.StartedAt));

    private static string[] Ids(IEnumerable<CallSidecar> s) => [.. s.Select(r => r.Id)];

    [Fact]
    public async Task Search_ByEachFilter_FindsWhatTheSidecarsSay()
    {
        List<CallSidecar> all = All;
        Assert.Equal(8, all.Count);
        Assert.Equal(Newest(all), (await Page("?limit=1000")).Ids);

        Assert.Equal(Newest(all.Where(r => r.Parties.Any(p => p.Extension == "2001"))), (await Page("?extension=2001")).Ids);
        Assert.Equal(5, (await Page("?extension=2001")).Ids.Length);

        CallSidecar alice = Assert.Single(all, r => r.Parties.Any(p => p.User == "alice"));
        Assert.Equal([alice.Id], (await Page("?user=alice")).Ids);
        Assert.Equal([alice.Id], (await Page("?user=bob")).Ids);
        Assert.Equal([alice.Id], (await Page("?device=desk-8")).Ids);
        Assert.Empty((await Page("?user=carol")).Ids);

        Assert.Equal(Newest(all.Where(r => r.Parties.Any(p => p.Device == "sip:10.77.0.10:5061"))), (await Page("?device=" + Uri.EscapeDataString("sip:10.77.0.10:5061"))).Ids);
        Assert.Equal(3, (await Page("?device=" + Uri.EscapeDataString("sip:10.77.0.10:5061"))).Ids.Length);

        // The bundled call twice (configured, and as the host learned it), the 2005 call once.
        Assert.Equal(Newest(all.Where(r => r.CallId == "1-12907@127.0.0.1")), (await Page("?callId=1-12907%40127.0.0.1")).Ids);
        Assert.Equal(2, (await Page("?callId=1-12907%40127.0.0.1")).Ids.Length);
        Assert.Single((await Page("?callId=12015624%40200.57.7.195")).Ids);
        Assert.Equal([alice.Id], (await Page("?callId=1-12907%40127.0.0.1&user=alice&extension=2002")).Ids);

        // Internal: both parties are phones the directory knows; unknown: neither; external: one.
        Assert.Equal([alice.Id], (await Page("?direction=internal")).Ids);
        string[] unknown = Newest(all.Where(r => r.Parties.All(p => p.Device is null)));
        Assert.Equal(2, unknown.Length);
        Assert.Equal(unknown, (await Page("?direction=unknown")).Ids);
        Assert.Equal(Newest(all.Where(r => r.Parties.Count(p => p.Device is not null) == 1)), (await Page("?direction=external")).Ids);
        Assert.Equal(5, (await Page("?direction=external")).Ids.Length);

        Assert.Equal(Newest(all.Where(r => r.DurationSeconds is >= 10 and <= 23)), (await Page("?minDuration=10&maxDuration=23")).Ids);
        Assert.Equal(3, (await Page("?minDuration=10&maxDuration=23")).Ids.Length);
        Assert.Equal(Newest(all.Where(r => r.DurationSeconds >= 30)), (await Page("?minDuration=30")).Ids);
        Assert.Equal(Newest(all.Where(r => r.DurationSeconds <= 5)), (await Page("?maxDuration=5")).Ids);

        DateTimeOffset in2026 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(Newest(all.Where(r => r.StartedAt < in2026)), (await Page("?to=2026-01-01T00:00:00Z")).Ids);
        Assert.Equal(3, (await Page("?to=2026-01-01T00:00:00Z")).Ids.Length);
        Assert.Equal(Newest(all.Where(r => r.StartedAt >= in2026 && r.Parties.Any(p => p.Extension == "2001"))), (await Page("?from=2026-01-01T00:00:00Z&extension=2001")).Ids);
    }

    [Fact]
    public async Task Search_SortsByDurationOrStart_EitherWay()
    {
        // Two recordings of the bundled call last the same: equal durations may come in either order, so the durations
        // in the order returned are compared, and the recordings as a set.
        List<CallSidecar> all = All;
        Dictionary<string, double> duration = all.ToDictionary(r => r.Id, r => r.DurationSeconds);
        string[] shortest = (await Page("?sort=duration&order=asc")).Ids;
        Assert.Equal(all.Select(r => r.DurationSeconds).Order(), shortest.Select(id => duration[id]));
        Assert.Equal(Ids(all).Order(), shortest.Order());
        string[] longest = (await Page("?sort=duration")).Ids;
        Assert.Equal(all.Select(r => r.DurationSeconds).OrderDescending(), longest.Select(id => duration[id]));
        Assert.Equal(Ids(all).Order(), longest.Order());
        Assert.Equal(Ids(all.OrderBy(r => r.StartedAt)), (await Page("?sort=startedAt&order=asc")).Ids);
        CallSidecar[] of2001 = [.. all.Where(r => r.Parties.Any(p => p.Extension == "2001"))];
        string[] longestOf2001 = (await Page("?extension=2001&sort=duration&order=desc")).Ids;
        Assert.Equal(of2001.Select(r => r.DurationSeconds).OrderDescending(), longestOf2001.Select(id => duration[id]));
        Assert.Equal(Ids(of2001).Order(), longestOf2001.Order());
    }

    [Theory]
    [InlineData("")]
    [InlineData("&sort=duration")]
    [InlineData("&sort=duration&order=asc")]
    [InlineData("&extension=2001")]
    [InlineData("&order=asc&direction=external")]
    public async Task Search_PagedByTheAfterCursor_ListsEachRecordingOnce_InOrder(string filter)
    {
        (string[] whole, string? none) = await Page("?limit=1000" + filter);
        Assert.Null(none);
        var paged = new List<string>();
        string? after = null;
        for (int pages = 0; pages < 20; pages++)
        {
            (string[] ids, string? next) = await Page("?limit=3" + filter + (after is null ? "" : "&after=" + Uri.EscapeDataString(after)));
            paged.AddRange(ids);
            Assert.True(next is null || ids.Length == 3);
            if (next is null)
            {
                break;
            }

            after = next;
        }

        Assert.Equal(whole, paged);
        Assert.True(whole.Length > 3, "the filter must need more than one page");
    }

    [Fact]
    public async Task Search_RefusesBadFilterValues_AsProblems()
    {
        foreach ((string query, string name) in ((string, string)[])[
            ("direction=north", "direction"), ("direction=", "direction"), ("minDuration=-1", "minDuration"), ("minDuration=abc", "minDuration"),
            ("maxDuration=1e12", "maxDuration"), ("minDuration=60&maxDuration=30", "minDuration"), ("sort=size", "sort"), ("sort=Duration", "sort"),
            ("order=up", "order"), ("after=garbage", "after"), ("after=s1.x", "after"), ("sort=duration&after=s1764547200000.5", "after")])
        {
            JsonElement problem = await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recordings?" + query), 400);
            Assert.True(problem.GetProperty("errors").TryGetProperty(name, out _), $"{query}: {problem}");
        }
    }
}

/// <summary>Damage, deletion and a sidecar another process wrote while the appliance was stopped.</summary>
public sealed class RecordingIndexRebuildTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "appliance-index-" + Guid.NewGuid().ToString("N"));
    private ApiHost _host = null!;
    private string _empty = "";

    private string IndexFile => Path.Combine(_host.State, RecordingIndex.FileName);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        RecordingArchive.Fill(Path.Combine(_folder, "recordings"));
        _empty = ApiHost.EmptyCapture(Path.Combine(_folder, "empty.pcap"));
        _host = await Start();
    }

    private async Task<ApiHost> Start()
    {
        ApiHost host = await ApiHost.StartAsync(folder: _folder, replay: _empty);
        await RecordingArchive.WaitIndexed(host);
        return host;
    }

    // A stopped process leaves no connection open; the host stopped in this process leaves them in the pool.
    private async Task Stop()
    {
        await _host.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    private async Task<string[][]> Answers()
    {
        string[] queries = ["?limit=1000", "?extension=2001", "?user=alice", "?direction=unknown", "?sort=duration&order=asc", "?minDuration=9"];
        var answers = new string[queries.Length][];
        for (int i = 0; i < queries.Length; i++)
        {
            answers[i] = (await RecordingArchive.Page(_host, queries[i])).Ids;
        }

        return answers;
    }

    [Fact]
    public async Task Index_DeletedOrFilledWithGarbage_IsRebuiltFromTheSidecars_WithTheSameResults()
    {
        string[][] before = await Answers();
        Assert.Equal(7, before[0].Length); // every sidecar of the archive
        Assert.True(File.Exists(IndexFile));

        await Stop();
        foreach (string file in Directory.GetFiles(_host.State, RecordingIndex.FileName + "*"))
        {
            File.Delete(file);
        }

        _host = await Start();
        Assert.Equal(before, await Answers());
        Assert.True(File.Exists(IndexFile));

        await Stop();
        long length = new FileInfo(IndexFile).Length;
        var garbage = new byte[length];
        new Random(11).NextBytes(garbage);
        await File.WriteAllBytesAsync(IndexFile, garbage);
        File.Delete(IndexFile + "-wal");

        _host = await Start();
        Assert.Equal(before, await Answers());
        string aside = Assert.Single(Directory.GetFiles(_host.State, RecordingIndex.FileName + ".damaged-*"));
        Assert.Equal(garbage, await File.ReadAllBytesAsync(aside)); // set aside as it was, for whoever wants to look
    }

    [Fact]
    public async Task Index_OfAnotherSchemaVersion_IsRebuilt_AndSidecarsWrittenWhileStopped_AreFound()
    {
        string[][] before = await Answers();
        await Stop();

        // The start reads again only day folders and sidecars changed since the last start: with the archive a week
        // old, a row removed from the index behind the appliance's back stays missing (its sidecar is not re-read).
        DateTime weekAgo = DateTime.UtcNow.AddDays(-7);
        foreach (string entry in Directory.GetFileSystemEntries(_host.Recordings, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(entry, weekAgo);
        }

        string forgotten = before[0][^1];
        Execute(IndexFile, $"DELETE FROM recordings WHERE id = '{forgotten}'");

        // Another process (`appliance replay`) records into the same folder while the service is stopped.
        (int code, string output) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Path.Combine(Repo.Root, "samples", "sipp-attended-transfer.pcap"),
            "--out", _host.Recordings], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, output);
        _host = await Start();
        string[] now = (await RecordingArchive.Page(_host, "?limit=1000")).Ids;
        CallSidecar[] added = [.. RecordingArchive.Sidecars(_host.Recordings).Where(s => !before[0].Contains(s.Id))];
        Assert.NotEmpty(added);
        Assert.Equal(before[0].Length - 1 + added.Length, now.Length);
        Assert.All(added, s => Assert.Contains(s.Id, now));
        Assert.DoesNotContain(forgotten, now);

        // A file from a newer build (schema version 99): set aside and rebuilt from every sidecar.
        await Stop();
        Execute(IndexFile, "PRAGMA user_version=99");

        _host = await Start();
        string[] rebuilt = (await RecordingArchive.Page(_host, "?limit=1000")).Ids;
        string[] expected = [.. RecordingArchive.Sidecars(_host.Recordings).OrderByDescending(r => r.StartedAt).Select(r => r.Id)];
        Assert.Equal(expected, rebuilt);
        Assert.Contains(forgotten, rebuilt);
        Assert.Single(Directory.GetFiles(_host.State, RecordingIndex.FileName + ".damaged-*"));
    }

    [Fact]
    public async Task Index_OfTheOlderSchema1_IsUpgradedInPlace_NotRebuilt()
    {
        string[] before = (await RecordingArchive.Page(_host, "?limit=1000")).Ids;
        await Stop();

        // A version 1 file (its narrower indexes, no legal_hold column); a row removed behind the appliance's back shows whether it was rebuilt.
        foreach (string entry in Directory.GetFileSystemEntries(_host.Recordings, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(entry, DateTime.UtcNow.AddDays(-7));
        }

        Execute(IndexFile, $"""
            DROP INDEX recordings_held; ALTER TABLE recordings DROP COLUMN legal_hold;
            DROP INDEX recordings_started; DROP INDEX recordings_duration;
            CREATE INDEX recordings_started ON recordings(started_at); CREATE INDEX recordings_duration ON recordings(duration_ms);
            DELETE FROM recordings WHERE id = '{before[0]}';
            PRAGMA user_version=1;
            """);

        _host = await Start();
        Assert.Equal(before[1..], (await RecordingArchive.Page(_host, "?limit=1000")).Ids);
        Assert.Empty(Directory.GetFiles(_host.State, RecordingIndex.FileName + ".damaged-*"));
        await Stop();
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={IndexFile};Mode=ReadOnly;Pooling=False");
        db.Open();
        using Microsoft.Data.Sqlite.SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = "PRAGMA user_version";
        Assert.Equal((long)RecordingIndex.SchemaVersion, cmd.ExecuteScalar());
        cmd.CommandText = "SELECT sql FROM sqlite_schema WHERE name = 'recordings_started'";
        Assert.Contains("duration_ms", (string)cmd.ExecuteScalar()!, StringComparison.Ordinal);
        cmd.CommandText = "SELECT count(*) FROM pragma_table_info('recordings') WHERE name = 'legal_hold'";
        Assert.Equal(1L, cmd.ExecuteScalar()); // version 3's column added in place, every row not held
    }

    private static void Execute(string file, string sql)
    {
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False");
        db.Open();
        using Microsoft.Data.Sqlite.SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();
}

/// <summary>The archive of <see cref="RecordingIndexTests"/> and a host serving it.</summary>
public sealed class RecordingArchiveFixture : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "appliance-index-" + Guid.NewGuid().ToString("N"));

    public ApiHost Host { get; private set; } = null!;

    public List<CallSidecar> Sidecars() => RecordingArchive.Sidecars(Host.Recordings);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        RecordingArchive.Fill(Path.Combine(_folder, "recordings"));
        Host = await ApiHost.StartAsync(folder: _folder);
        await RecordingArchive.WaitIndexed(Host, 8);
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

internal static class RecordingArchive
{
    /// <summary>Both phones of the bundled call configured, with hoteling agents: an internal call of alice's and bob's.</summary>
    private const string BothPhonesConfigured = """
        {
          "devices": [
            { "id": "desk-9", "extensions": ["2001"], "ips": ["127.0.0.1"], "hotelingAgent": "alice" },
            { "id": "desk-8", "extensions": ["2002"], "hotelingAgent": "bob" }
          ],
          "users": [ { "id": "alice" }, { "id": "bob" } ]
        }
        """;

    /// <summary>Replays the archive's captures into <paramref name="recordings"/> (7 recordings).</summary>
    public static void Fill(string recordings)
    {
        string config = Path.Combine(Path.GetDirectoryName(recordings)!, "both-phones.json");
        File.WriteAllText(config, BothPhonesConfigured);
        Replay(Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), recordings, "--config", config);
        Replay(Path.Combine(Repo.Root, "samples", "sipp-blind-transfer.pcap"), recordings);
        Replay(Path.Combine(Repo.Root, "samples", "sipp-topology-hold.pcap"), recordings);
        Replay(Captures.PathOf("SIP_CALL_RTP_G711.pcap"), recordings);
        Assert.Equal(7, Sidecars(recordings).Count);
    }

    private static void Replay(string pcap, string recordings, params string[] more)
    {
        (int code, string output) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", pcap, "--out", recordings, .. more], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, output);
    }

    public static List<CallSidecar> Sidecars(string recordings) =>
        [.. Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories).Select(f => CallSidecar.Deserialize(File.ReadAllText(f))!)];

    /// <summary>Waits until the index is neither building nor reconciling and lists <paramref name="count"/> recordings (when given).</summary>
    public static async Task WaitIndexed(ApiHost host, int? count = null)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using JsonDocument list = await host.GetJsonAsync("/api/recordings?limit=1000");
            if (!list.RootElement.GetProperty("indexing").GetBoolean() && (count is null || list.RootElement.GetProperty("count").GetInt32() == count))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the recordings were not indexed in 60 s: " + list.RootElement);
            await Task.Delay(50);
        }
    }

    public static async Task<(string[] Ids, string? Next)> Page(ApiHost host, string query)
    {
        using JsonDocument doc = await host.GetJsonAsync("/api/recordings" + query);
        JsonElement root = doc.RootElement;
        Assert.Equal(root.GetProperty("count").GetInt32(), root.GetProperty("items").GetArrayLength());
        return ([.. root.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetString()!)], root.GetProperty("next").GetString());
    }
}
