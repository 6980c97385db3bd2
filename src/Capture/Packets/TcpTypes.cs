namespace Capture.Packets;

/// <summary>TCP header flag bits as in <see cref="DecodedPacket.TcpFlags"/> (RFC 9293 3.1).</summary>
public static class TcpFlags
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;
}

/// <summary>Whether a TCP connection is followed, decided once per connection by the stream handler.</summary>
public enum TcpApplication : byte
{
    /// <summary>Not ours: nothing is buffered; setting it from a handler callback frees the connection.</summary>
    None,

    /// <summary>Not decided yet (a handshake without payload, or a first line still incomplete): the next bytes decide.</summary>
    Pending,

    /// <summary>A protocol follows it: its <see cref="TcpConnection.Handler"/> reads the bytes.</summary>
    Claimed,
}

/// <summary>Why a TCP connection is freed: the endpoints closed it, or the capture stopped looking at it.</summary>
public enum TcpCloseReason : byte
{
    /// <summary>Still open.</summary>
    None,

    /// <summary>Both directions sent FIN and every byte before them arrived.</summary>
    Closed,

    /// <summary>An RST.</summary>
    Reset,

    /// <summary>A new connection (SYN) on the same addresses and ports: the old one's end was not seen.</summary>
    Replaced,

    /// <summary>Nothing seen for the idle timeout.</summary>
    Idle,

    /// <summary>No protocol wants it (or a reader dropped it).</summary>
    Abandoned,

    /// <summary>The capture ended (end of a file, shutdown): the endpoints may well still be connected.</summary>
    CaptureEnded,
}

/// <summary>One direction of a TCP connection: bytes flow from <see cref="Source"/> to <see cref="Destination"/>.</summary>
public readonly record struct TcpFlowKey(IpEndpoint16 Source, IpEndpoint16 Destination)
{
    public TcpFlowKey Reversed => new(Destination, Source);

    public override string ToString() => $"{Source} -> {Destination}";
}

/// <summary>
/// Reads the reassembled bytes of a claimed connection. Called on the capture thread only, from inside
/// <see cref="TcpReassembler.Process(in DecodedPacket)"/> or <see cref="TcpReassembler.Expire"/>.
/// </summary>
public interface ITcpStreamReader
{
    /// <summary>
    /// The contiguous, not yet consumed bytes of one direction (what an earlier call left, then what arrived since).
    /// Returns how many leading bytes it consumed (whole messages); the rest stays buffered and comes back, with more,
    /// at the next call (up to <see cref="TcpReassemblerOptions.MaxBytesPerStream"/>). <paramref name="afterGap"/> says the
    /// data does not continue what was consumed before (bytes were lost, or the capture started mid-connection): a
    /// framer resynchronises. Setting <see cref="TcpConnection.Application"/> to <see cref="TcpApplication.None"/>
    /// drops the connection after the call.
    /// </summary>
    int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs);

    /// <summary>
    /// The connection is being freed at capture time <paramref name="nowNs"/> (both FINs, RST, idle timeout, abandoned, the
    /// end of the capture): release <see cref="TcpConnection.State"/>.
    /// </summary>
    void OnClosed(TcpConnection connection, long nowNs);
}

/// <summary>Decides which connections the <see cref="TcpReassembler"/> follows, and reads those it keeps for itself.</summary>
public interface ITcpStreamHandler : ITcpStreamReader
{
    /// <summary>
    /// A SYN or a segment with payload of a connection that is not tracked: is it followed? <see cref="TcpApplication.None"/>
    /// leaves it untracked (nothing buffered; asked again at its next segment). <paramref name="reader"/> reads the
    /// connection's bytes from then on (null: this handler).
    /// </summary>
    TcpApplication Claim(in TcpFlowKey flow, byte flags, ReadOnlySpan<byte> payload, out ITcpStreamReader? reader);
}

/// <summary>Limits of one <see cref="TcpReassembler"/>. Every limit that bites is counted.</summary>
public sealed class TcpReassemblerOptions
{
    /// <summary>Connections tracked at once (claimed or pending); more are not tracked (<c>tcp_flows_over_limit</c>).</summary>
    public int MaxConnections { get; set; } = 16_384;

    /// <summary>
    /// Buffer bytes one direction may hold: an unfinished message plus out-of-order data. A message the framer cannot
    /// finish within it is dropped, and data further ahead than this skips the gap at once.
    /// </summary>
    public int MaxBytesPerStream { get; set; } = 64 * 1024;

    /// <summary>Buffer bytes all directions together may hold (rented array sizes).</summary>
    public long MaxTotalBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Out-of-order bytes held beyond a gap before the gap is given up and skipped.</summary>
    public int GapSkipBytes { get; set; } = 32 * 1024;

    /// <summary>Capture time a gap may stay open before it is skipped (a mirror port never sees what it dropped).</summary>
    public long GapTimeoutNs { get; set; } = 2L * 1_000_000_000;

    /// <summary>Separate out-of-order ranges one direction may hold; a segment that would need more is dropped.</summary>
    public int MaxRangesPerStream { get; set; } = 16;

    /// <summary>Capture time without a segment after which a connection is freed (SIP keeps TCP open for minutes; Skinny keepalives are 30-60 s).</summary>
    public long IdleTimeoutNs { get; set; } = 300L * 1_000_000_000;

    /// <summary>
    /// Capture time a <see cref="TcpApplication.Pending"/> connection (handshake seen, no payload yet) is kept without a
    /// segment: every TCP handshake on the mirror is one, so they must not hold slots for the full idle timeout.
    /// </summary>
    public long PendingTimeoutNs { get; set; } = 10L * 1_000_000_000;

    public void Validate()
    {
        if (MaxConnections is < 1 or > 1 << 24)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "must be 1 to 16M");
        }

        if (MaxBytesPerStream is < 1024 or > 1 << 28)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBytesPerStream), MaxBytesPerStream, "must be 1 KiB to 256 MiB");
        }

        if (MaxTotalBytes < MaxBytesPerStream)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTotalBytes), MaxTotalBytes, "must be at least MaxBytesPerStream");
        }

        if (GapSkipBytes < 1 || GapSkipBytes > MaxBytesPerStream)
        {
            throw new ArgumentOutOfRangeException(nameof(GapSkipBytes), GapSkipBytes, "must be 1 to MaxBytesPerStream");
        }

        if (MaxRangesPerStream is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRangesPerStream), MaxRangesPerStream, "must be 1-1024");
        }

        if (GapTimeoutNs <= 0 || IdleTimeoutNs <= 0 || PendingTimeoutNs <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(GapTimeoutNs), "timeouts must be positive");
        }
    }
}

/// <summary>What <see cref="TcpReassembler.Process(in DecodedPacket)"/> did with a segment.</summary>
public enum TcpSegmentResult : byte
{
    /// <summary>No protocol claimed the connection: nothing was buffered.</summary>
    NotClaimed,

    /// <summary>The segment belongs to a tracked connection and was used (or was a pure ACK, a duplicate...).</summary>
    Tracked,

    /// <summary>A new connection that the connection limit kept out.</summary>
    OverLimit,
}
