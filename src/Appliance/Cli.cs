using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Appliance.Service;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;
using Capture.Interop;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
using Microsoft.AspNetCore.Builder;

namespace Appliance;

/// <summary>The command line: `replay FILE` and `capture --interface IFACE`.</summary>
internal static class Cli
{
    private static string Usage => $"""
        usage:
          appliance replay FILE [--out DIR] [--json] [--config FILE] [--state DIR] [--workers N] [--bitrate BPS] [--complexity 0-10] [--no-unsignalled-rtp]
          appliance run [--settings FILE|none] [--interface IFACE] [--replay FILE] [--no-pacing] [--recordings DIR] [--state DIR] [--config FILE] [--listen URL] [--token-file FILE]
          appliance capture --interface IFACE [--out DIR] [--config FILE] [--state DIR] [--checkpoint-seconds N] [--filter BPF] [--snaplen N] [--buffer-mb N] [--no-immediate] [--workers N] [--bitrate BPS] [--complexity 0-10] [--no-unsignalled-rtp]
        --workers N: media workers, which decode, mix and encode the calls; default one per core ({PipelineOptions.DefaultWorkers} here)
        """;

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        try
        {
            var options = args[0] == "run" ? new CliOptions { Command = "run" } : CliOptions.Parse(args);
            return options.Command switch
            {
                "replay" => Replay(options),
                "capture" => Capture(options),
                "run" => RunService(args[1..]),
                _ => throw new CliException($"unknown command '{options.Command}'"),
            };
        }
        catch (CliException ex)
        {
            Console.Error.WriteLine($"appliance: {ex.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }
        catch (ConfigurationException ex)
        {
            Console.Error.WriteLine($"appliance: {ex.Message}");
            return 2;
        }
        catch (DirectoryStoreException ex)
        {
            Console.Error.WriteLine($"appliance: {ex.Message}");
            return 2;
        }
        catch (PcapException ex)
        {
            Console.Error.WriteLine($"appliance: {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is ArgumentException or DllNotFoundException)
        {
            Console.Error.WriteLine($"appliance: {ex.Message}");
            return 2;
        }
    }

    /// <summary>The service: runs until SIGTERM/SIGINT, then finalises recordings and checkpoints the directory.</summary>
    private static int RunService(string[] args)
    {
        WebApplication app;
        try
        {
            app = ApplianceHost.Build(args);
        }
        catch (SettingsException ex)
        {
            Console.Error.WriteLine($"appliance: {ex.Message}");
            return 2;
        }

        app.Run();
        return 0;
    }

    private static int Replay(CliOptions o)
    {
        string file = o.Positional ?? throw new CliException("replay needs a capture FILE");
        using PcapSource source = PcapSource.OpenOffline(file);
        RequireSupportedLinkType(source, file);
        var results = new ResultCollector();
        using BindingDirectory directory = OpenDirectory(o, o.StateDirectory);
        RecordingDisk disk = ConsoleDiskListener.Attach(o.Recording);
        using var pipeline = new CapturePipeline(o.Recording, o.Pipeline, results: results, directory: directory);
        CaptureEnd end = pipeline.Run(source);
        string? readError = end == CaptureEnd.Error ? source.LastError : null;
        bool finished = pipeline.Complete(CallEndReasons.CaptureEnded); // no time limit: however slow the machine
        disk.Close();
        long persistFailures = directory.PersistFailures;
        directory.Close();
        bool saved = directory.PersistFailures == persistFailures;
        var counters = pipeline.Snapshot();
        List<CallSidecar> calls = results.Sorted();
        if (o.Json)
        {
            var report = new ReplayReport(calls, counters)
            {
                Devices = directory.Devices(),
                Servers = directory.Servers(),
                Logins = directory.History(),
                Conflicts = directory.Conflicts(),
                Events = directory.RecentEvents(),
            };
            Console.Out.Write(JsonSerializer.Serialize(report, ReplayJsonContext.Default.ReplayReport));
            Console.Out.WriteLine();
        }
        else
        {
            PrintTable(calls, o.Recording.OutputDirectory);
            Console.Out.WriteLine($"{calls.Count} call(s); {counters["frames"]} frames, {counters["media_packets"]} media packets, {counters["sip_messages"]} SIP messages; recordings under {Path.GetFullPath(o.Recording.OutputDirectory)}");
            Console.Out.WriteLine($"directory: {directory.DeviceCount} device(s), {directory.LoggedInCount} logged in, {directory.OpenConflictCount} line conflict(s){(o.StateDirectory is null ? "" : "; state in " + Path.GetFullPath(o.StateDirectory))}");
        }

        foreach ((string id, Exception error) in results.Errors)
        {
            Console.Error.WriteLine($"appliance: recording {id} failed: {error.Message}");
        }

        if (!finished)
        {
            Console.Error.WriteLine("appliance: the media workers could not finish: recordings may be incomplete");
        }

        if (!saved)
        {
            Console.Error.WriteLine($"appliance: the directory was NOT saved: {directory.LastPersistError}");
        }

        // libpcap refusing the file (e.g. a pcapng whose interfaces have different snapshot lengths) is like a file that
        // cannot be opened: exit 2 with its own words. An error after some frames (a damaged or cut file) keeps what
        // was read, recorded, and exits 1.
        if (readError is not null)
        {
            long frames = counters.TryGetValue("frames", out long n) ? n : 0;
            Console.Error.WriteLine(frames == 0
                ? $"appliance: {file}: libpcap cannot read it: {readError}"
                : $"appliance: {file}: reading stopped after {frames} frame(s): {readError}; the calls before it are recorded");
            return frames == 0 ? 2 : 1;
        }

        return !results.Errors.IsEmpty || !finished || !saved ? 1 : 0;
    }

    private static int Capture(CliOptions o)
    {
        string iface = o.Interface ?? throw new CliException("capture needs --interface IFACE");
        using LiveInterface source = LiveInterface.Open(new LiveCaptureOptions
        {
            Interface = iface,
            Filter = o.Filter,
            Snaplen = o.Snaplen,
            BufferSizeBytes = o.BufferMb * 1024 * 1024,
            Immediate = o.Immediate,
        }, (_, message) => Console.Error.WriteLine("appliance: " + message));
        RequireSupportedLinkType(source, iface);
        var results = new ResultCollector(print: true, o.Recording.OutputDirectory);
        o.Pipeline.WaitWhenQueueFull = false; // live: spool when behind, never block the capture thread
        string state = o.StateDirectory ?? Path.Combine("var", "state");
        o.Pipeline.SpoolDirectory = Path.Combine(state, "spool");
        using BindingDirectory directory = OpenDirectory(o, state);
        directory.PersistNotice += n => Console.Error.WriteLine(n.Failing
            ? $"appliance: directory cannot be saved to {Path.GetFullPath(state)}: {n.Error} Retrying every {o.CheckpointSeconds} s."
            : $"appliance: directory saved to {Path.GetFullPath(state)} again after {n.Failures} failed attempt(s)");
        directory.StartAutoPersist(TimeSpan.FromSeconds(o.CheckpointSeconds));

        // Expiries, schedules and idle logouts run on the wall clock even when no packet arrives; the interface is checked
        // for removal and link changes on the same tick.
        using var clock = new Timer(_ =>
        {
            directory.Tick(DateTimeOffset.UtcNow);
            source.Check();
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        RecordingDisk disk = ConsoleDiskListener.Attach(o.Recording);
        using var pipeline = new CapturePipeline(o.Recording, o.Pipeline, results: results, directory: directory);
        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });
        Console.Error.WriteLine($"appliance: capturing on {iface} (link type {source.LinkType}); recordings under {Path.GetFullPath(o.Recording.OutputDirectory)}; SIGINT/SIGTERM to stop");

        var thread = new Thread(() => pipeline.Run(source, stop.Token)) { Name = "capture", IsBackground = true };
        thread.Start();
        thread.Join();
        pipeline.Complete(CallEndReasons.CaptureEnded);
        disk.Close();
        clock.Dispose();
        long failuresBefore = directory.PersistFailures;
        directory.Close();
        Console.Error.WriteLine(directory.PersistFailures == failuresBefore
            ? $"appliance: directory saved to {Path.GetFullPath(state)}: {directory.DeviceCount} device(s), {directory.LoggedInCount} logged in"
            : $"appliance: directory NOT saved to {Path.GetFullPath(state)}: {directory.LastPersistError}");
        if (source.TryGetStatistics(out PcapStatistics stats))
        {
            Console.Error.WriteLine($"appliance: stopped; {stats.Received} received, {stats.DroppedByKernel} dropped by kernel, {stats.DroppedByInterface} by interface; {results.Count} call(s) finalised");
        }

        return 0;
    }

    /// <summary>The directory: configuration from --config (else empty), state recovered from and kept in <paramref name="state"/> (null: memory only).</summary>
    private static BindingDirectory OpenDirectory(CliOptions o, string? state)
    {
        DirectoryConfig config = o.ConfigFile is null ? DirectoryConfig.Empty : DirectoryConfig.Load(o.ConfigFile);
        DirectoryStore? store = state is null ? null : DirectoryStore.Open(new DirectoryStoreOptions { Path = state });
        try
        {
            return BindingDirectory.Open(store, config, DateTimeOffset.UtcNow);
        }
        catch
        {
            store?.Dispose();
            throw;
        }
    }

    private static void RequireSupportedLinkType(IPacketSource source, string what)
    {
        if (!global::Capture.Packets.LinkTypes.IsSupported(source.LinkType))
        {
            throw new CliException($"{what}: link type {source.LinkType} is not supported (Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback are)");
        }
    }

    private static void PrintTable(List<CallSidecar> calls, string root)
    {
        Console.Out.WriteLine($"{"started (UTC)",-24} {"from",-18} {"to",-18} {"dur s",7} {"media s",7} {"codec",-10} {"pkts",6} {"lost",5} {"end",-13} file");
        foreach (CallSidecar c in calls)
        {
            PartySidecar left = c.Parties[0];
            PartySidecar right = c.Parties[1];
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{c.StartedAt:yyyy-MM-dd HH:mm:ss.fff}  {Trim(left.Extension),-18} {Trim(right.Extension),-18} {c.DurationSeconds,7:0.0} {c.MediaDurationSeconds,7:0.0} {string.Join('+', c.Codecs),-10} {c.Packets,6} {c.PacketsLost,5} {c.EndReason,-13} {(c.File is null ? Path.Combine(root, c.Id + ".json") + " (no media)" : Path.Combine(root, c.File))}"));
        }

        static string Trim(string? s)
        {
            s = s is null ? "-" : WireText.Printable(s); // extensions are wire text: no control character reaches the terminal
            return s.Length > 18 ? s[..17] + "~" : s;
        }
    }

    private sealed class ResultCollector(bool print = false, string root = "") : ICallResultSink
    {
        private readonly ConcurrentQueue<CallSidecar> _calls = new();

        public ConcurrentQueue<(string Id, Exception Error)> Errors { get; } = new();

        public int Count => _calls.Count;

        public void OnCallFinished(CallSidecar sidecar)
        {
            _calls.Enqueue(sidecar);
            if (print)
            {
                Console.Error.WriteLine($"appliance: call {WireText.Printable(sidecar.CallId)} ended ({sidecar.EndReason}); {(sidecar.File is null ? "no media" : Path.Combine(root, sidecar.File))}");
            }
        }

        public void OnRecordingError(string recordingId, Exception error) => Errors.Enqueue((recordingId, error));

        public List<CallSidecar> Sorted()
        {
            List<CallSidecar> list = [.. _calls];
            list.Sort((a, b) => a.StartedAt != b.StartedAt ? a.StartedAt.CompareTo(b.StartedAt) : string.CompareOrdinal(a.CallId, b.CallId));
            return list;
        }
    }
}

/// <summary>The recordings folder's episodes of failed writes on stderr, once each (never per page).</summary>
internal sealed class ConsoleDiskListener : IRecordingDiskListener
{
    public static RecordingDisk Attach(RecordingOptions options) =>
        options.Disk = new RecordingDisk(Path.GetFullPath(options.OutputDirectory), new ConsoleDiskListener());

    public void WritesFailing(string folder, string error) =>
        Console.Error.WriteLine($"appliance: writes to {folder} are failing ({error}); the audio of the calls in progress is lost until they work again");

    public void WritesRecovered(string folder, RecordingWriteEpisode e) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"appliance: writes to {folder} work again after {e.Duration.TotalSeconds:F1} s: {e.Recordings} recording(s) lost {e.Pages} page(s) ({e.Bytes} bytes) of audio, {e.Sidecars} sidecar(s) were delayed"));

    public void WritesStillFailing(string folder, RecordingWriteEpisode e) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"appliance: writes to {folder} still failing at the end, for {e.Duration.TotalSeconds:F1} s: {e.Recordings} recording(s) lost {e.Pages} page(s) of audio; first error: {e.FirstError}"));

    public void SidecarNotWritten(string path, CallSidecar sidecar, string error) =>
        Console.Error.WriteLine($"appliance: the sidecar of recording {sidecar.Id} could not be written to {path} ({error}); it was: {CallSidecar.Serialize(sidecar).ReplaceLineEndings(" ")}");
}

internal sealed class CliException(string message) : Exception(message);

internal sealed record ReplayReport(IReadOnlyList<CallSidecar> Calls, IReadOnlyDictionary<string, long> Counters)
{
    /// <summary>What the directory learned: devices with their lines and IPs, the login history, conflicts, events.</summary>
    public IReadOnlyList<DeviceBinding> Devices { get; init; } = [];

    /// <summary>Infrastructure (registrars, proxies, PBXs, SBCs, CallManagers), with what showed each to be one.</summary>
    public IReadOnlyList<ServerBinding> Servers { get; init; } = [];
    public IReadOnlyList<LoginEntry> Logins { get; init; } = [];
    public IReadOnlyList<LineConflict> Conflicts { get; init; } = [];
    public IReadOnlyList<DirectoryEvent> Events { get; init; } = [];
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase, WriteIndented = true, UseStringEnumConverter = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ReplayReport))]
internal sealed partial class ReplayJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
