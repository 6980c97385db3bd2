namespace Capture.Sip;

/// <summary>
/// Walks the fields of an already-validated header block (every line terminated, the blank line excluded),
/// joining folded continuation lines into the value of the field they continue.
/// </summary>
internal ref struct SipHeaderReader
{
    private readonly ReadOnlySpan<byte> _block;
    private int _pos;

    public SipHeaderReader(ReadOnlySpan<byte> block)
    {
        _block = block;
        _pos = 0;
    }

    public bool TryNext(out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        while (SipText.TryReadLine(_block, _pos, out ReadOnlySpan<byte> line, out int next))
        {
            int lineStart = _pos;
            _pos = next;
            int colon = line.IndexOf((byte)':');
            if (line.IsEmpty || line[0] is (byte)' ' or (byte)'\t' || colon <= 0)
            {
                continue; // the framing pass rejected such lines; be defensive anyway
            }

            int valueStart = lineStart + colon + 1;
            int valueEnd = lineStart + line.Length;
            while (SipText.TryReadLine(_block, _pos, out ReadOnlySpan<byte> cont, out int afterCont)
                && !cont.IsEmpty && cont[0] is (byte)' ' or (byte)'\t')
            {
                valueEnd = _pos + cont.Length;
                _pos = afterCont;
            }

            name = SipText.Trim(line[..colon]);
            value = SipText.Trim(_block[valueStart..valueEnd]);
            return true;
        }

        name = default;
        value = default;
        return false;
    }
}
