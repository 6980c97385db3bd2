using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace Bench;

internal static class BenchConfig
{
    /// <summary>
    /// BenchmarkDotNet's default toolchain: each benchmark in a process of its own, built for net10.0 (0.15 knows it;
    /// 0.14 did not, and ran them in this process).
    /// </summary>
    public static IConfig Create() => DefaultConfig.Instance
        .AddJob(Job.ShortRun)
        .AddDiagnoser(MemoryDiagnoser.Default)
        .WithOptions(ConfigOptions.DisableOptimizationsValidator);
}
