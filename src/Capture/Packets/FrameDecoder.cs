using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Capture.Packets;

/// <summary>
/// Finds the UDP or TCP packet in a captured frame: link layer (Ethernet with VLAN/QinQ tags, Linux cooked v1/v2,
/// raw IP, BSD loopback), MPLS, PPPoE, tunnels (GRE incl. PPTP's enhanced GRE, transparent Ethernet bridging,
/// ERSPAN II/III, IP-in-IP), IPv4 with options and IPv6 with extension headers, and IP fragment reassembly.
/// One decoder per capture thread: not thread-safe, no locks, no allocation per frame in steady state, no
/// exceptions for bad input (a <see cref="DropReason"/> is returned and counted instead). Decoding is a loop over
/// layers, not recursion, and bounded by <see cref="MaxLayers"/> and <see cref="MaxIpLayers"/>.
/// </summary>
public sealed partial class FrameDecoder
{
    /// <summary>Headers walked per frame (VLAN tags, MPLS labels, tunnels, IP extension headers each count one).</summary>
    public const int MaxLayers = 32;

    /// <summary>IP headers per frame: the outer packet plus three levels of tunnel.</summary>
    public const int MaxIpLayers = 4;

    // EtherTypes.
    private const ushort EtherTypeIpv4 = 0x0800;
    private const ushort EtherTypeIpv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;        // 802.1Q C-tag
    private const ushort EtherTypeQinQ = 0x88A8;        // 802.1ad S-tag
    private const ushort EtherTypeQinQOld = 0x9100;     // pre-standard QinQ (also 0x9200)
    private const ushort EtherTypeQinQOld2 = 0x9200;
    private const ushort EtherTypeMplsUnicast = 0x8847;
    private const ushort EtherTypeMplsMulticast = 0x8848;
    private const ushort EtherTypePppoeSession = 0x8864;
    private const ushort EtherTypeTeb = 0x6558;         // GRE transparent Ethernet bridging
    private const ushort EtherTypeErspan2 = 0x88BE;     // ERSPAN type I (no S bit) / II
    private const ushort EtherTypeErspan3 = 0x22EB;
    private const ushort EtherTypePpp = 0x880B;         // PPTP enhanced GRE payload

    // IP protocol numbers.
    private const byte ProtoHopByHop = 0;
    private const byte ProtoIpv4 = 4;
    private const byte ProtoTcp = 6;
    private const byte ProtoUdp = 17;
    private const byte ProtoIpv6 = 41;
    private const byte ProtoRouting = 43;
    private const byte ProtoFragment = 44;
    private const byte ProtoGre = 47;
    private const byte ProtoAh = 51;
    private const byte ProtoDestinationOptions = 60;

    private readonly FragmentReassembler _reassembler;
    private readonly long[] _dropCounts = new long[(int)DropReason.Count];

    // Completed reassembly buffers: valid until the next Decode, then returned to the pool.
    private readonly byte[]?[] _lent = new byte[MaxIpLayers][];
    private int _lentCount;

    public FrameDecoder(FragmentOptions? options = null)
    {
        options ??= new FragmentOptions();
        if (options.MaxDatagrams <= 0 || options.MaxBytesHeld <= 0 || options.MaxDatagramSize is <= 0 or > 65535
            || options.MaxRangesPerDatagram <= 0 || options.TimeoutNs <= 0)
        {
            ThrowBadOptions();
        }

        _reassembler = new FragmentReassembler(options);
    }

    /// <summary>Dropped frames by reason, indexed by <c>(int)DropReason</c> (see <see cref="DropReasons.Names"/>). Read by the metrics exporter; written only by the capture thread.</summary>
    public long[] DropCounts => _dropCounts;

    /// <summary>Datagrams waiting for more fragments.</summary>
    public int FragmentsPending => _reassembler.ActiveDatagrams;

    /// <summary>Reassembly buffer bytes held.</summary>
    public long FragmentBytesHeld => _reassembler.BytesHeld;

