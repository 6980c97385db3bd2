using System.Buffers;
using BenchmarkDotNet.Attributes;
using Capture.Sip;
using Capture.Tests.Sip;

namespace Bench.Sip;

/// <summary>SDP reader over real bodies: SIP_CALL_RTP_G711.pcap frame 498 (six formats), sip-rtp-opus.pcap frame 1, sip_ipv6_udp.pcap frame 1.</summary>
[MemoryDiagnoser]
public class SdpReaderBenchmarks
{
    private static readonly byte[] s_XLiteAnswer = BodyOf(SipSamples.G711Ok);

    private static ReadOnlySpan<byte> XLiteAnswer => s_XLiteAnswer;

    private static readonly byte[] s_OpusOffer = BodyOf(SipSamples.OpusInvite);

    private static ReadOnlySpan<byte> OpusOffer => s_OpusOffer;

    private static readonly byte[] s_IPv6Offer = BodyOf(SipSamples.IPv6Invite);

    private static ReadOnlySpan<byte> IPv6Offer => s_IPv6Offer;

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

    /// <summary>The SDP body of a real SIP message (after the blank line).</summary>
    private static byte[] BodyOf(ReadOnlySpan<byte> message) => message[(message.IndexOf("\r\n\r\n"u8) + 4)..].ToArray();
}
