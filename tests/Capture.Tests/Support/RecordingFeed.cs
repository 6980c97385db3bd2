using Capture.Calls;
using Capture.Recording;

namespace Capture.Tests.Support;

/// <summary>One RTP datagram as a worker hands it to a recording: the channel of its sender and its capture time.</summary>
internal sealed record SentPacket(Channel Channel, long ArrivalNs, byte[] Datagram);

/// <summary>Drives a <see cref="CallRecording"/> the way <c>MediaWorker</c> does.</summary>
internal static class RecordingFeed
{
    private const long TickNs = 50_000_000;

    /// <summary>
    /// Feeds <paramref name="packets"/> in arrival order from <paramref name="startNs"/>, ticking every 50 ms of capture
    /// time between them (the worker's ticks mix forward when a leg is quiet); returns the last packet's arrival.
    /// </summary>
    public static long Play(CallRecording recording, IEnumerable<SentPacket> packets, long startNs)
    {
        long last = startNs, nextTick = startNs;
        foreach (SentPacket p in packets.OrderBy(p => p.ArrivalNs))
        {
            while (nextTick <= p.ArrivalNs)
            {
                recording.OnTick(nextTick);
                nextTick += TickNs;
            }

            recording.OnRtp(p.Channel, p.ArrivalNs, p.Datagram);
            last = p.ArrivalNs;
        }

        return last;
    }
}
