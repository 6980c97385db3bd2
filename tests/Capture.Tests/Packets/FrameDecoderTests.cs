using System.Buffers.Binary;
using System.Text;
using Capture.Interop;
using Capture.Packets;
using Capture.Tests.Support;
using Xunit.Abstractions;
using static Capture.Tests.Packets.FrameBuilder;

namespace Capture.Tests.Packets;

public class FrameDecoderTests
{
    private const long Second = 1_000_000_000;
    private readonly ITestOutputHelper _output;

    public FrameDecoderTests(ITestOutputHelper output) => _output = output;

    // ---- Real captures: what tshark sees ----

    [Theory]
    // Expected numbers: tshark -r FILE -Y udp | wc -l, tshark -r FILE -Y tcp | wc -l (tshark 4.0.17);
    // notIp = capinfos -c FILE minus tshark -r FILE -Y 'ip||ipv6' | wc -l (ARP, STP, LLC, ...).
    [InlineData("SIP_CALL_RTP_G711.pcap", 3583, 522, 164)]
    [InlineData("aaa.pcap", 590, 57, 44)]
    [InlineData("skinny.pcap", 135, 61, 4)]
    [InlineData("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", 7217, 0, 0)]
    [InlineData("cm2_register.pcapng", 0, 2037, 0)]
    [InlineData("cm_cap.pcapng", 37, 60, 0)]
    [InlineData("sccp_hw_conf_register.pcapng", 0, 17, 0)]
    [InlineData("sip_ipv4_tcp.pcap", 68, 16, 0)]
    [InlineData("sip_hello.pcapng", 30, 0, 0)]
    [InlineData("opus-2013785496.pcap", 765, 0, 0)] // Linux SLL
    [InlineData("sip-rtp-g722.pcap", 433, 0, 0)]
    [InlineData("g711a.pcap", 236, 0, 0)]
    [InlineData("rtp.pcapng", 75, 37, 0)]
    public void Decode_FindsTheUdpAndTcpPacketsTsharkSees(string file, int udp, int tcp, int notIp)
    {
        CaptureDecoding r = CaptureDecoding.Run(file);

        Assert.Equal(udp, r.Udp);
        Assert.Equal(tcp, r.Tcp);
        Assert.Equal(notIp, r.DropCounts[(int)DropReason.NotIp]);
        Assert.Equal(r.Frames - udp - tcp, r.Dropped);
    }

    [Fact]
    public void Decode_GreCapture_YieldsTheSipPacketInsideVlanAndPptpGre()
    {
        // tshark -r gre.pcapng -V: eth:vlan(142):ip:gre (enhanced GRE v1, K S A):ppp:ip:udp:sip;
        // inner 192.168.10.210:5060 -> 192.168.103.40:5060, UDP payload 298 bytes, "SIP/2.0 100 Trying".
        int seen = 0;
        CaptureDecoding r = CaptureDecoding.Run("gre.pcapng", onPacket: p =>
        {
            seen++;
            Assert.Equal(TransportProtocol.Udp, p.Protocol);
            Assert.Equal("192.168.10.210:5060", p.Source.ToString());
            Assert.Equal("192.168.103.40:5060", p.Destination.ToString());
            Assert.Equal(298, p.Payload.Length);
            Assert.True(p.Payload.StartsWith("SIP/2.0 100 Trying\r\n"u8));
            Assert.True(p.Tunneled);
            Assert.Equal(142, p.VlanId);
        });

        Assert.Equal(1, seen);
        Assert.Equal(1, r.Udp);
    }

    [Fact]
    public void Decode_RtpCapture_ReportsVlanId()
    {
        // tshark -r rtp.pcapng -Y vlan -T fields -e vlan.id | sort | uniq -c  ->  30 x 1508
        int tagged = 0;
        CaptureDecoding.Run("rtp.pcapng", onPacket: p =>
        {
            if (p.VlanId != 0)
            {
                Assert.Equal(1508, p.VlanId);
                tagged++;
            }
        });

        Assert.Equal(30, tagged);
    }

    [Fact]
    public void Decode_Ipv6FragCapture_ReassemblesTheBigInvites()
    {
        // tshark -r ipv6frag.pcap: frames 1+2 and 4+5 are IPv6 fragments (ident 0xb0647780, 0x05548cc5);
        // reassembled UDP lengths 1699 and 1879 (payloads 1691, 1871), start line as below.
        var reassembled = new List<(string Src, string Dst, int Length, string Start)>();
        CaptureDecoding r = CaptureDecoding.Run("ipv6frag.pcap", onPacket: p =>
        {
            if (p.Reassembled)
            {
                int eol = p.Payload.IndexOf("\r\n"u8);
                reassembled.Add((p.Source.ToString(), p.Destination.ToString(), p.Payload.Length, Encoding.ASCII.GetString(p.Payload[..eol])));
            }
        });

        Assert.Equal(2, r.Held);
        Assert.Equal(32, r.Udp);
        Assert.Equal(0, r.Dropped);
        Assert.Equal(2, reassembled.Count);
        Assert.Equal(("[fd17:625c:f037:2:a00:27ff:feb9:1521]:15060", "[fd17:625c:f037:2:a00:27ff:feb9:3519]:5062", 1691, "INVITE sip:08019200028@[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060 SIP/2.0"), reassembled[0]);
        Assert.Equal(("[fd17:625c:f037:2:a00:27ff:feb9:3519]:5062", "[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060", 1871, "INVITE sip:08019200028@[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060 SIP/2.0"), reassembled[1]);
    }

