using System.Numerics;

namespace Capture.Recording;

/// <summary>ITU-T G.711 u-law and A-law, from our own tables (no library).</summary>
public static class G711
{
    // 256-entry expansion tables, built once from the G.711 segment formulas.
    private static readonly short[] s_ulaw = BuildULaw();
    private static readonly short[] s_alaw = BuildALaw();

    public static short DecodeULaw(byte code) => s_ulaw[code];

    public static short DecodeALaw(byte code) => s_alaw[code];

    /// <summary>Expands <paramref name="codes"/> into the first codes.Length samples of <paramref name="pcm"/>.</summary>
    public static void DecodeULaw(ReadOnlySpan<byte> codes, Span<short> pcm) => Expand(codes, pcm, s_ulaw);

    public static void DecodeALaw(ReadOnlySpan<byte> codes, Span<short> pcm) => Expand(codes, pcm, s_alaw);

    public static byte EncodeULaw(short sample)
    {
        const int Bias = 0x84; // 132: shifts every segment so its exponent is the bit length
        const int Clip = 32635; // largest magnitude that still fits after adding the bias

        int pcm = sample;
        int sign = 0;
        if (pcm < 0)
        {
            pcm = -pcm;
            sign = 0x80;
        }

        if (pcm > Clip)
        {
            pcm = Clip;
        }

        pcm += Bias;
        int exponent = BitOperations.Log2((uint)pcm >> 7); // 0..7
        int mantissa = (pcm >> (exponent + 3)) & 0x0F;
        return (byte)~(sign | (exponent << 4) | mantissa);
    }

    public static byte EncodeALaw(short sample)
    {
        // A-law works on 13-bit magnitudes; the sign bit is set for positive values and even bits are inverted (0x55).
        int pcm = sample >> 3;
        int mask;
        if (pcm >= 0)
        {
            mask = 0xD5;
        }
        else
        {
            mask = 0x55;
            pcm = -pcm - 1;
        }

        int segment = pcm <= 0x1F ? 0 : BitOperations.Log2((uint)pcm) - 4; // 0..7; 13 bits never exceed segment 7
        int code = segment << 4;
        code |= segment < 2 ? (pcm >> 1) & 0x0F : (pcm >> segment) & 0x0F;
        return (byte)(code ^ mask);
    }

    private static void Expand(ReadOnlySpan<byte> codes, Span<short> pcm, short[] table)
    {
        pcm = pcm[..codes.Length]; // throws if too short: a caller bug, not bad input
        for (int i = 0; i < codes.Length; i++)
        {
            pcm[i] = table[codes[i]];
        }
    }

    private static short[] BuildULaw()
    {
        var table = new short[256];
        for (int i = 0; i < 256; i++)
        {
            int u = ~i & 0xFF;
            int t = ((u & 0x0F) << 3) + 0x84;
            t <<= (u & 0x70) >> 4;
            table[i] = (short)((u & 0x80) != 0 ? 0x84 - t : t - 0x84);
        }

        return table;
    }

    private static short[] BuildALaw()
    {
        var table = new short[256];
        for (int i = 0; i < 256; i++)
        {
            int a = i ^ 0x55;
            int t = (a & 0x0F) << 4;
            int segment = (a & 0x70) >> 4;
            t = segment switch
            {
                0 => t + 8,
                1 => t + 0x108,
                _ => (t + 0x108) << (segment - 1),
            };
            table[i] = (short)((a & 0x80) != 0 ? t : -t);
        }

        return table;
    }
}
