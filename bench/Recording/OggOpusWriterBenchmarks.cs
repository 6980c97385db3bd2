using BenchmarkDotNet.Attributes;
using Capture.Interop;
using Capture.Recording;
using O = Capture.Interop.Interop.Opus;

namespace Bench.Recording;

/// <summary>
/// One 20 ms stereo 8 kHz frame: bare opus_multistream_encode (the baseline, same settings) against
/// OggOpusWriter.WriteFrame with both parties talking (our container and per-leg encoders), one listening (its leg
/// silent: the stock silent packet instead of the encoder) and both silent (hold, a gap).
/// </summary>
[MemoryDiagnoser]
public unsafe class OggOpusWriterBenchmarks
{
    private const int Rate = 8000;
    private const int Frame = Rate / 50;

    private readonly short[] _left = new short[Frame];
    private readonly short[] _right = new short[Frame];
    private readonly short[] _silence = new short[Frame];
    private readonly short[] _interleaved = new short[Frame * 2];
    private readonly byte[] _packet = new byte[8000];
    private SafeOpusMultistreamEncoderHandle _encoder = null!;
    private OggOpusWriter _writer = null!;
    private OggOpusWriter _listening = null!;
    private OggOpusWriter _quiet = null!;

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < Frame; i++)
        {
            _left[i] = (short)(8000 * Math.Sin(2 * Math.PI * 440 * i / Rate));
            _right[i] = (short)(8000 * Math.Sin(2 * Math.PI * 1000 * i / Rate));
            _interleaved[2 * i] = _left[i];
            _interleaved[(2 * i) + 1] = _right[i];
        }

        var options = new OggOpusWriterOptions { SampleRate = Rate };
        _encoder = O.CreateMultistreamEncoder(Rate, 2, 2, 0, [0, 1], O.OPUS_APPLICATION_VOIP);
        O.Set(_encoder, O.OPUS_SET_BITRATE_REQUEST, options.BitratePerChannel * 2, "OPUS_SET_BITRATE");
        O.Set(_encoder, O.OPUS_SET_COMPLEXITY_REQUEST, options.Complexity, "OPUS_SET_COMPLEXITY");
        O.Set(_encoder, O.OPUS_SET_SIGNAL_REQUEST, O.OPUS_SIGNAL_VOICE, "OPUS_SET_SIGNAL");
        _writer = new OggOpusWriter(Stream.Null, options);
        _listening = new OggOpusWriter(Stream.Null, options);
        _quiet = new OggOpusWriter(Stream.Null, options);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        _listening.Dispose();
        _quiet.Dispose();
        _encoder.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int BareMultistreamEncode()
    {
        fixed (short* pcm = _interleaved)
        fixed (byte* packet = _packet)
        {
            return O.opus_multistream_encode(_encoder, pcm, Frame, packet, _packet.Length);
        }
    }

    [Benchmark]
    public void WriteFrame() => _writer.WriteFrame(_left, _right);

    [Benchmark]
    public void WriteFrame_OneListening() => _listening.WriteFrame(_left, _silence);

    [Benchmark]
    public void WriteFrame_BothSilent() => _quiet.WriteFrame(_silence, _silence);
}
