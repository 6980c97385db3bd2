using System.Runtime.ExceptionServices;

namespace Capture.Tests.Support;

/// <summary>
/// The bytes a warmed-up action allocates, with nothing else counted: what the zero-allocation tests assert.
/// </summary>
/// <remarks>
/// GC.GetAllocatedBytesForCurrentThread counts what the thread's allocation context has handed out. At the end of a background
/// (gen2) collection's mark phase the GC voids every thread's context without taking its unused tail back, so that tail (up to
/// an allocation quantum, about 8 KB) counts as allocated although nothing was: a loop that allocates nothing "allocated"
/// 2-8 KB whenever a background GC, started by other tests' allocations, finished marking during it (and GC.CollectionCount
/// did not move: that GC began before the window). So the action runs on a new thread of its own, where no other test, xunit
/// continuation or thread-pool work runs; it is warmed up there (first calls, thread statics); then a gen0 collection retires
/// that thread's allocation context, which the GC does taking the unused tail back. The window opens with no context, and a
/// thread that allocates nothing never gets one: there is nothing to void, and any real allocation is counted in full.
/// </remarks>
public static class Allocations
{
    /// <summary>Runs <paramref name="warmUp"/> then <paramref name="measured"/> on a new thread; the bytes <paramref name="measured"/> allocated.</summary>
    public static long Measure(Action warmUp, Action measured)
    {
        long allocated = -1;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                warmUp();
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                long before = GC.GetAllocatedBytesForCurrentThread();
                measured();
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e); // an assertion or a bug in the action: reported by the test
            }
        });
        thread.Start();
        thread.Join();
        failure?.Throw();
        return allocated;
    }

    /// <summary>Runs <paramref name="action"/> once to warm it up, then again measured, on a new thread; the bytes the second run allocated.</summary>
    public static long Measure(Action action) => Measure(action, action);
}
