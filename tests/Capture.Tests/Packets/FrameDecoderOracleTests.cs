using System.Buffers.Binary;
using System.Net;
using Capture.Interop;
using Capture.Packets;
using Capture.Tests.Support;
using PacketDotNet;
using PacketDotNet.Utils;
using Xunit.Abstractions;

namespace Capture.Tests.Packets;

/// <summary>
/// PacketDotNet as an oracle: every frame of a shared capture is decoded by FrameDecoder and by PacketDotNet (written
/// by others, from the same RFCs), and wherever PacketDotNet finds a UDP or TCP packet, ours must find the same one:
/// addresses, ports, protocol, TCP sequence/ack/flags and the payload's bytes.
/// What PacketDotNet cannot do, so where it is no oracle: reassemble IP fragments (it shows the first fragment's UDP
/// header over a part of the payload; those frames are skipped, and ours alone gives ipv6frag.pcap's two rebuilt
/// INVITEs); PPTP's GRE with PPP inside (gre.pcapng: it finds no IP inside, so that file is left to FrameDecoderTests
/// and tshark); ERSPAN (it has no decoder for it); frames it throws on (malformed headers, counted as drops by ours);
/// and checking lengths against the bytes captured (see the fuzz capture below).
/// </summary>
public class FrameDecoderOracleTests
{
    private readonly ITestOutputHelper _output;

    public FrameDecoderOracleTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [InlineData("SIP_CALL_RTP_G711.pcap")] // Ethernet: RTP, SIP, SNMP, H.225, TCP, ARP
    [InlineData("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")] // Ethernet: RTP, T.38, Megaco
    [InlineData("rtp.pcapng")] // 802.1Q VLAN tags
    [InlineData("sip_ipv6_udp.pcap")] // IPv6
    [InlineData("sip_ipv4_tcp_retrans.pcap")] // Linux cooked v1, SIP over TCP
    [InlineData("opus-2013785496.pcap")] // Linux cooked v1, RTP
    [InlineData("ipv6frag.pcap")] // Linux cooked v1, IPv6 fragments
    [InlineData("cm2_register.pcapng")] // Skinny over TCP
    [InlineData("skinny.pcap")]
    public void Decode_AgreesWithPacketDotNet_OnEveryPacketItDecodes(string file)
    {
        (int compared, List<string> disagreements) = CompareWithPacketDotNet(file, explain: null);

        Assert.True(compared > 0, $"PacketDotNet decoded no UDP or TCP packet in {file}");
        Assert.True(disagreements.Count == 0, string.Join('\n', disagreements));
    }

    /// <summary>
    /// A Wireshark fuzz capture: PacketDotNet believes whatever a header holds where ours checks it against the bytes
    /// there, so they disagree on 58 of its frames, and on each one the frame's own headers are inconsistent and
    /// tshark says what ours does (`tshark -r FILE -T fields -e ip.len -e udp.length -e _ws.expert.message`): "Bogus
    /// IPv4 version" or "Bogus IP header length" (ours: BadIpHeader), "IPv4 total length exceeds packet length"
    /// (Truncated), "Bad length value > IP payload length" (BadUdpHeader), or a UDP length shorter than the IP
    /// payload, where tshark's UDP payload ends at the UDP length, as ours does, and PacketDotNet's at the IP end.
    /// </summary>
    [Fact]
    public void Decode_FuzzCapture_DisagreesWithPacketDotNet_OnlyWhereTheHeadersAreInconsistent()
    {
        int explained = 0;
        (int compared, List<string> unexplained) = CompareWithPacketDotNet("fuzz-2006-06-26-2594.pcap", (frame, result, reason, oursPayload, oracle) =>
        {
            bool ok = ExplainedByHeaders(frame, result, reason, oursPayload, oracle);
            explained += ok ? 1 : 0;
            return ok;
        });

        _output.WriteLine($"{explained} disagreements explained by the frames' own headers");
        Assert.True(compared > 500, $"only {compared} frames compared");
        Assert.True(explained > 0, "the fuzz capture's bad headers no longer make the decoders disagree");
        Assert.True(unexplained.Count == 0, string.Join('\n', unexplained));
    }

