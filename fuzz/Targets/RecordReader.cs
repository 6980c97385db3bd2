using System.Buffers.Binary;

namespace Fuzz.Targets;

/// <summary>
/// Cuts a fuzz input into records: a 5-byte header (a selector byte, a little-endian 16-bit time step, a little-endian
/// 16-bit length) and that many bytes (fewer when the input ends). Targets that replay several packets use it, so that
/// mutations reach the packets, their order, their sizes and their timing.
/// </summary>
internal ref struct RecordReader(ReadOnlySpan<byte> input)
{
    public const int HeaderSize = 5;

    private ReadOnlySpan<byte> _rest = input;

    public bool TryNext(out byte selector, out ushort step, out ReadOnlySpan<byte> body)
    {
        if (_rest.Length < HeaderSize)
        {
            selector = 0;
            step = 0;
            body = default;
            return false;
        }

        selector = _rest[0];
        step = BinaryPrimitives.ReadUInt16LittleEndian(_rest[1..]);
        int length = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(_rest[3..]), _rest.Length - HeaderSize);
        body = _rest.Slice(HeaderSize, length);
        _rest = _rest[(HeaderSize + length)..];
        return true;
    }

    /// <summary>The record format, for seeds.</summary>
    public static void Append(List<byte> input, byte selector, ushort step, ReadOnlySpan<byte> body)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        header[0] = selector;
        BinaryPrimitives.WriteUInt16LittleEndian(header[1..], step);
        BinaryPrimitives.WriteUInt16LittleEndian(header[3..], (ushort)Math.Min(body.Length, ushort.MaxValue));
        input.AddRange(header);
        input.AddRange(body[..Math.Min(body.Length, ushort.MaxValue)]);
    }
}
