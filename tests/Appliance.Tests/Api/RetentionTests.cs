using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Recordings;
using Appliance.Service;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Pipeline;
using Capture.Recording;
using PartyInfo = Capture.Calls.PartyInfo;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Appliance.Tests.Api;

/// <summary>
/// Recordings of the bundled call (samples/sipp-g711a-call.pcap) made by real replays with desk-9 {2001} in a recording
/// group (sales; sales with the other phone desk-8 in legal; support) or in none, then aged: copied under a new id as
/// the same call made N days ago (every time in the sidecar shifted, the files moved to that day's folder).
/// </summary>
internal static class AgedRecordings
{
    /// <summary>The groups as the appliance under test has them: sales 30 days, legal forever, support the default.</summary>
    public const string HostConfig = """
        { "recordingGroups": [ { "id": "sales", "keepDays": 30 }, { "id": "legal", "keepDays": 0 }, { "id": "support" } ] }
        """;

    /// <summary>Kind of source recording to its sidecar: "sales", "sales+legal", "support", "none".</summary>
    public static Dictionary<string, string> MakeSources(string folder)
    {
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string kind, string? desk9, string? desk8) in ((string, string?, string?)[])[("sales", "sales", null), ("sales+legal", "sales", "legal"), ("support", "support", null), ("none", null, null)])
        {
            string recordings = Path.Combine(folder, "sources", kind.Replace('+', '-'));
            string config = Path.Combine(folder, kind.Replace('+', '-') + ".json");
            File.WriteAllText(config, $$"""
                { "recordingGroups": [ { "id": "sales" }, { "id": "legal" }, { "id": "support" } ],
                  "devices": [
                    { "id": "desk-9", "extensions": ["2001"], "ips": ["127.0.0.1"] {{(desk9 is null ? "" : $", \"recordingGroup\": \"{desk9}\"")}} },
                    { "id": "desk-8", "extensions": ["2002"] {{(desk8 is null ? "" : $", \"recordingGroup\": \"{desk8}\"")}} } ] }
                """);
            (int code, string output) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--out", recordings, "--config", config], TimeSpan.FromSeconds(120));
            Assert.True(code == 0, output);
            string sidecar = Assert.Single(Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories));
            string[] groups = [.. CallSidecar.Deserialize(File.ReadAllText(sidecar))!.Parties.Select(p => p.RecordingGroup ?? "-")];
            Assert.Equal(new[] { desk9 ?? "-", desk8 ?? "-" }, groups); // the recorder put each phone's group in the sidecar
            sources[kind] = sidecar;
        }

        return sources;
    }

    /// <summary>The source recording as if made <paramref name="days"/> days ago, under a new id in <paramref name="recordings"/>; returns its sidecar.</summary>
    public static CallSidecar Clone(string sourceSidecar, string recordings, double days, bool withSidecar = true)
    {
        JsonObject json = JsonNode.Parse(File.ReadAllText(sourceSidecar))!.AsObject();
        DateTimeOffset started = json["startedAt"]!.GetValue<DateTimeOffset>();
        TimeSpan shift = DateTimeOffset.UtcNow.AddDays(-days) - started;
        Shift(json, shift);
        string id = Guid.CreateVersion7().ToString("D");
        DateTimeOffset start = started + shift;
        string day = Path.Combine(start.UtcDateTime.ToString("yyyy"), start.UtcDateTime.ToString("MM"), start.UtcDateTime.ToString("dd"));
        json["id"] = id;
        json["file"] = Path.Combine(day, id + ".opus");
        string folder = Path.Combine(recordings, day);
        Directory.CreateDirectory(folder);
        File.Copy(Path.ChangeExtension(sourceSidecar, ".opus"), Path.Combine(folder, id + ".opus"));
        string text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (withSidecar)
        {
            File.WriteAllText(Path.Combine(folder, id + ".json"), text);
        }

        return CallSidecar.Deserialize(text)!;
    }

    // Every time in the sidecar ("startedAt", events' "at", ...) moved by the same amount: the call keeps its shape.
    private static void Shift(JsonNode? node, TimeSpan by)
    {
        switch (node)
        {
            case JsonObject o:
                foreach ((string name, JsonNode? value) in o.ToList())
                {
                    if ((name == "at" || name.EndsWith("At", StringComparison.Ordinal)) && value is JsonValue v && v.TryGetValue(out DateTimeOffset t))
                    {
                        o[name] = t + by;
                    }
                    else
                    {
                        Shift(value, by);
                    }
                }

                break;
            case JsonArray a:
                foreach (JsonNode? item in a)
                {
                    Shift(item, by);
                }

                break;
        }
    }

    /// <summary>The call in progress as the recorder would announce it.</summary>
    public static CallMetadata Metadata(CallSidecar s) => new()
    {
        Protocol = s.Protocol, CallId = s.CallId, StartedAt = s.StartedAt,
        Left = new PartyInfo { Extension = s.Parties[0].Extension }, Right = new PartyInfo { Extension = s.Parties[1].Extension },
    };

    /// <summary>Bytes of the recording's audio and sidecar.</summary>
    public static long Size(string recordings, CallSidecar s)
    {
        string audio = Path.Combine(recordings, s.File!);
        return new FileInfo(audio).Length + (File.Exists(Path.ChangeExtension(audio, ".json")) ? new FileInfo(Path.ChangeExtension(audio, ".json")).Length : 0);
    }

    /// <summary>The same in whole 4 KiB pages, as a tmpfs counts them.</summary>
    public static long Pages(string recordings, CallSidecar s)
    {
        string audio = Path.Combine(recordings, s.File!);
        return Round(new FileInfo(audio).Length) + Round(new FileInfo(Path.ChangeExtension(audio, ".json")).Length);

        static long Round(long bytes) => (bytes + 4095) / 4096 * 4096;
    }

    public static string Folder(string recordings, CallSidecar s) => Path.Combine(recordings, Path.GetDirectoryName(s.File)!);

    public static bool OnDisk(string recordings, CallSidecar s) => File.Exists(Path.Combine(recordings, s.File!));

    /// <summary>Every audit entry (read by the configured administrator token) that <paramref name="match"/> accepts.</summary>
    public static async Task<List<JsonElement>> AuditAsync(ApiHost host, Func<JsonElement, bool> match)
    {
        var found = new List<JsonElement>();
        long? after = 0;
        while (after is { } a)
        {
            using JsonDocument page = await host.GetJsonAsync($"/api/audit?limit=1000&after={a}");
            found.AddRange(page.RootElement.GetProperty("items").EnumerateArray().Where(match).Select(e => e.Clone()));
            JsonElement next = page.RootElement.GetProperty("next");
            after = next.ValueKind == JsonValueKind.Null ? null : next.GetInt64();
        }

        return found;
    }

    /// <summary>Retention's audit entries: recording id to reason.</summary>
    public static async Task<Dictionary<string, string>> DeletionsAsync(ApiHost host) =>
        (await AuditAsync(host, e => e.GetProperty("action").GetString() == "delete"))
        .ToDictionary(e =>
        {
            Assert.Equal((RetentionService.Actor, "system"), (e.GetProperty("token").GetString(), e.GetProperty("role").GetString()));
            return e.GetProperty("target").GetString()!["recording:".Length..];
        }, e => e.GetProperty("reason").GetString()!);

    public static async Task<Exposition.Document> MetricsAsync(ApiHost host) => Exposition.Parse(await host.Client.GetStringAsync("/metrics"));

    /// <summary>Polls until <paramref name="done"/> holds (retention runs every second in these tests).</summary>
    public static async Task WaitUntil(Func<Task<bool>> done, string what, int seconds = 30)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within {seconds} s");
            await Task.Delay(100);
        }
    }
}

