namespace Capture.Recording;

/// <summary>
/// Packet-loss concealment for codecs without their own (G.711, G.722): repeats the last 10 ms of good audio
/// while fading it to silence over 60 ms, so a short loss is bridged and a long one becomes silence, not a buzz.
/// </summary>
internal sealed class FadeConcealer
{
    private readonly short[] _history;
    private readonly int _fadeSamples;
    private int _historyCount;
    private int _readPosition;
    private int _concealed;

    public FadeConcealer(int sampleRate)
    {
        _history = new short[sampleRate / 100];   // 10 ms: about one or two pitch periods of speech
        _fadeSamples = sampleRate * 60 / 1000;    // 60 ms to silence
    }

    /// <summary>Keeps the tail of freshly decoded audio and ends any concealment in progress.</summary>
    public void Remember(ReadOnlySpan<short> decoded)
    {
        int capacity = _history.Length;
        if (decoded.Length >= capacity)
        {
            decoded[^capacity..].CopyTo(_history);
            _historyCount = capacity;
        }
        else
        {
            int keep = Math.Min(_historyCount, capacity - decoded.Length);
            _history.AsSpan(_historyCount - keep, keep).CopyTo(_history); // overlapping copy is safe for spans
            decoded.CopyTo(_history.AsSpan(keep));
            _historyCount = keep + decoded.Length;
        }

        _readPosition = 0;
        _concealed = 0;
    }

    public int Conceal(Span<short> pcm, int samples)
    {
        pcm = pcm[..samples]; // a too-small buffer is a caller bug
        if (_historyCount == 0)
        {
            pcm.Clear();
            return samples;
        }

        for (int i = 0; i < pcm.Length; i++)
        {
            if (_concealed >= _fadeSamples)
            {
                pcm[i..].Clear();
                _concealed += pcm.Length - i;
                break;
            }

            int gain = _fadeSamples - _concealed; // linear fade, in units of 1/_fadeSamples
            pcm[i] = (short)(_history[_readPosition] * gain / _fadeSamples);
            _readPosition = _readPosition + 1 == _historyCount ? 0 : _readPosition + 1;
            _concealed++;
        }

        return samples;
    }

    public void Reset()
    {
        _historyCount = 0;
        _readPosition = 0;
        _concealed = 0;
    }
}
