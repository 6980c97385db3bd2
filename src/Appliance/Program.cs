namespace Appliance;

internal static class Program
{
    private static int Main(string[] args) => Cli.Run(args);
}
