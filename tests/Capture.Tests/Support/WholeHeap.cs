namespace Capture.Tests.Support;

/// <summary>
/// Tests that measure the whole managed heap (<see cref="GC.GetTotalMemory(bool)"/>) run alone: objects that other
/// tests allocate meanwhile on other threads would count as theirs. So do tests that hold the store to a checkpoint
/// timeout of seconds: a full collection of another test's large heap can pause them that long.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WholeHeap
{
    public const string Name = "whole heap (runs alone)";
}
