namespace Capture.Tests.Sip;

/// <summary>UDP/TCP payloads copied byte for byte from the shared captures (tshark -e udp.payload / tcp.payload).</summary>
internal static class SipSamples
{
    /// <summary>SIP_CALL_RTP_G711.pcap frame 1: INVITE with SDP from the Clarent proxy.</summary>
    public static ReadOnlySpan<byte> G711Invite =>
        "INVITE sip:francisco@bestel.com:55060 SIP/2.0\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195;branch=z9hG4bKff9b46fb055c0521cc24024da96cd290\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195:55061;branch=z9hG4bK291d90e31a47b225bd0ddff4353e9cc0\r\n"u8 +
        "From: <sip:200.57.7.195:55061;user=phone>;tag=GR52RWG346-34\r\n"u8 +
        "To: \"francisco@bestel.com\" <sip:francisco@bestel.com:55060>\r\n"u8 +
        "Call-ID: 12013223@200.57.7.195\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Contact: <sip:200.57.7.195:5060>\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "Content-Length:   229\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=Clarent 120386 120387 IN IP4 200.57.7.196\r\n"u8 +
        "s=Clarent C5CM\r\n"u8 +
        "c=IN IP4 200.57.7.196\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 40376 RTP/AVP 8 18 4 0\r\n"u8 +
        "a=rtpmap:8 PCMA/8000\r\n"u8 +
        "a=rtpmap:18 G729/8000\r\n"u8 +
        "a=rtpmap:4 G723/8000\r\n"u8 +
        "a=rtpmap:0 PCMU/8000\r\n"u8 +
        "a=SendRecv\r\n"u8;

    /// <summary>SIP_CALL_RTP_G711.pcap frame 3: 180 Ringing.</summary>
    public static ReadOnlySpan<byte> G711Ringing =>
        "SIP/2.0 180 Ringing\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195;branch=z9hG4bKff9b46fb055c0521cc24024da96cd290\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195:55061;branch=z9hG4bK291d90e31a47b225bd0ddff4353e9cc0\r\n"u8 +
        "From: <sip:200.57.7.195:55061;user=phone>;tag=GR52RWG346-34\r\n"u8 +
        "To: \"francisco@bestel.com\" <sip:francisco@bestel.com:55060>;tag=298852044\r\n"u8 +
        "Contact: <sip:francisco@200.57.7.204:5061>\r\n"u8 +
        "Call-ID: 12013223@200.57.7.195\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Server: X-Lite release 1103m\r\n"u8 +
        "Content-Length: 0\r\n"u8 +
        "\r\n"u8;

    /// <summary>SIP_CALL_RTP_G711.pcap frame 498: 200 Ok from X-Lite with SDP (lower-case rtpmap names).</summary>
    public static ReadOnlySpan<byte> G711Ok =>
        "SIP/2.0 200 Ok\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195;branch=z9hG4bKff9b46fb055c0521cc24024da96cd290\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.195:55061;branch=z9hG4bK291d90e31a47b225bd0ddff4353e9cc0\r\n"u8 +
        "From: <sip:200.57.7.195:55061;user=phone>;tag=GR52RWG346-34\r\n"u8 +
        "To: \"francisco@bestel.com\" <sip:francisco@bestel.com:55060>;tag=298852044\r\n"u8 +
        "Contact: <sip:francisco@200.57.7.204:5061>\r\n"u8 +
        "Call-ID: 12013223@200.57.7.195\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "Server: X-Lite release 1103m\r\n"u8 +
        "Content-Length: 298\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=francisco 13004970 13013442 IN IP4 200.57.7.204\r\n"u8 +
        "s=X-Lite\r\n"u8 +
        "c=IN IP4 200.57.7.204\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 8000 RTP/AVP 8 0 3 98 97 101\r\n"u8 +
        "a=rtpmap:0 pcmu/8000\r\n"u8 +
        "a=rtpmap:8 pcma/8000\r\n"u8 +
        "a=rtpmap:3 gsm/8000\r\n"u8 +
        "a=rtpmap:98 iLBC/8000\r\n"u8 +
        "a=rtpmap:97 speex/8000\r\n"u8 +
        "a=rtpmap:101 telephone-event/8000\r\n"u8 +
        "a=fmtp:101 0-15\r\n"u8;

