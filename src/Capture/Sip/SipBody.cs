using System.Text;

namespace Capture.Sip;

/// <summary>Finds the SDP in a SIP body: the body itself, or the application/sdp part of a multipart body (RFC 2046, RFC 5621).</summary>
public static class SipBody
{
    /// <summary>Nested multiparts deeper than this are not searched.</summary>
    private const int MaxMultipartDepth = 3;

    /// <summary>RFC 2046 limits a boundary to 70 characters.</summary>
    private const int MaxBoundaryLength = 70;

    public static bool TryFindSdp(ReadOnlySpan<byte> contentType, ReadOnlySpan<byte> body, out ReadOnlySpan<byte> sdp) =>
        TryFind(contentType, body, 0, out sdp);

    private static bool TryFind(ReadOnlySpan<byte> contentType, ReadOnlySpan<byte> body, int depth, out ReadOnlySpan<byte> sdp)
    {
        sdp = default;
        contentType = SipText.Trim(contentType);
        int semi = contentType.IndexOf((byte)';');
        ReadOnlySpan<byte> mediaType = SipText.Trim(semi < 0 ? contentType : contentType[..semi]);
        if (Ascii.EqualsIgnoreCase(mediaType, "application/sdp"u8))
        {
            sdp = body;
            return !body.IsEmpty;
        }

        ReadOnlySpan<byte> multipart = "multipart/"u8;
        if (semi < 0 || depth >= MaxMultipartDepth || mediaType.Length <= multipart.Length
            || !Ascii.EqualsIgnoreCase(mediaType[..multipart.Length], multipart)
            || !SipText.TryGetParameter(contentType[semi..], "boundary"u8, out ReadOnlySpan<byte> boundary)
            || boundary.IsEmpty || boundary.Length > MaxBoundaryLength)
        {
            return false;
        }

        int partStart = -1;
        int searchFrom = 0;
        while (true)
        {
            int delimiter = IndexOfDelimiter(body, searchFrom, boundary);
            if (delimiter < 0)
            {
                // No close delimiter (a truncated datagram): the last part runs to the end.
                return partStart >= 0 && TryPart(body[partStart..], depth, out sdp);
            }

            if (partStart >= 0)
            {
                // The line break before the delimiter belongs to the delimiter.
                int end = delimiter;
                if (end > partStart && body[end - 1] == SipText.Lf)
                {
                    end--;
                }

                if (end > partStart && body[end - 1] == SipText.Cr)
                {
                    end--;
                }

                if (TryPart(body[partStart..end], depth, out sdp))
                {
                    return true;
                }
            }

            int after = delimiter + 2 + boundary.Length;
            if (body[after..].StartsWith("--"u8))
            {
                return false; // close delimiter
            }

            int lf = body[after..].IndexOf(SipText.Lf);
            if (lf < 0)
            {
                return false;
            }

            partStart = after + lf + 1;
            searchFrom = partStart;
        }
    }

    /// <summary>Index of a "--boundary" that starts a line, at or after <paramref name="from"/>; -1 if none.</summary>
    private static int IndexOfDelimiter(ReadOnlySpan<byte> body, int from, ReadOnlySpan<byte> boundary)
    {
        while ((uint)from < (uint)body.Length)
        {
            int i = body[from..].IndexOf(boundary);
            if (i < 0)
            {
                return -1;
            }

            int at = from + i;
            if (at >= 2 && body[at - 1] == (byte)'-' && body[at - 2] == (byte)'-' && (at == 2 || body[at - 3] == SipText.Lf))
            {
                return at - 2;
            }

            from = at + 1;
        }

        return -1;
    }

    private static bool TryPart(ReadOnlySpan<byte> part, int depth, out ReadOnlySpan<byte> sdp)
    {
        sdp = default;
        ReadOnlySpan<byte> contentType = default;
        int pos = 0;
        while (true)
        {
            if (!SipText.TryReadLine(part, pos, out ReadOnlySpan<byte> line, out int next))
            {
                return false; // headers never end: no content
            }

            pos = next;
            if (line.IsEmpty)
            {
                break;
            }

            int colon = line.IndexOf((byte)':');
            if (colon > 0 && contentType.IsEmpty && SipHeaderNames.Identify(SipText.Trim(line[..colon])) == SipHeaderName.ContentType)
            {
                contentType = line[(colon + 1)..];
            }
        }

        return !contentType.IsEmpty && TryFind(contentType, part[pos..], depth + 1, out sdp);
    }
}
