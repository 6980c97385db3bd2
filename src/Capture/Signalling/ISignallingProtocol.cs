using Capture.Diagnostics;
using Capture.Packets;

namespace Capture.Signalling;

/// <summary>
/// A signalling protocol as the capture pipeline feeds it (SIP, Skinny): the pipeline decodes frames, classifies media
/// through the call book, and offers everything else here, knowing no protocol's ports or framing. Each protocol
/// learns into the directory and tells the call book about its calls. Capture thread only.
/// </summary>
public interface ISignallingProtocol : ITcpStreamReader
{
    /// <summary>A UDP datagram that is no call's media: true when it is this protocol's (read, or counted as invalid).</summary>
    bool TryTakeDatagram(in DecodedPacket packet);

    /// <summary>
    /// Does this protocol follow the TCP connection of <paramref name="flow"/>? Decided from its endpoints and, when not
    /// empty, its first payload bytes: <see cref="TcpApplication.Claimed"/>, <see cref="TcpApplication.Pending"/> (they
    /// could still be its, wait for more) or <see cref="TcpApplication.None"/>.
    /// </summary>
    TcpApplication ClaimStream(in TcpFlowKey flow, ReadOnlySpan<byte> firstBytes);

    /// <summary>Ends what timed out (capture time, about once a second).</summary>
    void Expire(long nowNs);

    /// <summary>Ends every open call (end of a capture file, or shutdown).</summary>
    void EndAll(long nowNs, string reason);

    /// <summary>This protocol's counters, each with its kind.</summary>
    void WriteCounters(CounterWriter counters);
}