    /// <summary>SIP_CALL_RTP_G711.pcap frame 152: REGISTER from Verso.</summary>
    public static ReadOnlySpan<byte> G711Register =>
        "REGISTER sip:Verso.com SIP/2.0\r\n"u8 +
        "Via: SIP/2.0/UDP 200.57.7.205:5061;rport;branch=z9hG4bKDC8595CD770E4317ACBC3B64CF5016C5\r\n"u8 +
        "From: Ivan <sip:Ivan@Verso.com>;tag=1516659370\r\n"u8 +
        "To: Ivan <sip:Ivan@Verso.com>\r\n"u8 +
        "Contact: \"Ivan\" <sip:Ivan@200.57.7.205:5061>\r\n"u8 +
        "Call-ID: 46E1C3CB36304F84A020CF6DD3F96461@Verso.com\r\n"u8 +
        "CSeq: 37764 REGISTER\r\n"u8 +
        "Expires: 1800\r\n"u8 +
        "Max-Forwards: 70\r\n"u8 +
        "User-Agent: Verso Softphone release 1104w\r\n"u8 +
        "Content-Length: 0\r\n"u8 +
        "\r\n"u8;

    /// <summary>aaa.pcap frame 180: REGISTER with ;line= Contact parameter and digest.</summary>
    public static ReadOnlySpan<byte> AaaRegister =>
        "REGISTER sip:sip.cybercity.dk SIP/2.0\r\n"u8 +
        "Via: SIP/2.0/UDP 192.168.1.2;branch=z9hG4bKnp112903503-43a64480192.168.1.2;rport\r\n"u8 +
        "From: <sip:voi18062@sip.cybercity.dk>;tag=6bac55c\r\n"u8 +
        "To: <sip:voi18062@sip.cybercity.dk>\r\n"u8 +
        "Call-ID: 578222729-4665d775@578222732-4665d772\r\n"u8 +
        "Contact:  <sip:voi18062@192.168.1.2:5060;line=aca6b97ca3f5e51a>;expires=1200;q=0.500\r\n"u8 +
        "Expires: 1200\r\n"u8 +
        "CSeq: 75 REGISTER\r\n"u8 +
        "Content-Length: 0\r\n"u8 +
        "Authorization: Digest username=\"voi18062\",realm=\"sip.cybercity.dk\",uri=\"sip:192.168.1.2\",nonce=\"1701b22972b90f440c3e4eb250842bb\",opaque=\"1701a1351f70795\",nc=\"00000001\",response=\"79a0543188495d288c9ebbe0c881abdc\"\r\n"u8 +
        "Max-Forwards: 70\r\n"u8 +
        "User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n"u8 +
        "\r\n"u8;

    /// <summary>aaa.pcap frame 182: 200 OK to the REGISTER.</summary>
    public static ReadOnlySpan<byte> AaaRegisterOk =>
        "SIP/2.0 200 OK\r\n"u8 +
        "Call-ID: 578222729-4665d775@578222732-4665d772\r\n"u8 +
        "Contact: <sip:voi18062@192.168.1.2:5060;line=aca6b97ca3f5e51a>;q=0.500;expires=1200\r\n"u8 +
        "CSeq: 75 REGISTER\r\n"u8 +
        "From: <sip:voi18062@sip.cybercity.dk>;tag=6bac55c\r\n"u8 +
        "P-Associated-URI: <sip:35104723@sip.cybercity.dk>\r\n"u8 +
        "To: <sip:voi18062@sip.cybercity.dk>;tag=00-04081-1701b256-5586b7324\r\n"u8 +
        "Via: SIP/2.0/UDP 192.168.1.2;received=80.230.219.70;rport=5060;branch=z9hG4bKnp112903503-43a64480192.168.1.2\r\n"u8 +
        "Content-Length: 0\r\n"u8 +
        "\r\n"u8;

    /// <summary>aaa.pcap frame 620: 183 with SDP and a=ptime.</summary>
    public static ReadOnlySpan<byte> AaaSessionProgress =>
        "SIP/2.0 183 In band info available\r\n"u8 +
        "Allow: UPDATE,REFER\r\n"u8 +
        "Call-ID: 11894297-4432a9f8@192.168.1.2\r\n"u8 +
        "Contact: <sip:212.242.33.35:5060>\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "CSeq: 2 INVITE\r\n"u8 +
        "From: \"arik\" <sip:35104723@sip.cybercity.dk>;tag=b56e6e\r\n"u8 +
        "Server: Cirpack/v4.38e (gw_sip)\r\n"u8 +
        "To: <sip:35104724@sip.cybercity.dk>;tag=00-04075-1701baa2-2dfdf7c21\r\n"u8 +
        "Via: SIP/2.0/UDP 192.168.1.2;received=80.230.219.70;rport=5060;branch=z9hG4bKnp10144774-4725f980192.168.1.2\r\n"u8 +
        "Content-Length: 199\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=cp10 112047106116 112047106116 IN IP4 212.242.33.75\r\n"u8 +
        "s=SIP Call\r\n"u8 +
        "c=IN IP4 212.242.33.36\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 40392 RTP/AVP 8 0\r\n"u8 +
        "b=AS:64\r\n"u8 +
        "a=rtpmap:8 PCMA/8000/1\r\n"u8 +
        "a=rtpmap:0 PCMU/8000/1\r\n"u8 +
        "a=ptime:20\r\n"u8;

