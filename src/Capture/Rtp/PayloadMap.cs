namespace Capture.Rtp;

/// <summary>
/// What each RTP payload type means on one media leg, as negotiated in SDP. Immutable once built: the
/// signalling side builds a new one and hands it to the worker, so the worker reads it without locks.
/// </summary>
public sealed class PayloadMap
{
    private readonly AudioCodec[] _codecs = new AudioCodec[128];
    private readonly int[] _clockRates = new int[128];

    public PayloadMap()
    {
        // Static payload types mean what RFC 3551 says even when the SDP omits rtpmap lines.
        // Not through Set: these defaults are not the SDP's choice, so they must not become Preferred
        // (else every map would prefer PCMU and a G.722 call would be recorded at 8 kHz).
        foreach (AudioCodecInfo info in AudioCodecs.All) // once per map, at signalling rate
        {
            if (info.StaticPayloadType >= 0)
            {
                _codecs[info.StaticPayloadType] = info.Codec;
                _clockRates[info.StaticPayloadType] = 8000; // every static audio type of RFC 3551 that we decode clocks at 8000
            }
        }
    }

    /// <summary>
    /// The media is SRTP (RTP/SAVP, DTLS-SRTP): headers readable, payloads encrypted. Nothing is decoded (it would be
    /// noise); the packets are counted as <c>encrypted</c>.
    /// </summary>
    public bool Encrypted { get; init; }

    /// <summary>The first speech codec of the SDP m= line (the one the answer selected); Unknown until one is set.</summary>
    public AudioCodec Preferred { get; private set; }

    public void Set(byte payloadType, AudioCodec codec, int clockRate)
    {
        if (payloadType >= 128)
        {
            return;
        }

        _codecs[payloadType] = codec;
        _clockRates[payloadType] = clockRate > 0 ? clockRate : 8000;
        if (Preferred == AudioCodec.Unknown && codec.IsSpeech())
        {
            Preferred = codec;
        }
    }

    public AudioCodec CodecOf(byte payloadType) => payloadType < 128 ? _codecs[payloadType] : AudioCodec.Unknown;

    /// <summary>RTP clock rate: 8000 for G.722 (RFC 3551's historical quirk), 48000 for Opus.</summary>
    public int ClockRateOf(byte payloadType) => payloadType < 128 && _clockRates[payloadType] > 0 ? _clockRates[payloadType] : 8000;
}
