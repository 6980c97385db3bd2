using Capture.Interop;
using O = Capture.Interop.Interop.Opus;

namespace Capture.Recording;

/// <summary>Encoder settings of the frames a passthrough leg's gaps are rebuilt into: the file's rate and frame, and the recording's bitrate and complexity.</summary>
internal readonly record struct OpusRepairSettings(int Rate, int FrameSamples, int Bitrate, int Complexity);

/// <summary>
/// Rebuilds the frames lost from an Opus leg that goes into the file as it came: the packet before the gap is decoded
/// (so that concealment continues the voice instead of starting from nothing), the gap is concealed with its last frame
/// from the next packet's in-band FEC (<see cref="OpusAudioDecoder.ConcealBefore"/>), and the result is encoded into
/// packets of the file's frame. Only gaps cost a decoder and an encoder run; one decoder and one encoder serve every
/// call of a worker thread (a leg belongs to one worker), reset for each gap.
/// <para>
/// Our encoder delays what it encodes by its lookahead; it is fed the rebuilt audio that much ahead of time (the packet
/// before the gap warms it up, the packet after it gives the tail), so that the rebuilt frames play exactly where the
/// lost ones belong, between the sender's packets.
/// </para>
/// </summary>
internal sealed unsafe class OpusGapRepair : IDisposable
{
    [ThreadStatic]
    private static OpusGapRepair? t_repair;

    private readonly OpusRepairSettings _settings;
    private readonly OpusAudioDecoder _decoder;
    private readonly SafeOpusEncoderHandle _encoder;
    private readonly int _lookahead;
    private readonly byte[] _packet = new byte[OggOpusWriter.MaxStreamPacketBytes];
    private short[] _audio = [];

    private OpusGapRepair(OpusRepairSettings settings)
    {
        _settings = settings;
        _decoder = new OpusAudioDecoder(settings.Rate);
        _encoder = O.CreateEncoder(settings.Rate, 1, O.OPUS_APPLICATION_VOIP);
        O.Set(_encoder, O.OPUS_SET_BITRATE_REQUEST, settings.Bitrate, "OPUS_SET_BITRATE");
        O.Set(_encoder, O.OPUS_SET_COMPLEXITY_REQUEST, settings.Complexity, "OPUS_SET_COMPLEXITY");
        O.Set(_encoder, O.OPUS_SET_SIGNAL_REQUEST, O.OPUS_SIGNAL_VOICE, "OPUS_SET_SIGNAL");
        _lookahead = Math.Min(O.Get(_encoder, O.OPUS_GET_LOOKAHEAD_REQUEST, "OPUS_GET_LOOKAHEAD"), settings.FrameSamples);
    }

    /// <summary>This worker thread's repairer for <paramref name="settings"/> (made again only when the settings change).</summary>
    public static OpusGapRepair ForThread(OpusRepairSettings settings)
    {
        OpusGapRepair? repair = t_repair;
        if (repair is null || repair._settings != settings)
        {
            repair?.Dispose();
            t_repair = repair = new OpusGapRepair(settings);
        }

        return repair;
    }

    /// <summary>Frames rebuilt from FEC data (the others were concealed), over the thread's life.</summary>
    public long FecFrames => _decoder.FecFrames;

    /// <summary>
    /// Rebuilds <paramref name="frames"/> frames lost between <paramref name="previous"/> (empty when unknown) and
    /// <paramref name="next"/>, handing each packet in order to <paramref name="store"/>. False when libopus fails (then
    /// the gap stays as it is: silence).
    /// </summary>
    public bool Repair<TStore>(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> next, int frames, ref TStore store)
        where TStore : struct, IRepairedFrameStore
    {
        int frame = _settings.FrameSamples;
        int gap = frames * frame;
        int total = gap + (2 * frame);
        if (_audio.Length < total)
        {
            _audio = new short[total]; // grows once per worker to the longest gap concealed
        }

        // [ previous frame | the gap | next frame ]: the decoder primed by the previous packet, the next decoded for the tail.
        Span<short> audio = _audio.AsSpan(0, total);
        _decoder.Reset();
        if (previous.IsEmpty || _decoder.Decode(previous, audio[..frame]) != frame)
        {
            audio[..frame].Clear();
        }

        if (_decoder.ConcealBefore(next, audio.Slice(frame, gap), gap) != gap)
        {
            return false;
        }

        if (_decoder.Decode(next, audio.Slice(frame + gap, frame)) != frame)
        {
            audio.Slice(frame + gap, frame).Clear();
        }

        // Frame i of the output is what the encoder was given one lookahead earlier: give it the audio one lookahead ahead.
        _ = O.opus_encoder_ctl(_encoder, O.OPUS_RESET_STATE, 0);
        if (Encode(audio.Slice(_lookahead, frame)) < 0)
        {
            return false;
        }

        for (int i = 0; i < frames; i++)
        {
            int length = Encode(audio.Slice(frame + (i * frame) + _lookahead, frame));
            if (length < 0)
            {
                return false;
            }

            store.Store(i, _packet.AsSpan(0, length));
        }

        return true;
    }

    private int Encode(ReadOnlySpan<short> pcm)
    {
        fixed (short* samples = pcm)
        fixed (byte* packet = _packet)
        {
            return O.opus_encode(_encoder, samples, pcm.Length, packet, _packet.Length);
        }
    }

    public void Dispose()
    {
        _decoder.Dispose();
        _encoder.Dispose();
    }
}

/// <summary>Where <see cref="OpusGapRepair.Repair"/> puts the packets it made (a struct, so the call allocates nothing).</summary>
internal interface IRepairedFrameStore
{
    void Store(int index, ReadOnlySpan<byte> packet);
}
