using System.Numerics;
using System.Runtime.InteropServices;
using SharpFuzz.Common;

namespace Fuzz.Driver;

/// <summary>
/// Edge coverage for the in-process driver, read from the same 64 KB map AFL uses: when Capture.dll has been
/// instrumented by SharpFuzz (<c>make fuzz</c> does it on a copy), each branch it takes bumps
/// <c>Trace.SharedMem[cur ^ prev]</c>. Counts are bucketed as AFL does (1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+), so
/// an input that takes a loop more often is also new. Uninstrumented, the map stays empty and the driver mutates blind.
/// </summary>
internal sealed unsafe class CoverageMap
{
    public const int Size = 1 << 16;

    private static readonly byte[] s_bucket = BuildBuckets();
    private readonly byte* _trace;
    private readonly byte[] _seen = new byte[Size]; // union of the buckets seen, one bit per bucket

    /// <summary>
    /// The process's map: instrumented code writes to it for as long as the process runs, so it is installed before any
    /// Capture code runs (<c>Program.Main</c>); under afl-fuzz SharpFuzz replaces it with AFL's shared memory.
    /// </summary>
    public static CoverageMap Instance { get; } = new();

    private CoverageMap()
    {
        _trace = (byte*)NativeMemory.AllocZeroed(Size);
        Trace.SharedMem = _trace;
    }

    /// <summary>Edges (map cells) taken by any input so far.</summary>
    public int Edges { get; private set; }

    /// <summary>Forgets what was seen (a new campaign, another target).</summary>
    public void ForgetSeen()
    {
        Array.Clear(_seen);
        Edges = 0;
    }

    public void Reset()
    {
        new Span<byte>(_trace, Size).Clear();
        Trace.PrevLocation = 0;
    }

    /// <summary>Adds the last input's trace to what was seen; true when it took an edge or a bucket never seen before.</summary>
    public bool Merge()
    {
        bool novel = false;
        var trace = new ReadOnlySpan<byte>(_trace, Size);
        int step = Vector<byte>.Count;
        for (int i = 0; i < Size; i += step)
        {
            if (new Vector<byte>(trace[i..]) == Vector<byte>.Zero)
            {
                continue;
            }

            for (int j = i; j < i + step; j++)
            {
                byte hits = trace[j];
                if (hits == 0)
                {
                    continue;
                }

                byte bucket = s_bucket[hits];
                if ((_seen[j] & bucket) == 0)
                {
                    if (_seen[j] == 0)
                    {
                        Edges++;
                    }

                    _seen[j] |= bucket;
                    novel = true;
                }
            }
        }

        return novel;
    }

    private static byte[] BuildBuckets()
    {
        var b = new byte[256];
        for (int hits = 1; hits < 256; hits++)
        {
            b[hits] = hits switch
            {
                1 => 1,
                2 => 2,
                3 => 4,
                <= 7 => 8,
                <= 15 => 16,
                <= 31 => 32,
                <= 127 => 64,
                _ => 128,
            };
        }

        return b;
    }
}
