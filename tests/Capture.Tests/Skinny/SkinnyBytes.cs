using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Capture.Tests.Skinny;

/// <summary>Builds Skinny messages byte by byte for tests.</summary>
internal static class SkinnyBytes
{
    public static byte[] Message(uint headerVersion, uint id, params byte[][] parts)
    {
        byte[] body = [.. parts.SelectMany(p => p)];
        byte[] m = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)(4 + body.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), headerVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), id);
        body.CopyTo(m, 12);
        return m;
    }

    public static byte[] U32(uint value)
    {
        byte[] b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return b;
    }

    /// <summary>A null-padded fixed-size string field.</summary>
    public static byte[] Fixed(string text, int size)
    {
        byte[] b = new byte[size];
        Encoding.ASCII.GetBytes(text, b);
        return b;
    }

    /// <summary>A null-terminated string.</summary>
    public static byte[] Z(string text) => [.. Encoding.UTF8.GetBytes(text), 0];

    public static byte[] Ip(string text) => IPAddress.Parse(text).GetAddressBytes();

    /// <summary>Register (header version 0): name, user id 0, instance 1, station IP, type, max streams 5, active 0, protocol, features, max conferences.</summary>
    public static byte[] Register(string deviceName, string stationIp, uint deviceType = 30008, byte protocol = 17) =>
        Message(0, 0x0001, Fixed(deviceName, 16), U32(0), U32(1), Ip(stationIp), U32(deviceType), U32(5), U32(0), [protocol, 0, 0, 0], U32(0));

    public static byte[] RegisterAck(byte protocol = 17) =>
        Message(0, 0x0081, U32(30), Fixed("M/D/Y", 8), U32(60), [protocol, 0, 0, 0]);

    public static byte[] LineStatRes(uint line, string number, string display = "") =>
        Message(0, 0x0092, U32(line), Fixed(number, 24), Fixed(display, 40), Fixed(number, 40), U32(0));

    /// <summary>ButtonTemplateRes with <paramref name="lines"/> line buttons then a hold button.</summary>
    public static byte[] ButtonTemplate(int lines)
    {
        var definitions = new List<byte>();
        for (int i = 1; i <= lines; i++)
        {
            definitions.Add((byte)i);
            definitions.Add(0x09);
        }

        definitions.Add(1);
        definitions.Add(0x03);
        return Message(0, 0x0097, U32(0), U32((uint)(lines + 1)), U32((uint)(lines + 1)), [.. definitions]);
    }

    public static byte[] Unregister() => Message(0, 0x0027, U32(0));

    public static byte[] KeepAlive() => Message(0, 0x0000);

    /// <summary>CallInfoV2 (header version 0x14) on <paramref name="line"/>.</summary>
    public static byte[] CallInfoV2(uint line, uint callReference, uint callType, string calling, string callingName, string called, string calledName) =>
        Message(0x14, 0x014A, U32(line), U32(callReference), U32(callType), U32(0), U32(0), U32(1), U32(0), U32(0),
            Z(calling), Z(calling), Z(called), Z(called), Z(called), Z(""), Z(""), Z(""), Z(""),
            Z(callingName), Z(calledName), Z(calledName), Z(calledName), Z(""), Z(""));
}