/// <summary>
/// Keep-days per recording group and the default, legal hold through the API and on disk, calls in progress, the audit
/// and the metrics, and a rebuild of the index after deletions (README "Retention and legal hold").
/// </summary>
public sealed class RetentionTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "appliance-retention-" + Guid.NewGuid().ToString("N"));
    private ApiHost _host = null!;
    private string _empty = "";

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _empty = ApiHost.EmptyCapture(Path.Combine(_folder, "empty.pcap"));
        return Task.CompletedTask;
    }

    private string Recordings => Path.Combine(_folder, "recordings");

    private Task<ApiHost> Start() => ApiHost.StartAsync(config: AgedRecordings.HostConfig, folder: _folder, replay: _empty,
        settings: ["--Retention:DefaultKeepDays=90", "--Retention:MinFreePercent=0", "--Retention:IntervalSeconds=1"]);

    private async Task<string[]> Listed(string query = "")
    {
        (string[] ids, _) = await RecordingArchive.Page(_host, "?limit=1000" + query);
        return [.. ids.Order()];
    }

    private static string[] Ids(params CallSidecar[] s) => [.. s.Select(r => r.Id).Order()];

    [Fact]
    public async Task KeepDays_DeleteExactlyTheExpired_PerGroupAndDefault_NeverHeldOrInProgress_Audited_AndARebuildKeepsTheHolds()
    {
        Dictionary<string, string> source = AgedRecordings.MakeSources(_folder);
        CallSidecar Aged(string kind, double days) => AgedRecordings.Clone(source[kind], Recordings, days);

        CallSidecar salesExpired = Aged("sales", 40), salesKept = Aged("sales", 20), salesYounger = Aged("sales", 15);
        CallSidecar legalForever = Aged("sales+legal", 1000); // sales says 30 days, legal forever: the longer wins
        CallSidecar supportExpired = Aged("support", 100), supportKept = Aged("support", 60); // support: the default, 90
        CallSidecar plainExpired = Aged("none", 100), plainKept = Aged("none", 80);
        CallSidecar heldOnDisk = Aged("none", 200);
        var size = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (CallSidecar s in (CallSidecar[])[salesExpired, salesKept, salesYounger, legalForever, supportExpired, supportKept, plainExpired, plainKept, heldOnDisk])
        {
            size[s.Id] = AgedRecordings.Size(Recordings, s);
        }

        // A hold an earlier run placed: only its marker beside the recording says so (the index is built at this start).
        await File.WriteAllTextAsync(Path.Combine(AgedRecordings.Folder(Recordings, heldOnDisk), heldOnDisk.Id + ".hold"), """{"heldBy":"admin","heldAt":"2026-01-02T03:04:05Z"}""");
        _host = await Start();
        await RecordingArchive.WaitIndexed(_host);

        // The pass at start: exactly the three expired ones.
        string[] expiredAtStart = Ids(salesExpired, supportExpired, plainExpired);
        await AgedRecordings.WaitUntil(async () => (await AgedRecordings.DeletionsAsync(_host)).Count >= 3, "the pass at start");
        string[] kept = Ids(salesKept, salesYounger, legalForever, supportKept, plainKept, heldOnDisk);
        await Task.Delay(2500); // two more passes: nothing else goes
        Assert.Equal(kept, await Listed());
        Dictionary<string, string> deletions = await AgedRecordings.DeletionsAsync(_host);
        Assert.Equal(expiredAtStart, deletions.Keys.Order().ToArray());
        Assert.Equal("keep-days 30 of recording group sales", deletions[salesExpired.Id]);
        Assert.Equal("keep-days 90 of recording group support", deletions[supportExpired.Id]);
        Assert.Equal("keep-days 90 (default)", deletions[plainExpired.Id]);
        foreach (CallSidecar gone in (CallSidecar[])[salesExpired, supportExpired, plainExpired])
        {
            Assert.False(AgedRecordings.OnDisk(Recordings, gone), gone.File);
            Assert.False(File.Exists(Path.ChangeExtension(Path.Combine(Recordings, gone.File!), ".json")));
            Assert.False(Directory.Exists(AgedRecordings.Folder(Recordings, gone)), "an emptied day folder is removed"); // each was alone in its day
            await ApiHost.AssertProblemAsync(await _host.Client.GetAsync($"/api/recordings/{gone.Id}"), 404);
        }

        Assert.All(Ids(salesKept, salesYounger, legalForever, supportKept, plainKept, heldOnDisk), id => Assert.True(File.Exists(Directory.GetFiles(Recordings, id + ".opus", SearchOption.AllDirectories).Single())));

        // The hold found on disk is shown, and is a search filter.
        Assert.Equal([heldOnDisk.Id], await Listed("&legalHold=true"));
        using (JsonDocument meta = await _host.GetJsonAsync($"/api/recordings/{heldOnDisk.Id}"))
        {
            Assert.True(meta.RootElement.GetProperty("legalHold").GetBoolean());
            Assert.Equal(heldOnDisk.CallId, meta.RootElement.GetProperty("callId").GetString());
        }

        // A call in progress whose recording is already indexed (its id among the runtime's active calls), and audio
        // being written with no sidecar yet: both in a day folder 300 days old, neither deleted while open.
        ApplianceRuntime runtime = _host.Services.GetRequiredService<ApplianceRuntime>();
        CallSidecar open = Aged("none", 300);
        CallSidecar writing = AgedRecordings.Clone(source["none"], Recordings, 300, withSidecar: false);
        size[open.Id] = AgedRecordings.Size(Recordings, open);
        ((ICallObserver)runtime).CallStarted(open.Id, AgedRecordings.Metadata(open), 0);
        ((ICallResultSink)runtime).OnCallFinished(open);
        await AgedRecordings.WaitUntil(async () => (await Listed()).Contains(open.Id), "the open call's recording indexed");
        await Task.Delay(2500);
        Assert.Contains(open.Id, await Listed());
        Assert.True(AgedRecordings.OnDisk(Recordings, open) && AgedRecordings.OnDisk(Recordings, writing));
        ((ICallObserver)runtime).CallEnded(open.Id, "bye", 0);
        await AgedRecordings.WaitUntil(async () => !(await Listed()).Contains(open.Id), "the ended call's expired recording deleted");
        Assert.Equal("keep-days 90 (default)", (await AgedRecordings.DeletionsAsync(_host))[open.Id]);
        Assert.False(AgedRecordings.OnDisk(Recordings, open));
        Assert.True(AgedRecordings.OnDisk(Recordings, writing), "audio without a sidecar is never retention's");

        // What follows, on the event stream too: holds, releases and deletions, by name (types=), in the order they happen.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        using HttpResponseMessage stream = await _host.Client.SendAsync(
            new HttpRequestMessage(HttpMethod.Get, "/api/events?types=recording.held,recording.released,recording.deleted"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var events = new StreamReader(await stream.Content.ReadAsStreamAsync(cts.Token));
        Assert.Equal("stream.open", (await Sse.ReadAsync(events, cts.Token)).Name);

        // A hold through the API, then the sales group cut to 10 days through the API: the younger one goes, the held one stays.
        using (HttpResponseMessage held = await _host.Client.PutAsync($"/api/recordings/{salesKept.Id}/hold", null))
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
            using JsonDocument body = JsonDocument.Parse(await held.Content.ReadAsStringAsync());
            Assert.True(body.RootElement.GetProperty("legalHold").GetBoolean());
        }

        string marker = Path.Combine(AgedRecordings.Folder(Recordings, salesKept), salesKept.Id + ".hold");
        string first = await File.ReadAllTextAsync(marker);
        Assert.Contains("\"heldBy\":\"admin\"", first, StringComparison.Ordinal);
        (await _host.Client.PutAsync($"/api/recordings/{salesKept.Id}/hold", null)).EnsureSuccessStatusCode(); // idempotent
        Assert.Equal(first, await File.ReadAllTextAsync(marker)); // the first hold's who and when stay
        Assert.Equal(Ids(salesKept, heldOnDisk), await Listed("&legalHold=true"));
        Assert.DoesNotContain(salesKept.Id, await Listed("&legalHold=false"));
        await ApiHost.AssertProblemAsync(await _host.Client.PutAsync($"/api/recordings/{Guid.NewGuid()}/hold", null), 404);
        using (HttpResponseMessage edited = await _host.PutJsonAsync("/api/recording-groups/sales", """{ "id": "sales", "keepDays": 10 }"""))
        {
            Assert.True(edited.IsSuccessStatusCode, await edited.Content.ReadAsStringAsync());
        }

        await AgedRecordings.WaitUntil(async () => !(await Listed()).Contains(salesYounger.Id), "the sales recording of 15 days deleted at 10 keep-days");
        Assert.Equal("keep-days 10 of recording group sales", (await AgedRecordings.DeletionsAsync(_host))[salesYounger.Id]);
        await Task.Delay(2500);
        Assert.Contains(salesKept.Id, await Listed());
        Exposition.Document metrics = await AgedRecordings.MetricsAsync(_host);
        Assert.Equal(5, metrics.Sum("appliance_retention_deleted_total", ("reason", "keep-days")));
        Assert.Equal(0, metrics.Sum("appliance_retention_deleted_total", ("reason", "low-water")));
        Assert.Equal(2, metrics.Sum("appliance_retention_held"));
        Assert.Equal(new[] { salesExpired, supportExpired, plainExpired, open, salesYounger }.Sum(s => size[s.Id]), metrics.Sum("appliance_retention_freed_bytes_total"));

        // Released: the next pass deletes it.
        (await _host.Client.DeleteAsync($"/api/recordings/{salesKept.Id}/hold")).EnsureSuccessStatusCode();
        await AgedRecordings.WaitUntil(async () => !(await Listed()).Contains(salesKept.Id), "the released recording deleted");
        Assert.False(File.Exists(Path.Combine(AgedRecordings.Folder(Recordings, salesKept), salesKept.Id + ".hold")));
        List<JsonElement> holds = await AgedRecordings.AuditAsync(_host, e => e.GetProperty("action").GetString() is "hold" or "release");
        Assert.Equal([$"admin hold recording:{salesKept.Id} 200", $"admin hold recording:{salesKept.Id} 200", $"admin release recording:{salesKept.Id} 200"],
            holds.Where(e => e.GetProperty("status").GetInt32() == 200).Select(e => $"{e.GetProperty("token").GetString()} {e.GetProperty("action").GetString()} {e.GetProperty("target").GetString()} 200"));

        // The stream: the hold once (held again is no change), the younger one deleted with its reason, the release, the
        // released one deleted; each with who and when.
        var streamed = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            (string name, string data, _) = await Sse.ReadAsync(events, cts.Token);
            using JsonDocument e = JsonDocument.Parse(data);
            DateTimeOffset at = e.RootElement.GetProperty("at").GetDateTimeOffset();
            Assert.InRange(at, DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow);
            Assert.Equal(name, e.RootElement.GetProperty("kind").GetString());
            streamed.Add($"{name} {e.RootElement.GetProperty("recordingId").GetString()} {e.RootElement.GetProperty("by").GetString()} {e.RootElement.GetProperty("reason").GetString()}".TrimEnd());
        }

        Assert.Equal([
            $"recording.held {salesKept.Id} admin",
            $"recording.deleted {salesYounger.Id} {RetentionService.Actor} keep-days 10 of recording group sales",
            $"recording.released {salesKept.Id} admin",
            $"recording.deleted {salesKept.Id} {RetentionService.Actor} keep-days 10 of recording group sales",
        ], streamed);

        // The index deleted and rebuilt from the sidecars: what was deleted stays gone, the hold on disk is still a hold.
        // (The audio that never got its sidecar goes first: at a start it would be recovered as an interrupted call.)
        File.Delete(Path.Combine(Recordings, writing.File!));
        string[] remaining = await Listed();
        Assert.Equal(Ids(legalForever, supportKept, plainKept, heldOnDisk), remaining);
        await _host.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string file in Directory.GetFiles(_host.State, RecordingIndex.FileName + "*"))
        {
            File.Delete(file);
        }

        _host = await Start();
        await RecordingArchive.WaitIndexed(_host);
        Assert.Equal(remaining, await Listed());
        Assert.Equal([heldOnDisk.Id], await Listed("&legalHold=true"));
        using (JsonDocument meta = await _host.GetJsonAsync($"/api/recordings/{legalForever.Id}"))
        {
            Assert.False(meta.RootElement.GetProperty("legalHold").GetBoolean());
        }
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        else if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}

