namespace Capture.Sip;

/// <summary>Why a SIP message was rejected; the pipeline counts these per worker.</summary>
public enum SipInvalidReason : byte
{
    None,

    /// <summary>The first line is neither a request line nor a status line (junk, another protocol).</summary>
    NotSip,

    /// <summary>Looks like SIP but the start line is malformed (empty Request-URI, bad status code, wrong version).</summary>
    BadStartLine,

    /// <summary>A header line without a colon or with an empty or non-token name.</summary>
    BadHeader,

    /// <summary>Content-Length not a number, too large, or given twice with different values.</summary>
    BadContentLength,

    /// <summary>No Content-Length on a stream transport, where it is mandatory for framing (RFC 3261 18.3).</summary>
    MissingContentLength,

    /// <summary>No end of headers within <see cref="SipMessage.MaxHeaderBytes"/>.</summary>
    HeadersTooLarge,

    /// <summary>More than <see cref="SipMessage.MaxHeaderLines"/> header lines.</summary>
    TooManyHeaders,
}
