using System.Buffers;
using System.Text;
using Capture.Sip;

namespace Capture.Tests.Sip;

public class SipNameAddrTests
{
    private static string S(ReadOnlySpan<byte> s) => Encoding.ASCII.GetString(s);

    [Fact]
    public void TryParse_AaaRegisterContact_ReadsLineAndExpires()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.AaaRegister, out SipMessage m, out _));
        Assert.True(SipNameAddr.TryParse(m.Contact, out SipNameAddr c));
        Assert.Equal("sip:voi18062@192.168.1.2:5060;line=aca6b97ca3f5e51a", S(c.Uri));
        Assert.Equal("sip", S(c.Scheme));
        Assert.Equal("voi18062", S(c.User));
        Assert.Equal("192.168.1.2", S(c.Host));
        Assert.Equal(5060, c.Port);
        Assert.True(c.TryGetUriParameter("line"u8, out ReadOnlySpan<byte> line));
        Assert.Equal("aca6b97ca3f5e51a", S(line));
        Assert.True(c.TryGetHeaderParameter("expires"u8, out ReadOnlySpan<byte> expires));
        Assert.Equal("1200", S(expires));
        Assert.True(c.TryGetHeaderParameter("Q"u8, out ReadOnlySpan<byte> q));
        Assert.Equal("0.500", S(q));
        Assert.False(c.TryGetHeaderParameter("line"u8, out _));
        Assert.False(c.TryGetUriParameter("expires"u8, out _));
        Assert.True(c.DisplayName.IsEmpty);
        Assert.True(c.Tag.IsEmpty);
        Assert.False(c.IsWildcard);
    }

    [Fact]
    public void TryParse_G711From_NoUserAndUriParamUserPhone()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.G711Invite, out SipMessage m, out _));
        Assert.True(SipNameAddr.TryParse(m.From, out SipNameAddr from));
        Assert.True(from.User.IsEmpty);
        Assert.Equal("200.57.7.195", S(from.Host));
        Assert.Equal(55061, from.Port);
        Assert.Equal("GR52RWG346-34", S(from.Tag));
        Assert.True(from.TryGetUriParameter("user"u8, out ReadOnlySpan<byte> user));
        Assert.Equal("phone", S(user));

        Assert.True(SipNameAddr.TryParse(m.To, out SipNameAddr to));
        Assert.Equal("francisco@bestel.com", S(to.DisplayName));
        Assert.Equal("francisco", S(to.User));
        Assert.Equal("bestel.com", S(to.Host));
        Assert.Equal(55060, to.Port);
        Assert.True(to.Tag.IsEmpty);
    }

    [Fact]
    public void TryParse_OpusInvite_QuotedAndTokenDisplayNamesAndBareContact()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.OpusInvite, out SipMessage m, out _));
        Assert.True(SipNameAddr.TryParse(m.From, out SipNameAddr from));
        Assert.Equal("opus/48000/2", S(from.DisplayName));
        Assert.Equal("sipp", S(from.User));
        Assert.Equal("1", S(from.Tag));
        Assert.True(SipNameAddr.TryParse(m.To, out SipNameAddr to));
        Assert.Equal("test", S(to.DisplayName));
        Assert.Equal("10.0.2.15", S(to.Host));
        Assert.True(SipNameAddr.TryParse(m.Contact, out SipNameAddr contact));
        Assert.Equal("sip:sipp@10.0.2.20:5060", S(contact.Uri));
        Assert.Equal(5060, contact.Port);
    }

    [Fact]
    public void TryParse_IPv6Invite_UnbracketedAddressWithAndWithoutPort()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.IPv6Invite, out SipMessage m, out _));
        Assert.True(SipNameAddr.TryParse(m.Contact, out SipNameAddr contact));
        Assert.Equal("9876", S(contact.User));
        Assert.Equal("fe80:0:0:0:21a:a0ff:fe07:32e0", S(contact.Host));
        Assert.Equal(5060, contact.Port);
        Assert.True(SipNameAddr.TryParse(m.From, out SipNameAddr from));
        Assert.Equal("fe80:0:0:0:21a:a0ff:fe07:32e0", S(from.Host));
        Assert.Equal(0, from.Port);
        Assert.Equal("a3bhg", S(from.Tag));
    }

    [Fact]
    public void TryParse_HuaweiRegister_DisplayNameWithoutSpaceBeforeAngle()
    {
        // sip_hello.pcapng frame 9: From: "26841945"<sip:26841945@10.192.60.4>;tag=...
        Assert.True(SipNameAddr.TryParse("\"26841945\"<sip:26841945@10.192.60.4>;tag=c085d8-ae78e54"u8, out SipNameAddr a));
        Assert.Equal("26841945", S(a.DisplayName));
        Assert.Equal("26841945", S(a.User));
        Assert.Equal("10.192.60.4", S(a.Host));
        Assert.Equal("c085d8-ae78e54", S(a.Tag));
    }

    [Theory]
    [InlineData("<sips:[2001:db8::1]:5061;transport=tls>", "sips", "", "2001:db8::1", 5061)]
    [InlineData("sip:alice:secret@example.com;tag=88", "sip", "alice", "example.com", 0)]
    [InlineData("<tel:+15551234567;phone-context=example.com>;tag=t", "tel", "+15551234567", "", 0)]
    [InlineData("\"A \\\"quoted\\\" name\" <sip:a@h>", "sip", "a", "h", 0)]
    [InlineData("Bob Smith <sip:bob@h:5070?subject=x>", "sip", "bob", "h", 5070)]
    [InlineData("<urn:service:sos>", "urn", "", "", 0)]
    public void TryParse_Forms(string text, string scheme, string user, string host, int port)
    {
        Assert.True(SipNameAddr.TryParse(Encoding.ASCII.GetBytes(text), out SipNameAddr a));
        Assert.Equal(scheme, S(a.Scheme));
        Assert.Equal(user, S(a.User));
        Assert.Equal(host, S(a.Host));
        Assert.Equal(port, a.Port);
    }

    [Fact]
    public void TryParse_BareUri_ParametersBelongToHeader()
    {
        Assert.True(SipNameAddr.TryParse("sip:bob@h;tag=x;expires=0"u8, out SipNameAddr a));
        Assert.Equal("x", S(a.Tag));
        Assert.True(a.TryGetHeaderParameter("expires"u8, out ReadOnlySpan<byte> e));
        Assert.Equal("0", S(e));
        Assert.Equal("sip:bob@h", S(a.Uri));
    }

    [Fact]
    public void TryParse_QuotedInstanceParameter_IsUnquoted()
    {
        Assert.True(SipNameAddr.TryParse("<sip:u@h>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-0011223344>\";reg-id=1"u8, out SipNameAddr a));
        Assert.True(a.TryGetHeaderParameter("+sip.instance"u8, out ReadOnlySpan<byte> inst));
        Assert.Equal("<urn:uuid:00000000-0000-1000-8000-0011223344>", S(inst));
    }

    [Fact]
    public void TryParse_Wildcard()
    {
        Assert.True(SipNameAddr.TryParse(" * "u8, out SipNameAddr a));
        Assert.True(a.IsWildcard);
        Assert.True(a.Uri.IsEmpty);
    }

    [Theory]
    [InlineData("")]
    [InlineData("<sip:a@h")]
    [InlineData("\"unterminated <sip:a@h>")]
    [InlineData("\"name only\"")]
    [InlineData("<nocolon>")]
    [InlineData("<sip:a@h:99999>")]
    [InlineData("<sip:a@>")]
    [InlineData("<sip:a@h> junk")]
    public void TryParse_RejectsMalformed(string text)
    {
        Assert.False(SipNameAddr.TryParse(Encoding.ASCII.GetBytes(text), out _));
    }
}
