using System.Buffers;
using BenchmarkDotNet.Attributes;
using Capture.Sip;
using Capture.Tests.Sip;

namespace Bench.Sip;

/// <summary>SIP reader over real messages: SIP_CALL_RTP_G711.pcap frame 498 (200 Ok with SDP) and aaa.pcap frame 180 (REGISTER).</summary>
[MemoryDiagnoser]
public class SipReaderBenchmarks
{
    private static ReadOnlySpan<byte> OkWithSdp => SipSamples.G711Ok;

    private static ReadOnlySpan<byte> Register => SipSamples.AaaRegister;

    private readonly byte[] _ok = OkWithSdp.ToArray();
    private readonly byte[] _register = Register.ToArray();

    [Benchmark(Baseline = true)]
    public int ReadOkWithSdp() =>
        SipMessage.TryRead(_ok, out SipMessage m, out _) == OperationStatus.Done ? m.Body.Length + (int)m.CSeq : -1;

    [Benchmark]
    public int FrameOkWithSdp() =>
        SipMessage.TryFrame(_ok, out SipMessage framed, out _) == OperationStatus.Done ? framed.BytesConsumed : -1;

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