    /// <summary>sip-rtp-opus.pcap frame 1: SIPp INVITE offering opus/48000/2 on PT 99.</summary>
    public static ReadOnlySpan<byte> OpusInvite =>
        "INVITE sip:test@10.0.2.15:5060 SIP/2.0\r\n"u8 +
        "Via: SIP/2.0/UDP 10.0.2.20:5060;branch=z9hG4bK-4237-1-0\r\n"u8 +
        "From: \"opus/48000/2\" <sip:sipp@10.0.2.20:5060>;tag=1\r\n"u8 +
        "To: test <sip:test@10.0.2.15:5060>\r\n"u8 +
        "Call-ID: 1-4237@10.0.2.20\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Contact: sip:sipp@10.0.2.20:5060\r\n"u8 +
        "Max-Forwards: 70\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "Content-Length:   128\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=- 42 42 IN IP4 10.0.2.20\r\n"u8 +
        "s=-\r\n"u8 +
        "c=IN IP4 10.0.2.20\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 6000 RTP/AVP 99\r\n"u8 +
        "a=rtpmap:99 opus/48000/2\r\n"u8 +
        "a=recvonly\r\n"u8;

    /// <summary>sip_ipv6_udp.pcap frame 1: INVITE with unbracketed IPv6 URIs and c=IN IP6.</summary>
    public static ReadOnlySpan<byte> IPv6Invite =>
        "INVITE sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060 SIP/2.0\r\n"u8 +
        "Call-ID: c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0\r\n"u8 +
        "Contact: <sip:9876@fe80:0:0:0:21a:a0ff:fe07:32e0:5060>\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "From: <sip:9876@fe80:0:0:0:21a:a0ff:fe07:32e0>;tag=a3bhg\r\n"u8 +
        "To: <sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c>\r\n"u8 +
        "Via: SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bKkdjuw8376\r\n"u8 +
        "Max-Forwards: 70\r\n"u8 +
        "Allow: INVITE, ACK, BYE, CANCEL, REFER, OPTIONS, REGISTER, SUBSCRIBE\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "Content-Length: 181\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=Valid8.com-UserAgent 8521 32 IN IP6 fe80:0:0:0:21a:a0ff:fe07:32e0\r\n"u8 +
        "s=SIP-Call\r\n"u8 +
        "c=IN IP6 fe80:0:0:0:21a:a0ff:fe07:32e0\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 5008 RTP/AVP 0\r\n"u8 +
        "a=rtpmap:0 pcmu/8000/1\r\n"u8;

    /// <summary>FAX-Call-t38-CA-TDM-SIP-FB-1.pcap frame 3107: re-INVITE switching to T.38 (m=image udptl t38).</summary>
    public static ReadOnlySpan<byte> FaxT38ReInvite =>
        "INVITE sip:061963177@192.168.100.219:5060 SIP/2.0\r\n"u8 +
        "Via: SIP/2.0/UDP 138.132.169.101:5060;branch=z9hG4bKif3pu230eol0uac9o1c1.1\r\n"u8 +
        "To: <sip:061963177@italtel.it;user=phone>;tag=617263616479616E-331715520-5336f785-187410205\r\n"u8 +
        "From: <sip:unavailable@hostportion>;tag=SD4909701-00e9d478\r\n"u8 +
        "Call-ID: SD4909701-9ff11bf72eb4a347c92974d8fbbc2668-ao8o3i1\r\n"u8 +
        "CSeq: 3 INVITE\r\n"u8 +
        "Max-Forwards: 69\r\n"u8 +
        "Contact: <sip:unavailable@138.132.169.101:5060;transport=udp>\r\n"u8 +
        "Allow: INVITE, ACK, PRACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY, UPDATE, REGISTER, INFO, REFER, SUBSCRIBE\r\n"u8 +
        "Supported: replaces,timer\r\n"u8 +
        "Accept: application/sdp, application/isup, application/xml\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "Content-Length: 114\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=- 191 1228500780 IN IP4 138.132.169.101\r\n"u8 +
        "s=IMSS\r\n"u8 +
        "c=IN IP4 138.132.169.101\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=image 15580 udptl t38\r\n"u8;