    private delegate bool Explain(byte[] frame, DecodeResult result, DropReason reason, ReadOnlySpan<byte> oursPayload, OracleResult oracle);

    /// <summary>Every frame through both decoders; the disagreements that <paramref name="explain"/> does not accept.</summary>
    private (int Compared, List<string> Disagreements) CompareWithPacketDotNet(string file, Explain? explain)
    {
        var decoder = new FrameDecoder();
        var disagreements = new List<string>();
        int frames = 0, compared = 0, oursOnly = 0, oracleFailed = 0;
        using var source = PcapSource.OpenOffline(Captures.PathOf(file));
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            frames++;
            byte[] bytes = frame.ToArray();
            DecodeResult result = decoder.Decode(source.LinkType, ts, bytes, out DecodedPacket ours, out DropReason reason);
            // A copy: PacketDotNet writes to the array it parses (a length field past the captured bytes is set to them).
            OracleResult oracle = DecodeWithPacketDotNet(source.LinkType, frame.ToArray());
            if (oracle.Failed)
            {
                oracleFailed++;
                continue;
            }

            if (!oracle.Transport)
            {
                oursOnly += result == DecodeResult.Packet ? 1 : 0;
                continue;
            }

            compared++;
            string? difference = result == DecodeResult.Packet
                ? Compare(ours, oracle)
                : $"ours {result} ({reason}), PacketDotNet {oracle.Protocol} {oracle.Source} -> {oracle.Destination}";
            if (difference is not null && (explain is null || !explain(bytes, result, reason, result == DecodeResult.Packet ? ours.Payload : [], oracle)))
            {
                disagreements.Add($"frame {frames}: {difference}");
            }
        }

