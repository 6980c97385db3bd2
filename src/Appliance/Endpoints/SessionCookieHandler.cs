using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Logging;

namespace Appliance.Endpoints;

/// <summary>
/// The web app's session cookie (<see cref="CookieName"/>) against <see cref="SessionStore"/>: the principal is the
/// name and role of the token the session was made from, as <see cref="BearerTokenHandler"/> gives them, so every
/// policy of <see cref="ApiAccess"/> holds for a browser unchanged. The session is kept in <c>HttpContext.Items</c> for
/// the CSRF check (<see cref="SessionEndpoints.CsrfMiddleware"/>).
/// </summary>
internal sealed class SessionCookieHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    SessionStore sessions)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Session";

    public const string CookieName = "appliance-session";

    /// <summary>The key of the request's <see cref="BrowserSession"/> in <c>HttpContext.Items</c>.</summary>
    public static readonly object ItemKey = new();

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Cookies.TryGetValue(CookieName, out string? id) || string.IsNullOrEmpty(id))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!sessions.TryGet(id, out BrowserSession? session))
        {
            return Task.FromResult(AuthenticateResult.Fail("The session has ended (signed out, expired, or its token revoked): sign in again."));
        }

        Context.Items[ItemKey] = session;
        return Task.FromResult(AuthenticateResult.Success(
            new AuthenticationTicket(ApiAccess.Principal(session!.Name, session.Role, SchemeName), SchemeName)));
    }

    // The bearer scheme, challenged first, answers the 401 with its problem body; this one adds nothing (the response
    // has started by then).
    protected override Task HandleChallengeAsync(AuthenticationProperties properties) => Task.CompletedTask;

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => Task.CompletedTask;
}
