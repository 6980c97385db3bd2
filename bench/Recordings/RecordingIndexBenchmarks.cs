using BenchmarkDotNet.Attributes;
using Appliance.Endpoints;
using Appliance.Recordings;

namespace Bench.Recordings;

/// <summary>
/// The searches of the quality team's recordings page on a year of a contact centre (1,000,000 recordings, see
/// <see cref="RecordingIndexFixture"/>): one page of 100 (a pooled connection opened, the statement built and run, the
/// summaries read back from JSON), as GET /api/recordings does it.
/// </summary>
[MemoryDiagnoser]
public class RecordingIndexSearchBenchmarks
{
    private RecordingIndex _index = null!;
    private RecordingCursor _deep;
    private readonly DateTimeOffset _end = RecordingIndexFixture.End;

    // Found in the fixture at setup: an extension, a user and a Call-ID that exist.
    private string _extension = "", _user = "", _callId = "";
    private Guid _id;

    [GlobalSetup]
    public void Setup()
    {
        _index = RecordingIndex.Open(RecordingIndexFixture.Path, out _, out _);
        RecordingSummary any = _index.Search(new RecordingQuery { Limit = 1 }).Items[0];
        _extension = any.Parties[0].Extension!;
        _callId = any.CallId;
        _id = Guid.Parse(any.Id);
        _user = _index.Search(new RecordingQuery { Limit = 50 }).Items.Select(r => r.Parties[0].User).First(u => u is not null)!;

        // The cursor after 1,000 pages of 100 (100,000 recordings deep), as a client paging that far would hold it.
        RecordingPage page = _index.Search(new RecordingQuery { Limit = 1000 });
        for (int i = 1; i < 100; i++)
        {
            page = _index.Search(new RecordingQuery { Limit = 1000, After = page.Next });
        }

        _deep = page.Next!.Value;
        foreach ((string name, RecordingQuery query) in Queries())
        {
            Console.WriteLine($"// {name}: {_index.Search(query).Items.Count} row(s); plan: {_index.Plan(query)}");
        }
    }

    private IEnumerable<(string, RecordingQuery)> Queries() =>
    [
        (nameof(LastDay), LastDayQuery),
        (nameof(ExtensionOverAMonth), new RecordingQuery { Extension = _extension, From = _end.AddDays(-30) }),
        (nameof(OneUser), new RecordingQuery { User = _user }),
        (nameof(CallId), new RecordingQuery { CallId = _callId }),
        (nameof(LongerThanHalfAnHour), new RecordingQuery { MinDuration = 1800 }),
        (nameof(LastDayLongestFirst), LastDayQuery with { Sort = RecordingSort.Duration }),
        (nameof(InternalLastWeek), new RecordingQuery { Direction = RecordingDirection.Internal, From = _end.AddDays(-7) }),
        (nameof(DeepPageKeyset), new RecordingQuery { After = _deep }),
        (nameof(DeepPageOffset), new RecordingQuery { Offset = 100_000 }),
    ];

    private RecordingQuery LastDayQuery => new() { From = _end.AddDays(-1) };

    /// <summary>Page 1 of everything: the page the web app opens on.</summary>
    [Benchmark(Baseline = true)]
    public int FirstPage() => _index.Search(new RecordingQuery()).Items.Count;

    [Benchmark]
    public int LastDay() => _index.Search(LastDayQuery).Items.Count;

    [Benchmark]
    public int ExtensionOverAMonth() => _index.Search(new RecordingQuery { Extension = _extension, From = _end.AddDays(-30) }).Items.Count;

    [Benchmark]
    public int OneUser() => _index.Search(new RecordingQuery { User = _user }).Items.Count;

    [Benchmark]
    public int CallId() => _index.Search(new RecordingQuery { CallId = _callId }).Items.Count;

    [Benchmark]
    public int LongerThanHalfAnHour() => _index.Search(new RecordingQuery { MinDuration = 1800 }).Items.Count;

    [Benchmark]
    public int LastDayLongestFirst() => _index.Search(LastDayQuery with { Sort = RecordingSort.Duration }).Items.Count;

    [Benchmark]
    public int InternalLastWeek() => _index.Search(new RecordingQuery { Direction = RecordingDirection.Internal, From = _end.AddDays(-7) }).Items.Count;

    /// <summary>Page 1,001 (100,000 recordings deep) by the after cursor the API hands out.</summary>
    [Benchmark]
    public int DeepPageKeyset() => _index.Search(new RecordingQuery { After = _deep }).Items.Count;

    /// <summary>The same page by OFFSET, which the API does not offer: for comparison.</summary>
    [Benchmark]
    public int DeepPageOffset() => _index.Search(new RecordingQuery { Offset = 100_000 }).Items.Count;

    /// <summary>GET /api/recordings/{id} and its audio: the row of one id.</summary>
    [Benchmark]
    public bool ById() => _index.TryGet(_id, out _, out _);
}

/// <summary>
/// Adding recordings to the 1,000,000-row index as the catalog's writer does: batches of 100 in one transaction
/// (summary to JSON, row, and its 5-7 keys). Per recording. Runs on a copy of the fixture, which it grows.
/// </summary>
[MemoryDiagnoser]
public class RecordingIndexInsertBenchmarks
{
    private const int Batch = 100;
    private RecordingIndex.Writer _writer = null!;
    private string _folder = "";
    private readonly Random _random = new(7);

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "appliance-bench-insert-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        string copy = Path.Combine(_folder, RecordingIndex.FileName);
        File.Copy(RecordingIndexFixture.Path, copy);
        _writer = RecordingIndex.Open(copy, out _, out _).CreateWriter();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void InsertBatchOf100()
    {
        _writer.Begin();
        for (int i = 0; i < Batch; i++)
        {
            DateTimeOffset started = RecordingIndexFixture.Start(_random);
            _writer.Upsert(RecordingIndexFixture.Make(_random, started), "2026/11/30");
        }

        _writer.Commit();
    }
}
