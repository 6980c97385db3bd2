using System.Buffers;
using System.Text;
using Capture.Sip;

namespace Capture.Tests.Sip;

public class SipMessageTests
{
    private static string S(ReadOnlySpan<byte> s) => Encoding.ASCII.GetString(s);

    [Fact]
    public void TryRead_G711Invite_ExposesStartLineAndHeaders()
    {
        ReadOnlySpan<byte> data = SipSamples.G711Invite;
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(data, out SipMessage m, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.None, reason);
        Assert.True(m.IsRequest);
        Assert.Equal(SipMethod.Invite, m.Method);
        Assert.Equal("INVITE", S(m.MethodName));
        Assert.Equal("sip:francisco@bestel.com:55060", S(m.RequestUri));
        Assert.Equal(0, m.StatusCode);
        Assert.Equal("12013223@200.57.7.195", S(m.CallId));
        Assert.Equal("<sip:200.57.7.195:55061;user=phone>;tag=GR52RWG346-34", S(m.From));
        Assert.Equal("\"francisco@bestel.com\" <sip:francisco@bestel.com:55060>", S(m.To));
        Assert.Equal("<sip:200.57.7.195:5060>", S(m.Contact));
        Assert.Equal("SIP/2.0/UDP 200.57.7.195;branch=z9hG4bKff9b46fb055c0521cc24024da96cd290", S(m.Via));
        Assert.Equal(1u, m.CSeq);
        Assert.Equal(SipMethod.Invite, m.CSeqMethod);
        Assert.Equal(-1, m.Expires);
        Assert.Equal("application/sdp", S(m.ContentType));
        Assert.Equal(229, m.ContentLength);
        Assert.Equal(229, m.Body.Length);
        Assert.StartsWith("v=0\r\n", S(m.Body));
        Assert.Equal(data.Length, m.BytesConsumed);
        Assert.True(m.UserAgent.IsEmpty);
    }

