using Capture.Diagnostics;
using Capture.Packets;

namespace Capture.Pipeline;

/// <summary>
/// Counters written by the capture thread only (single writer, so plain increments); readers on other threads
/// see values at most a moment old.
/// </summary>
public sealed class PipelineCounters
{
    private static readonly string[] s_dropReasons = CounterWriter.ReasonNames<DropReason>();

    public long Frames;
    public long Bytes;
    public long UdpDatagrams;
    public long UdpUnclassified;

    /// <summary>TCP segments with payload that no protocol claimed, or that the connection limit kept out: not buffered.</summary>
    public long TcpSegmentsSkipped;

    /// <summary>TCP connections no protocol claimed that start a TLS handshake (SIP over TLS, WSS): encrypted, never readable.</summary>
    public long TcpTlsConnections;

    /// <summary>RTP of calls that are not recorded (recording groups, or stopped by a logout).</summary>
    public long MediaNotRecorded;
    public long MediaPackets;

    /// <summary>RTP packets dropped because their worker was behind: its queue full and its spool full (live capture).</summary>
    public long QueueDrops;
    public long QueueWaits;

    /// <summary>RTP packets that waited in a worker's spool because its queue was full (live capture).</summary>
    public long SpooledPackets;
    public long CaptureErrors;

    /// <summary>The pipeline's own counters, the frame decoder's drops and the workers' totals, each with its kind.</summary>
    public void Write(CounterWriter counters, FrameDecoder decoder, IReadOnlyList<MediaWorkerStats> workers)
    {
        counters.Event("frames", Frames);
        counters.Event("bytes", Bytes);
        counters.Event("udp_datagrams", UdpDatagrams);
        counters.Event("udp_unclassified", UdpUnclassified);
        counters.Event("tcp_segments_skipped", TcpSegmentsSkipped);
        counters.Event("tcp_tls_connections_unreadable", TcpTlsConnections);
        counters.Event("media_packets", MediaPackets);
        counters.Event("media_packets_not_recorded", MediaNotRecorded);
        counters.Event("queue_drops", QueueDrops);
        counters.Event("queue_waits", QueueWaits);
        counters.Event("spooled_packets", SpooledPackets);
        counters.Event("capture_errors", CaptureErrors);
        long[] drops = decoder.DropCounts;
        for (int i = 1; i < drops.Length && i < s_dropReasons.Length; i++)
        {
            if ((DropReason)i == DropReason.FragmentLimit)
            {
                if (drops[i] != 0)
                {
                    counters.Limit("frame_dropped_" + s_dropReasons[i], drops[i]); // work refused at a limit, not bad input
                }
            }
            else
            {
                counters.Invalid("frame", s_dropReasons[i], drops[i], name: "frame_dropped_" + s_dropReasons[i]);
            }
        }

        long rtp = 0, lost = 0, dup = 0, recs = 0, sidecars = 0, failed = 0, pages = 0, bytes = 0, pending = 0, spoolMemory = 0, spoolDisk = 0, spoolDiskWritten = 0, spoolDiskErrors = 0, spoolLost = 0;
        foreach (MediaWorkerStats w in workers)
        {
            rtp += w.RtpPackets;
            lost += w.PacketsLost;
            dup += w.DuplicatesDropped;
            recs += w.RecordingsWritten;
            sidecars += w.SidecarsWritten;
            failed += w.RecordingsFailed;
            pages += w.PagesDropped;
            bytes += w.BytesDropped;
            pending += w.SidecarsPending;
            spoolMemory += w.SpoolMemoryBytes;
            spoolDisk += w.SpoolDiskBytes;
            spoolDiskWritten += w.SpoolDiskWrittenBytes;
            spoolDiskErrors += w.SpoolDiskErrors;
            spoolLost += w.SpoolRecordsLost;
        }

        counters.Event("rtp_packets_processed", rtp);
        counters.Event("rtp_packets_lost", lost);
        counters.Event("rtp_duplicates_dropped", dup);
        counters.Event("recordings_written", recs);
        counters.Event("sidecars_written", sidecars);
        counters.Event("recordings_failed", failed);
        counters.Event("recording_pages_dropped", pages);
        counters.Event("recording_bytes_dropped", bytes);
        counters.Gauge("sidecars_pending", pending);
        counters.Gauge("spool_memory_bytes", spoolMemory);
        counters.Gauge("spool_disk_bytes", spoolDisk);
        counters.Event("spool_disk_written_bytes", spoolDiskWritten);
        counters.Event("spool_disk_errors", spoolDiskErrors);
        counters.Event("spool_records_lost", spoolLost);
    }
}
