using BenchmarkDotNet.Running;

namespace Bench;

internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "bare-encode")
        {
            return BareEncode.Run(args[1..]); // the baseline of `make bench-load` (bench/load/run-load.sh)
        }

        if (args.Length > 0 && args[0] == "call-memory")
        {
            return CallMemory.Run(args[1..]); // managed memory per active call, for N calls at once
        }

        if (args.Length > 0 && args[0] == "speech-reference")
        {
            return SpeechQuality.Reference(args[1..]); // `make bench-quality` (bench/quality/score.sh): G.711 speech cut from a capture
        }

        if (args.Length > 0 && args[0] == "speech-encode")
        {
            return SpeechQuality.Encode(args[1..]); // `make bench-quality`: our writer at one complexity and bitrate, and its CPU per frame
        }

        if (args.Length > 0 && args[0] == "recordings-index")
        {
            // Builds the 1,000,000-row index of the Recordings benchmarks once (minutes: longer than a BenchmarkDotNet
            // setup should run); they reuse it from the temp folder.
            Console.WriteLine(Recordings.RecordingIndexFixture.Path);
            return 0;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create());
        return 0;
    }
}
