using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Fuzz.Driver;

internal sealed record CampaignOptions
{
    /// <summary>Stop after this long (mutation phase; the seeds always run first).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Stop after this many inputs (0: no limit).</summary>
    public long MaxRuns { get; init; }

    /// <summary>An input running longer than this is a hang (generous: the machine is shared and loaded).</summary>
    public TimeSpan HangTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Managed heap plus native memory of the process above this is runaway memory.</summary>
    public long MemoryLimitBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    public int RandomSeed { get; init; } = Environment.TickCount;

    /// <summary>Where findings are written (crash-/hang-/oom- files); null: current directory.</summary>
    public string FindingsDirectory { get; init; } = "fuzz-findings";

    /// <summary>Extra corpus folder: read at start, new coverage written to it.</summary>
    public string? CorpusDirectory { get; init; }

    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(30);
}

internal sealed record CampaignResult(string Target, long Inputs, double Seconds, long Crashes, long Hangs, long MemoryFaults, int Corpus, int Edges);

/// <summary>
/// The in-process, libFuzzer-style driver: runs every seed, then mutates corpus inputs until the time or input budget is
/// spent, keeping inputs that reach new coverage (when Capture.dll is instrumented). A thrown exception is a crash; the
/// watchdog thread turns an input that runs too long into a hang and memory over the limit into a memory fault. Each
/// finding is written to a file and printed as a C# byte literal, then the process exits non-zero (a hung input cannot
/// be stopped in-process).
/// </summary>
internal sealed class Campaign
{
    public const int ExitCrash = 10;
    public const int ExitHang = 11;
    public const int ExitMemory = 12;

    private readonly FuzzTarget _target;
    private readonly CampaignOptions _options;
    private readonly List<byte[]> _corpus = [];
    private readonly HashSet<string> _corpusHashes = [];
    private readonly byte[] _input;
    private int _inputLength;
    private long _inputStarted; // Stopwatch ticks of the running input's start; 0 between inputs
    private long _inputs;

    public Campaign(FuzzTarget target, CampaignOptions options)
    {
        _target = target;
        _options = options;
        _input = new byte[target.MaxInputLength];
    }

