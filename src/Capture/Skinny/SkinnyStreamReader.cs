using System.Buffers;

namespace Capture.Skinny;

/// <summary>Receives each whole message the stream reader frames.</summary>
public interface ISkinnyMessageSink
{
    void OnMessage(SkinnyConnection connection, bool fromPhone, in SkinnyMessage message, long timestampNs);
}

/// <summary>Per-worker counts of what the Skinny readers saw and refused (the pipeline exports them).</summary>
public sealed class SkinnyCounters
{
    private readonly long[] _invalid = new long[(int)SkinnyInvalidReason.Count];

    /// <summary>Whole messages framed.</summary>
    public long Messages { get; internal set; }

    /// <summary>Messages with an id outside the protocol's ranges: skipped.</summary>
    public long UnknownMessages { get; internal set; }

    /// <summary>Times a direction lost the message boundaries (bad header) and searched for the next one.</summary>
    public long Resyncs { get; internal set; }

    /// <summary>Bytes passed over while searching for a message boundary.</summary>
    public long BytesSkipped { get; internal set; }

    /// <summary>Invalid input by reason, indexed by <c>(int)SkinnyInvalidReason</c>.</summary>
    public ReadOnlySpan<long> Invalid => _invalid;

    public long InvalidTotal
    {
        get
        {
            long sum = 0;
            foreach (long n in _invalid)
            {
                sum += n;
            }

            return sum;
        }
    }

    internal void CountInvalid(SkinnyInvalidReason reason) => _invalid[(int)reason]++;
}

/// <summary>
/// Frames and dispatches the messages in one direction's contiguous bytes of a Skinny connection. The pipeline
/// hands it what it has (unconsumed bytes first) and keeps whatever is not consumed for the next call: a partial
/// message, or the tail in which a header may still begin while resynchronising. Allocates nothing.
/// </summary>
public static class SkinnyStreamReader
{
    /// <summary>
    /// Reads every whole message in <paramref name="data"/>, hands each known one to <paramref name="sink"/>, and
    /// returns the bytes consumed. A bad header (absurd length, unknown header version) is counted and the reader
    /// searches for the next plausible header, in this call and the next ones, before it reads on.
    /// </summary>
    public static int Read<TSink>(SkinnyConnection connection, bool fromPhone, ReadOnlySpan<byte> data, long timestampNs, TSink sink, SkinnyCounters counters)
        where TSink : ISkinnyMessageSink
    {
        int consumed = 0;
        while (consumed < data.Length)
        {
            ReadOnlySpan<byte> rest = data[consumed..];
            if (connection.IsResynchronising(fromPhone))
            {
                int at = SkinnyFramer.FindNextHeader(rest);
                if (at < 0)
                {
                    int skip = Math.Max(0, rest.Length - (SkinnyFramer.HeaderSize - 1));
                    counters.BytesSkipped += skip;
                    return consumed + skip;
                }

                counters.BytesSkipped += at;
                consumed += at;
                connection.SetResynchronising(fromPhone, false);
                continue;
            }

            OperationStatus status = SkinnyMessage.TryRead(rest, out SkinnyMessage message, out SkinnyInvalidReason reason);
            if (status == OperationStatus.NeedMoreData)
            {
                break;
            }

            if (status == OperationStatus.InvalidData)
            {
                counters.CountInvalid(reason);
                counters.Resyncs++;
                counters.BytesSkipped++;
                consumed++;
                connection.SetResynchronising(fromPhone, true);
                continue;
            }

            consumed += message.TotalLength;
            counters.Messages++;
            if (!SkinnyMessageId.IsKnown(message.Id))
            {
                counters.UnknownMessages++;
                continue;
            }

            connection.HeaderVersion = message.HeaderVersion;
            sink.OnMessage(connection, fromPhone, message, timestampNs);
        }

        return consumed;
    }
}
