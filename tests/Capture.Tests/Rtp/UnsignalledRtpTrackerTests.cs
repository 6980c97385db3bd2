using System.Buffers.Binary;
using System.Text;
using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;
using Capture.Tests.Support;
using Xunit;

namespace Capture.Tests.Rtp;

/// <summary>
/// What proves a flow nobody signalled to be RTP worth recording, and what never is: the rules a mirror port's other UDP
/// (DNS, SNMP, syslog, games, video) must not slip through.
/// </summary>
public sealed class UnsignalledRtpTrackerTests
{
    private const long Ms20 = 20_000_000;

    private readonly RecordingSink _sink = new();
    private readonly CallBook _book;
    private readonly UnsignalledRtpTracker _tracker;

    public UnsignalledRtpTrackerTests()
    {
        _book = new CallBook(_sink);
        _tracker = new UnsignalledRtpTracker(_book);
    }

    [Fact]
    public void APcmaStream_IsProvedByItsFourthPacket_AndBothDirectionsAreOneCall()
    {
        IpEndpoint16 a = Ep("10.0.0.10:16384"), b = Ep("10.0.0.20:20000");
        for (int i = 0; i < UnsignalledRtpTracker.ProofPackets - 1; i++)
        {
            Assert.Equal(UnsignalledRtpResult.Probing, Offer(a, b, Rtp(8, (ushort)(100 + i), (uint)(160 * i), 0x1234, 160), i * Ms20));
        }

        Assert.Equal(UnsignalledRtpResult.Recognised, Offer(a, b, Rtp(8, 103, 480, 0x1234, 160), 3 * Ms20));
        RecordingSink.Started call = Assert.Single(_sink.Calls);
        Assert.Equal(("rtp", "10.0.0.10:16384-10.0.0.20:20000"), (call.Metadata.Protocol, call.Metadata.CallId));
        Assert.Equal(["PCMA"], call.Metadata.Codecs);
        Assert.True(_book.Media.TryClassify(b, a, 5, out Call? back, out Channel speaker), "the other direction is the same call");
        Assert.Equal(call.Id, back!.Id);
        Assert.Equal(Channel.Right, speaker);
    }

    [Fact]
    public void RandomDatagramsThatLookLikeRtpVersion2_AreNeverRecorded()
    {
        var random = new Random(7);
        IpEndpoint16 a = Ep("10.0.0.10:40000"), b = Ep("10.0.0.20:40001");
        for (int i = 0; i < 20_000; i++)
        {
            byte[] payload = new byte[random.Next(12, 400)];
            random.NextBytes(payload);
            payload[0] = (byte)(0x80 | (payload[0] & 0x0F)); // version 2, no padding or extension
            Offer(a, b, payload, i * Ms20);
        }

        Assert.Empty(_sink.Calls);
    }

    [Fact]
    public void WellKnownPortsVideoAndRtcp_AreNotRtpToRecord()
    {
        Assert.Equal(UnsignalledRtpResult.NotRtp, Offer(Ep("10.0.0.10:161"), Ep("10.0.0.20:30000"), Rtp(0, 1, 0, 1, 160), 0)); // SNMP's port
        Assert.Equal(UnsignalledRtpResult.NotRtp, Offer(Ep("10.0.0.10:30000"), Ep("10.0.0.20:30000"), Rtp(34, 1, 0, 1, 500), 0)); // H.263 video
        byte[] rtcp = Rtp(72, 1, 0, 1, 20);
        rtcp[1] = 200; // RTCP sender report
        Assert.Equal(UnsignalledRtpResult.NotRtp, Offer(Ep("10.0.0.10:30001"), Ep("10.0.0.20:30001"), rtcp, 0));
    }

    [Fact]
    public void AStaticTypeWhosePayloadDoesNotFitItsCodec_IsCountedNotRecorded()
    {
        // PT 0 says G.711 u-law, one byte per 8 kHz tick: 100-byte payloads for 160-tick steps are something else.
        IpEndpoint16 a = Ep("10.0.0.10:30000"), b = Ep("10.0.0.20:30002");
        UnsignalledRtpResult last = default;
        for (int i = 0; i < 10; i++)
        {
            last = Offer(a, b, Rtp(0, (ushort)i, (uint)(160 * i), 9, 100), i * Ms20);
        }

        Assert.Equal(UnsignalledRtpResult.Unrecordable, last);
        Assert.Empty(_sink.Calls);
    }

    [Fact]
    public void ADynamicTypeIsOpus_OnlyWhenItsPacketsSayTheirOwnDurationAt48Khz()
    {
        // TOC 0x08: SILK narrowband, 20 ms, one frame = 960 samples at 48 kHz, matching a 960-tick step.
        IpEndpoint16 a = Ep("10.0.0.10:30010"), b = Ep("10.0.0.20:30012");
        for (int i = 0; i < UnsignalledRtpTracker.ProofPackets; i++)
        {
            byte[] packet = Rtp(111, (ushort)i, (uint)(960 * i), 5, 40);
            packet[12] = 0x08;
            Offer(a, b, packet, i * Ms20);
        }

        Assert.Equal(["opus"], Assert.Single(_sink.Calls).Metadata.Codecs);

        // The same TOC with a 160-tick step (an 8 kHz clock): not Opus, and no other codec fits a dynamic type.
        IpEndpoint16 c = Ep("10.0.0.30:30010"), d = Ep("10.0.0.40:30012");
        for (int i = 0; i < 8; i++)
        {
            byte[] packet = Rtp(111, (ushort)i, (uint)(160 * i), 6, 40);
            packet[12] = 0x08;
            Offer(c, d, packet, i * Ms20);
        }

        Assert.Single(_sink.Calls);
    }

