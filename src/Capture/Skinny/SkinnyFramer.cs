using System.Buffers;
using System.Buffers.Binary;

namespace Capture.Skinny;

/// <summary>
/// Finds where a Skinny message ends in one direction's TCP byte stream. Each message is a little-endian u32
/// length (counting the bytes after the 8-byte length + header version prefix: the message id and the body),
/// a u32 header version and a u32 message id. Stateless and resumable: NeedMoreData consumes nothing, so the
/// caller calls again from the same offset when more bytes have arrived.
/// </summary>
public static class SkinnyFramer
{
    /// <summary>The well-known SCCP port: the CallManager's side of a connection.</summary>
    public const ushort DefaultPort = 2000;

    /// <summary>Length field + header version.</summary>
    public const int PrefixSize = 8;

    /// <summary>Length field + header version + message id.</summary>
    public const int HeaderSize = 12;

    /// <summary>Smallest length field: the message id alone (KeepAlive, a legacy Unregister).</summary>
    public const int MinDataLength = 4;

    /// <summary>
    /// Largest length field accepted. The biggest real messages carry at most 2000 bytes of XML or a 600-byte
    /// statistics text plus a few hundred bytes of fields; anything larger means the stream is desynchronised.
    /// </summary>
    public const int MaxDataLength = 8 * 1024;

    /// <summary>Largest whole message: what a stream buffer must hold at least.</summary>
    public const int MaxMessageBytes = PrefixSize + MaxDataLength;

    /// <summary>
    /// The total size (prefix included) of the first message in <paramref name="stream"/>. InvalidData as soon as
    /// the bytes present prove the header wrong (absurd length, unknown header version), even before the rest arrives.
    /// </summary>
    public static OperationStatus TryFrame(ReadOnlySpan<byte> stream, out int messageLength, out SkinnyInvalidReason reason)
    {
        messageLength = 0;
        reason = SkinnyInvalidReason.None;
        if (stream.Length < 4)
        {
            return OperationStatus.NeedMoreData;
        }

        uint length = BinaryPrimitives.ReadUInt32LittleEndian(stream);
        if (length - MinDataLength > MaxDataLength - MinDataLength)
        {
            reason = SkinnyInvalidReason.BadLength;
            return OperationStatus.InvalidData;
        }

        if (stream.Length < PrefixSize)
        {
            return OperationStatus.NeedMoreData;
        }

        if (!SkinnyHeaderVersion.IsValid(BinaryPrimitives.ReadUInt32LittleEndian(stream[4..])))
        {
            reason = SkinnyInvalidReason.BadHeaderVersion;
            return OperationStatus.InvalidData;
        }

        int total = PrefixSize + (int)length;
        if (stream.Length < total)
        {
            return OperationStatus.NeedMoreData;
        }

        messageLength = total;
        return OperationStatus.Done;
    }

    /// <summary>
    /// After a gap or a bad header: the offset of the next plausible message header in <paramref name="data"/>
    /// (sane length, known header version, an id in the protocol's ranges, and, when the bytes are there, a
    /// plausible header right after that message too), or -1 when none starts in it. A header cut off by the end
    /// of <paramref name="data"/> is not found: keep the last <see cref="HeaderSize"/> - 1 bytes and search again.
    /// </summary>
    public static int FindNextHeader(ReadOnlySpan<byte> data)
    {
        for (int i = 0; i + HeaderSize <= data.Length; i++)
        {
            if (!IsPlausibleHeader(data[i..], out int total))
            {
                continue;
            }

            ReadOnlySpan<byte> next = data[i..];
            if (next.Length >= total + HeaderSize && !IsPlausibleHeader(next[total..], out _))
            {
                continue; // a lone lookalike: the message after it does not start where it says
            }

            return i;
        }

        return -1;
    }

    /// <summary>Whether a whole header (12 bytes) starts <paramref name="data"/>, and the message's total size.</summary>
    public static bool IsPlausibleHeader(ReadOnlySpan<byte> data, out int messageLength)
    {
        messageLength = 0;
        if (data.Length < HeaderSize)
        {
            return false;
        }

        uint length = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (length - MinDataLength > MaxDataLength - MinDataLength
            || !SkinnyHeaderVersion.IsValid(BinaryPrimitives.ReadUInt32LittleEndian(data[4..]))
            || !SkinnyMessageId.IsKnown(BinaryPrimitives.ReadUInt32LittleEndian(data[8..])))
        {
            return false;
        }

        messageLength = PrefixSize + (int)length;
        return true;
    }
}
