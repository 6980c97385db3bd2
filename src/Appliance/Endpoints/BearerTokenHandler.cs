using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Endpoints;

/// <summary>Marks an endpoint a browser element may fetch with <c>?access_token=</c> (audio, event stream): they cannot send headers.</summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class AllowQueryTokenAttribute : Attribute;

/// <summary>
/// `Authorization: Bearer &lt;token&gt;` against <see cref="ApiTokenStore"/>: the principal is the token's name and
/// role (<see cref="ApiAccess"/>). A missing or wrong token is answered 401 with a problem body and a
/// <c>WWW-Authenticate</c> challenge; the authorization fallback policy makes every endpoint require it unless it
/// allows anonymous access (/healthz, /readyz). A wrong token is audited and counted against its address
/// (<see cref="AuthenticationGuard"/>); from a throttled address no credential is checked and the challenge is 429.
/// </summary>
internal sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiTokenStore tokens,
    AuthenticationGuard guard,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    private const string QueryParameter = "access_token";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? presented = null;
        string? header = Request.Headers.Authorization;
        bool hasHeader = !string.IsNullOrEmpty(header);
        if (!hasHeader
            && HttpMethods.IsGet(Request.Method)
            && Context.GetEndpoint()?.Metadata.GetMetadata<AllowQueryTokenAttribute>() is not null
            && Request.Query.TryGetValue(QueryParameter, out var values))
        {
            presented = values.ToString();
        }

        if (!hasHeader && presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult()); // no credential: not an attempt
        }

        // Any credential (an appliance's too: this default scheme runs first) from a throttled address: unchecked.
        if (guard.Refuses(Context))
        {
            return Task.FromResult(AuthenticateResult.Fail("Too many failed attempts from this address."));
        }

        if (hasHeader)
        {
            // Another scheme (Appliance: the peer scheme checks and counts it) or none: nothing here to guess at.
            if (!header!.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(AuthenticateResult.Fail("The Authorization header is not 'Bearer <token>'."));
            }

            presented = header["Bearer ".Length..].Trim();
        }

        if (!tokens.TryAuthenticate(presented!, out string name, out ApiRole role))
        {
            guard.Failed(Context, AuthKind.Bearer, AuditActions.AuthFailed,
                hasHeader ? "bearer token: not an API token of this appliance" : "access_token: not an API token of this appliance");
            return Task.FromResult(AuthenticateResult.Fail("The token is not an API token."));
        }

        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(ApiAccess.Principal(name, role, SchemeName), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        AuthenticateResult result = await HandleAuthenticateOnceSafeAsync();
        if (AuthenticationGuard.WasRefused(Context, out TimeSpan retryAfter))
        {
            await AuthenticationGuard.TooManyAttempts(Context, retryAfter).ExecuteAsync(Context);
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = result.Failure is null ? "Bearer" : "Bearer error=\"invalid_token\"";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = result.Failure?.Message ?? "Send the API token: 'Authorization: Bearer <token>'.",
            },
        });
    }
}
