using System.Buffers;
using Bench.Pipeline;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
using Capture.Rtp;

namespace Bench.Recording;

/// <summary>
/// Real speech for the encoder benchmarks: the two A-law legs of SIP_CALL_RTP_G711.pcap (the Wireshark sample call,
/// a conversation), decoded to 20 ms 8 kHz frames and paired in order, as far as the shorter leg goes.
/// </summary>
internal static class CallSpeech
{
    private const int PayloadTypeAlaw = 8;
    private const int FrameSamples = 160;

    public static (short[][] Left, short[][] Right) LoadLegs()
    {
        var legs = new Dictionary<uint, List<short[]>>();
        var decoder = new FrameDecoder();
        using (PcapSource source = PcapSource.OpenOffline(Paths.Capture("SIP_CALL_RTP_G711.pcap")))
        {
            while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                if (decoder.Decode(source.LinkType, ts, frame, out DecodedPacket packet, out _) == DecodeResult.Packet
                    && packet.Protocol == TransportProtocol.Udp
                    && RtpPacket.TryRead(packet.Payload, out RtpPacket rtp, out _) == OperationStatus.Done
                    && rtp.PayloadType == PayloadTypeAlaw
                    && rtp.Payload.Length == FrameSamples)
                {
                    var pcm = new short[FrameSamples];
                    G711.DecodeALaw(rtp.Payload, pcm);
                    if (!legs.TryGetValue(rtp.Ssrc, out List<short[]>? leg))
                    {
                        legs[rtp.Ssrc] = leg = [];
                    }

                    leg.Add(pcm);
                }
            }
        }

        // The call's two legs are its two longest streams (a third, six packets long, is an early-media prompt).
        List<short[]>[] longest = [.. legs.Values.OrderByDescending(l => l.Count).Take(2)];
        int frames = longest[1].Count;
        return ([.. longest[0].Take(frames)], [.. longest[1].Take(frames)]);
    }
}
