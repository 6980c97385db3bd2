namespace Capture.Interop;

/// <summary>
/// What the capture loop reads: a pcap file or live interface (<see cref="PcapSource"/>), or a live interface followed by
/// name across its removal and return (<see cref="LiveInterface"/>). <see cref="ReadNext"/> is for the capture thread;
/// <see cref="BreakLoop"/> and <see cref="TryGetStatistics"/> may be called from any thread.
/// </summary>
public interface IPacketSource : IDisposable
{
    /// <summary>The file path or interface name.</summary>
    string Source { get; }

    /// <summary>The DLT/LINKTYPE value of the frames <see cref="ReadNext"/> returns now, e.g. 1 for Ethernet.</summary>
    int LinkType { get; }

    /// <summary>libpcap's text for the last error (allocates; for error paths).</summary>
    string LastError { get; }

    /// <summary>Reads the next frame; <paramref name="frame"/> is valid until the next call. Never throws on capture errors.</summary>
    PcapReadStatus ReadNext(out long timestampNs, out int originalLength, out ReadOnlySpan<byte> frame);

    /// <summary>Makes a blocked or looping <see cref="ReadNext"/> return <see cref="PcapReadStatus.EndOfFile"/>.</summary>
    void BreakLoop();

    /// <summary>Kernel and interface counters (pcap_stats) since the source was opened. False for files.</summary>
    bool TryGetStatistics(out PcapStatistics statistics);
}
