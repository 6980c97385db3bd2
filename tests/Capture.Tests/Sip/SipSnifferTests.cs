using System.Text;
using Capture.Sip;

namespace Capture.Tests.Sip;

public class SipSnifferTests
{
    [Fact]
    public void LooksLikeSip_AcceptsRealMessages()
    {
        Assert.True(SipSniffer.LooksLikeSip(SipSamples.G711Invite));
        Assert.True(SipSniffer.LooksLikeSip(SipSamples.G711Ok));
        Assert.True(SipSniffer.LooksLikeSip(SipSamples.AaaRegister));
        Assert.True(SipSniffer.LooksLikeSip(SipSamples.IPv6Invite));
        Assert.True(SipSniffer.LooksLikeSip(SipSamples.JunkRegister));
        Assert.True(SipSniffer.LooksLikeSip(SipSamples.TcpRinging));
        Assert.True(SipSniffer.LooksLikeSip("\r\n\r\nSIP/2.0 100 Trying\r\n\r\n"u8));
        Assert.True(SipSniffer.LooksLikeSip("MESSAGE tel:+15551234 SIP/2.0\r\n"u8));
        Assert.True(SipSniffer.LooksLikeSip("OPTIONS sips:h SIP/2.0\n"u8));
    }

    [Fact]
    public void LooksLikeSip_RejectsHelloKeepAlive()
    {
        // sip_hello.pcapng frames 1-8: 5-byte "hello" datagrams on the SIP flow.
        Assert.False(SipSniffer.LooksLikeSip("hello"u8));
    }

    [Fact]
    public void LooksLikeSip_RejectsRtpDnsAndJunk()
    {
        // g711a.pcap frame 1: RTP header (PT 8) and A-law silence.
        byte[] rtp = [0x80, 0x88, 0xe6, 0xfd, 0x00, 0x00, 0x00, 0xf0, 0xde, 0xe0, 0xee, 0x8f, .. Enumerable.Repeat((byte)0xd5, 160)];
        Assert.False(SipSniffer.LooksLikeSip(rtp));
        byte[] dns = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 3, (byte)'w', (byte)'w', (byte)'w', 0, 0, 1, 0, 1];
        Assert.False(SipSniffer.LooksLikeSip(dns));
        Assert.False(SipSniffer.LooksLikeSip([0, 0, 0, 0]));
        Assert.False(SipSniffer.LooksLikeSip("\r\n\r\n"u8));
        Assert.False(SipSniffer.LooksLikeSip(default));
        Assert.False(SipSniffer.LooksLikeSip("GET / HTTP/1.1\r\n"u8));
        Assert.False(SipSniffer.LooksLikeSip("HTTP/1.1 200 OK\r\n"u8));
        Assert.False(SipSniffer.LooksLikeSip("SIP/2.0 20 OK\r\n"u8));
        Assert.False(SipSniffer.LooksLikeSip("invite sip:a SIP/2.0\r\n"u8));
        Assert.False(SipSniffer.LooksLikeSip("INVITE http://a SIP/2.0\r\n"u8));
        Assert.False(SipSniffer.LooksLikeSip("INVITE sip:a@b SIP/2.0"u8)); // no line end: not enough to tell
        Assert.False(SipSniffer.LooksLikeSip(Encoding.ASCII.GetBytes("SIP/2.0 200 OK")));
    }
}
