using System.Buffers;
using Capture.Bindings;
using Capture.Calls;
using Capture.Diagnostics;
using Capture.Packets;
using Capture.Signalling;

namespace Capture.Sip;

/// <summary>
/// SIP as the pipeline feeds it: UDP datagrams and TCP connections recognised by content (any port), each message
/// read once, learnt from by the directory (<see cref="SipDeviceLearner"/>) and followed by the
/// <see cref="SipCallTracker"/>. Bad input is counted by reason. Capture thread only; counters are read by scrapes.
/// </summary>
public sealed class SipProtocol : ISignallingProtocol
{
    private static readonly string[] s_reasonNames = CounterWriter.ReasonNames<SipInvalidReason>();
    private static readonly string[] s_webSocketReasonNames = CounterWriter.ReasonNames<WebSocketInvalidReason>();

    private readonly SipCallTracker _calls;
    private readonly SipDeviceLearner? _learner;

    // By SipInvalidReason; one more slot for datagrams cut short (a UDP message that needs more data).
    private readonly long[] _invalid = new long[s_reasonNames.Length + 1];
    private long _messages;
    private long _tcpMessages;
    private long _tcpBytesSkipped;
    private readonly SipWebSocket.Counters _webSocket = new();

    public SipProtocol(CallBook book, SipTrackerOptions? options = null, BindingDirectory? directory = null)
    {
        _calls = new SipCallTracker(book, options);
        if (directory is not null)
        {
            _learner = new SipDeviceLearner(directory);
        }
    }

    public bool TryTakeDatagram(in DecodedPacket packet)
    {
        if (!SipSniffer.LooksLikeSip(packet.Payload))
        {
            return false;
        }

        OperationStatus status = SipMessage.TryRead(packet.Payload, out SipMessage message, out SipInvalidReason reason);
        if (status != OperationStatus.Done)
        {
            // Over UDP a message that needs more data is a truncated datagram.
            _invalid[status == OperationStatus.NeedMoreData ? s_reasonNames.Length : (int)reason]++;
            return true;
        }

        OnMessage(message, packet.Source, packet.Destination, packet.TimestampNs);
        return true;
    }

    /// <summary>
    /// By content: the first bytes are a SIP start line (any port), or an upgrade to SIP over WebSocket (or a WebSocket
    /// frame carrying SIP); an incomplete first line or upgrade may still become one.
    /// </summary>
    public TcpApplication ClaimStream(in TcpFlowKey flow, ReadOnlySpan<byte> firstBytes)
    {
        if (firstBytes.IsEmpty)
        {
            return TcpApplication.None;
        }

        if (SipSniffer.LooksLikeSip(firstBytes))
        {
            return TcpApplication.Claimed;
        }

        TcpApplication webSocket = SipWebSocket.Claim(firstBytes);
        return webSocket != TcpApplication.None ? webSocket
            : SipStreamFramer.MayStartSip(firstBytes) ? TcpApplication.Pending
            : TcpApplication.None;
    }

    /// <summary>Frames and reads every whole SIP message in <paramref name="data"/>; an unfinished one stays buffered.</summary>
    public int OnData(TcpStream stream, ReadOnlySpan<byte> data, bool afterGap, long timestampNs)
    {
        object? state = stream.Connection.State;
        if (state is null)
        {
            // Decided once, at the connection's first bytes: SIP straight over TCP, or over WebSocket.
            if (SipWebSocket.IsWebSocketStart(data))
            {
                state = new SipWebSocket();
                _webSocket.Connections++;
            }
            else
            {
                state = SipWebSocket.PlainTcp;
            }

            stream.Connection.State = state;
        }

        if (state is SipWebSocket webSocket)
        {
            return webSocket.Read(stream, data, afterGap, timestampNs, this, _webSocket);
        }

        int consumed = 0;
        bool resync = afterGap;
        while (true)
        {
            OperationStatus status = SipStreamFramer.TryFrameNext(data[consumed..], resync, out int skip, out SipMessage message, out SipInvalidReason reason);
            if (resync || status == OperationStatus.InvalidData)
            {
                _tcpBytesSkipped += skip - CountLineBreaks(data.Slice(consumed, skip));
            }

            consumed += skip;
            if (status == OperationStatus.NeedMoreData)
            {
                return consumed;
            }

            if (status == OperationStatus.InvalidData)
            {
                _invalid[(int)reason]++;
                resync = true;
                continue;
            }

            consumed += message.BytesConsumed;
            resync = false;
            _tcpMessages++;
            OnMessage(message, stream.Source, stream.Destination, timestampNs);
        }
    }

