namespace Capture.Tests.Skinny;

internal static partial class SkinnySamples
{
    /// <summary>Every sample's name, for theories (kept apart from <see cref="All"/>, which the benchmarks link).</summary>
    public static TheoryData<string> Names() => [.. All.Keys];
}
