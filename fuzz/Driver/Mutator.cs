using System.Buffers.Binary;

namespace Fuzz.Driver;

/// <summary>
/// libFuzzer-style byte mutations (erase, insert, flip, interesting integers, ASCII numbers, copy, cross-over,
/// dictionary tokens), stacked 1-8 at a time on a copy of a corpus input. Works in one buffer: no allocation per input.
/// </summary>
internal sealed class Mutator(Random random, IReadOnlyList<byte[]> dictionary)
{
    private static readonly int[] s_interesting = [0, 1, -1, 2, 7, 8, 16, 32, 64, 100, 127, 128, 255, 256, 512, 1000, 1024, 4096, 32767, 32768, 65535, 65536, int.MaxValue, int.MinValue];

    /// <summary>Mutates <c>buffer[..length]</c> in place (the buffer's size is the limit); returns the new length.</summary>
    public int Mutate(byte[] buffer, int length, IReadOnlyList<byte[]> corpus)
    {
        int stack = 1 << random.Next(4); // 1, 2, 4 or 8
        for (int i = 0; i < stack; i++)
        {
            length = MutateOnce(buffer, length, corpus);
        }

        return length;
    }

    private int MutateOnce(byte[] b, int length, IReadOnlyList<byte[]> corpus)
    {
        int max = b.Length;
        switch (random.Next(length == 0 ? 2 : 13))
        {
            case 0: // insert one byte
                return Insert(b, length, [(byte)random.Next(256)]);
            case 1: // insert a dictionary token, or a run of one byte
                if (dictionary.Count > 0 && random.Next(3) != 0)
                {
                    return Insert(b, length, dictionary[random.Next(dictionary.Count)]);
                }

                Span<byte> run = stackalloc byte[random.Next(1, 64)];
                run.Fill(random.Next(2) == 0 ? (byte)0 : (byte)random.Next(256));
                return Insert(b, length, run);
            case 2: // erase bytes
            {
                int at = random.Next(length);
                int count = Math.Min(length - at, 1 + random.Next(Math.Min(length, 64)));
                b.AsSpan(at + count, length - at - count).CopyTo(b.AsSpan(at));
                return length - count;
            }

            case 3: // flip a bit
                b[random.Next(length)] ^= (byte)(1 << random.Next(8));
                return length;
            case 4: // set a byte
                b[random.Next(length)] = (byte)random.Next(256);
                return length;
            case 5: // add to a byte
                b[random.Next(length)] += (byte)random.Next(-16, 17);
                return length;
            case 6: // an interesting integer, 1/2/4 bytes, either endianness
            {
                int width = 1 << random.Next(3);
                if (length < width)
                {
                    return length;
                }

                int at = random.Next(length - width + 1);
                int value = s_interesting[random.Next(s_interesting.Length)];
                WriteInteger(b.AsSpan(at, width), value, random.Next(2) == 0);
                return length;
            }

            case 7: // add a small delta to a 2- or 4-byte integer (lengths, sequence numbers, timestamps)
            {
                int width = random.Next(2) == 0 ? 2 : 4;
                if (length < width)
                {
                    return length;
                }

                int at = random.Next(length - width + 1);
                bool bigEndian = random.Next(2) == 0;
                Span<byte> span = b.AsSpan(at, width);
                int delta = random.Next(-35, 36);
                if (width == 2)
                {
                    ushort v = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span) : BinaryPrimitives.ReadUInt16LittleEndian(span);
                    WriteInteger(span, (ushort)(v + delta), bigEndian);
                }
                else
                {
                    uint v = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span);
                    WriteInteger(span, (int)(v + (uint)delta), bigEndian);
                }

                return length;
            }

            case 8: // change an ASCII number (Content-Length, ports, CSeq, SDP fields)
                return ChangeAsciiNumber(b, length);
            case 9: // copy a part over another place
            {
                int from = random.Next(length);
                int count = 1 + random.Next(length - from);
                int to = random.Next(length);
                count = Math.Min(count, length - to);
                b.AsSpan(from, count).CopyTo(b.AsSpan(to));
                return length;
            }

            case 10: // insert a copy of a part
            {
                int from = random.Next(length);
                int count = Math.Min(1 + random.Next(length - from), max - length);
                if (count <= 0)
                {
                    return length;
                }

                Span<byte> part = count <= 512 ? stackalloc byte[count] : new byte[count];
                b.AsSpan(from, count).CopyTo(part);
                return Insert(b, length, part);
            }

            case 11: // cross-over: splice in a piece of another corpus input
            {
                byte[] other = corpus[random.Next(corpus.Count)];
                if (other.Length == 0)
                {
                    return length;
                }

                int from = random.Next(other.Length);
                int count = 1 + random.Next(Math.Min(other.Length - from, 1024));
                int to = random.Next(length + 1);
                if (random.Next(2) == 0)
                {
                    count = Math.Min(count, length - Math.Min(to, length));
                    other.AsSpan(from, count).CopyTo(b.AsSpan(to));
                    return length;
                }

                return Insert(b, length, other.AsSpan(from, count), to);
            }

            default: // truncate
                return random.Next(length + 1);
        }
    }

    private int Insert(byte[] b, int length, ReadOnlySpan<byte> bytes, int at = -1)
    {
        int count = Math.Min(bytes.Length, b.Length - length);
        if (count <= 0)
        {
            return length;
        }

        if (at < 0)
        {
            at = random.Next(length + 1);
        }

        b.AsSpan(at, length - at).CopyTo(b.AsSpan(at + count));
        bytes[..count].CopyTo(b.AsSpan(at));
        return length + count;
    }

    private int ChangeAsciiNumber(byte[] b, int length)
    {
        int start = random.Next(length);
        while (start < length && (uint)(b[start] - '0') > 9)
        {
            start++;
        }

        if (start == length)
        {
            return length;
        }

        int end = start;
        long value = 0;
        while (end < length && (uint)(b[end] - '0') <= 9 && end - start < 18)
        {
            value = (value * 10) + (b[end] - '0');
            end++;
        }

        value = random.Next(6) switch
        {
            0 => value + 1,
            1 => value - 1,
            2 => value * 2,
            3 => value / 2,
            4 => random.Next(),
            _ => (long)int.MaxValue + random.Next(1000),
        };
        Span<byte> digits = stackalloc byte[24];
        value.TryFormat(digits, out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        int grow = written - (end - start);
        if (length + grow > b.Length)
        {
            return length;
        }

        b.AsSpan(end, length - end).CopyTo(b.AsSpan(end + grow));
        digits[..written].CopyTo(b.AsSpan(start));
        return length + grow;
    }

    private static void WriteInteger(Span<byte> span, int value, bool bigEndian)
    {
        switch (span.Length)
        {
            case 1:
                span[0] = (byte)value;
                break;
            case 2:
                if (bigEndian)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)value);
                }
                else
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value);
                }

                break;
            default:
                if (bigEndian)
                {
                    BinaryPrimitives.WriteInt32BigEndian(span, value);
                }
                else
                {
                    BinaryPrimitives.WriteInt32LittleEndian(span, value);
                }

                break;
        }
    }
}
