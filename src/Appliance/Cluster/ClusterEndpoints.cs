using System.Globalization;
using Appliance.Endpoints;
using Appliance.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Appliance.Cluster;

/// <summary>GET /api/cluster: this appliance's view of the shared directory (README "Cluster").</summary>
public static class ClusterEndpoints
{
    public static void Map(WebApplication app) =>
        app.MapGet("/api/cluster", (ApplianceRuntime runtime) => runtime.Cluster is { } c
                ? Results.Ok(new ClusterView(true, c.Name, c.Site, c.Connected, c.Degraded, c.DegradedSince, c.PendingChanges, c.Published, c.Applied,
                    c.Failures, c.Reconciles, c.LastError, c.Lines()) { NameClash = c.NameClash })
                : Results.Ok(new ClusterView(false, null, null, false, false, null, 0, 0, 0, 0, 0, null, [])))
            .RequireAuthorization(ApiAccess.Board)
            .WithTags("Cluster")
            .WithSummary("The shared directory: connected or degraded, changes queued, the line-1 claims of this appliance's devices.");

    /// <summary>The /readyz body while degraded (still 200: recording goes on).</summary>
    public static string DegradedDetail(SharedDirectory c) => c.NameClash is { } other && c.Connected
        ? string.Create(CultureInfo.InvariantCulture, $"ready, degraded: another appliance ({other}) uses the name '{c.Name}' (Cluster:Name)\n")
        : string.Create(CultureInfo.InvariantCulture,
            $"ready, degraded: the shared directory is unreachable since {c.DegradedSince:O} ({c.LastError}); {c.PendingChanges} change(s) queued\n");
}

public sealed record ClusterView(bool Enabled, string? Name, string? Site, bool Connected, bool Degraded, DateTimeOffset? DegradedSince, int PendingChanges,
    long Published, long Applied, long Failures, long Reconciles, string? LastError, IReadOnlyList<SharedLine> Lines)
{
    /// <summary>Another running appliance's instance (machine-id:state folder) that uses this appliance's name.</summary>
    public string? NameClash { get; init; }
}
