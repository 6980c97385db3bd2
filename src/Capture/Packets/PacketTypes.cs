namespace Capture.Packets;

/// <summary>LINKTYPE/DLT values the decoder understands (pcap-linktype(7)).</summary>
public static class LinkTypes
{
    /// <summary>BSD loopback: 4-byte address family in the capturing host's byte order.</summary>
    public const int Null = 0;
    public const int Ethernet = 1;
    /// <summary>DLT_RAW on most systems (version nibble decides IPv4/IPv6).</summary>
    public const int RawBsd = 12;
    /// <summary>DLT_RAW on OpenBSD.</summary>
    public const int RawOpenBsd = 14;
    /// <summary>LINKTYPE_RAW as written in files.</summary>
    public const int Raw = 101;
    /// <summary>OpenBSD loopback: 4-byte address family in network byte order.</summary>
    public const int Loop = 108;
    /// <summary>Linux cooked capture v1 (16-byte header).</summary>
    public const int LinuxSll = 113;
    public const int Ipv4 = 228;
    public const int Ipv6 = 229;
    /// <summary>Linux cooked capture v2 (20-byte header).</summary>
    public const int LinuxSll2 = 276;

    public static bool IsSupported(int dlt) => dlt switch
    {
        Null or Ethernet or RawBsd or RawOpenBsd or Raw or Loop or LinuxSll or Ipv4 or Ipv6 or LinuxSll2 => true,
        _ => false,
    };
}

public enum TransportProtocol : byte
{
    Tcp = 6,
    Udp = 17,
}

public enum DecodeResult
{
    /// <summary>A UDP or TCP packet is in <see cref="DecodedPacket"/>.</summary>
    Packet,
    /// <summary>A fragment was stored; the datagram is not complete yet.</summary>
    Held,
    /// <summary>Not usable; the reason is counted in <see cref="FrameDecoder.DropCounts"/>.</summary>
    Dropped,
}

/// <summary>Why a frame was dropped; the index into <see cref="FrameDecoder.DropCounts"/>.</summary>
public enum DropReason : byte
{
    None,
    /// <summary>A header or the IP total length runs past the captured bytes.</summary>
    Truncated,
    UnsupportedLinkType,
    /// <summary>ARP, LLDP, 802.3/LLC, PPP control, ... not IP.</summary>
    NotIp,
    BadIpHeader,
    /// <summary>ICMP, ESP, SCTP, ... neither UDP, TCP nor a tunnel.</summary>
    UnsupportedTransport,
    BadUdpHeader,
    BadTcpHeader,
    /// <summary>Too many datagrams or bytes in reassembly, or too many holes in one datagram.</summary>
    FragmentLimit,
    /// <summary>Counted by <see cref="FrameDecoder.ExpireFragments"/> for datagrams that never completed.</summary>
    FragmentTimeout,
    /// <summary>A fragment overlapped stored data with different bytes, or disagreed on the datagram's end; the datagram is discarded (RFC 5722).</summary>
    FragmentOverlap,
    /// <summary>A fragment whose reassembled datagram would exceed the maximum size.</summary>
    FragmentTooLarge,
    /// <summary>A fragment that is empty, or not a multiple of 8 bytes though more follow.</summary>
    BadFragment,
    /// <summary>GRE with routing, an unknown GRE version or protocol, an unknown ERSPAN version or frame type.</summary>
    UnsupportedTunnel,
    /// <summary>Nesting (VLAN tags, MPLS labels, IP-in-IP, extension headers) beyond the decoder's bound.</summary>
    TooManyEncapsulations,
    /// <summary>Number of reasons; size of the counters array.</summary>
    Count,
}

public static class DropReasons
{
    /// <summary>Metric label per reason, indexed by <c>(int)DropReason</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = CreateNames();

    private static string[] CreateNames()
    {
        var names = new string[(int)DropReason.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = ((DropReason)i).ToString();
        }

        return names;
    }
}

/// <summary>A UDP or TCP packet found in a frame. Spans point into the frame (or the decoder's reassembly buffer) and live until the next Decode.</summary>
public ref struct DecodedPacket
{
    public long TimestampNs;
    public IpEndpoint16 Source;
    public IpEndpoint16 Destination;
    public TransportProtocol Protocol;

    /// <summary>UDP or TCP payload (after the transport header).</summary>
    public ReadOnlySpan<byte> Payload;

    /// <summary>TCP only: raw sequence and acknowledgement numbers and the flags byte (FIN=0x01, SYN=0x02, RST=0x04, PSH=0x08, ACK=0x10).</summary>
    public uint TcpSequence;
    public uint TcpAck;
    public byte TcpFlags;

    /// <summary>The innermost 802.1Q/802.1ad VLAN id seen, 0 if untagged.</summary>
    public ushort VlanId;

    /// <summary>The packet was found inside GRE, ERSPAN, PPTP or IP-in-IP.</summary>
    public bool Tunneled;

    /// <summary>The packet was rebuilt from IP fragments; <see cref="Payload"/> points into the decoder's buffer.</summary>
    public bool Reassembled;
}

/// <summary>Limits of the IPv4/IPv6 fragment reassemblers (per decoder).</summary>
public sealed class FragmentOptions
{
    /// <summary>Datagrams in reassembly at once; more are dropped (FragmentLimit).</summary>
    public int MaxDatagrams { get; set; } = 1024;

    /// <summary>Buffer bytes held by datagrams in reassembly.</summary>
    public int MaxBytesHeld { get; set; } = 8 * 1024 * 1024;

    /// <summary>Largest datagram (IP payload) rebuilt: 65535, the IPv4 limit (IPv6 without jumbograms too).</summary>
    public int MaxDatagramSize { get; set; } = 65535;

    /// <summary>Separate byte ranges (holes + 1) one datagram may have; bounds the per-fragment work.</summary>
    public int MaxRangesPerDatagram { get; set; } = 16;

    /// <summary>Capture time after the first fragment when an incomplete datagram is discarded (30 s).</summary>
    public long TimeoutNs { get; set; } = 30L * 1_000_000_000;
}
