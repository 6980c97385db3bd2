using System.Buffers;
using System.Buffers.Binary;

namespace Capture.Sip;

/// <summary>Why a WebSocket frame was rejected.</summary>
public enum WebSocketInvalidReason : byte
{
    None,

    /// <summary>A reserved bit set (no extension is negotiated for SIP), or a reserved opcode.</summary>
    BadHeader,

    /// <summary>A payload length larger than a SIP message can be (<see cref="WebSocketFrame.MaxPayload"/>), or a 64-bit length with its top bit set.</summary>
    TooLarge,

    /// <summary>A control frame (close, ping, pong) that is fragmented or longer than 125 bytes (RFC 6455 5.5).</summary>
    BadControlFrame,

    /// <summary>A continuation frame without a message to continue, or a new message before the last one finished.</summary>
    BadFragment,

    /// <summary>The upgrade (HTTP request or response) never finished its headers, or the server refused it.</summary>
    BadUpgrade,

    /// <summary>A WebSocket message longer than <see cref="WebSocketFrame.MaxPayload"/> in all.</summary>
    MessageTooLarge,
}

/// <summary>RFC 6455 frame opcodes.</summary>
public enum WebSocketOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>
/// One WebSocket frame header (RFC 6455 5.2) over a span: what it carries and where its payload is. Stateless; a frame
/// whose header or payload is not all there yet is <see cref="OperationStatus.NeedMoreData"/> and consumes nothing.
/// </summary>
public readonly ref struct WebSocketFrame
{
    /// <summary>SIP messages are a few kilobytes; a frame or message larger than this is not SIP.</summary>
    public const int MaxPayload = 64 * 1024;

    private const int MaxControlPayload = 125;

    private WebSocketFrame(bool fin, WebSocketOpcode opcode, uint maskKey, bool masked, ReadOnlySpan<byte> payload, int length)
    {
        Fin = fin;
        Opcode = opcode;
        MaskKey = maskKey;
        Masked = masked;
        Payload = payload;
        Length = length;
    }

    /// <summary>The last frame of its message.</summary>
    public bool Fin { get; }

    public WebSocketOpcode Opcode { get; }

    /// <summary>Client-to-server frames are masked (RFC 6455 5.3): <see cref="Unmask"/> restores the payload.</summary>
    public bool Masked { get; }

    /// <summary>The masking key as it appears on the wire, big-endian.</summary>
    public uint MaskKey { get; }

    /// <summary>The payload as on the wire (still masked when <see cref="Masked"/>).</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>Header and payload: the bytes this frame takes in the stream.</summary>
    public int Length { get; }

    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    /// <summary>Reads the frame at the start of <paramref name="data"/>.</summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> data, out WebSocketFrame frame, out WebSocketInvalidReason reason)
    {
        frame = default;
        reason = WebSocketInvalidReason.None;
        if (data.Length < 2)
        {
            return OperationStatus.NeedMoreData;
        }

        byte first = data[0];
        byte second = data[1];
        var opcode = (WebSocketOpcode)(first & 0x0F);
        if ((first & 0x70) != 0 || opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary
            or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong))
        {
            reason = WebSocketInvalidReason.BadHeader;
            return OperationStatus.InvalidData;
        }

        bool fin = (first & 0x80) != 0;
        bool masked = (second & 0x80) != 0;
        int offset = 2;
        ulong length = (ulong)(second & 0x7F);
        if (length == 126)
        {
            if (data.Length < 4)
            {
                return OperationStatus.NeedMoreData;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            offset = 4;
        }
        else if (length == 127)
        {
            if (data.Length < 10)
            {
                return OperationStatus.NeedMoreData;
            }

            length = BinaryPrimitives.ReadUInt64BigEndian(data[2..]);
            offset = 10;
        }

        if (((byte)opcode & 0x8) != 0 && (!fin || length > MaxControlPayload))
        {
            reason = WebSocketInvalidReason.BadControlFrame;
            return OperationStatus.InvalidData;
        }

        if (length > MaxPayload)
        {
            reason = WebSocketInvalidReason.TooLarge;
            return OperationStatus.InvalidData;
        }

        uint key = 0;
        if (masked)
        {
            if (data.Length < offset + 4)
            {
                return OperationStatus.NeedMoreData;
            }

            key = BinaryPrimitives.ReadUInt32BigEndian(data[offset..]);
            offset += 4;
        }

        int total = offset + (int)length;
        if (data.Length < total)
        {
            return OperationStatus.NeedMoreData;
        }

        frame = new WebSocketFrame(fin, opcode, key, masked, data[offset..total], total);
        return OperationStatus.Done;
    }

    /// <summary>Writes the payload, unmasked, to <paramref name="destination"/>; a shorter destination gets its first bytes.</summary>
    public void Unmask(Span<byte> destination)
    {
        ReadOnlySpan<byte> payload = Payload[..Math.Min(Payload.Length, destination.Length)];
        if (!Masked)
        {
            payload.CopyTo(destination);
            return;
        }

        Span<byte> key = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(key, MaskKey);
        for (int i = 0; i < payload.Length; i++)
        {
            destination[i] = (byte)(payload[i] ^ key[i & 3]);
        }
    }
}
