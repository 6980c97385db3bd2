namespace Capture.Sip;

/// <summary>
/// A From/To/Contact/P-Asserted-Identity/Refer-To value: <c>"Display" &lt;sip:user@host:port;uri-params&gt;;tag=x</c>,
/// a bare <c>sip:user@host;tag=x</c> (whose ';' parameters then belong to the header, RFC 3261 20.10), or
/// <c>*</c> (Contact wildcard). Every part is a span into the value; nothing is unescaped or allocated.
/// </summary>
public ref struct SipNameAddr
{
    private ReadOnlySpan<byte> _uriParameters;
    private ReadOnlySpan<byte> _headerParameters;

    /// <summary>The display name without its quotes; escapes (\") are left as sent. Empty when absent.</summary>
    public ReadOnlySpan<byte> DisplayName { get; private set; }

    /// <summary>The whole URI (without angle brackets).</summary>
    public ReadOnlySpan<byte> Uri { get; private set; }

    /// <summary>sip, sips, tel, urn...: as sent.</summary>
    public ReadOnlySpan<byte> Scheme { get; private set; }

    /// <summary>The user part (sip/sips, without password), or the number of a tel: URI. Empty when absent.</summary>
    public ReadOnlySpan<byte> User { get; private set; }

    /// <summary>The host: a name, an IPv4 address, or an IPv6 address without brackets. Empty for tel: and other schemes.</summary>
    public ReadOnlySpan<byte> Host { get; private set; }

    /// <summary>The port, 0 when absent.</summary>
    public int Port { get; private set; }

    /// <summary>The tag header parameter; empty when absent.</summary>
    public ReadOnlySpan<byte> Tag { get; private set; }

    /// <summary>True for the Contact wildcard <c>*</c> (REGISTER removing all bindings); no other part is set.</summary>
    public bool IsWildcard { get; private set; }

    public static bool TryParse(ReadOnlySpan<byte> value, out SipNameAddr addr)
    {
        addr = default;
        value = SipText.Trim(value);
        if (value.IsEmpty)
        {
            return false;
        }

        if (value.Length == 1 && value[0] == (byte)'*')
        {
            addr.IsWildcard = true;
            return true;
        }

        ReadOnlySpan<byte> uri;
        ReadOnlySpan<byte> afterUri;
        int lt = SipText.IndexOfUnquoted(value, (byte)'<', skipAngles: false);
        if (lt >= 0)
        {
            int gt = value[lt..].IndexOf((byte)'>');
            if (gt < 0)
            {
                return false;
            }

            ReadOnlySpan<byte> display = SipText.Trim(value[..lt]);
            if (display.Length > 0 && display[0] == (byte)'"')
            {
                int close = ClosingQuote(display);
                if (close < 0)
                {
                    return false;
                }

                display = display[1..close];
            }

            addr.DisplayName = display;
            uri = SipText.Trim(value.Slice(lt + 1, gt - 1));
            afterUri = value[(lt + gt + 1)..];
        }
        else
        {
            if (value[0] == (byte)'"')
            {
                return false; // a quoted display name needs a <uri>
            }

            int semi = value.IndexOf((byte)';');
            uri = SipText.Trim(semi < 0 ? value : value[..semi]);
            afterUri = semi < 0 ? default : value[semi..];
        }

        if (!addr.TryParseUri(uri))
        {
            return false;
        }

        afterUri = SipText.Trim(afterUri);
        if (!afterUri.IsEmpty && afterUri[0] != (byte)';')
        {
            return false;
        }

        addr._headerParameters = afterUri;
        if (SipText.TryGetParameter(afterUri, "tag"u8, out ReadOnlySpan<byte> tag))
        {
            addr.Tag = tag;
        }

        return true;
    }

    /// <summary>A parameter inside the URI (after its host), e.g. line=, transport=, user=; a flag yields an empty value.</summary>
    public readonly bool TryGetUriParameter(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value) =>
        SipText.TryGetParameter(_uriParameters, name, out value);

    /// <summary>A parameter after the URI, e.g. tag=, expires=, q=, +sip.instance= (quotes removed).</summary>
    public readonly bool TryGetHeaderParameter(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value) =>
        SipText.TryGetParameter(_headerParameters, name, out value);

    private bool TryParseUri(ReadOnlySpan<byte> uri)
    {
        int colon = uri.IndexOf((byte)':');
        if (colon <= 0)
        {
            return false;
        }

        for (int i = 0; i < colon; i++)
        {
            if (!SipText.IsTokenChar(uri[i]))
            {
                return false;
            }
        }

        Uri = uri;
        Scheme = uri[..colon];
        ReadOnlySpan<byte> rest = uri[(colon + 1)..];
        bool isSip = System.Text.Ascii.EqualsIgnoreCase(Scheme, "sip"u8) || System.Text.Ascii.EqualsIgnoreCase(Scheme, "sips"u8);
        if (!isSip)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(Scheme, "tel"u8))
            {
                int semi = rest.IndexOf((byte)';');
                User = semi < 0 ? rest : rest[..semi];
                _uriParameters = semi < 0 ? default : rest[semi..];
                return !User.IsEmpty;
            }

            return true; // urn:, http:...: only the whole URI is meaningful
        }

        // Uri headers (?...) are not needed by the recorder; cut them off first.
        int question = rest.IndexOf((byte)'?');
        if (question >= 0)
        {
            rest = rest[..question];
        }

        int at = rest.LastIndexOf((byte)'@');
        if (at >= 0)
        {
            ReadOnlySpan<byte> userInfo = rest[..at];
            int password = userInfo.IndexOf((byte)':');
            User = password < 0 ? userInfo : userInfo[..password];
            rest = rest[(at + 1)..];
        }

        int paramStart = rest.IndexOf((byte)';');
        ReadOnlySpan<byte> hostPort = paramStart < 0 ? rest : rest[..paramStart];
        _uriParameters = paramStart < 0 ? default : rest[paramStart..];
        if (!TrySplitHostPort(hostPort, out ReadOnlySpan<byte> host, out int port))
        {
            return false;
        }

        Host = host;
        Port = port;
        return true;
    }

    /// <summary>
    /// host, host:port, [v6]:port, and the unbracketed IPv6 that real gear sends (sip_ipv6_udp.pcap:
    /// <c>fec0:0:0:0:216:d3ff:fe0d:22c:5060</c>): eight full groups plus one more is address plus port.
    /// </summary>
    private static bool TrySplitHostPort(ReadOnlySpan<byte> hostPort, out ReadOnlySpan<byte> host, out int port)
    {
        host = default;
        port = 0;
        if (hostPort.IsEmpty)
        {
            return false;
        }

        ReadOnlySpan<byte> portText = default;
        if (hostPort[0] == (byte)'[')
        {
            int close = hostPort.IndexOf((byte)']');
            if (close < 0)
            {
                return false;
            }

            host = hostPort[1..close];
            ReadOnlySpan<byte> after = hostPort[(close + 1)..];
            if (!after.IsEmpty)
            {
                if (after[0] != (byte)':')
                {
                    return false;
                }

                portText = after[1..];
            }
        }
        else
        {
            int colons = hostPort.Count((byte)':');
            int lastColon = hostPort.LastIndexOf((byte)':');
            const int FullIPv6Colons = 7;
            if (colons == 1 || (colons == FullIPv6Colons + 1 && hostPort.IndexOf("::"u8) < 0))
            {
                host = hostPort[..lastColon];
                portText = hostPort[(lastColon + 1)..];
            }
            else
            {
                host = hostPort;
            }
        }

        if (host.IsEmpty)
        {
            return false;
        }

        if (!portText.IsEmpty)
        {
            if (!SipText.TryParseDecimal(portText, ushort.MaxValue, out long p))
            {
                return false;
            }

            port = (int)p;
        }

        return true;
    }

    private static int ClosingQuote(ReadOnlySpan<byte> s)
    {
        for (int i = 1; i < s.Length; i++)
        {
            if (s[i] == (byte)'\\')
            {
                i++;
            }
            else if (s[i] == (byte)'"')
            {
                return i;
            }
        }

        return -1;
    }
}
