using System.Buffers;
using System.Buffers.Binary;

namespace Capture.Skinny;

/// <summary>
/// One whole Skinny message: header version, message id and body (the bytes after the id). A span into the
/// stream; the per-message readers (<see cref="SkinnyRegister"/>, <see cref="SkinnyCallInfo"/>...) read fields
/// from it according to the header version and the body's length.
/// </summary>
public readonly ref struct SkinnyMessage
{
    private SkinnyMessage(uint headerVersion, uint id, ReadOnlySpan<byte> body)
    {
        HeaderVersion = headerVersion;
        Id = id;
        Body = body;
    }

    /// <summary>See <see cref="SkinnyHeaderVersion"/>.</summary>
    public uint HeaderVersion { get; }

    /// <summary>See <see cref="SkinnyMessageId"/>.</summary>
    public uint Id { get; }

    /// <summary>The bytes after the message id (length field - 4 bytes).</summary>
    public ReadOnlySpan<byte> Body { get; }

    /// <summary>Bytes this message took in the stream: prefix, id and body.</summary>
    public int TotalLength => SkinnyFramer.HeaderSize + Body.Length;

    /// <summary>Frames and reads the first message of <paramref name="data"/>; NeedMoreData when it is not all there.</summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> data, out SkinnyMessage message, out SkinnyInvalidReason reason)
    {
        message = default;
        OperationStatus status = SkinnyFramer.TryFrame(data, out int length, out reason);
        if (status != OperationStatus.Done)
        {
            return status;
        }

        message = new SkinnyMessage(
            BinaryPrimitives.ReadUInt32LittleEndian(data[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[8..]),
            data[SkinnyFramer.HeaderSize..length]);
        return OperationStatus.Done;
    }
}
