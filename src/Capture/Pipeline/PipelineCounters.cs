using System.Text;
using Capture.Packets;

namespace Capture.Pipeline;

/// <summary>
/// Counters written by the capture thread only (single writer, so plain increments); readers on other threads
/// see values at most a moment old.
/// </summary>
public sealed class PipelineCounters
{
    // Read by metrics scrapes on other threads while the capture thread counts: a concurrent dictionary (a long value is
    // updated in place on 64-bit, so counting an existing reason allocates nothing).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _sipInvalid = new(StringComparer.Ordinal);

    public long Frames;
    public long Bytes;
    public long UdpDatagrams;
    public long UdpUnclassified;
    /// <summary>TCP segments with payload that no protocol claimed (neither SIP nor Skinny), or that the connection limit kept out: not buffered.</summary>
    public long TcpSegmentsSkipped;

    /// <summary>SIP messages framed from reassembled TCP streams.</summary>
    public long TcpSipMessages;

    /// <summary>RTP of calls that are not recorded (recording groups, or stopped by a logout).</summary>
    public long MediaNotRecorded;
    public long MediaPackets;
    public long SipMessages;
    public long QueueDrops;
    public long QueueWaits;
    public long CaptureErrors;

    public void CountSipInvalid(string reason)
    {
        // Reason strings are static names: the dictionary stops growing after the first of each.
        _sipInvalid.AddOrUpdate(reason, 1, static (_, n) => n + 1);
    }

    /// <summary>A snapshot by name, for `replay --json` and for metrics.</summary>
    public SortedDictionary<string, long> Snapshot(FrameDecoder decoder, IReadOnlyList<MediaWorkerStats> workers)
    {
        var d = new SortedDictionary<string, long>(StringComparer.Ordinal)
        {
            ["frames"] = Frames,
            ["bytes"] = Bytes,
            ["udp_datagrams"] = UdpDatagrams,
            ["udp_unclassified"] = UdpUnclassified,
            ["tcp_segments_skipped"] = TcpSegmentsSkipped,
            ["tcp_sip_messages"] = TcpSipMessages,
            ["media_packets"] = MediaPackets,
            ["sip_messages"] = SipMessages,
            ["queue_drops"] = QueueDrops,
            ["capture_errors"] = CaptureErrors,
        };
        long[] drops = decoder.DropCounts;
        for (int i = 1; i < drops.Length; i++)
        {
            if (drops[i] != 0)
            {
                d["frame_dropped_" + SnakeCase(((DropReason)i).ToString())] = drops[i];
            }
        }

        foreach (KeyValuePair<string, long> kv in _sipInvalid)
        {
            d["sip_invalid_" + kv.Key] = kv.Value;
        }

        long rtp = 0, lost = 0, dup = 0, recs = 0, sidecars = 0, errors = 0;
        foreach (MediaWorkerStats w in workers)
        {
            rtp += w.RtpPackets;
            lost += w.PacketsLost;
            dup += w.DuplicatesDropped;
            recs += w.RecordingsWritten;
            sidecars += w.SidecarsWritten;
            errors += w.RecordingErrors;
        }

        d["rtp_packets_processed"] = rtp;
        d["rtp_packets_lost"] = lost;
        d["rtp_duplicates_dropped"] = dup;
        d["recordings_written"] = recs;
        d["sidecars_written"] = sidecars;
        d["recording_errors"] = errors;
        return d;
    }

    public IReadOnlyDictionary<string, long> SipInvalid => _sipInvalid;

    public static string SnakeCase(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
