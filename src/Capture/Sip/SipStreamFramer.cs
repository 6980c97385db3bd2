using System.Buffers;

namespace Capture.Sip;

/// <summary>
/// Frames SIP messages in a reassembled TCP byte stream (RFC 3261 18.3: headers, then Content-Length bytes of body).
/// Stateless: the caller keeps the unconsumed bytes and calls again when more arrive. After a gap (or when joining
/// a connection mid-stream) it resynchronises: it skips to the first line that is a SIP start line.
/// </summary>
public static class SipStreamFramer
{
    /// <summary>A start line longer than this is not waited for (as <see cref="SipSniffer"/>).</summary>
    private const int MaxStartLine = 2048;

    /// <summary>
    /// The next message of <paramref name="data"/>.
    /// <list type="bullet">
    /// <item><see cref="OperationStatus.Done"/>: <paramref name="message"/> is read from <c>data[skip..]</c> (its whole length is
    /// <see cref="SipMessage.BytesConsumed"/>); the caller consumes <c>skip + message.BytesConsumed</c>. Framing reads the
    /// message: it is read once.</item>
    /// <item><see cref="OperationStatus.NeedMoreData"/>: <c>data[..skip]</c> can be consumed (keep-alives, junk); the rest may start a message.</item>
    /// <item><see cref="OperationStatus.InvalidData"/>: <c>data[..skip]</c> (at least the bad start line) is not a usable message; consume it and call again with <paramref name="resync"/> set.</item>
    /// </list>
    /// </summary>
    /// <param name="resync">The data does not start at a message boundary: skip to the next SIP start line.</param>
    public static OperationStatus TryFrameNext(ReadOnlySpan<byte> data, bool resync, out int skip, out SipMessage message, out SipInvalidReason reason)
    {
        message = default;
        reason = SipInvalidReason.None;
        skip = SkipLineBreaks(data, 0); // CRLF keep-alives between messages (RFC 5626 4.4.1)
        if (resync)
        {
            while (true)
            {
                if (skip == data.Length)
                {
                    return OperationStatus.NeedMoreData;
                }

                ReadOnlySpan<byte> rest = data[skip..];
                int lf = rest.IndexOf(SipText.Lf);
                if (lf < 0)
                {
                    if (!MayStartSip(rest))
                    {
                        skip = data.Length; // an unterminated line that cannot become a start line: junk
                    }

                    return OperationStatus.NeedMoreData;
                }

                if (lf < MaxStartLine && SipSniffer.LooksLikeSip(rest))
                {
                    break;
                }

                skip = SkipLineBreaks(data, skip + lf + 1);
            }
        }

        if (skip == data.Length)
        {
            return OperationStatus.NeedMoreData;
        }

        OperationStatus status = SipMessage.TryFrame(data[skip..], out message, out reason);
        if (status == OperationStatus.InvalidData)
        {
            // Skip the offending line at least, so resynchronising does not find the same start line again.
            int lf = data[skip..].IndexOf(SipText.Lf);
            skip = lf < 0 ? data.Length : skip + lf + 1;
        }

        return status;
    }

    /// <summary>
    /// True when <paramref name="data"/> (after CRLF keep-alives) is an unterminated first line that could still become
    /// a SIP start line: wait for more bytes before deciding.
    /// </summary>
    public static bool MayStartSip(ReadOnlySpan<byte> data)
    {
        int start = SkipLineBreaks(data, 0);
        ReadOnlySpan<byte> rest = data[start..];
        return rest.Length < MaxStartLine && rest.IndexOf(SipText.Lf) < 0 && SipMessage.IsPlausibleStartLinePrefix(rest);
    }

    private static int SkipLineBreaks(ReadOnlySpan<byte> data, int at)
    {
        while ((uint)at < (uint)data.Length && data[at] is SipText.Cr or SipText.Lf)
        {
            at++;
        }

        return at;
    }
}
