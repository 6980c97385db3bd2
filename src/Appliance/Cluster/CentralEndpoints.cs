using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Appliance.Endpoints;
using Appliance.Service;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Cluster;

/// <summary>
/// A recording held by another appliance of the estate (README "Cluster", central index): its sidecar and audio are
/// fetched from the holder's API (the URL it wrote to the central index) with the estate's shared secret, range
/// requests passed through. The holder serves them on /api/peer/{user}/recordings/{id}[/audio] to the principal
/// <c>appliance:&lt;name&gt;</c> only, and its audit log records them as "recording:&lt;id&gt; for &lt;user&gt;" by that
/// principal; this appliance's audit log records the user's own request as for a local recording. A legal hold placed or
/// released here on such a recording is forwarded the same way (PUT/DELETE /api/peer/{user}/recordings/{id}/hold) and
/// applied by the holder as its own: the marker is beside the files retention would delete.
/// </summary>
internal static class CentralEndpoints
{
    private static readonly HttpClient s_http = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan, // a long download must not be cut; the headers have their own limit below
    };

    private static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(15);

    /// <summary>The /readyz body while degraded (still 200: recording goes on).</summary>
    public static string DegradedDetail(CentralIndex c) => string.Create(CultureInfo.InvariantCulture,
        $"ready, degraded: the central recordings index is unreachable since {c.DegradedSince:O} ({c.LastError}); {c.Pending} change(s) queued\n");

    /// <summary>The routes another appliance fetches a recording this one holds from (ApiAccess.Rules: policy <see cref="ApiAccess.Peer"/>).</summary>
    public static void MapPeer(RouteGroupBuilder api)
    {
        RouteGroupBuilder peer = api.MapGroup("/peer/{user}/recordings").WithTags("Cluster");
        peer.MapGet("/{id}", (string user, string id, RecordingCatalog catalog, ApplianceRuntime runtime) =>
                ApiArgs.RecordingId(id, out Guid guid, out IResult? problem) ? RecordingEndpoints.LocalSidecar(guid, catalog, runtime) : problem)
            .WithSummary("Another appliance of the estate asks for a recording's sidecar on behalf of its user (appliance principals only).")
            .ProducesValidationProblem().ProducesProblem(404);
        peer.MapGet("/{id}/audio", (string user, string id, RecordingCatalog catalog, HttpContext context) =>
                ApiArgs.RecordingId(id, out Guid guid, out IResult? problem) ? RecordingEndpoints.LocalAudio(guid, catalog, context) : problem)
            .WithSummary("Another appliance of the estate plays a recording on behalf of its user, with range requests (appliance principals only).")
            .Produces(200, contentType: "audio/ogg").Produces(206, contentType: "audio/ogg").ProducesProblem(404).ProducesProblem(416);
        peer.MapPut("/{id}/hold", (string user, string id, RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context) =>
                RecordingEndpoints.LocalHoldAsync(id, true, By(user, context), catalog, runtime))
            .WithSummary("Another appliance of the estate places a legal hold on a recording held here, for its user, as a local hold (appliance principals only).")
            .Produces<RecordingSummary>().ProducesValidationProblem().ProducesProblem(404);
        peer.MapDelete("/{id}/hold", (string user, string id, RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context) =>
                RecordingEndpoints.LocalHoldAsync(id, false, By(user, context), catalog, runtime))
            .WithSummary("Another appliance of the estate releases a legal hold on a recording held here, for its user (appliance principals only).")
            .Produces<RecordingSummary>().ProducesValidationProblem().ProducesProblem(404);
    }

    // Who placed a hold asked for by another appliance, as the hold marker keeps it: the user, and through which appliance.
    private static string By(string user, HttpContext context) => $"{user} via {context.User.Identity?.Name}";

    /// <summary>The sidecar or audio of a recording this appliance does not hold, from the appliance that does.</summary>
    public static Task<IResult> ProxyAsync(CentralIndex central, Guid id, bool audio, HttpContext context) =>
        ForwardAsync(central, id, HttpMethod.Get, audio ? "/audio" : "", context);

    /// <summary>
    /// A legal hold placed (or released) on a recording this appliance does not hold: applied by the appliance that does,
    /// whose answer (the recording's summary, or its 404) comes back as it gave it. Nothing is changed here.
    /// </summary>
    public static Task<IResult> ForwardHoldAsync(CentralIndex central, Guid id, bool held, HttpContext context) =>
        ForwardAsync(central, id, held ? HttpMethod.Put : HttpMethod.Delete, "/hold", context);

    // The request made again at the holder's peer route for the user, on behalf of this appliance.
    private static async Task<IResult> ForwardAsync(CentralIndex central, Guid id, HttpMethod method, string suffix, HttpContext context)
    {
        CentralIndex.Holder? holder;
        try
        {
            holder = await central.LocateAsync(id, context.RequestAborted);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return TypedResults.Problem($"Recording '{id:D}' is not on this appliance, and the central index cannot say which holds it now: {ex.Message}",
                statusCode: StatusCodes.Status503ServiceUnavailable, title: "Central index unreachable");
        }

        if (holder is null || holder.Appliance == central.Name)
        {
            return ApiProblems.NotFound($"No recording '{id:D}'.");
        }

        if (holder.Url is null || central.Secret is null)
        {
            return Problem(holder, holder.Url is null ? "which never said where its API is (Cluster:Url)" : "and this appliance has no Cluster:Secret to ask it with");
        }

        string user = context.User.Identity?.Name ?? "";
        var uri = new Uri(holder.Url.TrimEnd('/') + $"/api/peer/{Uri.EscapeDataString(user)}/recordings/{id:D}" + suffix);
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation("Authorization", $"{PeerAuthHandler.SchemeName} {central.Name}:{central.Secret}");
        foreach (string header in (string[])["Range", "If-Range"])
        {
            if (context.Request.Headers.TryGetValue(header, out var value))
            {
                request.Headers.TryAddWithoutValidation(header, (IEnumerable<string>)value);
            }
        }

        HttpResponseMessage response;
        using (var headers = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted))
        {
            headers.CancelAfter(HeadersTimeout);
            try
            {
                response = await s_http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token);
            }
            catch (HttpRequestException ex) when (!context.RequestAborted.IsCancellationRequested)
            {
                return Problem(holder, $"which does not answer ({ex.Message})");
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                // Sent but unanswered: a change may have been made there. A hold placed (or released) again is the same hold.
                return Problem(holder, $"which did not answer within {HeadersTimeout.TotalSeconds:0} s"
                    + (method == HttpMethod.Get ? "" : "; the change may have been made there, and asking again is safe"));
            }
        }

        if (response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
        {
            response.Dispose();
            return Problem(holder, "which refused this appliance (Cluster:Secret differs?)");
        }

        if ((int)response.StatusCode >= 500)
        {
            // Its failure is not this appliance's: a gateway error naming it, never a bare 500 passed on.
            using (response)
            {
                string said = await response.Content.ReadAsStringAsync(context.RequestAborted);
                return Problem(holder, $"which answered {(int)response.StatusCode} {response.ReasonPhrase}: {(said.Length > 300 ? said[..300] : said)}");
            }
        }

        return new Proxied(response, holder);
    }

    private static IResult Problem(CentralIndex.Holder holder, string why) => TypedResults.Problem(
        $"The recording is held by the appliance '{holder.Appliance}'{(holder.Site is null ? "" : $" at site '{holder.Site}'")}, {why}.",
        statusCode: StatusCodes.Status502BadGateway, title: "Recording held by another appliance");

    /// <summary>The holder's answer as it came: status, the headers a player needs, the body streamed.</summary>
    private sealed class Proxied(HttpResponseMessage response, CentralIndex.Holder holder) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            using (response)
            {
                context.Response.StatusCode = (int)response.StatusCode;
                context.Response.Headers["X-Recording-Appliance"] = holder.Appliance;
                foreach ((string name, IEnumerable<string> values) in response.Content.Headers.Concat(response.Headers))
                {
                    if (name is "Content-Type" or "Content-Length" or "Content-Range" or "Accept-Ranges" or "Last-Modified" or "ETag")
                    {
                        context.Response.Headers[name] = values.ToArray();
                    }
                }

                await using Stream body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
                await body.CopyToAsync(context.Response.Body, context.RequestAborted);
            }
        }
    }
}

