using System.Text;
using Capture.Sip;

namespace Capture.Tests.Sip;

public class SipBodyTests
{
    private const string Sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

    private static string S(ReadOnlySpan<byte> s) => Encoding.ASCII.GetString(s);

    [Fact]
    public void TryFindSdp_PlainSdp()
    {
        Assert.True(SipBody.TryFindSdp("Application/SDP"u8, "v=0\r\n"u8, out ReadOnlySpan<byte> sdp));
        Assert.Equal("v=0\r\n", S(sdp));
        Assert.False(SipBody.TryFindSdp("application/sdp"u8, default, out _));
        Assert.False(SipBody.TryFindSdp("text/plain"u8, "v=0\r\n"u8, out _));
    }

    [Theory]
    [InlineData("multipart/mixed;boundary=unique-boundary-1", "unique-boundary-1")]
    [InlineData("multipart/mixed; boundary=\"simple boundary\"", "simple boundary")]
    [InlineData("Multipart/Related ; type=\"application/sdp\" ; boundary=b1", "b1")]
    [InlineData("multipart/alternative;boundary=\"--==x\"", "--==x")]
    public void TryFindSdp_MultipartWithIsupAndSdp(string contentType, string boundary)
    {
        // The SIP-I/SIP-T shape (RFC 3204): an ISUP part next to the SDP.
        string body =
            "--" + boundary + "\r\n" +
            "Content-Type: application/isup;version=itu-t92+\r\n" +
            "Content-Disposition: signal;handling=optional\r\n" +
            "\r\n" +
            "\u0001\u0010\u0020--" + boundary + "x\r\n" +
            "--" + boundary + "\r\n" +
            "Content-Type: application/sdp\r\n" +
            "\r\n" +
            Sdp +
            "\r\n--" + boundary + "--\r\n";
        Assert.True(SipBody.TryFindSdp(Encoding.ASCII.GetBytes(contentType), Encoding.Latin1.GetBytes(body), out ReadOnlySpan<byte> sdp));
        Assert.Equal(Sdp, S(sdp));
    }

    [Fact]
    public void TryFindSdp_LfOnlyAndNoCloseDelimiter()
    {
        string body = "--b\nContent-Type: text/plain\n\nhi\n--b\nc: application/sdp\n\n" + Sdp;
        Assert.True(SipBody.TryFindSdp("multipart/mixed;boundary=b"u8, Encoding.ASCII.GetBytes(body), out ReadOnlySpan<byte> sdp));
        Assert.Equal(Sdp, S(sdp));
    }

    [Fact]
    public void TryFindSdp_NestedMultipart()
    {
        string body =
            "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n" +
            "--inner\r\nContent-Type: application/sdp\r\n\r\n" + Sdp + "\r\n--inner--\r\n" +
            "\r\n--outer--\r\n";
        Assert.True(SipBody.TryFindSdp("multipart/mixed;boundary=outer"u8, Encoding.ASCII.GetBytes(body), out ReadOnlySpan<byte> sdp));
        Assert.Equal(Sdp, S(sdp));
    }

    [Theory]
    [InlineData("multipart/mixed", "--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--")]
    [InlineData("multipart/mixed;boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nv=0\r\n--b--")]
    [InlineData("multipart/mixed;boundary=b", "no delimiters at all")]
    [InlineData("multipart/mixed;boundary=", "--\r\n")]
    public void TryFindSdp_NoSdpPart(string contentType, string body)
    {
        Assert.False(SipBody.TryFindSdp(Encoding.ASCII.GetBytes(contentType), Encoding.ASCII.GetBytes(body), out _));
    }
}
