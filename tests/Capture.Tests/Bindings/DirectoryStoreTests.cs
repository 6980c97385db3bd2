using System.Diagnostics;
using System.Text;
using Capture.Bindings;
using Xunit.Abstractions;

namespace Capture.Tests.Bindings;

public sealed class DirectoryStoreTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("directory-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private DirectoryStore Open(long memoryBytes = 64L << 20) =>
        DirectoryStore.Open(new DirectoryStoreOptions { Path = _directory, MemoryBytes = memoryBytes });

    private static byte[] Json(string key, int version, int padding = 0) =>
        Encoding.UTF8.GetBytes($"{{\"key\":\"{key}\",\"version\":{version},\"pad\":\"{new string('x', padding)}\"}}");

    private static string Text(byte[] value) => Encoding.UTF8.GetString(value);

    private static Dictionary<string, string> AsText(List<KeyValuePair<string, byte[]>> records) =>
        records.ToDictionary(r => r.Key, r => Text(r.Value));

    private string[] LogSegments() =>
        [.. Directory.GetFiles(_directory, "hlog.log.*").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    private string[] CheckpointMetadataFiles() =>
        Directory.GetFiles(Path.Combine(_directory, "checkpoints", "cpr-checkpoints"), "info.dat*", SearchOption.AllDirectories);

    [Fact]
    public void PutGetOverwriteDelete()
    {
        using DirectoryStore store = Open();
        Assert.False(store.Recovered);
        Assert.Null(store.LastCheckpointAt);
        Assert.False(store.TryGet("d/SEP001122334455", out _));

        store.Put("d/SEP001122334455", Json("d/SEP001122334455", 1));
        Assert.True(store.TryGet("d/SEP001122334455", out byte[]? value));
        Assert.Equal(Text(Json("d/SEP001122334455", 1)), Text(value));
        Assert.Equal(1, store.LiveRecords);

        store.Put("d/SEP001122334455", Json("d/SEP001122334455", 2, padding: 300)); // longer: no room in place
        store.Put("d/SEP001122334455", Json("d/SEP001122334455", 3)); // shorter
        Assert.True(store.TryGet("d/SEP001122334455", out value));
        Assert.Equal(Text(Json("d/SEP001122334455", 3)), Text(value));
        Assert.Equal(1, store.LiveRecords);

        Assert.True(store.Delete("d/SEP001122334455"));
        Assert.False(store.TryGet("d/SEP001122334455", out _));
        Assert.False(store.Delete("d/SEP001122334455"));
        Assert.False(store.Delete("d/never-written"));
        Assert.Equal(0, store.LiveRecords);

        store.Put("d/SEP001122334455", Json("d/SEP001122334455", 4)); // back after a tombstone
        Assert.True(store.TryGet("d/SEP001122334455", out value));
        Assert.Equal(Text(Json("d/SEP001122334455", 4)), Text(value));
        Assert.Equal(1, store.LiveRecords);
    }

    [Fact]
    public void Put_StoresEmptyValuesAndNonAsciiKeys()
    {
        using DirectoryStore store = Open();
        store.Put("u/zoë", []);
        store.Put("u/日本", "{}"u8);
        Assert.True(store.TryGet("u/zoë", out byte[]? value));
        Assert.Empty(value);
        Assert.Equal(["u/zoë", "u/日本"], store.ReadAll("u/").Select(r => r.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Put_RejectsEmptyOrOversizedKeysAndValues()
    {
        using DirectoryStore store = Open();
        Assert.Throws<ArgumentException>(() => store.Put("", "{}"u8));
        Assert.Throws<ArgumentException>(() => store.Put(new string('k', DirectoryStore.MaxKeyBytes + 1), "{}"u8));
        Assert.Throws<ArgumentException>(() => store.Put("d/big", new byte[DirectoryStore.MaxValueBytes + 1]));
        store.Put(new string('k', DirectoryStore.MaxKeyBytes), new byte[DirectoryStore.MaxValueBytes]);
        Assert.Equal(1, store.LiveRecords);
    }

    [Fact]
    public void ReadAll_ReturnsLatestLiveRecordsUnderPrefix_AfterOverwritesAndDeletes()
    {
        using DirectoryStore store = Open();
        for (int i = 0; i < 20; i++)
        {
            store.Put($"d/SEP{i:D12}", Json($"d/{i}", 1));
            store.Put($"h/{i:D12}", Json($"h/{i}", 1));
        }

        store.Checkpoint(); // older versions now read-only: the overwrites below append rather than update in place
        for (int i = 0; i < 20; i += 2)
        {
            store.Put($"d/SEP{i:D12}", Json($"d/{i}", 2));
        }

        for (int i = 0; i < 20; i += 5)
        {
            Assert.True(store.Delete($"d/SEP{i:D12}"));
        }

        store.Put("d/SEP000000000005", Json("d/5", 3)); // deleted above, then written again
        store.Put("dx/not-a-device", Json("dx", 1));

        Dictionary<string, string> devices = AsText(store.ReadAll("d/"));
        Assert.Equal(17, devices.Count); // 20, 4 deleted, 1 of them written again
        for (int i = 0; i < 20; i++)
        {
            string key = $"d/SEP{i:D12}";
            if (i == 5)
            {
                Assert.Equal(Text(Json("d/5", 3)), devices[key]);
            }
            else if (i % 5 == 0)
            {
                Assert.False(devices.ContainsKey(key));
            }
            else
            {
                Assert.Equal(Text(Json($"d/{i}", i % 2 == 0 ? 2 : 1)), devices[key]);
            }
        }

        Assert.Equal(20, store.ReadAll("h/").Count);
        Assert.Equal(38, store.ReadAll().Count);
        Assert.Equal(38, store.LiveRecords);
        Assert.Empty(store.ReadAll("p/"));
    }

    [Fact]
    public void Reopen_AfterCheckpoint_RecoversEverything()
    {
        Dictionary<string, string> expected;
        DateTimeOffset checkpointAt;
        using (DirectoryStore store = Open())
        {
            for (int i = 0; i < 100; i++)
            {
                store.Put($"d/SEP{i:D12}", Json($"d/{i}", 1, padding: i * 10));
            }

            for (int i = 0; i < 100; i += 3)
            {
                store.Put($"d/SEP{i:D12}", Json($"d/{i}", 2));
            }

            Assert.True(store.Delete("d/SEP000000000001"));
            store.Checkpoint();
            checkpointAt = store.LastCheckpointAt!.Value;
            expected = AsText(store.ReadAll());
        }

        using (DirectoryStore store = Open())
        {
            Assert.True(store.Recovered);
            Assert.Equal(99, store.LiveRecords);
            Assert.Equal(expected, AsText(store.ReadAll()));
            Assert.True(store.TryGet("d/SEP000000000003", out byte[]? value));
            Assert.Equal(Text(Json("d/3", 2)), Text(value));
            Assert.False(store.TryGet("d/SEP000000000001", out _));

            // The metadata file's write time, to file-system precision.
            Assert.InRange(store.LastCheckpointAt!.Value, checkpointAt.AddSeconds(-2), checkpointAt.AddSeconds(2));

            // A recovered store keeps going: write, checkpoint, recover again.
            store.Put("d/SEP000000000001", Json("d/1", 3));
            store.Checkpoint();
        }

        using (DirectoryStore store = Open())
        {
            Assert.True(store.Recovered);
            Assert.Equal(100, store.LiveRecords);
            Assert.True(store.TryGet("d/SEP000000000001", out byte[]? value));
            Assert.Equal(Text(Json("d/1", 3)), Text(value));
        }
    }

    [Fact]
    public void Reopen_WithoutCheckpoint_GivesStateAsOfLastCheckpoint()
    {
        using (DirectoryStore store = Open())
        {
            store.Put("d/kept", Json("kept", 1));
            store.Put("d/overwritten", Json("overwritten", 1));
            store.Put("d/deleted", Json("deleted", 1));
            store.Checkpoint();

            store.Put("d/overwritten", Json("overwritten", 2));
            Assert.True(store.Delete("d/deleted"));
            store.Put("d/new", Json("new", 1));

            // The "crash": no checkpoint. FASTER's Dispose flushes nothing.
        }

        using (DirectoryStore store = Open())
        {
            Assert.True(store.Recovered);
            Assert.Equal(
                new Dictionary<string, string>
                {
                    ["d/kept"] = Text(Json("kept", 1)),
                    ["d/overwritten"] = Text(Json("overwritten", 1)),
                    ["d/deleted"] = Text(Json("deleted", 1)),
                },
                AsText(store.ReadAll()));
            Assert.Equal(3, store.LiveRecords);
        }
    }

    [Fact]
    public void Reopen_WithoutCheckpoint_IgnoresLogFlushedPastTheCheckpoint()
    {
        using (DirectoryStore store = Open(memoryBytes: 1L << 20))
        {
            store.Put("d/a", Json("a", 1));
            store.Checkpoint();

            // 4 MiB into a 1 MiB in-memory log: FASTER evicts (writes out) pages of the uncheckpointed version.
            for (int i = 0; i < 2000; i++)
            {
                store.Put($"d/{i}", Json($"d/{i}", i, padding: 2000));
            }

            store.Put("d/a", Json("a", 2));
            Assert.True(new FileInfo(Path.Combine(_directory, "hlog.log.0")).Length > 1L << 20);
        }

        using (DirectoryStore store = Open(memoryBytes: 1L << 20))
        {
            Assert.True(store.Recovered);
            Assert.Equal(new Dictionary<string, string> { ["d/a"] = Text(Json("a", 1)) }, AsText(store.ReadAll()));

            // Writing on from the recovered tail overwrites that stale log; it stays consistent.
            store.Put("d/b", Json("b", 1));
            store.Checkpoint();
        }

        using (DirectoryStore store = Open(memoryBytes: 1L << 20))
        {
            Assert.Equal(2, store.ReadAll().Count);
        }
    }

    [Fact]
    public void Reopen_NeverCheckpointed_IsEmptyAndNotRecovered()
    {
        using (DirectoryStore store = Open())
        {
            store.Put("d/a", Json("a", 1));
        }

        using (DirectoryStore store = Open())
        {
            Assert.False(store.Recovered);
            Assert.Empty(store.ReadAll());
            Assert.Equal(0, store.LiveRecords);
        }
    }

    [Fact]
    public void Reopen_CheckpointedEmptyStore_IsRecovered()
    {
        using (DirectoryStore store = Open())
        {
            store.Checkpoint();
        }

        using (DirectoryStore store = Open())
        {
            Assert.True(store.Recovered);
            Assert.Empty(store.ReadAll());
        }
    }

    [Fact]
    public void Reopen_IgnoresCheckpointInterruptedBeforeItsMetadata()
    {
        using (DirectoryStore store = Open())
        {
            store.Put("d/a", Json("a", 1));
            store.Checkpoint();
        }

        // What a kill -9 between creating the next checkpoint's directory (and file) and writing it leaves.
        string interrupted = Path.Combine(_directory, "checkpoints", "cpr-checkpoints", Guid.NewGuid().ToString());
        Directory.CreateDirectory(interrupted);
        File.WriteAllBytes(Path.Combine(interrupted, "info.dat.0"), []);

        using (DirectoryStore store = Open())
        {
            Assert.True(store.Recovered);
            Assert.Single(store.ReadAll());
        }

        Assert.False(Directory.Exists(interrupted)); // FASTER purges the checkpoints it did not recover
    }

    [Fact]
    public void Checkpoint_WritesNothing_WhenNothingChanged()
    {
        using DirectoryStore store = Open();
        store.Put("d/a", Json("a", 1));
        store.Checkpoint();
        string[] first = CheckpointMetadataFiles();
        DateTimeOffset firstAt = store.LastCheckpointAt!.Value;

        store.Checkpoint();
        Assert.Equal(first, CheckpointMetadataFiles());
        Assert.True(store.LastCheckpointAt >= firstAt);

        store.Put("d/a", Json("a", 2));
        store.Checkpoint();
        string[] second = CheckpointMetadataFiles();
        Assert.Single(second); // RemoveOutdated: only the newest log checkpoint is kept
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Compact_AfterManyOverwrites_ShrinksLogAndFreesSegments()
    {
        const int Keys = 200;
        using (DirectoryStore store = Open())
        {
            // 30 rounds of 200 x ~1 KB, each made read-only by a checkpoint so the next round appends: ~6 MiB of log
            // for ~200 KiB of live data, over two 4 MiB segment files.
            for (int round = 0; round < 30; round++)
            {
                for (int i = 0; i < Keys; i++)
                {
                    store.Put($"d/SEP{i:D12}", Json($"d/{i}", round, padding: 1000));
                }

                store.Checkpoint();
            }

            for (int i = 0; i < Keys; i += 2)
            {
                Assert.True(store.Delete($"d/SEP{i:D12}"));
            }

            long before = store.LogBytes;
            Assert.True(before > 6_000_000, $"log {before} bytes");
            Assert.Equal(["hlog.log.0", "hlog.log.1"], LogSegments());

            Stopwatch watch = Stopwatch.StartNew();
            Assert.True(store.Compact());
            output.WriteLine($"Compact of {before} log bytes to {store.LogBytes} ({Keys / 2} live records) took {watch.Elapsed.TotalMilliseconds:F1} ms");

            Assert.InRange(store.LogBytes, 1, 150_000); // 100 live records of ~1.1 KB, page padding aside
            Assert.Equal(Keys / 2, store.LiveRecords);
            Assert.False(store.Compact()); // nothing left to gain

            // FASTER deletes segment 0 (wholly below the new begin address) after the checkpoint, on the thread pool.
            Assert.True(SpinWait.SpinUntil(() => !LogSegments().Contains("hlog.log.0"), TimeSpan.FromSeconds(5)), string.Join(",", LogSegments()));
        }

        using (DirectoryStore store = Open())
        {
            // Compact checkpointed: the deletes above are durable too.
            Assert.True(store.Recovered);
            Dictionary<string, string> records = AsText(store.ReadAll());
            Assert.Equal(Keys / 2, records.Count);
            for (int i = 1; i < Keys; i += 2)
            {
                Assert.Equal(Text(Json($"d/{i}", 29, padding: 1000)), records[$"d/SEP{i:D12}"]);
            }

            // And it keeps working after a truncation: more writes, checkpoint, reopen.
            store.Put("d/SEP000000000000", Json("d/0", 30));
            store.Checkpoint();
        }

        using (DirectoryStore store = Open())
        {
            Assert.Equal(Keys / 2 + 1, store.ReadAll().Count);
        }
    }

    [Fact]
    public void Compact_ReturnsFalse_WhenNotWorthwhile()
    {
        using DirectoryStore store = Open();
        Assert.False(store.Compact()); // empty

        for (int i = 0; i < 500; i++)
        {
            store.Put($"d/SEP{i:D12}", Json($"d/{i}", 1, padding: 200));
        }

        store.Checkpoint();
        for (int i = 0; i < 100; i++)
        {
            store.Put($"d/SEP{i:D12}", Json($"d/{i}", 2, padding: 200)); // 20% garbage: log is 1.2x live
        }

        long before = store.LogBytes;
        Assert.False(store.Compact());
        Assert.Equal(before, store.LogBytes);
    }

    [Fact]
    public void Compact_WhenEverythingIsDeleted_EmptiesTheLog()
    {
        using (DirectoryStore store = Open())
        {
            for (int i = 0; i < 100; i++)
            {
                store.Put($"d/{i}", Json($"d/{i}", 1));
            }

            store.Checkpoint();
            for (int i = 0; i < 100; i++)
            {
                Assert.True(store.Delete($"d/{i}"));
            }

            Assert.True(store.Compact());
            Assert.Equal(0, store.LogBytes);
        }

        using (DirectoryStore store = Open())
        {
            Assert.True(store.Recovered);
            Assert.Empty(store.ReadAll());
        }
    }

    [Theory]
    [InlineData("random")]
    [InlineData("huge-length-prefix")]
    [InlineData("garbage-text")]
    [InlineData("truncated")]
    public void Open_Throws_WhenCheckpointMetadataIsCorrupt(string corruption)
    {
        using (DirectoryStore store = Open())
        {
            store.Put("d/a", Json("a", 1));
            store.Checkpoint();
        }

        string metadata = Assert.Single(CheckpointMetadataFiles());
        byte[] original = File.ReadAllBytes(metadata);
        byte[] corrupt = corruption switch
        {
            "random" => RandomBytes(original.Length),
            "huge-length-prefix" => [0x00, 0x00, 0x00, 0x40, .. original.AsSpan(4)], // 1 GiB
            "garbage-text" => [.. original.AsSpan(0, 4), .. "5\nnot a checksum\n"u8, .. RandomBytes(original.Length - 21)],
            _ => original.AsSpan(0, 40).ToArray(),
        };
        File.WriteAllBytes(metadata, corrupt);

        var error = Assert.Throws<DirectoryStoreException>(() => Open());
        output.WriteLine(error.Message);
        Assert.Contains(_directory, error.Message, StringComparison.Ordinal);

        // Nothing was wiped.
        Assert.Equal(corrupt, File.ReadAllBytes(metadata));
        Assert.Contains("hlog.log.0", LogSegments());
    }

    [Fact]
    public void Open_Throws_WhenLogSegmentIsMissingOrShort()
    {
        using (DirectoryStore store = Open())
        {
            store.Put("d/a", Json("a", 1, padding: 3000));
            store.Checkpoint();
        }

        string segment = Path.Combine(_directory, "hlog.log.0");
        byte[] log = File.ReadAllBytes(segment);
        File.Delete(segment);
        var missing = Assert.Throws<DirectoryStoreException>(() => Open());
        output.WriteLine(missing.Message);
        Assert.Contains($"'{segment}' is missing", missing.Message, StringComparison.Ordinal);
        Assert.Empty(LogSegments()); // recovery's empty stand-in removed again

        File.WriteAllBytes(segment, log.AsSpan(0, 512).ToArray());
        var cut = Assert.Throws<DirectoryStoreException>(() => Open());
        output.WriteLine(cut.Message);
        Assert.Contains($"'{segment}' has 512 of", cut.Message, StringComparison.Ordinal);

        File.WriteAllBytes(segment, log);
        using (DirectoryStore store = Open())
        {
            Assert.True(store.Recovered);
            Assert.Single(store.ReadAll());
        }
    }

    [Fact]
    public void Open_Throws_WhenAMiddleLogSegmentIsMissing()
    {
        using (DirectoryStore store = Open())
        {
            for (int i = 0; i < 9000; i++)
            {
                store.Put($"h/{i:D12}", Json($"{i}", 1, padding: 1000)); // ~9.5 MiB: segments 0, 1 and 2
            }

            store.Checkpoint();
        }

        Assert.Equal(["hlog.log.0", "hlog.log.1", "hlog.log.2"], LogSegments());
        File.Move(Path.Combine(_directory, "hlog.log.1"), Path.Combine(_directory, "moved-away"));
        var error = Assert.Throws<DirectoryStoreException>(() => Open());
        output.WriteLine(error.Message);
        Assert.Contains(_directory, error.Message, StringComparison.Ordinal);
        Assert.Equal(["hlog.log.0", "hlog.log.2"], LogSegments());
    }

    [Fact]
    public void TenThousandKeys_RoundTrip()
    {
        const int Keys = 10_000;
        using (DirectoryStore store = Open())
        {
            for (int i = 0; i < Keys; i++)
            {
                store.Put(i % 2 == 0 ? $"d/SEP{i:X12}" : $"h/{i:D12}", Json($"{i}", 1, padding: i % 1000));
            }

            store.Checkpoint();
        }

        Stopwatch watch = Stopwatch.StartNew();
        using (DirectoryStore store = Open())
        {
            TimeSpan open = watch.Elapsed;
            List<KeyValuePair<string, byte[]>> all = store.ReadAll();
            output.WriteLine($"Open of {Keys} keys ({store.LogBytes} log bytes): {open.TotalMilliseconds:F1} ms; ReadAll: {(watch.Elapsed - open).TotalMilliseconds:F1} ms");

            Assert.Equal(Keys, store.LiveRecords);
            Dictionary<string, string> records = AsText(all);
            Assert.Equal(Keys, records.Count);
            for (int i = 0; i < Keys; i++)
            {
                Assert.Equal(Text(Json($"{i}", 1, padding: i % 1000)), records[i % 2 == 0 ? $"d/SEP{i:X12}" : $"h/{i:D12}"]);
            }

            Assert.Equal(Keys / 2, store.ReadAll("h/").Count);
            Assert.True(store.TryGet($"h/{Keys - 1:D12}", out _));
        }
    }

    [Fact]
    public void TryGet_ReadsRecordsEvictedToDisk()
    {
        using DirectoryStore store = Open(memoryBytes: 1L << 20);
        for (int i = 0; i < 3000; i++)
        {
            store.Put($"h/{i:D12}", Json($"{i}", 1, padding: 1000)); // ~3 MiB through a 1 MiB in-memory log
        }

        Assert.True(store.TryGet("h/000000000000", out byte[]? value));
        Assert.Equal(Text(Json("0", 1, padding: 1000)), Text(value));
        Assert.True(store.Delete("h/000000000001"));
        store.Put("h/000000000002", Json("2", 2));
        Assert.Equal(2999, store.LiveRecords);
        Assert.Equal(2999, store.ReadAll().Count);
    }

    [Fact]
    public void Checkpoint_Latency_With1000DirtyRecords()
    {
        using DirectoryStore store = Open();
        for (int i = 0; i < 5000; i++)
        {
            store.Put($"d/SEP{i:D12}", Json($"d/{i}", 0, padding: 800));
        }

        store.Checkpoint();
        var latencies = new List<double>();
        for (int round = 1; round <= 10; round++)
        {
            for (int i = 0; i < 1000; i++)
            {
                store.Put($"d/SEP{(round * 1000 + i) % 5000:D12}", Json($"d/{i}", round, padding: 800));
            }

            Stopwatch watch = Stopwatch.StartNew();
            store.Checkpoint();
            latencies.Add(watch.Elapsed.TotalMilliseconds);
        }

        var single = new List<double>();
        for (int round = 1; round <= 10; round++)
        {
            store.Put("d/SEP000000000000", Json("d/0", 100 + round, padding: 800));
            Stopwatch watch = Stopwatch.StartNew();
            store.Checkpoint();
            single.Add(watch.Elapsed.TotalMilliseconds);
        }

        latencies.Sort();
        single.Sort();
        output.WriteLine($"Checkpoint of 1000 dirty ~1 KB records (5000 live): median {latencies[latencies.Count / 2]:F1} ms, max {latencies[^1]:F1} ms; " +
            $"of 1 dirty record: median {single[single.Count / 2]:F1} ms, max {single[^1]:F1} ms");
    }

    [Fact]
    public async Task PublicMembers_AreSafeFromManyThreads()
    {
        using DirectoryStore store = Open();
        Task[] writers = [.. Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 500; i++)
            {
                store.Put($"d/{t}/{i % 50}", Json($"{t}", i));
                Assert.True(store.TryGet($"d/{t}/{i % 50}", out _));
                if (i % 100 == 99)
                {
                    store.Checkpoint();
                    _ = store.ReadAll($"d/{t}/");
                    _ = store.Compact();
                }
            }
        }))];
        await Task.WhenAll(writers);

        Assert.Equal(200, store.LiveRecords);
        Assert.Equal(200, store.ReadAll().Count);
    }

    [Fact]
    public void Disposed_Throws()
    {
        DirectoryStore store = Open();
        store.Dispose();
        store.Dispose();
        Assert.Throws<ObjectDisposedException>(() => store.Put("d/a", "{}"u8));
        Assert.Throws<ObjectDisposedException>(() => store.TryGet("d/a", out _));
        Assert.Throws<ObjectDisposedException>(() => store.Checkpoint());
    }

    [Fact]
    public void Open_RejectsBadOptions()
    {
        Assert.Throws<ArgumentException>(() => DirectoryStore.Open(new DirectoryStoreOptions { Path = _directory, MemoryBytes = 4096 }));
        Assert.Throws<ArgumentException>(() => DirectoryStore.Open(new DirectoryStoreOptions { Path = _directory, CompactWhenLogOverLive = 0.5 }));
        Assert.Throws<ArgumentException>(() => DirectoryStore.Open(new DirectoryStoreOptions { Path = _directory, CompactWhenLogOverLive = double.NaN }));
    }

    private static byte[] RandomBytes(int length)
    {
        byte[] bytes = new byte[length];
        new Random(12345).NextBytes(bytes);
        return bytes;
    }
}