/// <summary>
/// `Authorization: Appliance &lt;name&gt;:&lt;Cluster:Secret&gt;`: another appliance of the estate. The principal is
/// <c>appliance:&lt;name&gt;</c> with the role <see cref="ApiAccess.PeerRole"/>, which only the peer routes accept.
/// No secret configured: nobody is let in this way. A wrong credential is audited and counted against its address
/// (<see cref="AuthenticationGuard"/>, kind appliance); from a throttled address it is not checked.
/// </summary>
internal sealed class PeerAuthHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApplianceSettings settings, AuthenticationGuard guard)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Appliance";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (header is null || !header.StartsWith(SchemeName + " ", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (guard.Refuses(Context))
        {
            return Task.FromResult(AuthenticateResult.Fail("Too many failed attempts from this address."));
        }

        string presented = header[(SchemeName.Length + 1)..].Trim();
        int colon = presented.IndexOf(':', StringComparison.Ordinal);
        if (settings.Cluster.Secret is not { Length: > 0 } secret || !settings.Cluster.CentralEnabled || colon < 1)
        {
            guard.Failed(Context, AuthKind.Appliance, AuditActions.AuthFailed,
                colon < 1 ? "appliance credential: not 'name:secret'" : "appliance credential: this appliance has no central index and secret");
            return Task.FromResult(AuthenticateResult.Fail("Not an appliance of this estate."));
        }

        // Compared as hashes, in constant time: neither the length nor a prefix of the secret leaks through timing.
        byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        byte[] given = SHA256.HashData(Encoding.UTF8.GetBytes(presented[(colon + 1)..]));
        if (!CryptographicOperations.FixedTimeEquals(expected, given))
        {
            // The claimed name is not secret and tells an operator which peer is misconfigured; kept short.
            string claimed = presented[..Math.Min(colon, 64)];
            guard.Failed(Context, AuthKind.Appliance, AuditActions.AuthFailed, $"appliance credential: wrong secret for '{claimed}'");
            return Task.FromResult(AuthenticateResult.Fail("Not an appliance of this estate."));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, "appliance:" + presented[..colon]), new Claim(ClaimTypes.Role, ApiAccess.PeerRole)], SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    // The bearer scheme answers the 401 (with its problem body) and the role handler the 403: nothing to add here.
    protected override Task HandleChallengeAsync(AuthenticationProperties properties) => Task.CompletedTask;

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => Task.CompletedTask;
}
