namespace Fuzz.Targets;

/// <summary>A property the code under test promises for every input; a broken one is reported as a crash.</summary>
internal static class Invariant
{
    public static void Check(bool holds, string what)
    {
        if (!holds)
        {
            throw new InvariantBrokenException(what);
        }
    }
}

internal sealed class InvariantBrokenException(string message) : Exception("invariant broken: " + message);
