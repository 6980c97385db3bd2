using BenchmarkDotNet.Attributes;
using Appliance.Recordings;

namespace Bench.Recordings;

/// <summary>
/// What a retention pass reads from the 1,000,000-row index (<see cref="RecordingIndexFixture"/>; a copy, brought to
/// the schema with legal_hold in place): one batch of 200 candidates oldest first after a cursor half a year back, not
/// held, started more than 30 days ago, as <see cref="RetentionService"/> walks them. A pass over recordings kept longer
/// than the shortest keep-days reads one such batch per 200 of them.
/// </summary>
[MemoryDiagnoser]
public class RetentionBenchmarks
{
    private const int Batch = 200;
    private RecordingIndex _index = null!;
    private RecordingCursor _halfAYearBack;
    private string _folder = "";

    [GlobalSetup]
    public void Setup()
    {
        // A copy, upgraded to this build's schema: the shared fixture itself is not opened (RecordingIndexFixture.CopyTo).
        _folder = Path.Combine(Path.GetTempPath(), "appliance-bench-retention-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        string copy = Path.Combine(_folder, RecordingIndex.FileName);
        RecordingIndexFixture.CopyTo(copy);
        _index = RecordingIndex.Open(copy, out _, out _);
        _halfAYearBack = _index.Search(new RecordingQuery { From = RecordingIndexFixture.End.AddDays(-182), Ascending = true, Limit = 1 }).Next!.Value;
        Console.WriteLine($"// {OldestBatchOf200()} row(s) a batch");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark]
    public int OldestBatchOf200() => _index.Oldest(RecordingIndexFixture.End.AddDays(-30), _halfAYearBack, Batch).Count;
}
