using System.Diagnostics;
using Appliance.Service;
using Capture.Interop;

namespace Appliance.Systemd;

/// <summary>
/// Whether the capture threads are alive, judged by their own progress stamps (<see cref="CaptureSourceState.LastFrameTicks"/>,
/// written after every read: a frame, a read timeout or a paced wait), not by a timer that would keep ticking while a
/// capture thread hangs. One instance per watchdog: it remembers, per source, the stamp and pcap_stats' received count
/// it saw last.
/// </summary>
/// <remarks>
/// A live read does not return on its timeout while no packet arrives (libpcap on Linux, DESIGN section 7), so a quiet
/// SPAN port leaves the stamp old without anything being wrong. A live source whose stamp is old is therefore stuck
/// only when the kernel keeps receiving packets for it (ps_recv grows) that the thread does not take: a thread
/// blocked in its read on a silent port is idle. Replayed files stamp while they wait for the next frame's time.
/// </remarks>
public sealed class CaptureProgress(Func<CaptureSourceState, long?>? packetsReceived = null)
{
    private readonly Func<CaptureSourceState, long?> _received = packetsReceived ?? KernelReceived;
    private readonly Dictionary<CaptureSourceState, (long Stamp, long? Received)> _seen = [];

    /// <summary>
    /// The first source whose capture thread is stuck (stamp older than <paramref name="maxAge"/> while packets arrive
    /// for it; or, live, whose capture failed and ended), or null when every one is making progress or idle. A replayed
    /// file that reached its end is done, not stuck.
    /// </summary>
    public CaptureSourceState? FindStalled(IReadOnlyList<CaptureSourceState> sources, long nowTimestamp, TimeSpan maxAge)
    {
        long maxTicks = (long)(maxAge.TotalSeconds * Stopwatch.Frequency);
        CaptureSourceState? stalled = null;
        foreach (CaptureSourceState source in sources)
        {
            if (source.Ended)
            {
                if (source.Live)
                {
                    stalled ??= source;
                }

                continue;
            }

            long stamp = Volatile.Read(ref source.LastFrameTicks);
            long? received = source.Live ? _received(source) : null;
            if (!_seen.TryGetValue(source, out (long Stamp, long? Received) seen) || seen.Stamp != stamp)
            {
                _seen[source] = (stamp, received); // progress: the baseline moves with it
                seen = (stamp, received);
            }

            if (nowTimestamp - stamp <= maxTicks)
            {
                continue;
            }

            // Old stamp: stuck, unless it is a live read waiting on a port where nothing arrives.
            bool idle = source.Live && received is { } now && seen.Received is { } before && now <= before;
            if (!idle)
            {
                stalled ??= source;
            }
        }

        return stalled;
    }

    /// <summary>Seconds since the source's capture thread last stamped progress.</summary>
    public static double AgeSeconds(CaptureSourceState source, long nowTimestamp) =>
        Math.Max(0, nowTimestamp - Volatile.Read(ref source.LastFrameTicks)) / (double)Stopwatch.Frequency;

    private static long? KernelReceived(CaptureSourceState source) =>
        source.TryGetStatistics(out PcapStatistics st) ? st.Received : null;
}
