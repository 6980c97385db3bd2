using System.Diagnostics;
using Appliance.Recordings;
using Appliance.Service;
using Appliance.Systemd;
using Capture.Diagnostics;
using Capture.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Endpoints;

/// <summary>One capture source as the web app's Health page shows it (the same counters /metrics exports).</summary>
public sealed record SourceHealth(
    string Name, bool Live, bool Ended, bool? InterfaceUp, long Packets, long Bytes, long? KernelDrops, long? InterfaceDrops, long QueueDrops,
    int ActiveCalls, double ProgressAgeSeconds);

/// <summary>The recordings folder's file system.</summary>
public sealed record DiskHealth(string Folder, long? TotalBytes, long? FreeBytes, bool WriteFailing, long RecordingsWritten, long RecordingsFailed, bool Indexing);

/// <summary>The directory's state: when it was last checkpointed to the state folder.</summary>
public sealed record DirectoryHealth(DateTimeOffset? LastCheckpoint, bool CheckpointFailing, int Devices, int LoggedIn);

/// <summary>GET /api/health: what the Health page shows in one answer.</summary>
public sealed record HealthView(bool Ready, IReadOnlyList<SourceHealth> Sources, DiskHealth Disk, DirectoryHealth? Directory, int EventClients);

/// <summary>
/// GET /api/health: capture sources, packets, kernel and queue drops, disk use and the last checkpoint as JSON for the
/// web app (a person's view of what /metrics gives Prometheus; read from the same counters, nothing counted twice).
/// </summary>
internal static class HealthEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/health", Health).WithTags("Health")
            .WithSummary("Capture sources (packets, kernel, interface and queue drops), the recordings disk, the directory's last checkpoint.")
            .Produces<HealthView>();
    }

    private static IResult Health(ApplianceRuntime runtime, RecordingCatalog catalog)
    {
        long now = Stopwatch.GetTimestamp();
        var sources = new List<SourceHealth>();
        foreach (CaptureSourceState s in runtime.Sources)
        {
            CounterDictionary counters = s.Pipeline.Snapshot();
            long Count(string name) => counters.TryGetValue(name, out long v) ? v : 0;
            bool stats = s.TryGetStatistics(out PcapStatistics st);
            sources.Add(new SourceHealth(
                s.Name, s.Live, s.Ended, s.InterfaceUp, Count("frames"), Count("bytes"),
                stats ? st.DroppedByKernel : null, stats ? st.DroppedByInterface : null, Count("queue_drops"),
                s.Pipeline.ActiveCalls, s.Ended ? 0 : Math.Round(CaptureProgress.AgeSeconds(s, now), 1)));
        }

        string folder = Path.GetFullPath(runtime.Settings.Recordings);
        long? total = null, free = null;
        try
        {
            var drive = new DriveInfo(folder);
            (total, free) = (drive.TotalSize, drive.AvailableFreeSpace);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // a folder not (yet) there: sizes unknown, shown as such
        }

        var disk = new DiskHealth(folder, total, free, runtime.RecordingDisk?.Failing == true, runtime.RecordingsWritten, runtime.RecordingsFailed, catalog.Indexing);
        DirectoryHealth? directory = runtime.Directory is { } d
            ? new DirectoryHealth(d.LastPersistedAt, d.PersistFailing, d.DeviceCount, d.LoggedInCount)
            : null;
        return TypedResults.Ok(new HealthView(runtime.Ready, sources, disk, directory, runtime.EventClients.Active));
    }
}
