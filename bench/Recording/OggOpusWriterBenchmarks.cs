using BenchmarkDotNet.Attributes;
using Capture.Interop;
using Capture.Recording;
using Concentus;
using Concentus.Enums;
using O = Capture.Interop.Interop.Opus;
using ManagedOpusEncoder = Concentus.Structs.OpusEncoder;

namespace Bench.Recording;

/// <summary>
/// One 20 ms stereo 8 kHz frame of a real conversation (the two legs of SIP_CALL_RTP_G711.pcap, each call taking the
/// next frame): Concentus' managed Opus encoder, two mono encoders at our settings (the baseline: the library the
/// design card weighed against libopus); bare opus_multistream_encode (two uncoupled mono streams, the same settings);
/// and OggOpusWriter.WriteFrame with both parties talking (our container and per-leg encoders, skipping a leg's
/// silent frames), one listening (its leg digital silence: the stock silent packet instead of the encoder) and both
/// silent (hold, a gap).
/// </summary>
[MemoryDiagnoser]
public unsafe class OggOpusWriterBenchmarks
{
    private const int Rate = 8000;
    private const int Frame = Rate / 50;

    private short[][] _left = [];
    private short[][] _right = [];
    private short[][] _interleaved = [];
    private int _next;
    private readonly short[] _silence = new short[Frame];
    private readonly byte[] _packet = new byte[8000];
    private IOpusEncoder _managedLeft = null!;
    private IOpusEncoder _managedRight = null!;
    private SafeOpusMultistreamEncoderHandle _encoder = null!;
    private OggOpusWriter _writer = null!;
    private OggOpusWriter _listening = null!;
    private OggOpusWriter _quiet = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_left, _right) = CallSpeech.LoadLegs();
        _interleaved = new short[_left.Length][];
        for (int f = 0; f < _left.Length; f++)
        {
            _interleaved[f] = new short[Frame * 2];
            for (int i = 0; i < Frame; i++)
            {
                _interleaved[f][2 * i] = _left[f][i];
                _interleaved[f][(2 * i) + 1] = _right[f][i];
            }
        }

        var options = new OggOpusWriterOptions { SampleRate = Rate };
        _managedLeft = CreateManagedEncoder(options);
        _managedRight = CreateManagedEncoder(options);
        _encoder = O.CreateMultistreamEncoder(Rate, 2, 2, 0, [0, 1], O.OPUS_APPLICATION_VOIP);
        O.Set(_encoder, O.OPUS_SET_BITRATE_REQUEST, options.BitratePerChannel * 2, "OPUS_SET_BITRATE");
        O.Set(_encoder, O.OPUS_SET_COMPLEXITY_REQUEST, options.Complexity, "OPUS_SET_COMPLEXITY");
        O.Set(_encoder, O.OPUS_SET_SIGNAL_REQUEST, O.OPUS_SIGNAL_VOICE, "OPUS_SET_SIGNAL");
        _writer = new OggOpusWriter(Stream.Null, options);
        _listening = new OggOpusWriter(Stream.Null, options);
        _quiet = new OggOpusWriter(Stream.Null, options);
    }

    /// <summary>
    /// Concentus' managed encoder: its factory would load libopus where it finds one, so it is told not to, and the
    /// encoder it returns is checked to be the managed one.
    /// </summary>
    private static IOpusEncoder CreateManagedEncoder(OggOpusWriterOptions options)
    {
        OpusCodecFactory.AttemptToUseNativeLibrary = false;
        IOpusEncoder encoder = OpusCodecFactory.CreateEncoder(options.SampleRate, 1, OpusApplication.OPUS_APPLICATION_VOIP);
        if (encoder is not ManagedOpusEncoder)
        {
            throw new InvalidOperationException($"Concentus returned {encoder.GetType()}, not its managed encoder");
        }

        encoder.Bitrate = options.BitratePerChannel;
        encoder.Complexity = options.Complexity;
        encoder.SignalType = OpusSignal.OPUS_SIGNAL_VOICE;
        return encoder;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        _listening.Dispose();
        _quiet.Dispose();
        _encoder.Dispose();
    }

    /// <summary>The next frame of the conversation, round the loop.</summary>
    private int Next()
    {
        int f = _next;
        _next = f + 1 == _left.Length ? 0 : f + 1;
        return f;
    }

    [Benchmark(Baseline = true, Description = "Concentus (managed), two mono encoders")]
    public int ConcentusEncode()
    {
        int f = Next();
        return _managedLeft.Encode(_left[f], Frame, _packet, _packet.Length)
            + _managedRight.Encode(_right[f], Frame, _packet, _packet.Length);
    }

    [Benchmark(Description = "bare opus_multistream_encode")]
    public int BareMultistreamEncode()
    {
        fixed (short* pcm = _interleaved[Next()])
        fixed (byte* packet = _packet)
        {
            return O.opus_multistream_encode(_encoder, pcm, Frame, packet, _packet.Length);
        }
    }

    [Benchmark]
    public void WriteFrame()
    {
        int f = Next();
        _writer.WriteFrame(_left[f], _right[f]);
    }

    [Benchmark]
    public void WriteFrame_OneListening() => _listening.WriteFrame(_left[Next()], _silence);

    [Benchmark]
    public void WriteFrame_BothSilent() => _quiet.WriteFrame(_silence, _silence);
}
