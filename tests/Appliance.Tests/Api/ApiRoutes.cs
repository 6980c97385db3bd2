using Appliance.Endpoints;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Tests.Api;

/// <summary>One route the host maps, as its endpoint data source describes it (so a route added later is covered by the tests that walk them all).</summary>
public sealed record ApiRoute(string Method, string Pattern, IReadOnlyList<string> Parameters, bool Anonymous, bool QueryToken, bool TakesBody)
{
    /// <summary>The pattern with each parameter replaced by <paramref name="value"/>(parameter name) as is (escape it yourself).</summary>
    public string Path(Func<string, string> value)
    {
        string path = Pattern;
        foreach (string p in Parameters)
        {
            path = path.Replace("{" + p + "}", value(p), StringComparison.Ordinal).Replace("{**" + p + "}", value(p), StringComparison.Ordinal);
        }

        return path;
    }

    /// <summary>Recordings and calls are found by recording id (a UUID); everything else by a directory id.</summary>
    public bool ByRecordingId => Pattern.StartsWith("/api/recordings/", StringComparison.Ordinal) || Pattern.StartsWith("/api/calls/", StringComparison.Ordinal);

    public override string ToString() => $"{Method} {Pattern}";
}

public static class ApiRoutes
{
    /// <summary>Every route of <paramref name="app"/> with each of its HTTP methods.</summary>
    public static List<ApiRoute> Of(WebApplication app)
    {
        var routes = new List<ApiRoute>();
        foreach (RouteEndpoint e in ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>())
        {
            string pattern = "/" + (e.RoutePattern.RawText ?? "").TrimStart('/');
            pattern = pattern.Length > 1 ? pattern.TrimEnd('/') : pattern;
            bool anonymous = e.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            bool query = e.Metadata.GetMetadata<AllowQueryTokenAttribute>() is not null;
            bool body = e.Metadata.GetMetadata<IAcceptsMetadata>() is not null;
            string[] parameters = [.. e.RoutePattern.Parameters.Select(p => p.Name)];
            foreach (string method in e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [HttpMethods.Get])
            {
                routes.Add(new ApiRoute(method, pattern, parameters, anonymous, query, body));
            }
        }

        return routes;
    }

    /// <summary>The routes of a host built from `appliance run` arguments but not started (for tests against a real process).</summary>
    public static async Task<List<ApiRoute>> OfBuiltHostAsync()
    {
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "appl-routes-" + Guid.NewGuid().ToString("N"));
        WebApplication app = Appliance.Service.ApplianceHost.Build(
            ["--settings", "none", "--replay", System.IO.Path.Combine(Support.Repo.Root, "samples", "sipp-g711a-call.pcap"),
             "--state", System.IO.Path.Combine(dir, "state"), "--recordings", System.IO.Path.Combine(dir, "rec"), "--Token=route-listing-token-0123"]);
        try
        {
            return Of(app);
        }
        finally
        {
            await app.DisposeAsync();
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
