using System.Globalization;
using Appliance.Endpoints;
using Appliance.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Cluster;

/// <summary>GET /api/cluster: this appliance's view of the shared directory (README "Cluster").</summary>
public static class ClusterEndpoints
{
    /// <summary>Maps the routes into the /api group, where <see cref="ApiAccess.Rules"/> gives them their policy.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/cluster/users/{id}", (string id, ApplianceRuntime runtime) => Locate(id, runtime) is { } where
                ? Results.Ok(where)
                : Results.Problem($"Nothing is known of user '{id}' across the estate.", statusCode: StatusCodes.Status404NotFound, title: "Not Found"))
            .WithTags("Cluster")
            .WithSummary("Where a user is logged in across the estate (any appliance, also at devices this one does not know), or out and why.");
        MapStatus(api);
    }

    /// <summary>The estate's view, else (nothing shared of the user yet, or a single box) the local directory's.</summary>
    private static EstateLogin? Locate(string id, ApplianceRuntime runtime)
    {
        if (runtime.Cluster?.Locate(id) is { } shared)
        {
            return shared;
        }

        if (runtime.Directory?.LocateUser(id) is not { Found: true } local)
        {
            return null;
        }

        return new EstateLogin(id, local.LoggedIn, local.HostDevice, runtime.Cluster?.Name, runtime.Settings.Cluster.Site, local.Profile, local.Kind?.ToString(),
            null, local.Since ?? DateTimeOffset.MinValue);
    }

    private static void MapStatus(RouteGroupBuilder api) =>
        api.MapGet("/cluster", (ApplianceRuntime runtime) => runtime.Cluster is { } c
                ? Results.Ok(new ClusterView(true, c.Name, c.Site, c.Connected, c.Degraded, c.DegradedSince, c.PendingChanges, c.Published, c.Applied,
                    c.Failures, c.Reconciles, c.LastError, c.Lines()) { NameClash = c.NameClash })
                : Results.Ok(new ClusterView(false, null, null, false, false, null, 0, 0, 0, 0, 0, null, [])))
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