    /// <summary>
    /// Decodes one frame. Spans in <paramref name="packet"/> point into <paramref name="frame"/> (or, when
    /// <see cref="DecodedPacket.Reassembled"/>, into a buffer this decoder owns) and are valid until the next call.
    /// </summary>
    public DecodeResult Decode(int linkType, long timestampNs, ReadOnlySpan<byte> frame, out DecodedPacket packet, out DropReason reason)
    {
        if (_lentCount != 0)
        {
            ReturnLent();
        }

        packet = default;
        packet.TimestampNs = timestampNs;
        DecodeResult result = DecodeCore(linkType, timestampNs, frame, ref packet, out reason);
        if (result == DecodeResult.Dropped)
        {
            _dropCounts[(int)reason]++;
        }

        return result;
    }

    /// <summary>Discards datagrams still incomplete after the timeout (capture time); each counts as <see cref="DropReason.FragmentTimeout"/>.</summary>
    public void ExpireFragments(long nowNs) => _dropCounts[(int)DropReason.FragmentTimeout] += _reassembler.Expire(nowNs);

    private enum Layer : byte
    {
        Ethernet,
        EtherType,
        IpVersion,
        Ipv4,
        Ipv6,
        Ipv6Extensions,
        Transport,
        Gre,
        Ppp,
        Mpls,
        LinuxSll,
        LinuxSll2,
        BsdLoopback,
    }

    private DecodeResult DecodeCore(int linkType, long timestampNs, ReadOnlySpan<byte> data, ref DecodedPacket packet, out DropReason reason)
    {
        Layer layer;
        switch (linkType)
        {
            case LinkTypes.Ethernet: layer = Layer.Ethernet; break;
            case LinkTypes.Raw or LinkTypes.RawBsd or LinkTypes.RawOpenBsd: layer = Layer.IpVersion; break;
            case LinkTypes.Ipv4: layer = Layer.Ipv4; break;
            case LinkTypes.Ipv6: layer = Layer.Ipv6; break;
            case LinkTypes.LinuxSll: layer = Layer.LinuxSll; break;
            case LinkTypes.LinuxSll2: layer = Layer.LinuxSll2; break;
            case LinkTypes.Null or LinkTypes.Loop: layer = Layer.BsdLoopback; break;
            default:
                reason = DropReason.UnsupportedLinkType;
                return DecodeResult.Dropped;
        }

        ushort etherType = 0;
        byte protocol = 0;        // transport protocol, or the next IPv6 header
        int ipLayers = 0;
        IpAddress16 source = default;
        IpAddress16 destination = default;

        for (int step = 0; step < MaxLayers; step++)
        {
            switch (layer)
            {
                case Layer.Ethernet:
                    // dst MAC (6), src MAC (6), EtherType or 802.3 length (2).
                    if (data.Length < 14)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    etherType = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(12));
                    data = data.Slice(14);
                    layer = Layer.EtherType;
                    break;

                case Layer.EtherType:
                    switch (etherType)
                    {
                        case EtherTypeIpv4:
                            layer = Layer.Ipv4;
                            break;
                        case EtherTypeIpv6:
                            layer = Layer.Ipv6;
                            break;
                        case EtherTypeVlan or EtherTypeQinQ or EtherTypeQinQOld or EtherTypeQinQOld2:
                            // TCI (PCP 3, DEI 1, VID 12), then the next EtherType; stacked tags loop here.
                            if (data.Length < 4)
                            {
                                return Drop(DropReason.Truncated, out reason);
                            }

                            packet.VlanId = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(data) & 0x0FFF);
                            etherType = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(2));
                            data = data.Slice(4);
                            break;
                        case EtherTypeMplsUnicast or EtherTypeMplsMulticast:
                            layer = Layer.Mpls;
                            break;
                        case EtherTypePppoeSession:
                            // ver/type (1), code (1), session id (2), length (2), then a PPP protocol field.
                            if (data.Length < 6)
                            {
                                return Drop(DropReason.Truncated, out reason);
                            }

                            data = data.Slice(6);
                            layer = Layer.Ppp;
                            break;
                        default:
                            // ARP, LLDP, an 802.3 length (<= 1500) followed by LLC, ...
                            return Drop(DropReason.NotIp, out reason);
                    }

                    break;

