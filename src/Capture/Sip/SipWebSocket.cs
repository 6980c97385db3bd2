using System.Buffers;
using System.Text;
using Capture.Packets;

namespace Capture.Sip;

/// <summary>
/// SIP over WebSocket (RFC 7118) on one TCP connection: the HTTP upgrade is skipped, frames (RFC 6455, masked from the
/// client, unmasked from the server, fragmented or not) are put back into whole WebSocket messages, and each message's
/// SIP is read: one message as RFC 7118 sends it (Content-Length optional: the WebSocket message ends it), or several
/// back to back framed by their Content-Length. The connection's state, kept in <see cref="TcpConnection.State"/>.
/// </summary>
internal sealed class SipWebSocket
{
    private const int MaxUpgradeBytes = 16 * 1024;

    private readonly Direction _forward = new();
    private readonly Direction _reverse = new();

    /// <summary>The state of a connection that carries SIP straight over TCP: decided once, at its first bytes.</summary>
    public static readonly object PlainTcp = new();

    /// <summary>Counters of every WebSocket connection of one <see cref="SipProtocol"/>.</summary>
    public sealed class Counters
    {
        public long Connections;
        public long Messages;
        public readonly long[] Invalid = new long[Enum.GetValues<WebSocketInvalidReason>().Length];
    }

    /// <summary>Does this first payload start a WebSocket connection (an upgrade, or a frame seen mid-connection)?</summary>
    public static bool IsWebSocketStart(ReadOnlySpan<byte> data) =>
        data.StartsWith("GET "u8) || data.StartsWith("HTTP/1."u8) || (data.Length > 0 && LooksLikeFrameStart(data[0]));

    /// <summary>
    /// ClaimStream for SIP over WebSocket: an HTTP upgrade to the "sip" subprotocol (request or, when the request was not
    /// captured, the 101 response), or a text/binary frame whose payload starts a SIP message (a connection joined after
    /// its upgrade). An upgrade whose headers are not all there yet is Pending.
    /// </summary>
    public static TcpApplication Claim(ReadOnlySpan<byte> first)
    {
        if (first.StartsWith("GET "u8) || first.StartsWith("HTTP/1.1 101"u8))
        {
            int end = first.IndexOf("\r\n\r\n"u8);
            if (end < 0)
            {
                return first.Length < MaxUpgradeBytes ? TcpApplication.Pending : TcpApplication.None;
            }

            ReadOnlySpan<byte> headers = first[..end];
            return HeaderHasToken(headers, "upgrade"u8, "websocket"u8) && HeaderHasToken(headers, "sec-websocket-protocol"u8, "sip"u8)
                ? TcpApplication.Claimed
                : TcpApplication.None;
        }

        if (first.Length > 0 && LooksLikeFrameStart(first[0]))
        {
            OperationStatus status = WebSocketFrame.TryRead(first, out WebSocketFrame frame, out _);
            if (status == OperationStatus.NeedMoreData)
            {
                return first.Length < 14 ? TcpApplication.Pending : TcpApplication.None;
            }

            if (status == OperationStatus.Done && frame.Opcode is WebSocketOpcode.Text or WebSocketOpcode.Binary)
            {
                Span<byte> head = stackalloc byte[Math.Min(frame.Payload.Length, 512)];
                frame.Unmask(head);
                return SipSniffer.LooksLikeSip(head) ? TcpApplication.Claimed : TcpApplication.None;
            }
        }

        return TcpApplication.None;
    }

