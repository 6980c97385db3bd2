namespace Appliance;

internal static class Cli
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("usage: appliance replay FILE [--out DIR] [--json] | capture --interface IFACE [--out DIR]");
        return args.Length == 0 ? 2 : 2;
    }
}
