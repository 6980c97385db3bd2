namespace Fuzz.Targets;

/// <summary>SIP and SDP keywords the mutator inserts.</summary>
internal static class SipTokens
{
    public static readonly IReadOnlyList<byte[]> Dictionary =
    [
        .. new[]
        {
            "INVITE ", "ACK ", "BYE ", "CANCEL ", "REGISTER ", "OPTIONS ", "NOTIFY ", "UPDATE ", "SIP/2.0 ", "SIP/2.0\r\n", " SIP/2.0", "sip:", "sips:", "tel:",
            "\r\n", "\r\n\r\n", "\n", ": ", ";", ",", "<", ">", "\"", "@", "[", "]", "::1", "Via: ", "From: ", "To: ", "f: ", "t: ", "v: ", "i: ", "m: ", "l: ", "c: ",
            "Call-ID: ", "CSeq: ", "Contact: ", "Content-Length: ", "Content-Length: 0", "Content-Type: ", "application/sdp", "multipart/mixed;boundary=b", "--b",
            "Expires: 0", ";expires=", ";tag=", ";branch=z9hG4bK", ";+sip.instance=", "\"<urn:uuid:", "*", "Record-Route: ", "User-Agent: ",
            "v=0\r\n", "o=- 1 1 IN IP4 10.0.0.1\r\n", "s=-\r\n", "c=IN IP4 ", "c=IN IP6 ", "t=0 0\r\n", "m=audio ", "m=image ", " RTP/AVP ", " udptl t38",
            "a=rtpmap:", "a=ptime:", "a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv", "PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2",
            "telephone-event/8000", "G729/8000", "0.0.0.0", "255.255.255.255", "65535", "4294967296", "-1",
        }.Select(System.Text.Encoding.ASCII.GetBytes),
    ];
}
