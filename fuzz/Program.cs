using System.Globalization;
using Fuzz.Driver;
using Fuzz.Seeds;
using Fuzz.Targets;

namespace Fuzz;

/// <summary>
/// The fuzzing harness. <c>list</c>; <c>run TARGET|all</c> (the in-process driver); <c>repro TARGET FILE...</c>;
/// <c>seeds TARGET DIR</c> (the seed corpus as files, for afl-fuzz -i); <c>afl TARGET</c> (the SharpFuzz loop that
/// afl-fuzz drives). See README "Fuzzing".
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: Fuzz list
               Fuzz run TARGET|all [--seconds N] [--runs N] [--seed N] [--captures DIR] [--corpus DIR] [--findings DIR] [--hang-seconds N] [--memory-mb N]
               Fuzz repro TARGET FILE...
               Fuzz seeds TARGET DIR [--captures DIR]
               Fuzz afl TARGET          (under afl-fuzz, with Capture.dll instrumented by sharpfuzz)
        """;

    public static FuzzTarget[] CreateTargets() =>
    [
        new FrameTarget(), new SipTarget(), new SdpTarget(), new SipStreamTarget(), new SkinnyTarget(), new SkinnyStreamTarget(), new RtpTarget(), new PipelineTarget(),
    ];

    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        _ = CoverageMap.Instance; // before any (possibly instrumented) Capture code runs
        FuzzTarget[] targets = CreateTargets();
        try
        {
            switch (args[0])
            {
                case "list":
                    foreach (FuzzTarget t in targets)
                    {
                        Console.WriteLine($"{t.Name,-14} {t.Description}");
                    }

                    return 0;
                case "run" when args.Length >= 2:
                    return Run(targets, args[1], ParseOptions(args.AsSpan(2)));
                case "repro" when args.Length >= 3:
                    return Repro(Find(targets, args[1]), args[2..]);
                case "seeds" when args.Length >= 3:
                {
                    Dictionary<string, string> options = ParseOptions(args.AsSpan(3));
                    FuzzTarget target = Find(targets, args[1]);
                    SeedCorpus corpus = SeedCorpus.Load(options.GetValueOrDefault("captures") ?? FuzzPaths.FindCaptures());
                    Directory.CreateDirectory(args[2]);
                    int n = 0;
                    foreach (byte[] seed in target.Seeds(corpus))
                    {
                        File.WriteAllBytes(Path.Combine(args[2], $"seed-{n++:D5}"), seed.AsSpan(0, Math.Min(seed.Length, target.MaxInputLength)));
                    }

                    Console.WriteLine($"fuzz {target.Name}: {n} seeds in {args[2]}");
                    return 0;
                }

                case "afl" when args.Length == 2:
                {
                    FuzzTarget target = Find(targets, args[1]);
                    SharpFuzz.Fuzzer.Run(stream =>
                    {
                        using var memory = new MemoryStream();
                        stream.CopyTo(memory);
                        target.Execute(memory.GetBuffer().AsSpan(0, (int)memory.Length));
                    });
                    return 0;
                }

                default:
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"fuzz: {e.Message}");
            return 2;
        }
        finally
        {
            foreach (IDisposable d in targets.OfType<IDisposable>())
            {
                d.Dispose();
            }
        }
    }

    private static int Run(FuzzTarget[] targets, string name, Dictionary<string, string> options)
    {
        FuzzTarget[] chosen = name == "all" ? targets : [Find(targets, name)];
        var campaign = new CampaignOptions
        {
            Duration = TimeSpan.FromSeconds(Number(options, "seconds", 10)),
            MaxRuns = (long)Number(options, "runs", 0),
            RandomSeed = (int)Number(options, "seed", Environment.TickCount),
            HangTimeout = TimeSpan.FromSeconds(Number(options, "hang-seconds", 20)),
            MemoryLimitBytes = (long)Number(options, "memory-mb", 2048) * 1024 * 1024,
            FindingsDirectory = options.GetValueOrDefault("findings") ?? "fuzz-findings",
            CorpusDirectory = options.GetValueOrDefault("corpus"),
        };
        SeedCorpus corpus = SeedCorpus.Load(options.GetValueOrDefault("captures") ?? FuzzPaths.FindCaptures());
        var results = new List<CampaignResult>();
        foreach (FuzzTarget target in chosen)
        {
            CampaignOptions own = chosen.Length > 1 && campaign.CorpusDirectory is { } dir ? campaign with { CorpusDirectory = Path.Combine(dir, target.Name) } : campaign;
            CampaignResult result = new Campaign(target, own).Run(target.Seeds(corpus));
            results.Add(result);
            Console.WriteLine(Summary(result));
        }

        if (results.Count > 1)
        {
            Console.WriteLine(Summary(new CampaignResult("all", results.Sum(r => r.Inputs), results.Sum(r => r.Seconds), 0, 0, 0, results.Sum(r => r.Corpus), results.Sum(r => r.Edges))));
        }

        return 0;
    }

    private static string Summary(CampaignResult r) => string.Create(CultureInfo.InvariantCulture,
        $"fuzz summary: target={r.Target} inputs={r.Inputs} seconds={r.Seconds:F1} execs_per_s={r.Inputs / Math.Max(r.Seconds, 1e-9):F0} crashes={r.Crashes} hangs={r.Hangs} memory={r.MemoryFaults} corpus={r.Corpus} edges={r.Edges}");

    private static int Repro(FuzzTarget target, string[] files)
    {
        int failed = 0;
        foreach (string file in files)
        {
            byte[] input = File.ReadAllBytes(file);
            try
            {
                target.Execute(input);
                Console.WriteLine($"fuzz {target.Name}: {file}: ok");
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"fuzz {target.Name}: {file}: CRASH {e}");
                Console.WriteLine(ByteLiteral.Format(input));
            }
        }

        return failed == 0 ? 0 : Campaign.ExitCrash;
    }

    private static FuzzTarget Find(FuzzTarget[] targets, string name) =>
        targets.FirstOrDefault(t => t.Name == name) ?? throw new ArgumentException($"unknown target '{name}'; targets: {string.Join(", ", targets.Select(t => t.Name))}");

    private static Dictionary<string, string> ParseOptions(ReadOnlySpan<string> args)
    {
        var options = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"bad argument '{args[i]}' (options are --name value)");
            }

            options[args[i][2..]] = args[++i];
        }

        return options;
    }

    private static double Number(Dictionary<string, string> options, string name, double fallback)
    {
        if (!options.TryGetValue(name, out string? text))
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0
            ? value
            : throw new ArgumentException($"--{name} must be a non-negative number, not '{text}'");
    }
}