        _output.WriteLine($"{file}: {frames} frames, {compared} compared, {oursOnly} decoded by ours alone, PacketDotNet threw on {oracleFailed}");
        return (compared, disagreements);
    }

    /// <summary>
    /// The IPv4 and UDP headers' own fields, read from the frame, show why ours differs: a version or header length
    /// that is not IPv4's, a total length past the captured bytes, a UDP length past the IP payload, or a UDP length
    /// that ends the payload before the IP packet ends.
    /// </summary>
    private static bool ExplainedByHeaders(byte[] frame, DecodeResult result, DropReason reason, ReadOnlySpan<byte> oursPayload, OracleResult oracle)
    {
        ReadOnlySpan<byte> ip = frame.AsSpan(oracle.IpOffset);

        int version = ip[0] >> 4, headerLength = (ip[0] & 0x0F) * 4, totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (version != 4 || headerLength < 20)
        {
            return reason == DropReason.BadIpHeader;
        }

        if (totalLength > ip.Length)
        {
            return reason == DropReason.Truncated;
        }

        if (oracle.Protocol != TransportProtocol.Udp)
        {
            return false;
        }

        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(ip[(headerLength + 4)..]);
        int ipPayload = totalLength - headerLength;
        if (udpLength > ipPayload || udpLength < 8)
        {
            return reason == DropReason.BadUdpHeader;
        }

        return result == DecodeResult.Packet
            && udpLength < ipPayload
            && oursPayload.Length == udpLength - 8
            && oracle.Payload.AsSpan().StartsWith(oursPayload);
    }

    private static string? Compare(DecodedPacket ours, OracleResult oracle)
    {
        if (ours.Protocol != oracle.Protocol)
        {
            return $"protocol {ours.Protocol} vs {oracle.Protocol}";
        }

        if (ours.Source != oracle.Source || ours.Destination != oracle.Destination)
        {
            return $"endpoints {ours.Source} -> {ours.Destination} vs {oracle.Source} -> {oracle.Destination}";
        }

        if (ours.Protocol == TransportProtocol.Tcp && (ours.TcpSequence != oracle.TcpSequence || ours.TcpAck != oracle.TcpAck || ours.TcpFlags != oracle.TcpFlags))
        {
            return $"TCP seq/ack/flags {ours.TcpSequence}/{ours.TcpAck}/{ours.TcpFlags:x2} vs {oracle.TcpSequence}/{oracle.TcpAck}/{oracle.TcpFlags:x2}";
        }

        return ours.Payload.SequenceEqual(oracle.Payload)
            ? null
            : $"{ours.Protocol} {ours.Source} -> {ours.Destination}: payload {ours.Payload.Length} bytes vs {oracle.Payload.Length} bytes";
    }

    /// <summary>What PacketDotNet found: nothing (Transport false), or one UDP or TCP packet with its fields read.</summary>
    private sealed record OracleResult(bool Failed, bool Transport)
    {
        public TransportProtocol Protocol { get; init; }
        public IpEndpoint16 Source { get; init; }
        public IpEndpoint16 Destination { get; init; }
        public uint TcpSequence { get; init; }
        public uint TcpAck { get; init; }
        public byte TcpFlags { get; init; }
        public byte[] Payload { get; init; } = [];

        /// <summary>Where the innermost IP header starts in the frame.</summary>
        public int IpOffset { get; init; }
    }

    private static readonly OracleResult s_threw = new(true, false);
    private static readonly OracleResult s_noTransport = new(false, false);

    /// <summary>
    /// PacketDotNet's innermost IP packet and the UDP or TCP packet right inside it; none for a fragment of a larger
    /// datagram (PacketDotNet does not reassemble, so what it shows there is not the datagram's payload). PacketDotNet
    /// decodes lazily, so malformed input throws while its layers and fields are read, not only in ParsePacket.
    /// </summary>
    private static OracleResult DecodeWithPacketDotNet(int linkType, byte[] frame)
    {
        try
        {
            IPPacket? ip = null;
            TransportPacket? transport = null;
            for (Packet? p = Packet.ParsePacket((LinkLayers)linkType, frame); p is not null; p = p.PayloadPacket)
            {
                if (p is IPPacket inner)
                {
                    (ip, transport) = (inner, null);
                }
                else if (p is UdpPacket or TcpPacket && ip is not null && transport is null && p.ParentPacket == ip)
                {
                    transport = (TransportPacket)p;
                }
            }

            if (ip is null || transport is null || IsFragment(ip))
            {
                return s_noTransport;
            }

            // The bytes after the transport header: a payload PacketDotNet parses further (DHCP) leaves PayloadDataSegment empty.
            ByteArraySegment all = transport.BytesSegment;
            int header = transport.HeaderSegment.Length;
            var tcp = transport as TcpPacket;
            return new OracleResult(false, true)
            {
                Protocol = tcp is null ? TransportProtocol.Udp : TransportProtocol.Tcp,
                Source = new IpEndpoint16(ToAddress16(ip.SourceAddress), transport.SourcePort),
                Destination = new IpEndpoint16(ToAddress16(ip.DestinationAddress), transport.DestinationPort),
                TcpSequence = tcp?.SequenceNumber ?? 0,
                TcpAck = tcp?.AcknowledgmentNumber ?? 0,
                TcpFlags = (byte)(tcp?.Flags ?? 0),
                Payload = all.Bytes.AsSpan(all.Offset + header, all.Length - header).ToArray(),
                IpOffset = ip.BytesSegment.Offset,
            };
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException or NotImplementedException or OverflowException)
        {
            return s_threw;
        }
    }

    private static IpAddress16 ToAddress16(IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? IpAddress16.FromIPv4(address.GetAddressBytes())
            : IpAddress16.FromIPv6(address.GetAddressBytes());

    private static bool IsFragment(IPPacket ip) => ip switch
    {
        IPv4Packet v4 => v4.FragmentOffset != 0 || (v4.FragmentFlags & 0x1) != 0,
        IPv6Packet v6 => v6.ExtensionHeaders.Any(h => h is IPv6FragmentationExtensionHeader),
        _ => false,
    };
}
