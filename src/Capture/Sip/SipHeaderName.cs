using System.Text;

namespace Capture.Sip;

/// <summary>Headers the reader knows by name; long and compact forms (RFC 3261 7.3.3, RFC 3515, RFC 3841...) map to one value.</summary>
internal enum SipHeaderName : byte
{
    Other,
    CallId,
    From,
    To,
    Contact,
    Via,
    CSeq,
    Expires,
    ContentLength,
    ContentType,
    ContentEncoding,
    UserAgent,
    Server,
    PAssertedIdentity,
    Supported,
    Subject,
    Event,
    ReferTo,
    ReferredBy,
    AllowEvents,
    SessionExpires,
    Route,
    RecordRoute,
}

internal static class SipHeaderNames
{
    public static SipHeaderName Identify(ReadOnlySpan<byte> n)
    {
        if (n.Length == 1)
        {
            return (n[0] | 0x20) switch
            {
                'i' => SipHeaderName.CallId,
                'f' => SipHeaderName.From,
                't' => SipHeaderName.To,
                'm' => SipHeaderName.Contact,
                'v' => SipHeaderName.Via,
                'l' => SipHeaderName.ContentLength,
                'c' => SipHeaderName.ContentType,
                'e' => SipHeaderName.ContentEncoding,
                'k' => SipHeaderName.Supported,
                's' => SipHeaderName.Subject,
                'o' => SipHeaderName.Event,
                'r' => SipHeaderName.ReferTo,
                'b' => SipHeaderName.ReferredBy,
                'u' => SipHeaderName.AllowEvents,
                'x' => SipHeaderName.SessionExpires,
                _ => SipHeaderName.Other,
            };
        }

        return n.Length switch
        {
            2 when Ascii.EqualsIgnoreCase(n, "To"u8) => SipHeaderName.To,
            3 when Ascii.EqualsIgnoreCase(n, "Via"u8) => SipHeaderName.Via,
            4 when Ascii.EqualsIgnoreCase(n, "From"u8) => SipHeaderName.From,
            4 when Ascii.EqualsIgnoreCase(n, "CSeq"u8) => SipHeaderName.CSeq,
            5 when Ascii.EqualsIgnoreCase(n, "Event"u8) => SipHeaderName.Event,
            5 when Ascii.EqualsIgnoreCase(n, "Route"u8) => SipHeaderName.Route,
            6 when Ascii.EqualsIgnoreCase(n, "Server"u8) => SipHeaderName.Server,
            7 when Ascii.EqualsIgnoreCase(n, "Call-ID"u8) => SipHeaderName.CallId,
            7 when Ascii.EqualsIgnoreCase(n, "Contact"u8) => SipHeaderName.Contact,
            7 when Ascii.EqualsIgnoreCase(n, "Expires"u8) => SipHeaderName.Expires,
            7 when Ascii.EqualsIgnoreCase(n, "Subject"u8) => SipHeaderName.Subject,
            8 when Ascii.EqualsIgnoreCase(n, "Refer-To"u8) => SipHeaderName.ReferTo,
            9 when Ascii.EqualsIgnoreCase(n, "Supported"u8) => SipHeaderName.Supported,
            10 when Ascii.EqualsIgnoreCase(n, "User-Agent"u8) => SipHeaderName.UserAgent,
            11 when Ascii.EqualsIgnoreCase(n, "Referred-By"u8) => SipHeaderName.ReferredBy,
            12 when Ascii.EqualsIgnoreCase(n, "Content-Type"u8) => SipHeaderName.ContentType,
            12 when Ascii.EqualsIgnoreCase(n, "Allow-Events"u8) => SipHeaderName.AllowEvents,
            12 when Ascii.EqualsIgnoreCase(n, "Record-Route"u8) => SipHeaderName.RecordRoute,
            14 when Ascii.EqualsIgnoreCase(n, "Content-Length"u8) => SipHeaderName.ContentLength,
            15 when Ascii.EqualsIgnoreCase(n, "Session-Expires"u8) => SipHeaderName.SessionExpires,
            16 when Ascii.EqualsIgnoreCase(n, "Content-Encoding"u8) => SipHeaderName.ContentEncoding,
            19 when Ascii.EqualsIgnoreCase(n, "P-Asserted-Identity"u8) => SipHeaderName.PAssertedIdentity,
            _ => SipHeaderName.Other,
        };
    }

    /// <summary>Headers whose value is a comma-separated list that may be split into elements.</summary>
    public static bool IsList(SipHeaderName h) =>
        h is SipHeaderName.Contact or SipHeaderName.Via or SipHeaderName.Route or SipHeaderName.RecordRoute or SipHeaderName.PAssertedIdentity;

    /// <summary>True when a header line's name matches the requested name (both compact and long forms honoured).</summary>
    public static bool Matches(ReadOnlySpan<byte> lineName, SipHeaderName wanted, ReadOnlySpan<byte> wantedName) =>
        wanted != SipHeaderName.Other
            ? Identify(lineName) == wanted
            : Ascii.EqualsIgnoreCase(lineName, wantedName);
}
