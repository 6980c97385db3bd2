using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Endpoints;

/// <summary>POST /api/session: a token to exchange for a session cookie.</summary>
public sealed record SessionRequest(string? Token);

/// <summary>Who is signed in; <see cref="Csrf"/> is what state-changing requests echo in <c>X-CSRF-Token</c> (null for a bearer token).</summary>
public sealed record SessionView(string Name, ApiRole Role, string? Csrf, DateTimeOffset? ExpiresAt);

/// <summary>
/// Sign-in and sign-out of the web app (README "Web app"): a token is exchanged once for an HttpOnly, SameSite=Strict
/// cookie of a server-side session; the browser never keeps the token. Requests authenticated by that cookie that
/// change state must carry the session's CSRF token (<see cref="CsrfMiddleware"/>); bearer-token requests need not,
/// as a browser never adds a bearer header by itself.
/// </summary>
internal static class SessionEndpoints
{
    public const string CsrfHeader = "X-CSRF-Token";

    public static void Map(RouteGroupBuilder api)
    {
        RouteGroupBuilder session = api.MapGroup("/session").WithTags("Access");
        session.MapPost("", SignIn)
            .WithSummary("Sign in (the web app): exchange an API token for a session cookie (HttpOnly, SameSite=Strict); the answer holds the CSRF token.")
            .Produces<SessionView>().ProducesProblem(400).ProducesProblem(401).ProducesProblem(429);
        session.MapGet("", Current).WithSummary("Who is signed in (or whose token this is), the role and the session's CSRF token.").Produces<SessionView>();
        session.MapDelete("", SignOut).WithSummary("Sign out: the session ends on the server and its cookie is deleted.").Produces(204);
    }

    private static IResult SignIn(SessionRequest? request, ApiTokenStore tokens, SessionStore sessions, AuthenticationGuard guard, HttpContext context)
    {
        if (string.IsNullOrEmpty(request?.Token))
        {
            return ApiProblems.Invalid("token", "the API token to sign in with.");
        }

        if (guard.Refuses(context, out TimeSpan retryAfter))
        {
            return AuthenticationGuard.TooManyAttempts(context, retryAfter); // the token is not even looked at
        }

        if (!tokens.TryAuthenticate(request.Token, out string name, out ApiRole role))
        {
            guard.Failed(context, AuthKind.SignIn, AuditActions.SignInFailed, "sign-in: not an API token of this appliance");
            return TypedResults.Problem("That is not an API token of this appliance.", statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");
        }

        if (context.Request.Cookies.TryGetValue(SessionCookieHandler.CookieName, out string? previous) && previous is not null)
        {
            sessions.End(previous); // signing in again replaces the browser's session rather than leaving it alive
        }

        BrowserSession session = sessions.Create(name, role);
        context.Response.Cookies.Append(SessionCookieHandler.CookieName, session.Id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            IsEssential = true,
        });

        // The audit entry (sign-in) names who signed in: it is written from the request's principal as the answer starts.
        context.User = ApiAccess.Principal(name, role, SessionCookieHandler.SchemeName);
        return TypedResults.Ok(View(session));
    }

    private static IResult Current(HttpContext context)
    {
        if (context.Items[SessionCookieHandler.ItemKey] is BrowserSession session && !IsBearer(context.User))
        {
            return TypedResults.Ok(View(session));
        }

        ApiRole role = Enum.GetValues<ApiRole>().First(r => context.User.IsInRole(ApiAccess.RoleName(r)));
        return TypedResults.Ok(new SessionView(context.User.Identity!.Name!, role, null, null));
    }

    private static IResult SignOut(HttpContext context, SessionStore sessions)
    {
        if (context.Items[SessionCookieHandler.ItemKey] is BrowserSession session)
        {
            sessions.End(session.Id);
        }

        context.Response.Cookies.Delete(SessionCookieHandler.CookieName, new CookieOptions { Path = "/", Secure = context.Request.IsHttps, SameSite = SameSiteMode.Strict, HttpOnly = true });
        return TypedResults.NoContent();
    }

    /// <summary>
    /// A request authenticated by the session cookie alone, other than GET or HEAD, is refused (403 problem) unless
    /// <c>X-CSRF-Token</c> is the session's: another site can make a browser send the cookie (SameSite is a second
    /// wall, not the only one) but cannot read the token to send with it.
    /// </summary>
    public static Task CsrfMiddleware(HttpContext context, RequestDelegate next)
    {
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method) || HttpMethods.IsOptions(context.Request.Method)
            || context.Items[SessionCookieHandler.ItemKey] is not BrowserSession session
            || IsBearer(context.User)
            || context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            return next(context);
        }

        string sent = context.Request.Headers[CsrfHeader].ToString();
        if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(session.Csrf)))
        {
            return next(context);
        }

        context.RequestServices.GetRequiredService<AuditLog>().Append(context, AuditActions.Denied, $"{context.Request.Method} {context.Request.Path} (no CSRF token)", StatusCodes.Status403Forbidden);
        return Results.Problem($"A signed-in browser's {context.Request.Method} must carry the session's {CsrfHeader} header (GET /api/session).",
            statusCode: StatusCodes.Status403Forbidden, title: "Forbidden").ExecuteAsync(context);
    }

    private static bool IsBearer(ClaimsPrincipal user) =>
        user.Identities.Any(i => i.IsAuthenticated && i.AuthenticationType == BearerTokenHandler.SchemeName);

    private static SessionView View(BrowserSession s) => new(s.Name, s.Role, s.Csrf, s.Created + SessionStore.AbsoluteTimeout);
}
