using System.Buffers;
using Capture.Sip;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>One SIP datagram: the sniffer, the message reader and framer, every header the trackers read, name-addr
/// parsing with its parameters, the body (multipart) and its SDP.</summary>
internal sealed class SipTarget : FuzzTarget
{
    private static readonly byte[][] s_headers =
        [.. new[] { "Via", "From", "To", "Contact", "Call-ID", "CSeq", "Content-Type", "Expires", "User-Agent", "Server", "Record-Route", "P-Asserted-Identity", "Supported" }
            .Select(System.Text.Encoding.ASCII.GetBytes)];

    public override string Name => "sip";

    public override string Description => "one SIP datagram: SipSniffer, SipMessage.TryRead/TryFrame, headers, SipNameAddr, SipBody (multipart), SDP";

    public override IReadOnlyList<byte[]> Dictionary => SipTokens.Dictionary;

    public override void Execute(ReadOnlySpan<byte> input)
    {
        _ = SipSniffer.LooksLikeSip(input);
        if (SipMessage.TryFrame(input, out SipMessage framed, out _) == OperationStatus.Done)
        {
            Invariant.Check(framed.BytesConsumed > 0 && framed.BytesConsumed <= input.Length, "a framed SIP message lies within its input");
        }

        if (SipMessage.TryRead(input, out SipMessage message, out _) != OperationStatus.Done)
        {
            return;
        }

        Invariant.Check(message.BytesConsumed <= input.Length, "a read SIP message lies within its input");
        foreach (byte[] name in s_headers)
        {
            foreach (ReadOnlySpan<byte> value in message.EnumerateHeaders(name))
            {
                if (SipNameAddr.TryParse(value, out SipNameAddr addr))
                {
                    _ = addr.TryGetUriParameter("transport"u8, out _);
                    _ = addr.TryGetHeaderParameter("expires"u8, out _);
                    _ = addr.TryGetHeaderParameter("+sip.instance"u8, out _);
                }
            }
        }

        if (message.TryGetHeader("Content-Type"u8, out ReadOnlySpan<byte> contentType)
            && SipBody.TryFindSdp(contentType, message.Body, out ReadOnlySpan<byte> sdp))
        {
            SdpTarget.Read(sdp);
        }
    }

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus) => corpus.SipPayloads;
}
