using System.Buffers;
using System.Text;

namespace Capture.Sip;

/// <summary>
/// One SIP request or response read from a span (a UDP datagram, or a frame cut from a TCP stream by
/// <see cref="TryFrame"/>). Keeps no state between calls and never allocates: every value is a span into
/// the input, trimmed of surrounding whitespace. A folded value (continuation lines) keeps its inner CRLF and
/// indentation; the readers in this namespace treat those as whitespace.
/// </summary>
public ref struct SipMessage
{
    /// <summary>Start line plus headers above this without a blank line are rejected (a UDP datagram is at most 64 KiB).</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    /// <summary>Header lines (continuations included) above this are rejected.</summary>
    public const int MaxHeaderLines = 256;

    /// <summary>Largest Content-Length accepted; signalling bodies are a few KiB.</summary>
    public const int MaxContentLength = 1 << 20;

    private const int StatusCodeDigits = 3;

    private ReadOnlySpan<byte> _headerBlock;

    /// <summary>Bytes of the input this message took: leading CRLF keep-alives, start line, headers and body.</summary>
    public int BytesConsumed { get; private set; }

    public bool IsRequest { get; private set; }

    /// <summary>The request method, or <see cref="SipMethod.Unknown"/> for responses and unlisted methods.</summary>
    public SipMethod Method { get; private set; }

    /// <summary>The request method as sent (empty for responses).</summary>
    public ReadOnlySpan<byte> MethodName { get; private set; }

    public ReadOnlySpan<byte> RequestUri { get; private set; }

    /// <summary>The status code of a response, 0 for requests.</summary>
    public int StatusCode { get; private set; }

    public ReadOnlySpan<byte> ReasonPhrase { get; private set; }

    /// <summary>Call-ID (or compact i); empty when absent.</summary>
    public ReadOnlySpan<byte> CallId { get; private set; }

    public ReadOnlySpan<byte> From { get; private set; }

    public ReadOnlySpan<byte> To { get; private set; }

    /// <summary>The first Contact value (the first element of a comma-separated list); <c>*</c> for a wildcard.</summary>
    public ReadOnlySpan<byte> Contact { get; private set; }

    /// <summary>The first P-Asserted-Identity value.</summary>
    public ReadOnlySpan<byte> PAssertedIdentity { get; private set; }

    /// <summary>The topmost Via value (the first element of the first Via header).</summary>
    public ReadOnlySpan<byte> Via { get; private set; }

    public ReadOnlySpan<byte> UserAgent { get; private set; }

    public ReadOnlySpan<byte> Server { get; private set; }

    public ReadOnlySpan<byte> ContentType { get; private set; }

    /// <summary>CSeq sequence number; 0 when absent or malformed.</summary>
    public uint CSeq { get; private set; }

    /// <summary>CSeq method; <see cref="SipMethod.Unknown"/> when absent or unlisted.</summary>
    public SipMethod CSeqMethod { get; private set; }

    /// <summary>Expires header in seconds; -1 when absent or not a number (the old date form).</summary>
    public int Expires { get; private set; }

    /// <summary>Content-Length; -1 when absent.</summary>
    public int ContentLength { get; private set; }

    /// <summary>The body: Content-Length bytes, or over UDP without Content-Length the rest of the datagram.</summary>
    public ReadOnlySpan<byte> Body { get; private set; }

    /// <summary>
    /// Reads one whole message. <see cref="OperationStatus.NeedMoreData"/> when the headers are not terminated or
    /// the body is shorter than Content-Length (over UDP: truncated); <see cref="OperationStatus.InvalidData"/>
    /// with a reason otherwise. Leading CRLFs (keep-alives) are skipped; anything else before the start line is invalid.
    /// Missing Call-ID, From, To, CSeq... are not failures: they read as empty.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> data, out SipMessage message, out SipInvalidReason reason) =>
        Read(data, requireContentLength: false, out message, out reason);

    /// <summary>
    /// Framing for stream transports: reads the first message of <paramref name="data"/>, whose length (leading CRLF
    /// keep-alives included) comes from its headers and the Content-Length that streams must carry
    /// (<see cref="BytesConsumed"/>).
    /// </summary>
    public static OperationStatus TryFrame(ReadOnlySpan<byte> data, out SipMessage message, out SipInvalidReason reason) =>
        Read(data, requireContentLength: true, out message, out reason);

    /// <summary>The value of the first header with this name (case-insensitive; compact and long forms are equivalent).</summary>
    public readonly bool TryGetHeader(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        SipHeaderName wanted = SipHeaderNames.Identify(name);
        var reader = new SipHeaderReader(_headerBlock);
        while (reader.TryNext(out ReadOnlySpan<byte> lineName, out value))
        {
            if (SipHeaderNames.Matches(lineName, wanted, name))
            {
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>
    /// Every value of the named header, in order. List headers (Contact, Via, Route, Record-Route,
    /// P-Asserted-Identity) are split at commas outside quotes and angle brackets.
    /// </summary>
    public readonly HeaderEnumerator EnumerateHeaders(ReadOnlySpan<byte> name) => new(_headerBlock, name);

    private static OperationStatus Read(ReadOnlySpan<byte> data, bool requireContentLength, out SipMessage message, out SipInvalidReason reason)
    {
        message = default;
        message.Expires = -1;
        message.ContentLength = -1;
        reason = SipInvalidReason.None;

        int pos = 0;
        while ((uint)pos < (uint)data.Length && data[pos] is SipText.Cr or SipText.Lf)
        {
            pos++;
        }

        if (pos == data.Length)
        {
            return OperationStatus.NeedMoreData;
        }

        int messageStart = pos;
        if (!SipText.TryReadLine(data, pos, out ReadOnlySpan<byte> line, out int next))
        {
            if (!IsPlausibleStartLinePrefix(data[pos..]))
            {
                reason = SipInvalidReason.NotSip;
                return OperationStatus.InvalidData;
            }

            return Incomplete(data.Length - messageStart, out reason);
        }

        if (!TryParseStartLine(line, ref message, out reason))
        {
            return OperationStatus.InvalidData;
        }

        int headersStart = next;
        pos = next;
        int lines = 0;
        int fieldStart = -1;
        int fieldColon = 0;
        int fieldEnd = 0;
        while (true)
        {
            if (!SipText.TryReadLine(data, pos, out line, out next))
            {
                return Incomplete(data.Length - messageStart, out reason);
            }

            if (next - messageStart > MaxHeaderBytes)
            {
                reason = SipInvalidReason.HeadersTooLarge;
                return OperationStatus.InvalidData;
            }

            if (line.IsEmpty)
            {
                break;
            }

            if (++lines > MaxHeaderLines)
            {
                reason = SipInvalidReason.TooManyHeaders;
                return OperationStatus.InvalidData;
            }

            if (line[0] is (byte)' ' or (byte)'\t')
            {
                // Folding: the line continues the previous field (RFC 3261 7.3.1).
                if (fieldStart < 0)
                {
                    reason = SipInvalidReason.BadHeader;
                    return OperationStatus.InvalidData;
                }

                fieldEnd = pos + line.Length;
                pos = next;
                continue;
            }

            if (fieldStart >= 0 && !ApplyField(data, fieldStart, fieldColon, fieldEnd, ref message, out reason))
            {
                return OperationStatus.InvalidData;
            }

            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(SipText.Trim(line[..colon])))
            {
                reason = SipInvalidReason.BadHeader;
                return OperationStatus.InvalidData;
            }

            fieldStart = pos;
            fieldColon = pos + colon;
            fieldEnd = pos + line.Length;
            pos = next;
        }

        if (fieldStart >= 0 && !ApplyField(data, fieldStart, fieldColon, fieldEnd, ref message, out reason))
        {
            return OperationStatus.InvalidData;
        }

        message._headerBlock = data[headersStart..pos];
        int bodyStart = next;
        if (message.ContentLength >= 0)
        {
            if (data.Length - bodyStart < message.ContentLength)
            {
                return OperationStatus.NeedMoreData;
            }

            message.Body = data.Slice(bodyStart, message.ContentLength);
            message.BytesConsumed = bodyStart + message.ContentLength;
        }
        else if (requireContentLength)
        {
            reason = SipInvalidReason.MissingContentLength;
            return OperationStatus.InvalidData;
        }
        else
        {
            message.Body = data[bodyStart..];
            message.BytesConsumed = data.Length;
        }

        return OperationStatus.Done;
    }

    private static OperationStatus Incomplete(int bytesSoFar, out SipInvalidReason reason)
    {
        if (bytesSoFar > MaxHeaderBytes)
        {
            reason = SipInvalidReason.HeadersTooLarge;
            return OperationStatus.InvalidData;
        }

        reason = SipInvalidReason.None;
        return OperationStatus.NeedMoreData;
    }

    private static bool ApplyField(ReadOnlySpan<byte> data, int start, int colon, int end, ref SipMessage m, out SipInvalidReason reason)
    {
        reason = SipInvalidReason.None;
        ReadOnlySpan<byte> value = SipText.Trim(data[(colon + 1)..end]);
        switch (SipHeaderNames.Identify(SipText.Trim(data[start..colon])))
        {
            case SipHeaderName.CallId when m.CallId.IsEmpty:
                m.CallId = value;
                break;
            case SipHeaderName.From when m.From.IsEmpty:
                m.From = value;
                break;
            case SipHeaderName.To when m.To.IsEmpty:
                m.To = value;
                break;
            case SipHeaderName.Contact when m.Contact.IsEmpty:
                m.Contact = FirstElement(value);
                break;
            case SipHeaderName.PAssertedIdentity when m.PAssertedIdentity.IsEmpty:
                m.PAssertedIdentity = FirstElement(value);
                break;
            case SipHeaderName.Via when m.Via.IsEmpty:
                m.Via = FirstElement(value);
                break;
            case SipHeaderName.UserAgent when m.UserAgent.IsEmpty:
                m.UserAgent = value;
                break;
            case SipHeaderName.Server when m.Server.IsEmpty:
                m.Server = value;
                break;
            case SipHeaderName.ContentType when m.ContentType.IsEmpty:
                m.ContentType = value;
                break;
            case SipHeaderName.CSeq when m.CSeq == 0 && m.CSeqMethod == SipMethod.Unknown:
                ReadOnlySpan<byte> rest = value;
                if (SipText.TryParseDecimal(SipText.NextWord(ref rest), uint.MaxValue, out long seq))
                {
                    m.CSeq = (uint)seq;
                    m.CSeqMethod = SipMethods.Parse(SipText.Trim(rest));
                }

                break;
            case SipHeaderName.Expires when m.Expires < 0:
                m.Expires = SipText.TryParseDecimal(value, int.MaxValue, out long expires) ? (int)expires : -1;
                break;
            case SipHeaderName.ContentLength:
                if (!SipText.TryParseDecimal(value, MaxContentLength, out long length)
                    || (m.ContentLength >= 0 && m.ContentLength != length))
                {
                    reason = SipInvalidReason.BadContentLength;
                    return false;
                }

                m.ContentLength = (int)length;
                break;
        }

        return true;
    }

    private static ReadOnlySpan<byte> FirstElement(ReadOnlySpan<byte> value)
    {
        ReadOnlySpan<byte> rest = value;
        return SipText.TryNextListElement(ref rest, out ReadOnlySpan<byte> first) ? first : value;
    }

    private static bool TryParseStartLine(ReadOnlySpan<byte> line, ref SipMessage m, out SipInvalidReason reason)
    {
        reason = SipInvalidReason.None;
        line = SipText.Trim(line);
        if (line.Length >= 4 && Ascii.EqualsIgnoreCase(line[..4], "SIP/"u8))
        {
            // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase; the reason may be empty.
            const int CodeStart = 8; // "SIP/2.0 "
            if (line.Length < CodeStart + StatusCodeDigits
                || !Ascii.EqualsIgnoreCase(line[..CodeStart], "SIP/2.0 "u8)
                || !SipText.TryParseDecimal(line.Slice(CodeStart, StatusCodeDigits), 699, out long code)
                || code < 100
                || (line.Length > CodeStart + StatusCodeDigits && line[CodeStart + StatusCodeDigits] is not ((byte)' ' or (byte)'\t')))
            {
                reason = SipInvalidReason.BadStartLine;
                return false;
            }

            m.StatusCode = (int)code;
            m.ReasonPhrase = SipText.Trim(line[(CodeStart + StatusCodeDigits)..]);
            return true;
        }

        // Request-Line = Method SP Request-URI SP SIP-Version
        int firstSpace = line.IndexOf((byte)' ');
        int lastSpace = line.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace == firstSpace
            || !IsToken(line[..firstSpace])
            || !Ascii.EqualsIgnoreCase(line[(lastSpace + 1)..], "SIP/2.0"u8))
        {
            reason = SipInvalidReason.NotSip;
            return false;
        }

        ReadOnlySpan<byte> uri = SipText.Trim(line[firstSpace..lastSpace]);
        if (uri.IsEmpty || uri.IndexOf((byte)':') <= 0 || uri.IndexOfAny((byte)' ', (byte)'\t') >= 0)
        {
            reason = SipInvalidReason.BadStartLine;
            return false;
        }

        m.IsRequest = true;
        m.MethodName = line[..firstSpace];
        m.Method = SipMethods.Parse(m.MethodName);
        m.RequestUri = uri;
        return true;
    }

    /// <summary>Could this unterminated first line still become a SIP start line? Rejects junk without waiting for more.</summary>
    internal static bool IsPlausibleStartLinePrefix(ReadOnlySpan<byte> s)
    {
        ReadOnlySpan<byte> version = "SIP/2.0 "u8;
        int n = Math.Min(s.Length, version.Length);
        if (Ascii.EqualsIgnoreCase(s[..n], version[..n]))
        {
            return true;
        }

        // Methods on the wire are upper-case letters (extension methods too, in practice): "hello" keep-alives and
        // binary junk are rejected at once instead of waiting for a line break that never comes.
        const int MaxMethodLength = 32;
        for (int i = 0; i < s.Length && i <= MaxMethodLength; i++)
        {
            if (s[i] == (byte)' ')
            {
                return i > 0;
            }

            if ((uint)(s[i] - 'A') > 'Z' - 'A')
            {
                return false;
            }
        }

        return s.Length <= MaxMethodLength;
    }

    private static bool IsToken(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (byte b in s)
        {
            if (!SipText.IsTokenChar(b))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Enumerates the values of one header name; see <see cref="EnumerateHeaders"/>.</summary>
    public ref struct HeaderEnumerator
    {
        private readonly ReadOnlySpan<byte> _name;
        private readonly SipHeaderName _wanted;
        private readonly bool _split;
        private SipHeaderReader _reader;
        private ReadOnlySpan<byte> _listRest;

        internal HeaderEnumerator(ReadOnlySpan<byte> block, ReadOnlySpan<byte> name)
        {
            _name = name;
            _wanted = SipHeaderNames.Identify(name);
            _split = SipHeaderNames.IsList(_wanted);
            _reader = new SipHeaderReader(block);
            _listRest = default;
            Current = default;
        }

        public ReadOnlySpan<byte> Current { get; private set; }

        public readonly HeaderEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (true)
            {
                if (_split && SipText.TryNextListElement(ref _listRest, out ReadOnlySpan<byte> element))
                {
                    Current = element;
                    return true;
                }

                if (!_reader.TryNext(out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value))
                {
                    Current = default;
                    return false;
                }

                if (!SipHeaderNames.Matches(name, _wanted, _name))
                {
                    continue;
                }

                if (!_split)
                {
                    Current = value;
                    return true;
                }

                _listRest = value;
            }
        }
    }
}
