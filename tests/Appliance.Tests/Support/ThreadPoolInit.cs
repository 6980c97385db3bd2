namespace Appliance.Tests.Support;

/// <summary>
/// This test process runs several appliance hosts at once (one per API test class), each checkpointing its directory
/// every 2 s from a pool timer that blocks on FASTER's checkpoint, which FASTER completes on another pool thread
/// (DirectoryStore.CheckpointLocked). On 2 cores the pool starts with 2 threads and grows by about one a second, so the
/// hosts starved each other: event streams stalled past their 20 s timeouts (CallEventApiTests, HotDeskingApiTests, also
/// before the hostile tests existed), and passing runs of those two classes took 20-46 s instead of 1-2 s. The service
/// runs one host; this only gives the test process the threads its many hosts need from the start.
/// </summary>
internal static class ThreadPoolInit
{
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Init() => ThreadPool.SetMinThreads(16, 16); // a few per host, not so many that dedicated threads (media workers) go short of CPU
}
