using BenchmarkDotNet.Attributes;
using Capture.Recording;
using Capture.Rtp;

namespace Bench.Recording;

/// <summary>One 20 ms G.711 RTP payload (160 bytes) to PCM: the per-packet cost of the commonest codec.</summary>
[MemoryDiagnoser]
public class G711DecodeBenchmarks
{
    private readonly byte[] _ulaw = new byte[160];
    private readonly byte[] _alaw = new byte[160];
    private readonly short[] _pcm = new short[960];
    private G711Decoder _decoder = null!;

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < 160; i++)
        {
            short sample = (short)(8000 * Math.Sin(2 * Math.PI * 1000 * i / 8000));
            _ulaw[i] = G711.EncodeULaw(sample);
            _alaw[i] = G711.EncodeALaw(sample);
        }

        _decoder = new G711Decoder(AudioCodec.Pcmu);
    }

    [Benchmark(Baseline = true)]
    public void DecodeULaw() => G711.DecodeULaw(_ulaw, _pcm);

    [Benchmark]
    public void DecodeALaw() => G711.DecodeALaw(_alaw, _pcm);

    /// <summary>Through the IAudioDecoder, which also keeps concealment history.</summary>
    [Benchmark]
    public int DecoderDecode() => _decoder.Decode(_ulaw, _pcm);
}