    /// <summary>sip-junk-before-request.pcap frame 2: minimal REGISTER with only Expires.</summary>
    public static ReadOnlySpan<byte> JunkRegister =>
        "REGISTER sip:1.1.1.1:5060 SIP/2.0\r\n"u8 +
        "Expires: 3600\r\n"u8 +
        "\r\n"u8;

    /// <summary>sip_ipv4_tcp.pcap frame 5: 100 Trying over TCP.</summary>
    public static ReadOnlySpan<byte> TcpTrying =>
        "SIP/2.0 100 Trying\r\n"u8 +
        "Via: SIP/2.0/TCP 10.33.6.100;branch=z9hG4bKac1589375893;alias\r\n"u8 +
        "From: <sip:101@10.33.6.100>;tag=1c1589367133\r\n"u8 +
        "To: <sip:201@10.33.6.101;user=phone>;tag=1c342958875\r\n"u8 +
        "Call-ID: 158936656982201062716@10.33.6.100\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Supported: em,timer,replaces,path,early-session,resource-priority\r\n"u8 +
        "Allow: REGISTER,OPTIONS,INVITE,ACK,CANCEL,BYE,NOTIFY,PRACK,REFER,INFO,SUBSCRIBE,UPDATE\r\n"u8 +
        "Server: GW/v.6.20A.027.012\r\n"u8 +
        "Content-Length: 0\r\n"u8 +
        "\r\n"u8;

    /// <summary>sip_ipv4_tcp.pcap frame 7: 180 Ringing over TCP.</summary>
    public static ReadOnlySpan<byte> TcpRinging =>
        "SIP/2.0 180 Ringing\r\n"u8 +
        "Via: SIP/2.0/TCP 10.33.6.100;branch=z9hG4bKac1589375893;alias\r\n"u8 +
        "From: <sip:101@10.33.6.100>;tag=1c1589367133\r\n"u8 +
        "To: <sip:201@10.33.6.101;user=phone>;tag=1c342958875\r\n"u8 +
        "Call-ID: 158936656982201062716@10.33.6.100\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Contact: <sip:201@10.33.6.101:5060;transport=tcp>\r\n"u8 +
        "Supported: em,timer,replaces,path,early-session,resource-priority\r\n"u8 +
        "Allow: REGISTER,OPTIONS,INVITE,ACK,CANCEL,BYE,NOTIFY,PRACK,REFER,INFO,SUBSCRIBE,UPDATE\r\n"u8 +
        "Server: GW/v.6.20A.027.012\r\n"u8 +
        "Content-Length: 0\r\n"u8 +
        "\r\n"u8;

    /// <summary>sip_ipv4_tcp.pcap frame 9: 200 OK over TCP with SDP.</summary>
    public static ReadOnlySpan<byte> TcpOk =>
        "SIP/2.0 200 OK\r\n"u8 +
        "Via: SIP/2.0/TCP 10.33.6.100;branch=z9hG4bKac1589375893;alias\r\n"u8 +
        "From: <sip:101@10.33.6.100>;tag=1c1589367133\r\n"u8 +
        "To: <sip:201@10.33.6.101;user=phone>;tag=1c342958875\r\n"u8 +
        "Call-ID: 158936656982201062716@10.33.6.100\r\n"u8 +
        "CSeq: 1 INVITE\r\n"u8 +
        "Contact: <sip:201@10.33.6.101:5060;transport=tcp>\r\n"u8 +
        "Supported: em,timer,replaces,path,early-session,resource-priority\r\n"u8 +
        "Allow: REGISTER,OPTIONS,INVITE,ACK,CANCEL,BYE,NOTIFY,PRACK,REFER,INFO,SUBSCRIBE,UPDATE\r\n"u8 +
        "Server: GW/v.6.20A.027.012\r\n"u8 +
        "Content-Type: application/sdp\r\n"u8 +
        "Content-Length: 225\r\n"u8 +
        "\r\n"u8 +
        "v=0\r\n"u8 +
        "o=GW 343007640 343007510 IN IP4 10.33.6.101\r\n"u8 +
        "s=Phone-Call\r\n"u8 +
        "c=IN IP4 10.33.6.101\r\n"u8 +
        "t=0 0\r\n"u8 +
        "m=audio 6050 RTP/AVP 8 13 101\r\n"u8 +
        "a=rtpmap:8 PCMA/8000\r\n"u8 +
        "a=rtpmap:101 telephone-event/8000\r\n"u8 +
        "a=fmtp:101 0-15,16\r\n"u8 +
        "a=ptime:20\r\n"u8 +
        "a=sendrecv\r\n"u8;
}
