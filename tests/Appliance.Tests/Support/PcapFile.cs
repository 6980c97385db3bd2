using System.Buffers.Binary;
using Capture.Interop;

namespace Appliance.Tests.Support;

/// <summary>Reads a capture's frames and writes them back as a classic microsecond pcap (to rebuild a capture with other timestamps).</summary>
public static class PcapFile
{
    public static (int LinkType, List<(long Ns, byte[] Frame)> Frames) Read(string path)
    {
        using PcapSource source = PcapSource.OpenOffline(path);
        var frames = new List<(long, byte[])>();
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            frames.Add((ts, frame.ToArray()));
        }

        return (source.LinkType, frames);
    }

    /// <summary>Classic pcap: unsigned 32-bit seconds (good to 2106) and microseconds, as tcpdump writes it.</summary>
    public static void WriteClassic(string path, int linkType, IEnumerable<(long Ns, byte[] Frame)> frames)
    {
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 262144);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)linkType);
        output.Write(header);
        Span<byte> record = stackalloc byte[16];
        foreach ((long ns, byte[] frame) in frames)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(record, checked((uint)(ns / 1_000_000_000)));
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(ns % 1_000_000_000 / 1000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
            output.Write(record);
            output.Write(frame);
        }
    }
}
