namespace Capture.Tests.Support;

/// <summary>
/// Tests that measure the whole managed heap (<see cref="GC.GetTotalMemory(bool)"/>) run alone: objects that other
/// tests allocate meanwhile on other threads would count as theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WholeHeap
{
    public const string Name = "whole heap (runs alone)";
}
