using System.Buffers;
using BenchmarkDotNet.Attributes;
using Capture.Sip;

namespace Bench.Sip;

/// <summary>SIP reader over real messages: SIP_CALL_RTP_G711.pcap frame 498 (200 Ok with SDP) and aaa.pcap frame 180 (REGISTER).</summary>
[MemoryDiagnoser]
public class SipReaderBenchmarks
{
    private static ReadOnlySpan<byte> OkWithSdp =>
        "SIP/2.0 200 Ok\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195;branch=z9hG4bKff9b46fb055c0521cc24024da96cd290\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195:55061;branch=z9hG4bK291d90e31a47b225bd0ddff4353e9cc0\r\n"u8 +
        "From: <sip:200.57.7.195:55061;user=phone>;tag=GR52RWG346-34\r\n"u8 +
        "To: \"francisco@bestel.com\" <sip:francisco@bestel.com:55060>;tag=298852044\r\n"u8 +
        "Contact: <sip:francisco@200.57.7.204:5061>\r\n"u8 +
        "Call-ID: 12013223@200.57.7.195\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "Server: X-Lite release 1103m\r\n"u8 +
        "Content-Length: 298\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=francisco 13004970 13013442 IN IP4 200.57.7.204\r\n"u8 +
        "s=X-Lite\r\n"u8 +
        "c=IN IP4 200.57.7.204\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 8000 RTP/AVP 8 0 3 98 97 101\r\n"u8 +
        "a=rtpmap:0 pcmu/8000\r\n"u8 +
        "a=rtpmap:8 pcma/8000\r\n"u8 +
        "a=rtpmap:3 gsm/8000\r\n"u8 +
        "a=rtpmap:98 iLBC/8000\r\n"u8 +
        "a=rtpmap:97 speex/8000\r\n"u8 +
        "a=rtpmap:101 telephone-event/8000\r\n"u8 +
        "a=fmtp:101 0-15\r\n"u8;

    private static ReadOnlySpan<byte> Register =>
        "REGISTER sip:sip.cybercity.dk SIP/2.0\r\n"u8 +
        "Via: SIP/2.0/UDP 192.168.1.2;branch=z9hG4bKnp112903503-43a64480192.168.1.2;rport\r\n"u8 +
        "From: <sip:voi18062@sip.cybercity.dk>;tag=6bac55c\r\n"u8 +
        "To: <sip:voi18062@sip.cybercity.dk>\r\n"u8 +
        "Call-ID: 578222729-4665d775@578222732-4665d772\r\n"u8 +
        "Contact:  <sip:voi18062@192.168.1.2:5060;line=aca6b97ca3f5e51a>;expires=1200;q=0.500\r\n"u8 +
        "Expires: 1200\r\n"u8 +
        "CSeq: 75 REGISTER\r\n"u8 +
        "Content-Length: 0\r\n"u8 +
        "Authorization: Digest username=\"voi18062\",realm=\"sip.cybercity.dk\",uri=\"sip:192.168.1.2\",nonce=\"1701b22972b90f440c3e4eb250842bb\",opaque=\"1701a1351f70795\",nc=\"00000001\",response=\"79a0543188495d288c9ebbe0c881abdc\"\r\n"u8 +
        "Max-Forwards: 70\r\n"u8 +
        "User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n"u8 +
        "\r\n"u8;

    private readonly byte[] _ok = OkWithSdp.ToArray();
    private readonly byte[] _register = Register.ToArray();

    [Benchmark(Baseline = true)]
    public int ReadOkWithSdp() =>
        SipMessage.TryRead(_ok, out SipMessage m, out _) == OperationStatus.Done ? m.Body.Length + (int)m.CSeq : -1;

    [Benchmark]
    public int FrameOkWithSdp() =>
        SipMessage.TryFrame(_ok, out int length, out _) == OperationStatus.Done ? length : -1;

    [Benchmark]
    public int ReadRegisterAndContact()
    {
        if (SipMessage.TryRead(_register, out SipMessage m, out _) != OperationStatus.Done
            || !SipNameAddr.TryParse(m.Contact, out SipNameAddr contact)
            || !contact.TryGetUriParameter("line"u8, out ReadOnlySpan<byte> line))
        {
            return -1;
        }

        return m.Expires + contact.Port + line.Length;
    }

    [Benchmark]
    public bool Sniff() => SipSniffer.LooksLikeSip(_ok);

    [Benchmark]
    public int ReadOkFromToAndSdp()
    {
        if (SipMessage.TryRead(_ok, out SipMessage m, out _) != OperationStatus.Done
            || !SipNameAddr.TryParse(m.From, out SipNameAddr from)
            || !SipNameAddr.TryParse(m.To, out SipNameAddr to)
            || !SipBody.TryFindSdp(m.ContentType, m.Body, out ReadOnlySpan<byte> sdp)
            || SdpSession.TryParse(sdp, out SdpSession session, out _) != OperationStatus.Done)
        {
            return -1;
        }

        return from.Tag.Length + to.Tag.Length + session.MediaCount;
    }
}