    [Fact]
    public void EncryptedPayloadsOnADynamicType_AreNotTakenForOpus()
    {
        // DTLS-SRTP as WebRTC sends it: a perfect RTP header sequence, random-looking payloads. Some first bytes parse as a
        // 20 ms Opus TOC, but not the same configuration packet after packet.
        var random = new Random(11);
        for (int stream = 0; stream < 200; stream++)
        {
            IpEndpoint16 a = Ep($"10.1.{stream / 200}.{stream % 200}:30000"), b = Ep("10.2.0.1:40000");
            for (int i = 0; i < 8; i++)
            {
                byte[] packet = Rtp(111, (ushort)i, (uint)(960 * i), (uint)stream, 80);
                random.NextBytes(packet.AsSpan(12));
                Offer(a, b, packet, i * Ms20);
            }
        }

        Assert.Empty(_sink.Calls);
    }

    [Fact]
    public void AStreamCarryingTheSsrcOfARecordedCallsParty_IsThatCallsRelayLeg()
    {
        Call call = _book.Start("sip", "relayed", 0, new PartyInfo(), null, new PartyInfo(), null);
        _book.Media.Map(call, Ep("10.0.0.10:4000"), Channel.Left);
        _book.Media.NoteSsrc(call, Channel.Left, 0xCAFE);

        Assert.Equal(UnsignalledRtpResult.Recognised, Offer(Ep("10.0.0.99:5000"), Ep("10.0.0.50:6000"), Rtp(8, 1, 0, 0xCAFE, 160), 0));
        Assert.True(_book.Media.TryClassify(Ep("10.0.0.99:5000"), Ep("10.0.0.50:6000"), 1, out Call? found, out Channel speaker));
        Assert.Same(call, found);
        Assert.Equal(Channel.Left, speaker);
        Assert.Single(_sink.Calls); // only the signalled call
    }

    [Fact]
    public void TheMediaOfACallsOtherHop_IsNoCallOfItsOwn_WhateverItsSsrc()
    {
        // An SBC keeping the Call-ID re-originates RTP on its far side (new SSRC): the SIP tracker records the recorded
        // party's hop and names the other hop's endpoints, whose packets are then counted, not recorded a second time.
        Call call = _book.Start("sip", "hops", 0, new PartyInfo(), null, new PartyInfo(), null);
        _book.Media.NoteOtherHop(call, Ep("10.0.0.30:30000"));
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(UnsignalledRtpResult.Quiet, Offer(Ep("10.0.0.30:30000"), Ep("10.0.0.20:6000"), Rtp(8, (ushort)i, (uint)(160 * i), 0xBEEF, 160), i * Ms20));
        }

        Assert.Single(_sink.Calls);
        _book.End(call, CallEndReasons.Bye, 1_000_000_000);
        _tracker.Expire(12_000_000_000); // ten seconds after the call's end, the endpoint is anyone's again
        Assert.Equal(UnsignalledRtpResult.Probing, Offer(Ep("10.0.0.30:30000"), Ep("10.0.0.20:6000"), Rtp(8, 1, 0, 1, 160), 12_000_000_000));
    }

    [Fact]
    public void PacketsToAnEndedCallsEndpoint_AreItsTrailingMedia_ForTenSeconds()
    {
        Call call = _book.Start("sip", "ended", 0, new PartyInfo(), null, new PartyInfo(), null);
        _book.Media.Map(call, Ep("10.0.0.20:5000"), Channel.Right);
        _book.End(call, CallEndReasons.Bye, 1_000_000_000);

        Assert.Equal(UnsignalledRtpResult.Quiet, Offer(Ep("10.0.0.10:4000"), Ep("10.0.0.20:5000"), Rtp(8, 1, 0, 1, 160), 2_000_000_000));
        _tracker.Expire(12_000_000_000);
        Assert.Equal(UnsignalledRtpResult.Probing, Offer(Ep("10.0.0.10:4000"), Ep("10.0.0.20:5000"), Rtp(8, 1, 0, 1, 160), 12_000_000_000));
    }

    private UnsignalledRtpResult Offer(IpEndpoint16 source, IpEndpoint16 destination, byte[] datagram, long atNs)
    {
        var packet = new DecodedPacket { Source = source, Destination = destination, Payload = datagram, TimestampNs = atNs, Protocol = TransportProtocol.Udp };
        return _tracker.Offer(packet);
    }

    private static byte[] Rtp(byte payloadType, ushort sequence, uint timestamp, uint ssrc, int payloadBytes)
    {
        byte[] packet = new byte[12 + payloadBytes];
        packet[0] = 0x80;
        packet[1] = payloadType;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), ssrc);
        return packet;
    }

    private static IpEndpoint16 Ep(string s)
    {
        int colon = s.LastIndexOf(':');
        Assert.True(IpAddress16.TryParse(Encoding.ASCII.GetBytes(s[..colon]), out IpAddress16 address));
        return new IpEndpoint16(address, ushort.Parse(s[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