    [Fact]
    public void EnumerateHeaders_ReturnsBothVias_InOrder()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.G711Invite, out SipMessage m, out _));
        var vias = new List<string>();
        foreach (ReadOnlySpan<byte> via in m.EnumerateHeaders("v"u8))
        {
            vias.Add(S(via));
        }

        Assert.Equal(
            ["SIP/2.0/UDP 200.57.7.195;branch=z9hG4bKff9b46fb055c0521cc24024da96cd290", "SIP/2.0/UDP 200.57.7.195:55061;branch=z9hG4bK291d90e31a47b225bd0ddff4353e9cc0"],
            vias);
    }

    [Fact]
    public void TryRead_G711Ok_IsResponseWithServer()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.G711Ok, out SipMessage m, out _));
        Assert.False(m.IsRequest);
        Assert.Equal(200, m.StatusCode);
        Assert.Equal("Ok", S(m.ReasonPhrase));
        Assert.Equal(SipMethod.Unknown, m.Method);
        Assert.Equal("X-Lite release 1103m", S(m.Server));
        Assert.Equal("<sip:francisco@200.57.7.204:5061>", S(m.Contact));
        Assert.Equal(298, m.Body.Length);
        Assert.Equal(SipMethod.Invite, m.CSeqMethod);
    }

    [Fact]
    public void TryRead_Ringing_HasNoBody()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.G711Ringing, out SipMessage m, out _));
        Assert.Equal(180, m.StatusCode);
        Assert.Equal("Ringing", S(m.ReasonPhrase));
        Assert.Equal(0, m.ContentLength);
        Assert.True(m.Body.IsEmpty);
    }

    [Fact]
    public void TryRead_AaaRegister_ReadsExpiresCSeqAndUserAgent()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.AaaRegister, out SipMessage m, out _));
        Assert.Equal(SipMethod.Register, m.Method);
        Assert.Equal("sip:sip.cybercity.dk", S(m.RequestUri));
        Assert.Equal(1200, m.Expires);
        Assert.Equal(75u, m.CSeq);
        Assert.Equal(SipMethod.Register, m.CSeqMethod);
        Assert.Equal("578222729-4665d775@578222732-4665d772", S(m.CallId));
        Assert.Equal("<sip:voi18062@192.168.1.2:5060;line=aca6b97ca3f5e51a>;expires=1200;q=0.500", S(m.Contact));
        Assert.Equal("Nero SIPPS IP Phone Version 2.0.51.16", S(m.UserAgent));
        Assert.True(m.TryGetHeader("authorization"u8, out ReadOnlySpan<byte> auth));
        Assert.StartsWith("Digest username=\"voi18062\"", S(auth));
        Assert.True(m.TryGetHeader("MAX-FORWARDS"u8, out ReadOnlySpan<byte> mf));
        Assert.Equal("70", S(mf));
        Assert.False(m.TryGetHeader("Subject"u8, out _));
    }

    [Fact]
    public void TryRead_SessionProgress183_ReadsReasonPhraseWithSpaces()
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.AaaSessionProgress, out SipMessage m, out _));
        Assert.Equal(183, m.StatusCode);
        Assert.Equal("In band info available", S(m.ReasonPhrase));
        Assert.Equal("Cirpack/v4.38e (gw_sip)", S(m.Server));
        Assert.Equal(199, m.Body.Length);
    }

    [Fact]
    public void TryRead_JunkBeforeRequest_ZeroDatagramIsNotSip_RegisterParsesWithEmptyFields()
    {
        // sip-junk-before-request.pcap: frame 1 is four zero bytes, frame 2 a REGISTER with only Expires.
        Assert.Equal(OperationStatus.InvalidData, SipMessage.TryRead([0, 0, 0, 0], out _, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.NotSip, reason);

        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(SipSamples.JunkRegister, out SipMessage m, out reason));
        Assert.Equal(SipInvalidReason.None, reason);
        Assert.Equal(SipMethod.Register, m.Method);
        Assert.Equal("sip:1.1.1.1:5060", S(m.RequestUri));
        Assert.Equal(3600, m.Expires);
        Assert.True(m.CallId.IsEmpty);
        Assert.True(m.From.IsEmpty);
        Assert.True(m.To.IsEmpty);
        Assert.True(m.Via.IsEmpty);
        Assert.Equal(0u, m.CSeq);
        Assert.Equal(-1, m.ContentLength);
        Assert.True(m.Body.IsEmpty);
    }

    [Fact]
    public void TryRead_JunkThenRequestInOneBuffer_IsInvalid()
    {
        byte[] data = [0, 0, 0, 0, .. SipSamples.JunkRegister];
        Assert.Equal(OperationStatus.InvalidData, SipMessage.TryRead(data, out _, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.NotSip, reason);
    }

    [Fact]
    public void TryRead_SkipsLeadingCrlfKeepAlives()
    {
        byte[] data = [.. "\r\n\r\n"u8, .. SipSamples.JunkRegister];
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(data, out SipMessage m, out _));
        Assert.Equal(data.Length, m.BytesConsumed);
        Assert.Equal(OperationStatus.NeedMoreData, SipMessage.TryRead("\r\n\r\n"u8, out _, out _));
    }

    [Fact]
    public void TryRead_CompactForms()
    {
        ReadOnlySpan<byte> data =
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"u8 +
            "v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n"u8 +
            "f: Alice <sip:alice@example.com>;tag=a1\r\n"u8 +
            "t: <sip:bob@example.com>\r\n"u8 +
            "i: compact-1@10.0.0.1\r\n"u8 +
            "CSeq: 7 MESSAGE\r\n"u8 +
            "m: <sip:alice@10.0.0.1>;expires=60, <sip:alice@10.0.0.9>\r\n"u8 +
            "k: 100rel\r\n"u8 +
            "s: lunch\r\n"u8 +
            "e: gzip\r\n"u8 +
            "c: text/plain\r\n"u8 +
            "l: 5\r\n"u8 +
            "\r\n"u8 +
            "hello"u8;
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(data, out SipMessage m, out _));
        Assert.Equal(SipMethod.Message, m.Method);
        Assert.Equal("compact-1@10.0.0.1", S(m.CallId));
        Assert.Equal("Alice <sip:alice@example.com>;tag=a1", S(m.From));
        Assert.Equal("<sip:bob@example.com>", S(m.To));
        Assert.Equal("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1", S(m.Via));
        Assert.Equal("<sip:alice@10.0.0.1>;expires=60", S(m.Contact));
        Assert.Equal("text/plain", S(m.ContentType));
        Assert.Equal(5, m.ContentLength);
        Assert.Equal("hello", S(m.Body));
        Assert.True(m.TryGetHeader("Supported"u8, out ReadOnlySpan<byte> k));
        Assert.Equal("100rel", S(k));
        Assert.True(m.TryGetHeader("SUBJECT"u8, out ReadOnlySpan<byte> subject));
        Assert.Equal("lunch", S(subject));
        Assert.True(m.TryGetHeader("Content-Encoding"u8, out ReadOnlySpan<byte> e));
        Assert.Equal("gzip", S(e));
        Assert.True(m.TryGetHeader("call-id"u8, out ReadOnlySpan<byte> callId));
        Assert.Equal("compact-1@10.0.0.1", S(callId));

        var contacts = new List<string>();
        foreach (ReadOnlySpan<byte> c in m.EnumerateHeaders("Contact"u8))
        {
            contacts.Add(S(c));
        }

        Assert.Equal(["<sip:alice@10.0.0.1>;expires=60", "<sip:alice@10.0.0.9>"], contacts);
    }

    [Fact]
    public void TryRead_FoldedHeader_ContinuationJoinsValue()
    {
        ReadOnlySpan<byte> data =
            "OPTIONS sip:x@10.0.0.1 SIP/2.0\r\n"u8 +
            "Subject: I know you're there,\r\n"u8 +
            "   pick up the phone\r\n"u8 +
            "\t and talk to me!\r\n"u8 +
            "To:\r\n <sip:x@10.0.0.1>\r\n"u8 +
            "Call-ID: fold@1\r\n"u8 +
            "Content-Length: 0\r\n"u8 +
            "\r\n"u8;
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(data, out SipMessage m, out _));
        Assert.True(m.TryGetHeader("s"u8, out ReadOnlySpan<byte> subject));
        Assert.StartsWith("I know you're there,", S(subject));
        Assert.EndsWith("and talk to me!", S(subject));
        Assert.Equal("<sip:x@10.0.0.1>", S(m.To));
        Assert.Equal("fold@1", S(m.CallId));
        Assert.True(SipNameAddr.TryParse(m.To, out SipNameAddr to));
        Assert.Equal("x", S(to.User));
    }

    [Fact]
    public void TryRead_LfOnlyLineEndings()
    {
        ReadOnlySpan<byte> data =
            "SIP/2.0 200 OK\n"u8 +
            "Via: SIP/2.0/UDP 10.0.0.1\n"u8 +
            "Call-ID: lf@only\n"u8 +
            "CSeq: 2 BYE\n"u8 +
            "Content-Length: 3\n"u8 +
            "\n"u8 +
            "abc"u8;
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(data, out SipMessage m, out _));
        Assert.Equal(200, m.StatusCode);
        Assert.Equal("lf@only", S(m.CallId));
        Assert.Equal(SipMethod.Bye, m.CSeqMethod);
        Assert.Equal("abc", S(m.Body));
    }

    [Fact]
    public void TryRead_WithoutContentLength_BodyIsRestOfDatagram()
    {
        ReadOnlySpan<byte> data = "INFO sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\nrest of it"u8;
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(data, out SipMessage m, out _));
        Assert.Equal(-1, m.ContentLength);
        Assert.Equal("rest of it", S(m.Body));
        Assert.Equal(SipMethod.Info, m.Method);
    }

    [Fact]
    public void TryRead_TrailingBytesAfterContentLength_AreNotConsumed()
    {
        byte[] data = [.. SipSamples.G711Ringing, .. "garbage"u8];
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(data, out SipMessage m, out _));
        Assert.Equal(SipSamples.G711Ringing.Length, m.BytesConsumed);
    }

    [Theory]
    [InlineData("INVITE sip:a@b SIP/2.0\r\nContent-Length: x1\r\n\r\n", SipInvalidReason.BadContentLength)]
    [InlineData("INVITE sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab", SipInvalidReason.BadContentLength)]
    [InlineData("INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n", SipInvalidReason.BadContentLength)]
    [InlineData("INVITE sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n", SipInvalidReason.BadHeader)]
    [InlineData("INVITE sip:a@b SIP/2.0\r\n: empty name\r\n\r\n", SipInvalidReason.BadHeader)]
    [InlineData("INVITE sip:a@b SIP/2.0\r\n folded first\r\n\r\n", SipInvalidReason.BadHeader)]
    [InlineData("INVITE  SIP/2.0\r\n\r\n", SipInvalidReason.BadStartLine)]
    [InlineData("INVITE nocolon SIP/2.0\r\n\r\n", SipInvalidReason.BadStartLine)]
    [InlineData("SIP/2.0 2x0 OK\r\n\r\n", SipInvalidReason.BadStartLine)]
    [InlineData("SIP/2.0 099 Low\r\n\r\n", SipInvalidReason.BadStartLine)]
    [InlineData("SIP/3.0 200 OK\r\n\r\n", SipInvalidReason.BadStartLine)]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n", SipInvalidReason.NotSip)]
    [InlineData("hello", SipInvalidReason.NotSip)]
    [InlineData("\u0001\u0002", SipInvalidReason.NotSip)]
    public void TryRead_RejectsMalformed(string text, SipInvalidReason expected)
    {
        Assert.Equal(OperationStatus.InvalidData, SipMessage.TryRead(Encoding.ASCII.GetBytes(text), out _, out SipInvalidReason reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void TryRead_TooManyHeaders_IsInvalid()
    {
        var sb = new StringBuilder("OPTIONS sip:a@b SIP/2.0\r\n");
        for (int i = 0; i <= SipMessage.MaxHeaderLines; i++)
        {
            sb.Append("X-H: 1\r\n");
        }

        sb.Append("\r\n");
        Assert.Equal(OperationStatus.InvalidData, SipMessage.TryRead(Encoding.ASCII.GetBytes(sb.ToString()), out _, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.TooManyHeaders, reason);
    }

    [Fact]
    public void TryRead_UnterminatedHugeHeaders_IsInvalid()
    {
        byte[] data = [.. "OPTIONS sip:a@b SIP/2.0\r\nX-Big: "u8, .. Enumerable.Repeat((byte)'a', SipMessage.MaxHeaderBytes + 1)];
        Assert.Equal(OperationStatus.InvalidData, SipMessage.TryRead(data, out _, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.HeadersTooLarge, reason);
    }

    [Fact]
    public void TryRead_BodyShorterThanContentLength_NeedsMoreData()
    {
        ReadOnlySpan<byte> data = SipSamples.G711Invite;
        Assert.Equal(OperationStatus.NeedMoreData, SipMessage.TryRead(data[..^1], out _, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.None, reason);
    }

    [Fact]
    public void TryFrame_RequiresContentLength()
    {
        Assert.Equal(OperationStatus.InvalidData, SipMessage.TryFrame(SipSamples.JunkRegister, out SipMessage framed, out SipInvalidReason reason));
        Assert.Equal(SipInvalidReason.MissingContentLength, reason);
        Assert.Equal(0, framed.BytesConsumed);
    }

    [Fact]
    public void TryFrame_FindsFirstMessageOfTcpStream()
    {
        byte[] stream = [.. SipSamples.TcpTrying, .. SipSamples.TcpRinging];
        Assert.Equal(OperationStatus.Done, SipMessage.TryFrame(stream, out SipMessage trying, out _));
        Assert.Equal(SipSamples.TcpTrying.Length, trying.BytesConsumed);
    }

    [Fact]
    public void SipMethods_ParseIsCaseSensitive()
    {
        Assert.Equal(SipMethod.Prack, SipMethods.Parse("PRACK"u8));
        Assert.Equal(SipMethod.Subscribe, SipMethods.Parse("SUBSCRIBE"u8));
        Assert.Equal(SipMethod.Unknown, SipMethods.Parse("invite"u8));
        Assert.Equal(SipMethod.Unknown, SipMethods.Parse("FOO"u8));
    }
}
