using System.Buffers;
using BenchmarkDotNet.Attributes;
using Capture.Sip;

namespace Bench.Sip;

/// <summary>SDP reader over real bodies: SIP_CALL_RTP_G711.pcap frame 498 (six formats), sip-rtp-opus.pcap frame 1, sip_ipv6_udp.pcap frame 1.</summary>
[MemoryDiagnoser]
public class SdpReaderBenchmarks
{
    private static ReadOnlySpan<byte> XLiteAnswer =>
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

    private static ReadOnlySpan<byte> OpusOffer =>
        "v=0\r\n"u8 +
        "o=- 42 42 IN IP4 10.0.2.20\r\n"u8 +
        "s=-\r\n"u8 +
        "c=IN IP4 10.0.2.20\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 6000 RTP/AVP 99\r\n"u8 +
        "a=rtpmap:99 opus/48000/2\r\n"u8 +
        "a=recvonly\r\n"u8;

    private static ReadOnlySpan<byte> IPv6Offer =>
        "v=0\r\n"u8 +
        "o=Valid8.com-UserAgent 8521 32 IN IP6 fe80:0:0:0:21a:a0ff:fe07:32e0\r\n"u8 +
        "s=SIP-Call\r\n"u8 +
        "c=IN IP6 fe80:0:0:0:21a:a0ff:fe07:32e0\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 5008 RTP/AVP 0\r\n"u8 +
        "a=rtpmap:0 pcmu/8000/1\r\n"u8;

    private readonly byte[] _xlite = XLiteAnswer.ToArray();
    private readonly byte[] _opus = OpusOffer.ToArray();
    private readonly byte[] _ipv6 = IPv6Offer.ToArray();

    [Benchmark(Baseline = true)]
    public int ParseXLiteAnswer() => Parse(_xlite);

    [Benchmark]
    public int ParseOpusOffer() => Parse(_opus);

    [Benchmark]
    public int ParseIPv6Offer() => Parse(_ipv6);

    private static int Parse(ReadOnlySpan<byte> sdp) =>
        SdpSession.TryParse(sdp, out SdpSession session, out _) == OperationStatus.Done && session.TryGetFirstAudio(out SdpMedia audio)
            ? audio.Port + audio.CodecCount
            : -1;
}