    public void OnClosed(TcpConnection connection, long nowNs)
    {
        // Dialogs outlive their connections; a WebSocket connection's buffers go back to the pool.
        (connection.State as SipWebSocket)?.Release();
    }

    /// <summary>
    /// A whole WebSocket message: one SIP message (RFC 7118: the WebSocket message ends it, Content-Length or not), or
    /// several back to back, each framed by its Content-Length.
    /// </summary>
    internal void OnWebSocketMessage(ReadOnlySpan<byte> data, IpEndpoint16 source, IpEndpoint16 destination, long timestampNs)
    {
        int at = 0;
        while (true)
        {
            while (at < data.Length && data[at] is SipText.Cr or SipText.Lf)
            {
                at++; // keep-alives between messages
            }

            if (at >= data.Length)
            {
                return;
            }

            OperationStatus status = SipStreamFramer.TryFrameNext(data[at..], false, out int skip, out SipMessage message, out SipInvalidReason reason);
            if (status == OperationStatus.Done)
            {
                at += skip + message.BytesConsumed;
                OnMessage(message, source, destination, timestampNs);
                continue;
            }

            if (status == OperationStatus.NeedMoreData || reason == SipInvalidReason.MissingContentLength)
            {
                // The last (or only) message: the WebSocket message is its end, as a datagram's is.
                status = SipMessage.TryRead(data[at..], out message, out reason);
                if (status == OperationStatus.Done)
                {
                    OnMessage(message, source, destination, timestampNs);
                    return;
                }
            }

            _invalid[status == OperationStatus.NeedMoreData ? s_reasonNames.Length : (int)reason]++;
            return;
        }
    }

    public void Expire(long nowNs)
    {
        _calls.Expire(nowNs);
        _learner?.Expire(nowNs);
    }

    public void EndAll(long nowNs, string reason) => _calls.EndAll(nowNs, reason);

    public void WriteCounters(CounterWriter counters)
    {
        counters.Event("sip_messages", _messages);
        counters.Event("tcp_sip_messages", _tcpMessages);
        counters.Event("tcp_sip_bytes_skipped", _tcpBytesSkipped);
        counters.Event("websocket_connections", _webSocket.Connections);
        counters.Event("websocket_sip_messages", _webSocket.Messages);
        counters.InvalidByReason("websocket", s_webSocketReasonNames, _webSocket.Invalid);

        counters.Event("sip_messages_without_call", _calls.MessagesWithoutCall);
        counters.Limit("sip_calls_over_limit", _calls.CallsOverLimit);
        counters.InvalidByReason("sip", s_reasonNames, _invalid);
        counters.Invalid("sip", "truncated", _invalid[s_reasonNames.Length]);
        if (_learner is { } l)
        {
            counters.Event("sip_registers_applied", l.RegistersApplied);
            counters.Event("sip_registers_refused", l.RegistersRefused);
            counters.Event("sip_unregisters", l.Unregisters);
            counters.Event("sip_registers_proxied", l.ProxiedRegisters);
            counters.Event("sip_bad_extensions", l.BadExtensions);
            counters.Event("sip_relays_detected", l.RelaysDetected);
            counters.Event("sip_phones_moved", l.PhonesMoved);
        }
    }

    /// <summary>A whole message: the directory learns from it, then the call tracker follows it.</summary>
    private void OnMessage(in SipMessage message, IpEndpoint16 source, IpEndpoint16 destination, long timestampNs)
    {
        _messages++;
        _learner?.OnMessage(message, source, destination, timestampNs);
        _calls.OnMessage(message, source, destination, timestampNs);
    }

    private static int CountLineBreaks(ReadOnlySpan<byte> skipped)
    {
        int n = 0;
        foreach (byte b in skipped)
        {
            n += b is (byte)'\r' or (byte)'\n' ? 1 : 0;
        }

        return n;
    }
}