    public CampaignResult Run(IEnumerable<byte[]> seeds)
    {
        var started = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var watchdog = new Thread(() => Watch(stop.Token)) { IsBackground = true, Name = "fuzz-watchdog" };
        watchdog.Start();

        CoverageMap coverage = CoverageMap.Instance;
        coverage.ForgetSeen();
        foreach (byte[] seed in seeds.Concat(ReadCorpusDirectory()))
        {
            int length = Math.Min(seed.Length, _input.Length);
            seed.AsSpan(0, length).CopyTo(_input);
            _inputLength = length;
            ExecuteCurrent(coverage);
            Keep(seed.AsSpan(0, length), writeToCorpusDirectory: false);
        }

        int seedCount = _corpus.Count;
        if (_corpus.Count == 0)
        {
            _corpus.Add([]);
        }

        var random = new Random(_options.RandomSeed);
        var mutator = new Mutator(random, _target.Dictionary);
        var mutation = Stopwatch.StartNew();
        TimeSpan nextStatus = _options.StatusInterval;
        while (mutation.Elapsed < _options.Duration && (_options.MaxRuns == 0 || _inputs < _options.MaxRuns))
        {
            for (int batch = 0; batch < 64; batch++)
            {
                byte[] parent = _corpus[random.Next(_corpus.Count)];
                parent.CopyTo(_input, 0);
                _inputLength = mutator.Mutate(_input, parent.Length, _corpus);
                if (ExecuteCurrent(coverage))
                {
                    Keep(_input.AsSpan(0, _inputLength), writeToCorpusDirectory: true);
                }
            }

            if (mutation.Elapsed >= nextStatus)
            {
                nextStatus += _options.StatusInterval;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"fuzz {_target.Name}: #{_inputs} {_inputs / started.Elapsed.TotalSeconds:F0}/s corpus {_corpus.Count} edges {coverage.Edges} ({started.Elapsed.TotalSeconds:F0} s)"));
            }
        }

        stop.Cancel();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fuzz {_target.Name}: seeds {seedCount}, corpus {_corpus.Count}, edges {coverage.Edges}{(coverage.Edges == 0 ? " (Capture.dll not instrumented: blind mutation)" : "")}"));
        return new CampaignResult(_target.Name, _inputs, started.Elapsed.TotalSeconds, 0, 0, 0, _corpus.Count, coverage.Edges);
    }

    /// <summary>Runs the input in <see cref="_input"/>; true when it reached new coverage.</summary>
    private bool ExecuteCurrent(CoverageMap coverage)
    {
        coverage.Reset();
        Volatile.Write(ref _inputStarted, Stopwatch.GetTimestamp());
        try
        {
            _target.Execute(_input.AsSpan(0, _inputLength));
        }
        catch (Exception e)
        {
            Report("crash", e.ToString(), ExitCrash);
        }
        finally
        {
            Volatile.Write(ref _inputStarted, 0);
        }

        _inputs++;
        return coverage.Merge();
    }

    private void Keep(ReadOnlySpan<byte> input, bool writeToCorpusDirectory)
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData(input));
        if (!_corpusHashes.Add(hash))
        {
            return;
        }

        _corpus.Add(input.ToArray());
        if (writeToCorpusDirectory && _options.CorpusDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, hash), input);
        }
    }

    private IEnumerable<byte[]> ReadCorpusDirectory()
    {
        if (_options.CorpusDirectory is not { } dir || !Directory.Exists(dir))
        {
            yield break;
        }

        foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            yield return File.ReadAllBytes(file);
        }
    }

    private void Watch(CancellationToken stop)
    {
        while (!stop.WaitHandle.WaitOne(100))
        {
            long inputStarted = Volatile.Read(ref _inputStarted);
            if (inputStarted != 0 && Stopwatch.GetElapsedTime(inputStarted) > _options.HangTimeout)
            {
                Report("hang", $"one input ran for more than {_options.HangTimeout.TotalSeconds:0.###} s", ExitHang);
            }

            long memory = GC.GetTotalMemory(false);
            long workingSet = Environment.WorkingSet;
            if (workingSet > _options.MemoryLimitBytes)
            {
                Report("oom", $"working set {workingSet / (1024 * 1024)} MB over the limit of {_options.MemoryLimitBytes / (1024 * 1024)} MB (managed {memory / (1024 * 1024)} MB)", ExitMemory);
            }
        }
    }

    private readonly Lock _reportLock = new();

    /// <summary>Writes the running input as a finding, prints it as a C# byte literal, and ends the process.</summary>
    private void Report(string kind, string what, int exitCode)
    {
        lock (_reportLock)
        {
            byte[] input = _input.AsSpan(0, _inputLength).ToArray();
            Directory.CreateDirectory(_options.FindingsDirectory);
            string file = Path.Combine(_options.FindingsDirectory, $"{kind}-{_target.Name}-{Convert.ToHexStringLower(SHA256.HashData(input))}");
            File.WriteAllBytes(file, input);
            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"fuzz {_target.Name}: {kind.ToUpperInvariant()} after {_inputs} inputs: {what}");
            text.AppendLine(CultureInfo.InvariantCulture, $"fuzz {_target.Name}: input ({input.Length} bytes) saved to {file}; reproduce: make fuzz TARGET={_target.Name} REPRO={file}");
            text.AppendLine(CultureInfo.InvariantCulture, $"fuzz {_target.Name}: as a C# byte literal for a regression test:");
            text.AppendLine(ByteLiteral.Format(input));
            Console.Out.Write(text.ToString());
            Console.Out.Flush();
            Environment.Exit(exitCode);
        }
    }
}
