using Capture.Interop;
using Capture.Packets;
using Capture.Tests.Support;

namespace Capture.Tests.Packets;

/// <summary>Decodes a whole shared capture and tallies what came out.</summary>
internal sealed class CaptureDecoding
{
    public int Frames;
    public int Udp;
    public int Tcp;
    public int Held;
    public int Dropped;
    public int Tunneled;
    public int Reassembled;
    public long[] DropCounts = [];

    public static CaptureDecoding Run(string fileName, FrameDecoder? decoder = null, Action<DecodedPacket>? onPacket = null)
    {
        decoder ??= new FrameDecoder();
        var result = new CaptureDecoding();
        using var source = PcapSource.OpenOffline(Captures.PathOf(fileName));
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            result.Frames++;
            switch (decoder.Decode(source.LinkType, ts, frame, out DecodedPacket packet, out _))
            {
                case DecodeResult.Packet:
                    if (packet.Protocol == TransportProtocol.Udp)
                    {
                        result.Udp++;
                    }
                    else
                    {
                        result.Tcp++;
                    }

                    result.Tunneled += packet.Tunneled ? 1 : 0;
                    result.Reassembled += packet.Reassembled ? 1 : 0;
                    onPacket?.Invoke(packet);
                    break;
                case DecodeResult.Held:
                    result.Held++;
                    break;
                default:
                    result.Dropped++;
                    break;
            }
        }

        result.DropCounts = (long[])decoder.DropCounts.Clone();
        return result;
    }

    public string Describe()
    {
        var parts = new List<string>();
        for (int i = 0; i < DropCounts.Length; i++)
        {
            if (DropCounts[i] != 0)
            {
                parts.Add($"{DropReasons.Names[i]}={DropCounts[i]}");
            }
        }

        return $"frames={Frames} udp={Udp} tcp={Tcp} held={Held} dropped={Dropped} tunneled={Tunneled} reassembled={Reassembled} [{string.Join(' ', parts)}]";
    }
}