    [Fact]
    public void Decode_LinuxSllCapture_DecodesTcpWithSequenceNumbers()
    {
        // tshark -r sip_ipv4_tcp_retrans.pcap -c1 -T fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.len -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags
        //   192.168.1.3 443 192.168.1.252 52790 31 2858523285 2857478728 0x0018
        using var source = PcapSource.OpenOffline(Captures.PathOf("sip_ipv4_tcp_retrans.pcap"));
        Assert.Equal(LinkTypes.LinuxSll, source.LinkType);
        Assert.Equal(PcapReadStatus.Packet, source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame));

        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Packet, decoder.Decode(source.LinkType, ts, frame, out DecodedPacket p, out _));
        Assert.Equal(TransportProtocol.Tcp, p.Protocol);
        Assert.Equal("192.168.1.3:443", p.Source.ToString());
        Assert.Equal("192.168.1.252:52790", p.Destination.ToString());
        Assert.Equal(31, p.Payload.Length);
        Assert.Equal(2858523285u, p.TcpSequence);
        Assert.Equal(2857478728u, p.TcpAck);
        Assert.Equal(0x18, p.TcpFlags);
        Assert.Equal(ts, p.TimestampNs);

        // Whole file: tshark -Y udp: 4, -Y tcp: 181; 2 ARP (NotIp) and 9 ICMP (UnsupportedTransport).
        CaptureDecoding r = CaptureDecoding.Run("sip_ipv4_tcp_retrans.pcap");
        Assert.Equal((4, 181), (r.Udp, r.Tcp));
        Assert.Equal(2, r.DropCounts[(int)DropReason.NotIp]);
        Assert.Equal(9, r.DropCounts[(int)DropReason.UnsupportedTransport]);
    }

    [Fact]
    public void Decode_SipIpv6Capture_GivesIpv6Endpoints()
    {
        // tshark -r sip_ipv6_udp.pcap -T fields -e ipv6.src -e udp.srcport -e ipv6.dst -e udp.dstport -e udp.length (first row)
        //   fe80::21a:a0ff:fe07:32e0 5060 fec0::216:d3ff:fe0d:22c 5060 718
        var endpoints = new List<(string, string, int)>();
        CaptureDecoding r = CaptureDecoding.Run("sip_ipv6_udp.pcap", onPacket: p =>
        {
            Assert.False(p.Source.Address.IsIPv4);
            endpoints.Add((p.Source.ToString(), p.Destination.ToString(), p.Payload.Length));
        });

        Assert.Equal(6, r.Udp);
        Assert.Equal(("[fe80::21a:a0ff:fe07:32e0]:5060", "[fec0::216:d3ff:fe0d:22c]:5060", 710), endpoints[0]);
        Assert.Equal(("[fec0::216:d3ff:fe0d:22c]:5060", "[fe80::21a:a0ff:fe07:32e0]:5060", 448), endpoints[1]);
    }

    [Fact]
    public void Decode_EveryCapture_NeverThrows_AndAccountsForEveryFrame()
    {
        foreach (string path in Directory.GetFiles(Captures.Dir).Where(f => f.EndsWith(".pcap", StringComparison.Ordinal) || f.EndsWith(".pcapng", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            string file = Path.GetFileName(path);
            CaptureDecoding r = CaptureDecoding.Run(file);
            _output.WriteLine($"{file}: {r.Describe()}");
            Assert.Equal(r.Frames, r.Udp + r.Tcp + r.Held + r.Dropped);
            Assert.Equal(r.Dropped, r.DropCounts.Sum());
        }
    }

    [Fact]
    public void Decode_FuzzCapture_CountsMalformedFramesByReason()
    {
        // Wireshark fuzz output of aaa.pcap. tshark (which also labels malformed frames udp/tcp) counts udp 521, tcp 51,
        // ip 613, IPv4 fragments 29: we find fewer because bad lengths are dropped, not guessed.
        CaptureDecoding r = CaptureDecoding.Run("fuzz-2006-06-26-2594.pcap");
        _output.WriteLine(r.Describe());

        Assert.Equal(691, r.Frames);
        Assert.Equal(476, r.Udp);
        Assert.Equal(47, r.Tcp);
        Assert.Equal(17, r.Held);
        Assert.Equal(78, r.DropCounts[(int)DropReason.NotIp]);
        Assert.Equal(27, r.DropCounts[(int)DropReason.Truncated]);
        Assert.Equal(25, r.DropCounts[(int)DropReason.BadUdpHeader]);
        Assert.Equal(7, r.DropCounts[(int)DropReason.BadIpHeader]);
        Assert.Equal(7, r.DropCounts[(int)DropReason.BadFragment]);
        Assert.Equal(2, r.DropCounts[(int)DropReason.FragmentOverlap]);
        Assert.Equal(5, r.DropCounts[(int)DropReason.UnsupportedTransport]);
    }

    [Fact]
    public void Decode_RtpSegFaultCapture_DropsTheBogusUdpLength()
    {
        // tshark: "Length: 57343 (bogus, payload length 17)" in a 2241-byte frame whose IP total length is 37.
        CaptureDecoding r = CaptureDecoding.Run("rtp-seg-fault-1.pcapng");
        Assert.Equal(1, r.DropCounts[(int)DropReason.BadUdpHeader]);
    }

    [Fact]
    public void Decode_CrashCapture_DecodesAllUdp()
    {
        // tshark -r crash-27382.pcap -Y udp | wc -l: 276 (274 RTP + 2 crafted RTCP).
        Assert.Equal(276, CaptureDecoding.Run("crash-27382.pcap").Udp);
    }

    [Fact]
    public void Decode_DoesNotAllocate_InSteadyState()
    {
        var frames = new List<(long Ts, byte[] Frame)>();
        using (var source = PcapSource.OpenOffline(Captures.PathOf("SIP_CALL_RTP_G711.pcap")))
        {
            while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                frames.Add((ts, frame.ToArray()));
            }
        }

        (long Ts, byte[] Frame)[] all = [.. frames];
        var decoder = new FrameDecoder();
        long sink = 0;
        long allocated = Allocations.Measure(
            () => sink += DecodeAll(decoder, all) + DecodeAll(decoder, all),
            () => sink += DecodeAll(decoder, all));

        Assert.True(sink > 0);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Decode_ReassemblyPath_DoesNotAllocate_InSteadyState()
    {
        byte[] payload = new byte[3000];
        byte[] datagram = Udp(5060, 5060, payload);
        byte[] first = Ethernet(0x0800, Ipv4(17, datagram.AsSpan(0, 1480), id: 7, flagsAndOffset: 0x2000));
        byte[] second = Ethernet(0x0800, Ipv4(17, datagram.AsSpan(1480), id: 7, flagsAndOffset: 1480 / 8));
        var decoder = new FrameDecoder();
        int complete = 0;
        long allocated = Allocations.Measure(
            () =>
            {
                for (int i = 0; i < 100; i++)
                {
                    decoder.Decode(1, i, first, out _, out _);
                    decoder.Decode(1, i, second, out _, out _);
                }
            },
            () =>
            {
                for (int i = 0; i < 1000; i++)
                {
                    decoder.Decode(1, i, first, out _, out _);
                    complete += decoder.Decode(1, i, second, out _, out _) == DecodeResult.Packet ? 1 : 0;
                }
            });

        Assert.Equal(0, allocated);
        Assert.Equal(1000, complete);
    }

    private static long DecodeAll(FrameDecoder decoder, (long Ts, byte[] Frame)[] frames)
    {
        long payloadBytes = 0;
        foreach ((long ts, byte[] frame) in frames)
        {
            if (decoder.Decode(LinkTypes.Ethernet, ts, frame, out DecodedPacket p, out _) == DecodeResult.Packet)
            {
                payloadBytes += p.Payload.Length;
            }
        }

        return payloadBytes;
    }

    // ---- Hand-built frames: link layers and tags ----

    [Fact]
    public void Decode_PayloadPointsIntoTheFrame_AndPaddingIsTrimmed()
    {
        byte[] exact = SipOverUdp();
        byte[] padded = Concat(exact, [0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0]); // Ethernet trailer/padding past the IP total length

        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Ethernet, 5, padded, out DecodedPacket p, out _));

        Assert.True(p.Payload.SequenceEqual("OPTIONS sip:x SIP/2.0\r\n\r\n"u8));
        Assert.True(p.Payload.Overlaps(padded));
        Assert.False(p.Reassembled);
        Assert.Equal("10.0.0.1:5060", p.Source.ToString());
        Assert.Equal("10.0.0.2:5062", p.Destination.ToString());
        Assert.Equal(5, p.TimestampNs);
    }

    [Theory]
    [InlineData((ushort)0x88A8)]
    [InlineData((ushort)0x9100)]
    public void Decode_QinQ_ReportsTheInnerVlan(ushort outerTpid)
    {
        byte[] frame = Ethernet(0x0800, Ipv4(17, Udp(1, 2, "x"u8)), (outerTpid, 100), (0x8100, 0x2000 | 200));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _));
        Assert.Equal(200, p.VlanId);
        Assert.True(p.Payload.SequenceEqual("x"u8));
    }

    [Fact]
    public void Decode_EndlessVlanTags_AreBounded()
    {
        var tags = Enumerable.Repeat(((ushort)0x8100, (ushort)5), 100).ToArray();
        byte[] frame = Ethernet(0x0800, Ipv4(17, Udp(1, 2, "x"u8)), tags);

        Assert.Equal(DecodeResult.Dropped, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out _, out DropReason reason));
        Assert.Equal(DropReason.TooManyEncapsulations, reason);
    }

    [Fact]
    public void Decode_NonIpFrames_AreNotIp()
    {
        var decoder = new FrameDecoder();
        byte[] arp = Ethernet(0x0806, new byte[28]);
        byte[] llc = Ethernet(38, new byte[38]); // 802.3 length field + LLC (e.g. STP)

        Assert.Equal(DecodeResult.Dropped, decoder.Decode(LinkTypes.Ethernet, 0, arp, out _, out DropReason r1));
        Assert.Equal(DecodeResult.Dropped, decoder.Decode(LinkTypes.Ethernet, 0, llc, out _, out DropReason r2));
        Assert.Equal((DropReason.NotIp, DropReason.NotIp), (r1, r2));
        Assert.Equal(2, decoder.DropCounts[(int)DropReason.NotIp]);
    }

    [Fact]
    public void Decode_UnsupportedLinkType_IsCounted()
    {
        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Dropped, decoder.Decode(127 /* 802.11 radiotap */, 0, new byte[64], out _, out DropReason reason));
        Assert.Equal(DropReason.UnsupportedLinkType, reason);
        Assert.False(LinkTypes.IsSupported(127));
        Assert.True(LinkTypes.IsSupported(LinkTypes.LinuxSll2));
    }

    [Fact]
    public void Decode_LinuxSll2()
    {
        byte[] header = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(header, 0x0800);       // protocol type
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), 3);   // interface index
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8), 1);  // ARPHRD_ETHER
        header[10] = 4;                                               // PACKET_OUTGOING
        header[11] = 6;                                               // address length
        byte[] frame = Concat(header, Ipv4(17, Udp(5060, 5060, "SIP"u8)));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.LinuxSll2, 0, frame, out DecodedPacket p, out _));
        Assert.True(p.Payload.SequenceEqual("SIP"u8));
    }

    [Fact]
    public void Decode_LinuxSll_WithVlanProtocol()
    {
        byte[] header = new byte[16];
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), 0x8100);
        byte[] tag = [0x00, 0x2A, 0x08, 0x00];
        byte[] frame = Concat(header, tag, Ipv4(17, Udp(1, 2, "v"u8)));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.LinuxSll, 0, frame, out DecodedPacket p, out _));
        Assert.Equal(42, p.VlanId);
    }

    [Theory]
    [InlineData(LinkTypes.Raw)]
    [InlineData(LinkTypes.RawBsd)]
    [InlineData(LinkTypes.RawOpenBsd)]
    public void Decode_RawIp_VersionNibbleDecides(int dlt)
    {
        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Packet, decoder.Decode(dlt, 0, Ipv4(17, Udp(1, 2, "4"u8)), out DecodedPacket p4, out _));
        Assert.True(p4.Source.Address.IsIPv4);
        Assert.Equal(DecodeResult.Packet, decoder.Decode(dlt, 0, Ipv6(17, Udp(1, 2, "6"u8)), out DecodedPacket p6, out _));
        Assert.Equal("[2001::1]:1", p6.Source.ToString());
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Ipv4, 0, Ipv4(17, Udp(1, 2, "4"u8)), out _, out _));
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Ipv6, 0, Ipv6(17, Udp(1, 2, "6"u8)), out _, out _));
    }

    [Fact]
    public void Decode_BsdLoopback_EitherByteOrder()
    {
        var decoder = new FrameDecoder();
        byte[] littleEndianInet = [2, 0, 0, 0];
        byte[] bigEndianInet6 = [0, 0, 0, 30]; // macOS AF_INET6
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Null, 0, Concat(littleEndianInet, Ipv4(17, Udp(1, 2, "a"u8))), out _, out _));
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Loop, 0, Concat(bigEndianInet6, Ipv6(17, Udp(1, 2, "b"u8))), out _, out _));
        Assert.Equal(DecodeResult.Dropped, decoder.Decode(LinkTypes.Null, 0, Concat([7, 0, 0, 0], Ipv4(17, Udp(1, 2, "a"u8))), out _, out DropReason r));
        Assert.Equal(DropReason.NotIp, r);
    }

    [Fact]
    public void Decode_Mpls_ThenIp()
    {
        byte[] labels = [0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]; // two labels, the second with bottom-of-stack
        byte[] frame = Ethernet(0x8847, Concat(labels, Ipv4(17, Udp(1, 2, "m"u8))));
        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _));
        Assert.True(p.Payload.SequenceEqual("m"u8));
    }

    // ---- IP, UDP, TCP ----

    [Fact]
    public void Decode_Ipv4Options_AreSkipped()
    {
        byte[] ip = Ipv4(17, Concat([1, 1, 1, 0], Udp(1, 2, "o"u8))); // 4 bytes of options (NOPs, EOL) spliced after the header
        ip[0] = 0x46;
        byte[] withOptions = Concat(ip.AsSpan(0, 20).ToArray(), ip.AsSpan(20).ToArray());
        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Raw, 0, withOptions, out DecodedPacket p, out _));
        Assert.True(p.Payload.SequenceEqual("o"u8));
    }

    [Fact]
    public void Decode_Ipv6ExtensionHeaders_AreWalked()
    {
        byte[] hopByHop = [60, 0, 1, 4, 0, 0, 0, 0];                 // next: destination options; PadN
        byte[] destinationOptions = [43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // 16 bytes; next: routing
        byte[] routing = [17, 0, 0, 0, 0, 0, 0, 0];                  // next: UDP; segments left 0
        byte[] frame = Ipv6(0, Concat(hopByHop, destinationOptions, routing, Udp(5060, 5060, "ext"u8)));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Raw, 0, frame, out DecodedPacket p, out _));
        Assert.True(p.Payload.SequenceEqual("ext"u8));
    }

    [Fact]
    public void Decode_Tcp_ReadsSequenceAckFlagsAndOptions()
    {
        byte[] tcp = new byte[24 + 5];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 5060);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), 40000);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 0xFFFF_FFF0);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), 12345);
        tcp[12] = 6 << 4;       // data offset 24 bytes (one option word)
        tcp[13] = 0x18;         // PSH|ACK
        "hello"u8.CopyTo(tcp.AsSpan(24));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Raw, 0, Ipv4(6, tcp), out DecodedPacket p, out _));
        Assert.Equal(TransportProtocol.Tcp, p.Protocol);
        Assert.Equal((0xFFFF_FFF0u, 12345u, (byte)0x18), (p.TcpSequence, p.TcpAck, p.TcpFlags));
        Assert.True(p.Payload.SequenceEqual("hello"u8));
        Assert.Equal(40000, p.Destination.Port);
    }

    [Fact]
    public void Decode_BadHeaders_AreDroppedWithReasons()
    {
        var decoder = new FrameDecoder();
        byte[] udp = Udp(1, 2, "abc"u8);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), 200);      // longer than the IP payload
        byte[] shortUdp = Udp(1, 2, "abc"u8);
        BinaryPrimitives.WriteUInt16BigEndian(shortUdp.AsSpan(4), 4);   // below the header size
        byte[] tcp = new byte[20];
        tcp[12] = 4 << 4;                                               // data offset 16 < 20
        byte[] badVersion = Ipv4(17, Udp(1, 2, "v"u8));
        badVersion[0] = 0x55;
        byte[] badIhl = Ipv4(17, Udp(1, 2, "v"u8));
        badIhl[0] = 0x44;

        Assert.Equal(DropReason.BadUdpHeader, DropOf(decoder, LinkTypes.Ipv4, Ipv4(17, udp)));
        Assert.Equal(DropReason.BadUdpHeader, DropOf(decoder, LinkTypes.Ipv4, Ipv4(17, shortUdp)));
        Assert.Equal(DropReason.BadTcpHeader, DropOf(decoder, LinkTypes.Ipv4, Ipv4(6, tcp)));
        Assert.Equal(DropReason.UnsupportedTransport, DropOf(decoder, LinkTypes.Ipv4, Ipv4(1, new byte[8]))); // ICMP
        Assert.Equal(DropReason.UnsupportedTransport, DropOf(decoder, LinkTypes.Ipv6, Ipv6(58, new byte[8]))); // ICMPv6
        Assert.Equal(DropReason.BadIpHeader, DropOf(decoder, LinkTypes.Ipv4, badVersion));
        Assert.Equal(DropReason.BadIpHeader, DropOf(decoder, LinkTypes.Ipv4, badIhl));
        Assert.Equal(DropReason.NotIp, DropOf(decoder, LinkTypes.Raw, [0x50, 0, 0, 0]));
        Assert.Equal(2, decoder.DropCounts[(int)DropReason.BadUdpHeader]);
    }

    [Fact]
    public void Decode_TruncatedAtEveryLength_IsDroppedAsTruncated()
    {
        byte[] tcp = new byte[20 + 4];
        tcp[12] = 5 << 4;
        byte[] erspan3 = Concat(Gre(0x0000, 0x22EB), Erspan3Header(platformSubheader: true), Ethernet(0x0800, Ipv4(17, Udp(1, 2, "in"u8)), (0x8100, 9)));

        var frames = new (string Name, int LinkType, byte[] Frame)[]
        {
            ("ethernet/ipv4/udp", LinkTypes.Ethernet, SipOverUdp()),
            ("ethernet/qinq/ipv4/tcp", LinkTypes.Ethernet, Ethernet(0x0800, Ipv4(6, tcp), (0x88A8, 1), (0x8100, 2))),
            ("ethernet/ipv6/frag-atomic/udp", LinkTypes.Ethernet, Ethernet(0x86DD, Ipv6(44, Ipv6Fragment(17, 0, false, 9, Udp(1, 2, "a"u8))))),
            ("raw/ipv4/gre/erspan3/ethernet/vlan/ipv4/udp", LinkTypes.Raw, Ipv4(47, erspan3)),
            ("sll2/ipv6/udp", LinkTypes.LinuxSll2, Concat([0x86, 0xDD, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0], Ipv6(17, Udp(1, 2, "b"u8)))),
            ("null/ipv4/udp", LinkTypes.Null, Concat([2, 0, 0, 0], Ipv4(17, Udp(1, 2, "c"u8)))),
        };

        foreach ((string name, int linkType, byte[] frame) in frames)
        {
            var decoder = new FrameDecoder();
            Assert.Equal(DecodeResult.Packet, decoder.Decode(linkType, 0, frame, out _, out _));
            for (int length = 0; length < frame.Length; length++)
            {
                DecodeResult result = decoder.Decode(linkType, 0, frame.AsSpan(0, length), out _, out DropReason reason);
                Assert.True(result == DecodeResult.Dropped && reason == DropReason.Truncated, $"{name} cut to {length} bytes: {result}/{reason}");
            }

            Assert.Equal(frame.Length, decoder.DropCounts[(int)DropReason.Truncated]);
        }
    }

    [Fact]
    public void Decode_RandomCorruption_NeverThrows()
    {
        var frames = new List<byte[]>();
        using (var source = PcapSource.OpenOffline(Captures.PathOf("sip-rtp-g722.pcap")))
        {
            while (source.ReadNext(out _, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                frames.Add(frame.ToArray());
            }
        }

        var random = new Random(2594);
        var decoder = new FrameDecoder(new FragmentOptions { MaxDatagrams = 8 });
        int[] results = new int[3];
        int[] linkTypes = [LinkTypes.Ethernet, LinkTypes.Raw, LinkTypes.LinuxSll, LinkTypes.LinuxSll2, LinkTypes.Null];
        for (int round = 0; round < 20_000; round++)
        {
            byte[] frame = (byte[])frames[random.Next(frames.Count)].Clone();
            int flips = random.Next(1, 6);
            for (int i = 0; i < flips; i++)
            {
                // Bias corruption towards the headers, where the decoder makes its decisions.
                frame[random.Next(Math.Min(frame.Length, 64))] = (byte)random.Next(256);
            }

            int length = random.Next(frame.Length + 1);
            results[(int)decoder.Decode(linkTypes[random.Next(linkTypes.Length)], round, frame.AsSpan(0, length), out _, out _)]++;
        }

        decoder.ExpireFragments(long.MaxValue);
        _output.WriteLine($"packet={results[0]} held={results[1]} dropped={results[2]}");
        Assert.Equal(0, decoder.FragmentsPending);
        Assert.Equal(0, decoder.FragmentBytesHeld);
    }

    // ---- Tunnels ----

    [Fact]
    public void Decode_GreWithChecksumKeyAndSequence_InnerIpv4()
    {
        byte[] gre = Gre(0xB000, 0x0800, 0x1234_0000, 42, 7); // C, K, S
        byte[] frame = Ethernet(0x0800, Ipv4(47, Concat(gre, Ipv4(17, Udp(5060, 5060, "in"u8), src: [192, 168, 0, 1], dst: [192, 168, 0, 2]))));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _));
        Assert.True(p.Tunneled);
        Assert.Equal("192.168.0.1:5060", p.Source.ToString());
        Assert.True(p.Payload.SequenceEqual("in"u8));
    }

    [Fact]
    public void Decode_GreTransparentEthernetBridging()
    {
        byte[] inner = Ethernet(0x86DD, Ipv6(17, Udp(1, 2, "teb"u8)), (0x8100, 33));
        byte[] frame = Ethernet(0x0800, Ipv4(47, Concat(Gre(0x2000, 0x6558, 99), inner)));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _));
        Assert.Equal(33, p.VlanId);
        Assert.True(p.Payload.SequenceEqual("teb"u8));
    }

    [Fact]
    public void Decode_ErspanTypeII()
    {
        // ERSPAN II header: Ver=1, VLAN=0 | COS/En/T/Session=5 | Index.
        byte[] erspan = [0x10, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01];
        byte[] mirrored = Ethernet(0x0800, Ipv4(17, Udp(5060, 5060, "mirrored"u8), src: [172, 16, 0, 1]), (0x8100, 77));
        byte[] frame = Ethernet(0x0800, Ipv4(47, Concat(Gre(0x1000, 0x88BE, 1), erspan, mirrored)));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _));
        Assert.True(p.Tunneled);
        Assert.Equal(77, p.VlanId);
        Assert.Equal("172.16.0.1:5060", p.Source.ToString());
        Assert.True(p.Payload.SequenceEqual("mirrored"u8));
    }

    [Fact]
    public void Decode_ErspanTypeI_HasNoHeader()
    {
        byte[] mirrored = Ethernet(0x0800, Ipv4(17, Udp(1, 2, "t1"u8)));
        byte[] frame = Ethernet(0x0800, Ipv4(47, Concat(Gre(0x0000, 0x88BE), mirrored)));
        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _));
        Assert.True(p.Payload.SequenceEqual("t1"u8));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decode_ErspanTypeIII(bool platformSubheader)
    {
        byte[] mirrored = Ethernet(0x0800, Ipv4(17, Udp(5060, 5061, "three"u8)));
        byte[] frame = Ethernet(0x0800, Ipv4(47, Concat(Gre(0x1000, 0x22EB, 1), Erspan3Header(platformSubheader), mirrored)));

        Assert.Equal(DecodeResult.Packet, new FrameDecoder().Decode(LinkTypes.Ethernet, 0, frame, out DecodedPacket p, out _));
        Assert.Equal(5061, p.Destination.Port);
        Assert.True(p.Payload.SequenceEqual("three"u8));
    }

    [Fact]
    public void Decode_UnsupportedGre_IsCounted()
    {
        var decoder = new FrameDecoder();
        Assert.Equal(DropReason.UnsupportedTunnel, DropOf(decoder, LinkTypes.Raw, Ipv4(47, Concat(Gre(0x4000, 0x0800, 0), Ipv4(17, Udp(1, 2, "r"u8)))))); // routing
        Assert.Equal(DropReason.UnsupportedTunnel, DropOf(decoder, LinkTypes.Raw, Ipv4(47, Concat(Gre(0x0000, 0x1234), new byte[20]))));               // unknown protocol
        Assert.Equal(DropReason.UnsupportedTunnel, DropOf(decoder, LinkTypes.Raw, Ipv4(47, Concat(Gre(0x0002, 0x0800), new byte[20]))));               // version 2
        Assert.Equal(3, decoder.DropCounts[(int)DropReason.UnsupportedTunnel]);
    }

    [Fact]
    public void Decode_IpInIp_IsTunneled_AndDeepNestingIsBounded()
    {
        var decoder = new FrameDecoder();
        byte[] inner = Ipv4(17, Udp(1, 2, "deep"u8));
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Raw, 0, Ipv4(4, inner), out DecodedPacket p, out _));
        Assert.True(p.Tunneled);
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Raw, 0, Ipv6(4, inner), out _, out _));

        byte[] nested = inner;
        for (int i = 0; i < 20; i++)
        {
            nested = i % 2 == 0 ? Ipv4(4, nested) : Ipv4(47, Concat(Gre(0, 0x0800), nested));
        }

        Assert.Equal(DropReason.TooManyEncapsulations, DropOf(decoder, LinkTypes.Raw, nested));
    }

    // ---- Fragments ----

    [Fact]
    public void Decode_Ipv4FragmentsOutOfOrder_AreReassembled()
    {
        byte[] payload = Enumerable.Range(0, 2000).Select(i => (byte)i).ToArray();
        byte[][] fragments = Ipv4Fragments(Udp(5060, 5060, payload), id: 0x4242, 800);
        Assert.Equal(3, fragments.Length);

        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 1, fragments[2], out _, out DropReason r));
        Assert.Equal(DropReason.None, r);
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 2, fragments[0], out _, out _));
        Assert.Equal(1, decoder.FragmentsPending);
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Ethernet, 3, fragments[1], out DecodedPacket p, out _));

        Assert.True(p.Reassembled);
        Assert.Equal(3, p.TimestampNs);
        Assert.True(p.Payload.SequenceEqual(payload));
        Assert.Equal("10.0.0.1:5060", p.Source.ToString());
        Assert.Equal(0, decoder.FragmentsPending);
        Assert.Equal(0, decoder.FragmentBytesHeld);
    }

    [Fact]
    public void Decode_DuplicateFragment_IsAccepted()
    {
        byte[][] fragments = Ipv4Fragments(Udp(1, 2, new byte[1000]), id: 1, 504);
        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 0, fragments[0], out _, out _));
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 0, fragments[0], out _, out _));
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Ethernet, 0, fragments[1], out DecodedPacket p, out _));
        Assert.Equal(1000, p.Payload.Length);
    }

    [Fact]
    public void Decode_OverlappingFragmentWithDifferentBytes_DiscardsTheDatagram()
    {
        byte[] datagram = Udp(1, 2, new byte[1000]);
        byte[][] fragments = Ipv4Fragments(datagram, id: 5, 504);
        // A forged fragment at offset 496 carrying different bytes over the first fragment's tail.
        byte[] forged = Ethernet(0x0800, Ipv4(17, Enumerable.Repeat((byte)0xAA, 16).ToArray(), id: 5, flagsAndOffset: 0x2000 | (496 / 8)));

        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 0, fragments[0], out _, out _));
        Assert.Equal(DecodeResult.Dropped, decoder.Decode(LinkTypes.Ethernet, 0, forged, out _, out DropReason r));
        Assert.Equal(DropReason.FragmentOverlap, r);
        Assert.Equal(DecodeResult.Dropped, decoder.Decode(LinkTypes.Ethernet, 0, fragments[1], out _, out r));
        Assert.Equal(DropReason.FragmentOverlap, r);
        Assert.Equal(2, decoder.DropCounts[(int)DropReason.FragmentOverlap]);

        // The poisoned entry expires without counting as a timeout.
        decoder.ExpireFragments(60 * Second);
        Assert.Equal(0, decoder.FragmentsPending);
        Assert.Equal(0, decoder.DropCounts[(int)DropReason.FragmentTimeout]);
    }

    [Fact]
    public void Decode_FragmentLimits_AreEnforced()
    {
        var decoder = new FrameDecoder(new FragmentOptions { MaxDatagrams = 2 });
        for (ushort id = 1; id <= 2; id++)
        {
            Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 0, Ipv4Fragments(Udp(1, 2, new byte[100]), id, 56)[0], out _, out _));
        }

        Assert.Equal(DecodeResult.Dropped, decoder.Decode(LinkTypes.Ethernet, 0, Ipv4Fragments(Udp(1, 2, new byte[100]), 3, 56)[0], out _, out DropReason r));
        Assert.Equal(DropReason.FragmentLimit, r);

        var small = new FrameDecoder(new FragmentOptions { MaxBytesHeld = 4096 });
        Assert.Equal(DecodeResult.Held, small.Decode(LinkTypes.Ethernet, 0, Ipv4Fragments(Udp(1, 2, new byte[100]), 1, 56)[0], out _, out _));
        Assert.Equal(DecodeResult.Dropped, small.Decode(LinkTypes.Ethernet, 0, Ipv4Fragments(Udp(1, 2, new byte[100]), 2, 56)[0], out _, out r));
        Assert.Equal(DropReason.FragmentLimit, r);

        // Offset 65528 + 16 bytes would pass the 65535-byte maximum.
        byte[] tooFar = Ethernet(0x0800, Ipv4(17, new byte[16], id: 9, flagsAndOffset: 0x1FFF));
        Assert.Equal(DropReason.FragmentTooLarge, DropOf(decoder, LinkTypes.Ethernet, tooFar));

        // A middle fragment whose length is not a multiple of 8.
        byte[] odd = Ethernet(0x0800, Ipv4(17, new byte[13], id: 10, flagsAndOffset: 0x2000));
        Assert.Equal(DropReason.BadFragment, DropOf(decoder, LinkTypes.Ethernet, odd));
    }

    [Fact]
    public void Decode_TooManyHoles_DiscardsTheDatagram()
    {
        var decoder = new FrameDecoder(new FragmentOptions { MaxRangesPerDatagram = 3 });
        byte[][] fragments = Ipv4Fragments(Udp(1, 2, new byte[200]), 77, 16);
        int[] order = [0, 2, 4, 6];
        DropReason last = DropReason.None;
        foreach (int i in order)
        {
            decoder.Decode(LinkTypes.Ethernet, 0, fragments[i], out _, out last);
        }

        Assert.Equal(DropReason.FragmentLimit, last);
        Assert.Equal(0, decoder.FragmentsPending);
    }

    [Fact]
    public void ExpireFragments_CountsTimeouts()
    {
        var decoder = new FrameDecoder(new FragmentOptions { TimeoutNs = 30 * Second });
        byte[][] fragments = Ipv4Fragments(Udp(1, 2, new byte[100]), 3, 56);
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 10 * Second, fragments[0], out _, out _));

        decoder.ExpireFragments(40 * Second);
        Assert.Equal(1, decoder.FragmentsPending);
        decoder.ExpireFragments((40 * Second) + 1);
        Assert.Equal(0, decoder.FragmentsPending);
        Assert.Equal(1, decoder.DropCounts[(int)DropReason.FragmentTimeout]);
        Assert.Equal(0, decoder.FragmentBytesHeld);

        // The late last fragment starts a new datagram that cannot complete.
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 41 * Second, fragments[1], out _, out _));
    }

    [Fact]
    public void Decode_Ipv6FragmentsOutOfOrder_AreReassembled()
    {
        byte[] payload = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        byte[] datagram = Udp(5060, 5080, payload);
        byte[] first = Ethernet(0x86DD, Ipv6(44, Ipv6Fragment(17, 0, true, 0xABCDEF01, datagram.AsSpan(0, 1448))));
        byte[] second = Ethernet(0x86DD, Ipv6(44, Ipv6Fragment(17, 1448, true, 0xABCDEF01, datagram.AsSpan(1448, 1448))));
        byte[] third = Ethernet(0x86DD, Ipv6(44, Ipv6Fragment(17, 2896, false, 0xABCDEF01, datagram.AsSpan(2896))));

        var decoder = new FrameDecoder();
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 0, second, out _, out _));
        Assert.Equal(DecodeResult.Held, decoder.Decode(LinkTypes.Ethernet, 0, third, out _, out _));
        Assert.Equal(DecodeResult.Packet, decoder.Decode(LinkTypes.Ethernet, 0, first, out DecodedPacket p, out _));
        Assert.True(p.Reassembled);
        Assert.Equal(5080, p.Destination.Port);
        Assert.True(p.Payload.SequenceEqual(payload));
    }

    // ---- Helpers ----

    private static DropReason DropOf(FrameDecoder decoder, int linkType, byte[] frame)
    {
        Assert.Equal(DecodeResult.Dropped, decoder.Decode(linkType, 0, frame, out _, out DropReason reason));
        return reason;
    }

    /// <summary>Ethernet/IPv4 fragments of <paramref name="datagram"/> (the IP payload), <paramref name="size"/> bytes each (a multiple of 8).</summary>
    private static byte[][] Ipv4Fragments(byte[] datagram, ushort id, int size)
    {
        var list = new List<byte[]>();
        for (int offset = 0; offset < datagram.Length; offset += size)
        {
            int length = Math.Min(size, datagram.Length - offset);
            bool more = offset + length < datagram.Length;
            list.Add(Ethernet(0x0800, Ipv4(17, datagram.AsSpan(offset, length), id, (ushort)((more ? 0x2000 : 0) | (offset / 8)))));
        }

        return [.. list];
    }

    private static byte[] Erspan3Header(bool platformSubheader)
    {
        // Ver=2 VLAN=0 | COS/BSO/T/Session=9 | Timestamp | SGT | P FT(0 = Ethernet) HwId D Gra O.
        byte[] h = [0x20, 0x00, 0x00, 0x09, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00];
        if (!platformSubheader)
        {
            return h;
        }

        h[11] |= 0x01;
        return Concat(h, [0x08, 0, 0, 0, 0, 0, 0, 0]);
    }
}
