namespace Fuzz.Driver;

/// <summary>
/// One fuzz target: feeds arbitrary bytes into real appliance code. <see cref="Execute"/> must return normally for any
/// input (bad input is counted by the code under test, never thrown); an exception, a hang or runaway memory is a finding.
/// </summary>
internal abstract class FuzzTarget
{
    public abstract string Name { get; }

    /// <summary>What the target feeds and into which code (printed by <c>make fuzz</c>).</summary>
    public abstract string Description { get; }

    /// <summary>Longest input the mutator makes.</summary>
    public virtual int MaxInputLength => 4096;

    /// <summary>Tokens the mutator inserts (keywords of the format).</summary>
    public virtual IReadOnlyList<byte[]> Dictionary => [];

    /// <summary>Runs one input through the code under test.</summary>
    public abstract void Execute(ReadOnlySpan<byte> input);

    /// <summary>Inputs taken from the real captures (see <see cref="Seeds.SeedCorpus"/>).</summary>
    public abstract IEnumerable<byte[]> Seeds(Seeds.SeedCorpus corpus);
}
