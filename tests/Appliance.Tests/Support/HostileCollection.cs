namespace Appliance.Tests.Support;

/// <summary>
/// The hostile-client tests (hundreds of requests, hundreds of event-stream connections, memory and threads measured)
/// run alone, after the parallel tests: they would otherwise slow the others' event streams past their timeouts and
/// measure the others' threads.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public static class HostileCollection
{
    public const string Name = "hostile clients";
}
