using Capture.Interop;
using Capture.Packets;
using Capture.Skinny;

namespace Capture.Tests.Support;

/// <summary>
/// The Skinny (TCP port 2000) byte streams of a shared capture, before the pipeline has TCP reassembly: each
/// connection's payloads per direction in capture order, retransmitted bytes dropped by sequence number (these
/// captures are clean otherwise). <see cref="Replay"/> feeds them segment by segment, in capture order across all
/// connections, the way the pipeline will.
/// </summary>
internal sealed class SkinnyCapture
{
    private const byte Fin = 0x01;
    private const byte Rst = 0x04;

    public List<Connection> Connections { get; } = [];

    /// <summary>Every payload segment in capture order.</summary>
    public List<Segment> Segments { get; } = [];

    public sealed class Connection(IpEndpoint16 phone, IpEndpoint16 server)
    {
        public IpEndpoint16 Phone { get; } = phone;
        public IpEndpoint16 Server { get; } = server;
        public MemoryStream FromPhone { get; } = new();
        public MemoryStream FromServer { get; } = new();
        internal uint? NextSeqFromPhone;
        internal uint? NextSeqFromServer;

        public byte[] Stream(bool fromPhone) => (fromPhone ? FromPhone : FromServer).ToArray();
    }

    public sealed record Segment(Connection Connection, bool FromPhone, long TimestampNs, byte[] Payload, bool Closes);

    public static SkinnyCapture Load(string fileName)
    {
        var capture = new SkinnyCapture();
        var byKey = new Dictionary<(IpEndpoint16, IpEndpoint16), Connection>();
        var decoder = new FrameDecoder();
        using var source = PcapSource.OpenOffline(Captures.PathOf(fileName));
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            if (decoder.Decode(source.LinkType, ts, frame, out DecodedPacket p, out _) != DecodeResult.Packet || p.Protocol != TransportProtocol.Tcp
                || (p.Source.Port != SkinnyFramer.DefaultPort && p.Destination.Port != SkinnyFramer.DefaultPort))
            {
                continue;
            }

            bool fromPhone = p.Destination.Port == SkinnyFramer.DefaultPort;
            (IpEndpoint16 phone, IpEndpoint16 server) = fromPhone ? (p.Source, p.Destination) : (p.Destination, p.Source);
            if (!byKey.TryGetValue((phone, server), out Connection? c))
            {
                byKey[(phone, server)] = c = new Connection(phone, server);
                capture.Connections.Add(c);
            }

            byte[] payload = Trim(c, fromPhone, p.TcpSequence, p.Payload);
            bool closes = (p.TcpFlags & (Fin | Rst)) != 0;
            if (payload.Length > 0 || closes)
            {
                (fromPhone ? c.FromPhone : c.FromServer).Write(payload);
                capture.Segments.Add(new Segment(c, fromPhone, ts, payload, closes));
            }
        }

        return capture;
    }

    /// <summary>
    /// Feeds every segment, in capture order, to <paramref name="learner"/> through per-direction buffers (unconsumed
    /// bytes are kept, as the pipeline will), calling <see cref="SkinnyDeviceLearner.Expire"/> as time passes and
    /// <see cref="SkinnyDeviceLearner.OnConnectionClosed"/> at FIN/RST and at the end. Returns each connection's state.
    /// </summary>
    public Dictionary<Connection, SkinnyConnection> Replay(SkinnyDeviceLearner learner)
    {
        var states = new Dictionary<Connection, SkinnyConnection>();
        var pending = new Dictionary<(Connection, bool), byte[]>();
        long last = 0;
        foreach (Segment s in Segments)
        {
            if (!states.TryGetValue(s.Connection, out SkinnyConnection? state))
            {
                states[s.Connection] = state = new SkinnyConnection(s.Connection.Phone, s.Connection.Server);
            }

            byte[] buffer = [.. pending.GetValueOrDefault((s.Connection, s.FromPhone), []), .. s.Payload];
            int consumed = learner.OnStream(state, s.FromPhone, buffer, s.TimestampNs);
            pending[(s.Connection, s.FromPhone)] = buffer[consumed..];
            learner.Expire(s.TimestampNs);
            if (s.Closes)
            {
                learner.OnConnectionClosed(state, s.TimestampNs);
            }

            last = s.TimestampNs;
        }

        foreach (SkinnyConnection state in states.Values)
        {
            learner.OnConnectionClosed(state, last);
        }

        return states;
    }

    /// <summary>The part of a segment not seen before (a retransmission carries bytes already delivered).</summary>
    private static byte[] Trim(Connection c, bool fromPhone, uint seq, ReadOnlySpan<byte> payload)
    {
        ref uint? next = ref fromPhone ? ref c.NextSeqFromPhone : ref c.NextSeqFromServer;
        if (payload.IsEmpty)
        {
            return [];
        }

        next ??= seq;
        int behind = (int)(next.Value - seq);
        if (behind >= payload.Length)
        {
            return [];
        }

        byte[] fresh = behind > 0 ? payload[behind..].ToArray() : payload.ToArray();
        next = seq + (uint)payload.Length;
        return fresh;
    }
}
