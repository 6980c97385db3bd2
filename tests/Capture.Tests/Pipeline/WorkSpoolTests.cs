using System.Buffers.Binary;
using Capture.Calls;
using Capture.Pipeline;
using Capture.Tests.Support;

namespace Capture.Tests.Pipeline;

/// <summary>
/// A worker's spool: records come back in the order they went in, through memory and the spool file; it is bounded and
/// says so (the caller drops and counts), reuses its chunks, and allocates nothing per record once they exist.
/// </summary>
public sealed class WorkSpoolTests : IDisposable
{
    private const int Chunk = 4096;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "work-spool-" + Guid.NewGuid().ToString("N"));

    private string SpoolFile => Path.Combine(_dir, "worker-test.spool");

    [Fact]
    public void TryRead_GivesRecordsBackInOrder_FromMemoryThenDiskThenMemoryAgain()
    {
        using var spool = new WorkSpool(memoryBytes: 2 * Chunk, diskBytes: 8 * Chunk, SpoolFile, Chunk);
        var commands = new List<object>();
        int appended = 0;

        // Fill: two chunks of memory, then the file; every 50th record a command (a reference that stays in memory).
        while (Append(spool, appended, commands))
        {
            appended++;
        }

        Assert.True(appended > 6 * Chunk / 200, $"{appended} records");
        Assert.InRange(spool.MemoryBytes, 2 * (Chunk - 250), 2 * Chunk); // memory full (up to whole records), the rest on disk
        Assert.True(spool.DiskBytes > 4 * Chunk, $"{spool.DiskBytes} bytes on disk");
        Assert.True(File.Exists(SpoolFile));

        // Read part back, append more (memory frees first, so new records go to memory after those on disk), then the rest.
        int read = ReadAll(spool, 0, commands, max: appended / 3);
        int more = appended;
        while (more < appended + 20 && Append(spool, more, commands))
        {
            more++;
        }

        spool.Flush();
        read = ReadAll(spool, read, commands);
        Assert.Equal(more, read);
        Assert.True(spool.Drained);
        Assert.Equal(0, spool.MemoryBytes);
        Assert.Equal(0, spool.DiskBytes);
    }

    [Fact]
    public void TryAppend_RefusesMedia_WhenMemoryAndDiskAreFull_ButNeverACommand()
    {
        using var spool = new WorkSpool(memoryBytes: 2 * Chunk, diskBytes: 2 * Chunk, SpoolFile, Chunk);
        var commands = new List<object>();
        int appended = 0;
        while (Append(spool, appended, commands))
        {
            appended++;
        }

        // Full: media is refused (the pipeline drops and counts it), again and again, and nothing of it is kept.
        byte[] payload = new byte[172];
        for (int i = 0; i < 100; i++)
        {
            Assert.False(spool.TryAppend(WorkKind.Rtp, Channel.Left, i, payload, recordingKey: 1, command: null));
        }

        // A command is still taken (a call's end must not be lost), in order after what was accepted.
        var end = new object();
        Assert.True(spool.TryAppend(WorkKind.Command, default, 0, default, 0, end));

        spool.Flush();
        Assert.Equal(appended, ReadAll(spool, 0, commands, max: appended));
        Assert.True(spool.TryRead(out SpoolRecord last));
        Assert.Same(end, last.Command);
        Assert.False(spool.TryRead(out _));
        Assert.True(spool.Drained);
    }

    [Fact]
    public void Chunks_AreReused_LapAfterLap_WithinTheBounds()
    {
        using var spool = new WorkSpool(memoryBytes: 2 * Chunk, diskBytes: 3 * Chunk, SpoolFile, Chunk);
        var commands = new List<object>();
        int next = 0, read = 0;
        for (int lap = 0; lap < 20; lap++)
        {
            while (Append(spool, next, commands))
            {
                next++;
            }

            Assert.True(spool.MemoryBytes <= 2 * Chunk && spool.DiskBytes <= 3 * Chunk, $"lap {lap}: {spool.MemoryBytes} B in memory, {spool.DiskBytes} B on disk");
            spool.Flush();
            read = ReadAll(spool, read, commands);
            Assert.Equal(next, read);
        }

        Assert.True(new FileInfo(SpoolFile).Length <= 3 * Chunk, "the file is a ring of three chunk slots");
        Assert.True(spool.DiskBytesWritten > 20 * 2 * Chunk, "every lap went to disk");
    }

    [Fact]
    public void SteadyState_AllocatesNothing_PerRecord_ThroughMemoryAndDisk()
    {
        using var spool = new WorkSpool(memoryBytes: 2 * Chunk, diskBytes: 4 * Chunk, SpoolFile, Chunk);
        byte[] payload = new byte[172];
        long records = 0;
        void Lap()
        {
            int n = 0;
            while (spool.TryAppend(WorkKind.Rtp, Channel.Right, n, payload, recordingKey: 7, command: null))
            {
                n++;
            }

            spool.Flush();
            while (spool.TryRead(out SpoolRecord r))
            {
                records += r.Payload.Length > 0 ? 1 : 0;
            }
        }

        long allocated = Allocations.Measure(
            () =>
            {
                Lap();
                Lap();
            },
            () =>
            {
                for (int i = 0; i < 50; i++)
                {
                    Lap();
                }
            });
        Assert.True(records > 50 * 5 * Chunk / 200, $"{records} records");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void TryRead_ASpoolFileThatCannotBeReadBack_LosesItsMediaCounted_ButGivesEveryCommandInOrder()
    {
        using var spool = new WorkSpool(memoryBytes: 2 * Chunk, diskBytes: 4 * Chunk, SpoolFile, Chunk);
        var commands = new List<object>();
        int appended = 0;
        while (Append(spool, appended, commands))
        {
            appended++;
        }

        spool.Flush();

        // The file loses its content under the spool (a failing disk): what was in memory comes back whole, the chunks
        // on disk give only their commands (kept in memory), in order, and the rest is counted as lost.
        using (var truncate = System.Diagnostics.Process.Start("truncate", ["-s", "0", SpoolFile]))
        {
            truncate.WaitForExit();
            Assert.Equal(0, truncate.ExitCode);
        }

        int next = 0;
        var commandsBack = new List<object>();
        long media = 0;
        while (spool.TryRead(out SpoolRecord r))
        {
            if (r.Kind == WorkKind.Command)
            {
                commandsBack.Add(r.Command!);
            }
            else
            {
                Assert.Equal(next, BinaryPrimitives.ReadInt32LittleEndian(r.Payload)); // only media from memory, which is first
                media++;
            }

            next++;
        }

        Assert.Equal(commands, commandsBack);
        Assert.True(spool.DiskReadErrors > 0);
        Assert.Equal(appended, media + commandsBack.Count + spool.RecordsLost);
        Assert.True(spool.Drained);
    }

    [Fact]
    public void TwoThreads_ProducerAndWorker_KeepEveryRecordInOrder()
    {
        using var spool = new WorkSpool(memoryBytes: 2 * Chunk, diskBytes: 4 * Chunk, SpoolFile, Chunk);
        const int Total = 200_000;
        bool done = false;
        long received = 0;
        string? failure = null;
        var reader = new Thread(() =>
        {
            long expected = 0;
            var random = new Random(2);
            while (!Volatile.Read(ref done) || spool.HasRecords)
            {
                if (!spool.TryRead(out SpoolRecord r))
                {
                    Thread.Yield();
                    continue;
                }

                long seq = BinaryPrimitives.ReadInt64LittleEndian(r.Payload);
                if (seq < expected || seq != r.TimestampNs)
                {
                    failure ??= $"record {seq} (timestamp {r.TimestampNs}) after {expected - 1}";
                }

                expected = seq + 1;
                received++;
                if (random.Next(1000) == 0)
                {
                    Thread.Sleep(1); // a slow encode now and then: the producer fills memory and disk
                }
            }
        });
        reader.Start();
        byte[] payload = new byte[160];
        int refused = 0;
        for (int i = 0; i < Total; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(payload, i);
            if (!spool.TryAppend(WorkKind.Rtp, Channel.Left, i, payload, 1, null))
            {
                refused++; // full: this one is dropped, later ones still come in order
            }

            if (i % 4096 == 0)
            {
                spool.Flush();
            }
        }

        spool.Flush();
        Volatile.Write(ref done, true);
        Assert.True(reader.Join(TimeSpan.FromMinutes(2)));
        Assert.Null(failure);
        Assert.Equal(Total, received + refused);
        Assert.True(spool.Drained);
        Assert.True(spool.DiskBytesWritten > 0, "the reader was slow enough to send records to disk");
    }

    /// <summary>Record <paramref name="n"/>: its number in the payload and the timestamp; every 50th a command.</summary>
    private static bool Append(WorkSpool spool, int n, List<object> commands)
    {
        if (n % 50 == 0)
        {
            var command = new object();
            if (commands.Count <= n / 50)
            {
                commands.Add(command);
            }

            return spool.TryAppend(WorkKind.Command, default, n, default, 0, commands[n / 50]);
        }

        Span<byte> payload = stackalloc byte[100 + (n % 100)];
        BinaryPrimitives.WriteInt32LittleEndian(payload, n);
        return spool.TryAppend(WorkKind.Rtp, (Channel)(n % 2), n, payload, recordingKey: n % 7, command: null);
    }

    /// <summary>Reads records <paramref name="from"/> on, checking each is the next; returns the next number expected.</summary>
    private static int ReadAll(WorkSpool spool, int from, List<object> commands, int max = int.MaxValue)
    {
        int n = from;
        while (n - from < max && spool.TryRead(out SpoolRecord r))
        {
            Assert.Equal(n, r.TimestampNs);
            if (n % 50 == 0)
            {
                Assert.Equal(WorkKind.Command, r.Kind);
                Assert.Same(commands[n / 50], r.Command);
            }
            else
            {
                Assert.Equal(WorkKind.Rtp, r.Kind);
                Assert.Equal((Channel)(n % 2), r.Channel);
                Assert.Equal(n % 7, r.RecordingKey);
                Assert.Equal(100 + (n % 100), r.Payload.Length);
                Assert.Equal(n, BinaryPrimitives.ReadInt32LittleEndian(r.Payload));
            }

            n++;
        }

        return n;
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
