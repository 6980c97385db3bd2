using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Metrics;

public static class MetricsEndpoint
{
    /// <summary>
    /// GET /metrics in the Prometheus text format. Like the rest of the API it is meant to sit behind the bearer token
    /// (Prometheus: <c>authorization: { credentials_file: /etc/appliance/api-token }</c>); the returned builder takes
    /// the API's authorization policy. Creates the instruments now, so calls are counted from the start.
    /// </summary>
    public static RouteHandlerBuilder MapMetrics(this IEndpointRouteBuilder endpoints)
    {
        PrometheusExporter exporter = endpoints.ServiceProvider.GetRequiredService<PrometheusExporter>();
        return endpoints.MapGet("/metrics", () => Results.Text(exporter.Scrape(), PrometheusExporter.ContentType))
            .WithName("Metrics")
            .ExcludeFromDescription();
    }
}
