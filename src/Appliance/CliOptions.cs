using System.Globalization;
using Capture.Pipeline;
using Capture.Recording;

namespace Appliance;

internal sealed class CliOptions
{
    public required string Command { get; init; }
    public string? Positional { get; private set; }
    public bool Json { get; private set; }
    public string? Interface { get; private set; }
    public string? Filter { get; private set; }
    public int Snaplen { get; private set; } = 2048;
    public int BufferMb { get; private set; } = 64;
    public bool Immediate { get; private set; } = true;
    public string? ConfigFile { get; private set; }
    public string? StateDirectory { get; private set; }
    public int CheckpointSeconds { get; private set; } = 2;
    public RecordingOptions Recording { get; } = new();
    public PipelineOptions Pipeline { get; } = new();

    /// <summary>Flags only one command reads: given to the other, they would be ignored silently, so they are refused.</summary>
    private static readonly Dictionary<string, string> s_commandOf = new(StringComparer.Ordinal)
    {
        ["--json"] = "replay",
        ["--interface"] = "capture", ["-i"] = "capture", ["--filter"] = "capture", ["--snaplen"] = "capture",
        ["--buffer-mb"] = "capture", ["--no-immediate"] = "capture", ["--checkpoint-seconds"] = "capture",
    };

    public static CliOptions Parse(string[] args)
    {
        var o = new CliOptions { Command = args[0] };
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            if (s_commandOf.TryGetValue(a, out string? only) && only != o.Command && o.Command is "replay" or "capture")
            {
                throw new CliException($"{a} applies to '{only}' only, not to '{o.Command}'");
            }

            switch (a)
            {
                case "--out": o.Recording.OutputDirectory = Value(args, ref i, a); break;
                case "--json": o.Json = true; break;
                case "--interface" or "-i": o.Interface = Value(args, ref i, a); break;
                case "--filter": o.Filter = Value(args, ref i, a); break;
                case "--snaplen": o.Snaplen = Int(args, ref i, a, 64, 262144); break;
                case "--buffer-mb": o.BufferMb = Int(args, ref i, a, 1, 2048); break;
                case "--no-immediate": o.Immediate = false; break;
                case "--no-unsignalled-rtp": o.Pipeline.UnsignalledRtp.Enabled = false; break;
                case "--workers": o.Pipeline.Workers = Int(args, ref i, a, 1, 256); break;
                case "--bitrate": o.Recording.BitratePerChannel = Int(args, ref i, a, 6000, 256000); break;
                case "--complexity": o.Recording.Complexity = Int(args, ref i, a, 0, 10); break;
                case "--config": o.ConfigFile = Value(args, ref i, a); break;
                case "--state": o.StateDirectory = Value(args, ref i, a); break;
                case "--checkpoint-seconds": o.CheckpointSeconds = Int(args, ref i, a, 1, 3600); break;
                default:
                    if (a.StartsWith('-') || o.Positional is not null)
                    {
                        throw new CliException($"unexpected argument '{a}'");
                    }

                    o.Positional = a;
                    break;
            }
        }

        return o;
    }

    private static string Value(string[] args, ref int i, string name) =>
        ++i < args.Length ? args[i] : throw new CliException($"{name} needs a value");

    private static int Int(string[] args, ref int i, string name, int min, int max)
    {
        string v = Value(args, ref i, name);
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
        {
            throw new CliException($"{name} must be an integer from {min} to {max}, not '{v}'");
        }

        return n;
    }
}