    /// <summary>
    /// One direction's contiguous bytes; returns how many were consumed (whole frames; the rest comes back with more).
    /// Every SIP message found goes to <paramref name="sip"/>.
    /// </summary>
    public int Read(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs, SipProtocol sip, Counters counters)
    {
        Direction d = ReferenceEquals(stream, stream.Connection.Forward) ? _forward : _reverse;
        int consumed = 0;
        if (afterGap)
        {
            d.Length = 0;
            d.InMessage = false;
            d.Resync = d.PastUpgrade;
        }

        if (!d.PastUpgrade)
        {
            if (data.StartsWith("GET "u8) || data.StartsWith("HTTP/1."u8))
            {
                int end = data.IndexOf("\r\n\r\n"u8);
                if (end < 0)
                {
                    if (data.Length >= MaxUpgradeBytes)
                    {
                        counters.Invalid[(int)WebSocketInvalidReason.BadUpgrade]++;
                        stream.Connection.Application = TcpApplication.None;
                    }

                    return 0;
                }

                if (data.StartsWith("HTTP/1."u8) && !data.StartsWith("HTTP/1.1 101"u8))
                {
                    counters.Invalid[(int)WebSocketInvalidReason.BadUpgrade]++; // refused: no WebSocket follows
                    stream.Connection.Application = TcpApplication.None;
                    return data.Length;
                }

                consumed = end + 4;
            }

            d.PastUpgrade = true;
        }

        while (true)
        {
            if (d.Resync)
            {
                int start = FindSipFrame(data[consumed..]);
                if (start < 0)
                {
                    return data.Length; // nothing that starts a SIP message yet: skipped
                }

                consumed += start;
                d.Resync = false;
            }

            OperationStatus status = WebSocketFrame.TryRead(data[consumed..], out WebSocketFrame frame, out WebSocketInvalidReason reason);
            if (status == OperationStatus.NeedMoreData)
            {
                return consumed;
            }

            if (status == OperationStatus.InvalidData)
            {
                counters.Invalid[(int)reason]++;
                d.Length = 0;
                d.InMessage = false;
                d.Resync = true;
                consumed++;
                continue;
            }

            consumed += frame.Length;
            if (frame.IsControl)
            {
                continue; // close, ping, pong: nothing of SIP's (control frames may come between fragments)
            }

            if ((frame.Opcode == WebSocketOpcode.Continuation) != d.InMessage)
            {
                counters.Invalid[(int)WebSocketInvalidReason.BadFragment]++;
                d.Length = 0;
                if (frame.Opcode == WebSocketOpcode.Continuation)
                {
                    d.InMessage = !frame.Fin; // the rest of a message whose start was not seen: skipped
                    d.Oversized = true;
                    continue;
                }
            }

            if (frame.Opcode != WebSocketOpcode.Continuation)
            {
                d.Oversized = false;
            }

            if (!d.Oversized && !d.Append(frame))
            {
                counters.Invalid[(int)WebSocketInvalidReason.MessageTooLarge]++;
                d.Oversized = true;
                d.Length = 0;
            }

            d.InMessage = !frame.Fin;
            if (frame.Fin)
            {
                if (!d.Oversized && d.Length > 0)
                {
                    counters.Messages++;
                    sip.OnWebSocketMessage(d.Message, stream.Source, stream.Destination, timestampNs);
                }

                d.Length = 0;
                d.Oversized = false;
            }
        }
    }

    /// <summary>The connection is freed: its buffers go back to the pool.</summary>
    public void Release()
    {
        _forward.Release();
        _reverse.Release();
    }

    /// <summary>FIN and a data opcode, or a first fragment: 0x81, 0x82, 0x01, 0x02 (no reserved bits).</summary>
    private static bool LooksLikeFrameStart(byte first) => (first & 0x7F) is 0x01 or 0x02;

    /// <summary>Where, after a gap, the next text or binary frame that starts a SIP message is; -1 when none is whole here.</summary>
    private static int FindSipFrame(ReadOnlySpan<byte> data)
    {
        Span<byte> buffer = stackalloc byte[512];
        for (int i = 0; i < data.Length; i++)
        {
            if (LooksLikeFrameStart(data[i])
                && WebSocketFrame.TryRead(data[i..], out WebSocketFrame frame, out _) == OperationStatus.Done
                && frame.Payload.Length > 0)
            {
                Span<byte> head = buffer[..Math.Min(frame.Payload.Length, buffer.Length)];
                frame.Unmask(head);
                if (SipSniffer.LooksLikeSip(head))
                {
                    return i;
                }
            }
        }

        return -1;
    }

    /// <summary>Is there a header <paramref name="name"/> (any case) whose value contains <paramref name="token"/> (any case)?</summary>
    private static bool HeaderHasToken(ReadOnlySpan<byte> headers, ReadOnlySpan<byte> name, ReadOnlySpan<byte> token)
    {
        while (!headers.IsEmpty)
        {
            int lf = headers.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = lf < 0 ? headers : headers[..lf];
            headers = lf < 0 ? default : headers[(lf + 1)..];
            int colon = line.IndexOf((byte)':');
            if (colon == name.Length && Ascii.EqualsIgnoreCase(line[..colon], name) && ContainsIgnoreCase(line[(colon + 1)..], token))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ContainsIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> token)
    {
        for (int i = 0; i + token.Length <= text.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(text.Slice(i, token.Length), token))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One direction: past its upgrade or not, and the WebSocket message being put together.</summary>
    private sealed class Direction
    {
        private byte[] _buffer = [];

        public bool PastUpgrade;
        public bool InMessage;
        public bool Oversized;
        public bool Resync;
        public int Length;

        public ReadOnlySpan<byte> Message => _buffer.AsSpan(0, Length);

        /// <summary>Adds the frame's payload, unmasked; false when the message would pass <see cref="WebSocketFrame.MaxPayload"/>.</summary>
        public bool Append(in WebSocketFrame frame)
        {
            int needed = Length + frame.Payload.Length;
            if (needed > WebSocketFrame.MaxPayload)
            {
                return false;
            }

            if (needed > _buffer.Length)
            {
                byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 4096));
                _buffer.AsSpan(0, Length).CopyTo(bigger);
                Release();
                _buffer = bigger;
            }

            frame.Unmask(_buffer.AsSpan(Length));
            Length = needed;
            return true;
        }

        public void Release()
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }
        }
    }
}
