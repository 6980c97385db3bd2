using BenchmarkDotNet.Attributes;
using Capture.Calls;
using Capture.Pipeline;
using Microsoft.Win32.SafeHandles;

namespace Bench.Pipeline;

/// <summary>
/// A media worker's spool (live capture, worker behind), per record of a 172-byte RTP datagram (G.711 20 ms + header):
/// <b>Memory</b> appends <see cref="Records"/> records that stay in memory and reads them back (both sides on one
/// thread: the capture thread's append is about half); <b>Disk</b> the same with two chunks of memory, so nearly all go
/// through the spool file (a 64 KiB write per chunk on the capture thread, a read on the worker; page cache).
/// <b>ChunkWrite</b> is one 64 KiB pwrite to the page cache alone: what the capture thread pays per chunk when it writes
/// to disk itself instead of handing the chunk to a spooler thread.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class WorkSpoolBenchmarks
{
    public const int Records = 4096;

    private readonly byte[] _payload = new byte[172];
    private readonly byte[] _chunk = new byte[WorkSpool.DefaultChunkBytes];
    private string _dir = "";
    private WorkSpool _memory = null!;
    private WorkSpool _disk = null!;
    private SafeFileHandle _file = null!;
    private long _slot;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "bench-spool-" + Guid.NewGuid().ToString("N"));
        _memory = new WorkSpool(memoryBytes: 2L << 20, diskBytes: 0, diskPath: null); // a lap (4096 records, ~770 KB) fits: chunks reused
        _disk = new WorkSpool(memoryBytes: 2L * WorkSpool.DefaultChunkBytes, diskBytes: 64L << 20, Path.Combine(_dir, "worker-bench.spool"));
        Directory.CreateDirectory(_dir);
        _file = File.OpenHandle(Path.Combine(_dir, "chunks"), FileMode.Create, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Memory() => Lap(_memory);

    [Benchmark(OperationsPerInvoke = Records)]
    public long Disk() => Lap(_disk);

    [Benchmark]
    public void ChunkWrite()
    {
        RandomAccess.Write(_file, _chunk, (_slot++ % 512) * _chunk.Length); // a 32 MiB ring of slots, like the spool file
    }

    private long Lap(WorkSpool spool)
    {
        for (int i = 0; i < Records; i++)
        {
            if (!spool.TryAppend(WorkKind.Rtp, Channel.Left, i, _payload, recordingKey: 1, command: null))
            {
                throw new InvalidOperationException("spool full");
            }
        }

        spool.Flush();
        long bytes = 0;
        while (spool.TryRead(out SpoolRecord r))
        {
            bytes += r.Payload.Length;
        }

        return bytes;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _memory.Dispose();
        _disk.Dispose();
        _file.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