/// <summary>
/// The low-water mark on a small disk: a 16 MiB tmpfs as the recordings folder, filled while the appliance runs. Needs
/// root (mount); otherwise it says why and returns (CI runs as root).
/// </summary>
public sealed class RetentionLowWaterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long MarkMb = 4;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "appliance-lowwater-" + Guid.NewGuid().ToString("N"));
    private string? _mounted;
    private ApiHost? _host;

    public Task InitializeAsync() => Task.CompletedTask;

    private string Recordings => Path.Combine(_folder, "recordings");

    [Fact]
    public async Task LowWater_DeletesTheOldestFirst_UntilAboveTheMark_NeverHeldOrInProgress()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("skipped: mounting a small tmpfs for the recordings needs root; CI runs as root.");
            return;
        }

        Directory.CreateDirectory(Recordings);
        Dictionary<string, string> source = AgedRecordings.MakeSources(_folder);
        Mount("-t", "tmpfs", "-o", "size=16m,mode=0755", "appl-lowwater", Recordings);
        _mounted = Recordings;

        // 60 recordings, one a day back from 60 days ago; default keep-days forever, so only the mark deletes.
        var byAge = new List<CallSidecar>(); // oldest first
        for (int days = 60; days >= 1; days--)
        {
            byAge.Add(AgedRecordings.Clone(source[days % 2 == 0 ? "none" : "sales"], Recordings, days));
        }

        CallSidecar held = byAge[0], open = byAge[1];
        Dictionary<string, long> pages = byAge.ToDictionary(s => s.Id, s => AgedRecordings.Pages(Recordings, s));
        await File.WriteAllTextAsync(Path.Combine(AgedRecordings.Folder(Recordings, held), held.Id + ".hold"), """{"heldBy":"admin","heldAt":"2026-01-02T03:04:05Z"}""");

        _host = await ApiHost.StartAsync(config: """{ "recordingGroups": [ { "id": "sales", "keepDays": 0 } ] }""", folder: _folder,
            replay: ApiHost.EmptyCapture(Path.Combine(_folder, "empty.pcap")),
            settings: ["--Retention:MinFreePercent=0", $"--Retention:MinFreeMb={MarkMb}", "--Retention:HysteresisPercent=2", "--Retention:IntervalSeconds=1"]);
        await RecordingArchive.WaitIndexed(_host, byAge.Count);
        ApplianceRuntime runtime = _host.Services.GetRequiredService<ApplianceRuntime>();
        ((ICallObserver)runtime).CallStarted(open.Id, AgedRecordings.Metadata(open), 0);
        await Task.Delay(2500);
        Assert.Empty(await AgedRecordings.DeletionsAsync(_host)); // above the mark: nothing goes

        // The disk fills (something else writes there) to 600 KiB below the mark.
        var disk = new DriveInfo(Recordings);
        long mark = MarkMb << 20, target = mark + (long)(disk.TotalSize * 0.02);
        long ballast = disk.AvailableFreeSpace - mark + (600 << 10);
        await File.WriteAllBytesAsync(Path.Combine(Recordings, "ballast"), new byte[ballast]);
        output.WriteLine($"tmpfs {disk.TotalSize >> 10} KiB, ballast {ballast >> 10} KiB, free {disk.AvailableFreeSpace >> 10} KiB, mark {mark >> 10} KiB, target {target >> 10} KiB");
        Assert.True(new DriveInfo(Recordings).AvailableFreeSpace < mark);

        await AgedRecordings.WaitUntil(() => Task.FromResult(new DriveInfo(Recordings).AvailableFreeSpace >= target), "free space back above the mark");
        await Task.Delay(2500); // more passes: above the mark, nothing else goes
        long free = new DriveInfo(Recordings).AvailableFreeSpace;
        Dictionary<string, string> deletions = await AgedRecordings.DeletionsAsync(_host);
        output.WriteLine($"{deletions.Count} deleted, free now {free >> 10} KiB");

        // The oldest first: exactly the oldest that may go, skipping the held and the open one.
        CallSidecar[] deletable = [.. byAge.Where(s => s != held && s != open)];
        Assert.InRange(deletions.Count, 2, deletable.Length - 1);
        Assert.Equal(Ids(deletable.Take(deletions.Count)), deletions.Keys.Order().ToArray());
        Assert.All(deletions.Values, reason => Assert.StartsWith("low-water mark: ", reason, StringComparison.Ordinal));
        Assert.True(AgedRecordings.OnDisk(Recordings, held) && AgedRecordings.OnDisk(Recordings, open), "the held and the open recording stay");
        Assert.All(deletable.Take(deletions.Count), s => Assert.False(AgedRecordings.OnDisk(Recordings, s)));
        Assert.All(deletable.Skip(deletions.Count), s => Assert.True(AgedRecordings.OnDisk(Recordings, s)));

        // No more than needed: before the last deletion the disk was still below the target (tmpfs counts whole pages).
        Assert.True(free >= target, $"free {free} below the target {target}");
        CallSidecar last = deletable[deletions.Count - 1];
        Assert.True(free - pages[last.Id] < target + 4096, $"free {free} minus the last recording's {pages[last.Id]} bytes is above the target {target}: one too many deleted");

        Exposition.Document metrics = await AgedRecordings.MetricsAsync(_host);
        Assert.Equal(deletions.Count, metrics.Sum("appliance_retention_deleted_total", ("reason", "low-water")));
        Assert.Equal(0, metrics.Sum("appliance_retention_deleted_total", ("reason", "keep-days")));
        Assert.Equal(1, metrics.Sum("appliance_retention_held"));
        Assert.Equal(byAge.Count - deletions.Count, (await RecordingArchive.Page(_host, "?limit=1000")).Ids.Length);
    }

    private static string[] Ids(IEnumerable<CallSidecar> s) => [.. s.Select(r => r.Id).Order()];

    private static void Mount(params string[] args)
    {
        (int code, string text) = Repo.Run("mount", args, TimeSpan.FromSeconds(30));
        Assert.True(code == 0, $"mount {string.Join(' ', args)}: {text}");
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_host is not null)
            {
                await _host.StopAsync();
            }
        }
        finally
        {
            if (_mounted is not null)
            {
                Repo.Run("umount", [_mounted], TimeSpan.FromSeconds(30));
            }

            if (Directory.Exists(_folder))
            {
                Directory.Delete(_folder, recursive: true);
            }
        }
    }
}