                case Layer.LinuxSll:
                    // packet type (2), ARPHRD (2), address length (2), address (8), protocol (2).
                    if (data.Length < 16)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    etherType = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(14));
                    data = data.Slice(16);
                    layer = Layer.EtherType;
                    break;

                case Layer.LinuxSll2:
                    // protocol (2), reserved (2), interface index (4), ARPHRD (2), packet type (1), address length (1), address (8).
                    if (data.Length < 20)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    etherType = BinaryPrimitives.ReadUInt16BigEndian(data);
                    data = data.Slice(20);
                    layer = Layer.EtherType;
                    break;

                case Layer.BsdLoopback:
                {
                    // 4-byte address family: host order of the capturing machine for DLT_NULL, network order for DLT_LOOP.
                    if (data.Length < 4)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    uint family = BinaryPrimitives.ReadUInt32LittleEndian(data);
                    if (family > 0xFFFF)
                    {
                        family = BinaryPrimitives.ReverseEndianness(family);
                    }

                    data = data.Slice(4);
                    switch (family)
                    {
                        case 2: // AF_INET everywhere
                            layer = Layer.Ipv4;
                            break;
                        case 10 or 24 or 28 or 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS
                            layer = Layer.Ipv6;
                            break;
                        default:
                            return Drop(DropReason.NotIp, out reason);
                    }

                    break;
                }

                case Layer.Mpls:
                {
                    // Label stack entries of 4 bytes until the bottom-of-stack bit; the payload's version nibble decides.
                    int labels = 0;
                    while (true)
                    {
                        if (data.Length < 4)
                        {
                            return Drop(DropReason.Truncated, out reason);
                        }

                        bool bottom = (data[2] & 0x01) != 0;
                        data = data.Slice(4);
                        if (bottom)
                        {
                            break;
                        }

                        if (++labels >= 8)
                        {
                            return Drop(DropReason.TooManyEncapsulations, out reason);
                        }
                    }

                    layer = Layer.IpVersion;
                    break;
                }

                case Layer.IpVersion:
                    if (data.Length < 1)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    switch (data[0] >> 4)
                    {
                        case 4:
                            layer = Layer.Ipv4;
                            break;
                        case 6:
                            layer = Layer.Ipv6;
                            break;
                        default:
                            return Drop(DropReason.NotIp, out reason);
                    }

                    break;

                case Layer.Ipv4:
                {
                    if (++ipLayers > MaxIpLayers)
                    {
                        return Drop(DropReason.TooManyEncapsulations, out reason);
                    }

                    packet.Tunneled |= ipLayers > 1;
                    if (data.Length < 20)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    int headerLength = (data[0] & 0x0F) * 4;
                    if (data[0] >> 4 != 4 || headerLength < 20)
                    {
                        return Drop(DropReason.BadIpHeader, out reason);
                    }

                    int totalLength = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(2));
                    if (totalLength == 0)
                    {
                        // Segmentation offload on the capturing host leaves 0 here; the frame holds the packet.
                        totalLength = data.Length;
                    }

                    if (totalLength < headerLength)
                    {
                        return Drop(DropReason.BadIpHeader, out reason);
                    }

                    if (totalLength > data.Length)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    // Checksum not verified: mirror ports carry what the wire carried, and offload makes it unreliable.
                    ushort identification = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(4));
                    ushort flagsAndOffset = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(6));
                    protocol = data[9];
                    source = IpAddress16.FromIPv4(data.Slice(12, 4));
                    destination = IpAddress16.FromIPv4(data.Slice(16, 4));

                    // Trim Ethernet padding past the total length; skip options.
                    data = data.Slice(headerLength, totalLength - headerLength);

                    bool more = (flagsAndOffset & 0x2000) != 0;
                    int fragmentOffset = (flagsAndOffset & 0x1FFF) * 8;
                    if (more || fragmentOffset != 0)
                    {
                        var key = new FragmentKey(source, destination, identification, protocol, 4);
                        DecodeResult r = _reassembler.Add(key, timestampNs, fragmentOffset, more, protocol, data, out byte[]? buffer, out int length, out _, out reason);
                        if (r != DecodeResult.Packet)
                        {
                            return r;
                        }

                        Lend(buffer!);
                        data = buffer.AsSpan(0, length);
                        packet.Reassembled = true;
                    }

                    layer = Layer.Transport;
                    break;
                }

                case Layer.Ipv6:
                {
                    if (++ipLayers > MaxIpLayers)
                    {
                        return Drop(DropReason.TooManyEncapsulations, out reason);
                    }

                    packet.Tunneled |= ipLayers > 1;
                    if (data.Length < 40)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    if (data[0] >> 4 != 6)
                    {
                        return Drop(DropReason.BadIpHeader, out reason);
                    }

                    int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(4));
                    if (payloadLength == 0)
                    {
                        // Jumbograms (RFC 2675) or offload artefacts: treat the rest of the frame as the payload.
                        payloadLength = data.Length - 40;
                    }

                    if (40 + payloadLength > data.Length)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    protocol = data[6];
                    source = IpAddress16.FromIPv6(data.Slice(8, 16));
                    destination = IpAddress16.FromIPv6(data.Slice(24, 16));
                    data = data.Slice(40, payloadLength);
                    layer = Layer.Ipv6Extensions;
                    break;
                }

                case Layer.Ipv6Extensions:
                    switch (protocol)
                    {
                        case ProtoHopByHop or ProtoRouting or ProtoDestinationOptions or ProtoAh:
                        {
                            // next header (1), length (1): in 8-byte units not counting the first 8, except the
                            // authentication header's, which is in 4-byte units minus 2.
                            if (data.Length < 8)
                            {
                                return Drop(DropReason.Truncated, out reason);
                            }

                            int length = protocol == ProtoAh ? (data[1] + 2) * 4 : (data[1] + 1) * 8;
                            if (length > data.Length)
                            {
                                return Drop(DropReason.Truncated, out reason);
                            }

                            protocol = data[0];
                            data = data.Slice(length);
                            break;
                        }

                        case ProtoFragment:
                        {
                            // next header (1), reserved (1), offset (13 bits) res (2) M (1), identification (4).
                            if (data.Length < 8)
                            {
                                return Drop(DropReason.Truncated, out reason);
                            }

                            byte next = data[0];
                            ushort offsetAndFlags = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(2));
                            uint identification = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(4));
                            data = data.Slice(8);
                            int fragmentOffset = offsetAndFlags & 0xFFF8;
                            bool more = (offsetAndFlags & 0x0001) != 0;
                            protocol = next;
                            if (fragmentOffset == 0 && !more)
                            {
                                // Atomic fragment (RFC 6946): process as if unfragmented.
                                break;
                            }

                            var key = new FragmentKey(source, destination, identification, 0, 6);
                            DecodeResult r = _reassembler.Add(key, timestampNs, fragmentOffset, more, next, data, out byte[]? buffer, out int length, out byte datagramProtocol, out reason);
                            if (r != DecodeResult.Packet)
                            {
                                return r;
                            }

                            Lend(buffer!);
                            data = buffer.AsSpan(0, length);
                            protocol = datagramProtocol;
                            packet.Reassembled = true;
                            break;
                        }

                        default:
                            layer = Layer.Transport;
                            break;
                    }

                    break;

                case Layer.Transport:
                    switch (protocol)
                    {
                        case ProtoUdp:
                            return DecodeUdp(data, source, destination, ref packet, out reason);
                        case ProtoTcp:
                            return DecodeTcp(data, source, destination, ref packet, out reason);
                        case ProtoGre:
                            packet.Tunneled = true;
                            layer = Layer.Gre;
                            break;
                        case ProtoIpv4:
                            layer = Layer.Ipv4;
                            break;
                        case ProtoIpv6:
                            layer = Layer.Ipv6;
                            break;
                        default:
                            return Drop(DropReason.UnsupportedTransport, out reason);
                    }

                    break;

                case Layer.Gre:
                    if (!TryDecodeGre(ref data, out layer, out etherType, out reason))
                    {
                        return Drop(reason, out reason);
                    }

                    break;

                case Layer.Ppp:
                {
                    // Address/control (0xFF 0x03) may be compressed away (ACFC); the protocol may be one byte (PFC: odd first byte).
                    if (data.Length >= 2 && data[0] == 0xFF && data[1] == 0x03)
                    {
                        data = data.Slice(2);
                    }

                    if (data.Length < 1)
                    {
                        return Drop(DropReason.Truncated, out reason);
                    }

                    int pppProtocol;
                    if ((data[0] & 0x01) != 0)
                    {
                        pppProtocol = data[0];
                        data = data.Slice(1);
                    }
                    else
                    {
                        if (data.Length < 2)
                        {
                            return Drop(DropReason.Truncated, out reason);
                        }

                        pppProtocol = BinaryPrimitives.ReadUInt16BigEndian(data);
                        data = data.Slice(2);
                    }

                    switch (pppProtocol)
                    {
                        case 0x0021: // IPv4
                            layer = Layer.Ipv4;
                            break;
                        case 0x0057: // IPv6
                            layer = Layer.Ipv6;
                            break;
                        default: // LCP, IPCP, CCP, compressed data...
                            return Drop(DropReason.NotIp, out reason);
                    }

                    break;
                }
            }
        }

        return Drop(DropReason.TooManyEncapsulations, out reason);
    }

    /// <summary>
    /// GRE (RFC 2784/2890, and PPTP's version 1 of RFC 2637), then ERSPAN II/III headers when present. On success
    /// <paramref name="data"/> is the payload and <paramref name="next"/> the layer that decodes it.
    /// </summary>
    private static bool TryDecodeGre(ref ReadOnlySpan<byte> data, out Layer next, out ushort etherType, out DropReason reason)
    {
        next = Layer.EtherType;
        etherType = 0;
        if (data.Length < 4)
        {
            reason = DropReason.Truncated;
            return false;
        }

        // C R K S s Recur(3) | A Flags(4) Ver(3) | Protocol (2)
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(data);
        ushort protocol = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(2));
        bool checksum = (flags & 0x8000) != 0;
        bool routing = (flags & 0x4000) != 0;
        bool key = (flags & 0x2000) != 0;
        bool sequence = (flags & 0x1000) != 0;
        bool acknowledgment = (flags & 0x0080) != 0;
        int version = flags & 0x0007;

        int headerLength;
        if (version == 0)
        {
            // RFC 1701 source routing is deprecated and variable-length: not followed.
            if (routing)
            {
                reason = DropReason.UnsupportedTunnel;
                return false;
            }

            headerLength = 4 + (checksum ? 4 : 0) + (key ? 4 : 0) + (sequence ? 4 : 0);
        }
        else if (version == 1 && protocol == EtherTypePpp && key && !checksum && !routing)
        {
            // Enhanced GRE: payload length + call id in the key field, optional sequence and acknowledgment numbers.
            headerLength = 8 + (sequence ? 4 : 0) + (acknowledgment ? 4 : 0);
        }
        else
        {
            reason = DropReason.UnsupportedTunnel;
            return false;
        }

        if (data.Length < headerLength)
        {
            reason = DropReason.Truncated;
            return false;
        }

        data = data.Slice(headerLength);
        switch (protocol)
        {
            case EtherTypeIpv4:
            case EtherTypeIpv6:
                etherType = protocol;
                break;
            case EtherTypeTeb:
                next = Layer.Ethernet;
                break;
            case EtherTypePpp:
                next = Layer.Ppp;
                break;
            case EtherTypeErspan2:
                if (sequence)
                {
                    // ERSPAN II: Ver(4)=1 VLAN(12) | COS(3) En(2) T(1) Session(10) | Reserved(12) Index(20).
                    if (data.Length < 8)
                    {
                        reason = DropReason.Truncated;
                        return false;
                    }

                    if (data[0] >> 4 != 1)
                    {
                        reason = DropReason.UnsupportedTunnel;
                        return false;
                    }

                    data = data.Slice(8);
                }

                // Without the S bit this is ERSPAN type I: no header, the mirrored Ethernet frame follows.
                next = Layer.Ethernet;
                break;
            case EtherTypeErspan3:
            {
                // ERSPAN III: Ver(4)=2 VLAN(12) | COS(3) BSO(2) T(1) Session(10) | Timestamp(32) | SGT(16) | P(1) FT(5) HwId(6) D(1) Gra(2) O(1).
                if (data.Length < 12)
                {
                    reason = DropReason.Truncated;
                    return false;
                }

                if (data[0] >> 4 != 2)
                {
                    reason = DropReason.UnsupportedTunnel;
                    return false;
                }

                ushort last = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(10));
                int frameType = (last >> 10) & 0x1F;
                bool platformSubheader = (last & 0x0001) != 0;
                int length = 12 + (platformSubheader ? 8 : 0);
                if (data.Length < length)
                {
                    reason = DropReason.Truncated;
                    return false;
                }

                data = data.Slice(length);
                switch (frameType)
                {
                    case 0: // Ethernet frame
                        next = Layer.Ethernet;
                        break;
                    case 2: // IP packet
                        next = Layer.IpVersion;
                        break;
                    default:
                        reason = DropReason.UnsupportedTunnel;
                        return false;
                }

                break;
            }

            default:
                reason = DropReason.UnsupportedTunnel;
                return false;
        }

        reason = DropReason.None;
        return true;
    }

    private static DecodeResult DecodeUdp(ReadOnlySpan<byte> data, IpAddress16 source, IpAddress16 destination, ref DecodedPacket packet, out DropReason reason)
    {
        // source port (2), destination port (2), length (2), checksum (2).
        if (data.Length < 8)
        {
            return Drop(DropReason.Truncated, out reason);
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(4));
        if (length < 8 || length > data.Length)
        {
            return Drop(DropReason.BadUdpHeader, out reason);
        }

        packet.Protocol = TransportProtocol.Udp;
        packet.Source = new IpEndpoint16(source, BinaryPrimitives.ReadUInt16BigEndian(data));
        packet.Destination = new IpEndpoint16(destination, BinaryPrimitives.ReadUInt16BigEndian(data.Slice(2)));
        packet.Payload = data.Slice(8, length - 8);
        reason = DropReason.None;
        return DecodeResult.Packet;
    }

    private static DecodeResult DecodeTcp(ReadOnlySpan<byte> data, IpAddress16 source, IpAddress16 destination, ref DecodedPacket packet, out DropReason reason)
    {
        // ports (4), sequence (4), acknowledgment (4), data offset (4 bits) + reserved, flags (1), window (2), checksum (2), urgent (2).
        if (data.Length < 20)
        {
            return Drop(DropReason.Truncated, out reason);
        }

        int headerLength = (data[12] >> 4) * 4;
        if (headerLength < 20 || headerLength > data.Length)
        {
            return Drop(DropReason.BadTcpHeader, out reason);
        }

        packet.Protocol = TransportProtocol.Tcp;
        packet.Source = new IpEndpoint16(source, BinaryPrimitives.ReadUInt16BigEndian(data));
        packet.Destination = new IpEndpoint16(destination, BinaryPrimitives.ReadUInt16BigEndian(data.Slice(2)));
        packet.TcpSequence = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(4));
        packet.TcpAck = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(8));
        packet.TcpFlags = data[13];
        packet.Payload = data.Slice(headerLength);
        reason = DropReason.None;
        return DecodeResult.Packet;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DecodeResult Drop(DropReason why, out DropReason reason)
    {
        reason = why;
        return DecodeResult.Dropped;
    }

    private void Lend(byte[] buffer)
    {
        // At most one reassembly per IP layer, and IP layers are bounded by MaxIpLayers == _lent.Length.
        _lent[_lentCount++] = buffer;
    }

    private void ReturnLent()
    {
        for (int i = 0; i < _lentCount; i++)
        {
            FragmentReassembler.Return(_lent[i]!);
            _lent[i] = null;
        }

        _lentCount = 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadOptions() =>
        throw new ArgumentException("FragmentOptions: MaxDatagrams, MaxBytesHeld, MaxRangesPerDatagram and TimeoutNs must be positive; MaxDatagramSize must be 1..65535.", "options");
}
