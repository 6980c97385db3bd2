namespace Capture.Packets;

/// <summary>
/// A tracked TCP connection: two <see cref="TcpStream"/> directions and one slot of application state that both
/// share (Skinny: "this connection belongs to device X"). Pooled by <see cref="TcpReassembler"/>: do not keep a
/// reference after <see cref="ITcpStreamReader.OnClosed"/>; keep <see cref="Id"/> if anything must outlive it.
/// </summary>
public sealed class TcpConnection
{
    internal TcpConnection()
    {
        Forward = new TcpStream(this);
        Reverse = new TcpStream(this);
    }

    /// <summary>Unique per reassembler for its lifetime (never reused, unlike the pooled object).</summary>
    public long Id { get; internal set; }

    /// <summary>Decided once per connection by <see cref="ITcpStreamHandler.Claim"/>; a handler may refine <see cref="TcpApplication.Pending"/>.</summary>
    public TcpApplication Application { get; set; }

    /// <summary>Who reads this connection's bytes and is told when it closes (null: the reassembler's own handler).</summary>
    public ITcpStreamReader? Reader { get; set; }

    /// <summary>Per-connection application state, owned by the handler; cleared when the connection is freed.</summary>
    public object? State { get; set; }

    /// <summary>The direction of the first segment seen (the initiator's when the SYN was seen).</summary>
    public TcpStream Forward { get; }

    public TcpStream Reverse { get; }

    /// <summary>Capture time of the last segment of either direction.</summary>
    public long LastSeenNs { get; internal set; }

    /// <summary>A SYN (without ACK) was seen, so <see cref="Forward"/> is the client.</summary>
    public bool SawHandshake { get; internal set; }

    /// <summary>Why the connection is being freed, set before <see cref="ITcpStreamReader.OnClosed"/>.</summary>
    public TcpCloseReason CloseReason { get; internal set; }

    internal int ActiveIndex = -1;

    public TcpStream Other(TcpStream stream) => ReferenceEquals(stream, Forward) ? Reverse : Forward;

    internal void Reset()
    {
        Id = 0;
        Application = TcpApplication.None;
        Reader = null;
        State = null;
        LastSeenNs = 0;
        SawHandshake = false;
        CloseReason = TcpCloseReason.None;
        ActiveIndex = -1;
        Forward.Reset();
        Reverse.Reset();
    }
}

/// <summary>
/// One direction of a <see cref="TcpConnection"/> and its reassembly buffer. The buffer (rented from
/// <see cref="System.Buffers.ArrayPool{T}.Shared"/>) holds, from <see cref="Head"/>: the contiguous bytes the handler
/// has not consumed yet (<see cref="Length"/>), then out-of-order ranges beyond a gap (<see cref="_ranges"/>, offsets
/// from <see cref="Head"/>).
/// </summary>
public sealed class TcpStream
{
    internal TcpStream(TcpConnection connection) => Connection = connection;

    public TcpConnection Connection { get; }

    public TcpFlowKey Flow { get; internal set; }

    public IpEndpoint16 Source => Flow.Source;

    public IpEndpoint16 Destination => Flow.Destination;

    /// <summary>Bytes the handler consumed so far (skipped gaps and discarded bytes not included).</summary>
    public long Consumed { get; internal set; }

    /// <summary>Contiguous bytes held and not consumed.</summary>
    public int Buffered => Length;

    // Sequence state (serial arithmetic, RFC 1982: differences are taken as int).
    internal bool Started;
    internal bool SawSyn;
    internal uint InitialSeq;   // first data byte's sequence number (ISN + 1 when the SYN was seen)
    internal uint HeadSeq;      // sequence number of Buffer[Head]
    internal bool FinSeen;
    internal uint FinSeq;       // sequence number the FIN occupies (after the last data byte)
    internal bool Closed;
    internal bool AfterGap;     // the next delivery does not continue the last consumed byte

    // Buffer state.
    internal byte[]? Buffer;
    internal int Head;
    internal int Length;
    internal ByteRange[] _ranges = [];
    internal int RangeCount;
    internal int HeldBytes;
    internal long GapSinceNs;

    /// <summary>Sequence number of the next byte expected in order.</summary>
    internal uint NextSeq => HeadSeq + (uint)Length;

    /// <summary>Bytes from Head that hold data (contiguous part and held ranges).</summary>
    internal int Extent => RangeCount == 0 ? Length : _ranges[RangeCount - 1].End;

    internal void Reset()
    {
        Flow = default;
        Consumed = 0;
        Started = false;
        SawSyn = false;
        InitialSeq = 0;
        HeadSeq = 0;
        FinSeen = false;
        FinSeq = 0;
        Closed = false;
        AfterGap = false;
        Head = 0;
        Length = 0;
        RangeCount = 0;
        HeldBytes = 0;
        GapSinceNs = 0;

        // Buffer is returned by the reassembler (it accounts for the bytes); ranges are kept for reuse.
    }

    public override string ToString() => $"{Flow} consumed {Consumed} buffered {Length} held {HeldBytes}";
}

/// <summary>A held byte range [Start, End), offsets from <see cref="TcpStream.Head"/>.</summary>
internal struct ByteRange
{
    public int Start;
    public int End;

    public ByteRange(int start, int end)
    {
        Start = start;
        End = end;
    }
}
