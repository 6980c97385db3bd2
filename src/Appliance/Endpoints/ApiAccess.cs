using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Appliance.Endpoints;

/// <summary>What a token (or a web-app session made from one) may do: README "Control API", "Roles".</summary>
public enum ApiRole
{
    Administrator,
    Supervisor,
    Auditor,
    Viewer,
}

/// <summary>
/// Who may call which endpoint, and which calls the audit log records: one table (<see cref="Rules"/>) applied to
/// every route of /api as it is built, so README's matrix, the policies and the tests read the same list. A route
/// the table does not name is for administrators only (a new endpoint is closed until someone decides otherwise).
/// The principal is a name (<see cref="ClaimTypes.Name"/>) and a role (<see cref="ClaimTypes.Role"/>): a cookie
/// session can carry the same two claims and every policy holds for it unchanged (its scheme added to the
/// policies' schemes in <see cref="AddRolePolicies"/>).
/// </summary>
public static class ApiAccess
{
    /// <summary>Search and sidecar metadata: every role.</summary>
    public const string Search = "search";

    /// <summary>Recording audio (play, download): administrators and supervisors.</summary>
    public const string Listen = "listen";

    /// <summary>Calls in progress and the event stream; pause/resume: administrators and supervisors.</summary>
    public const string Live = "live";

    /// <summary>Devices, users, who is logged in where, locate (read only): administrators and supervisors.</summary>
    public const string Board = "board";

    /// <summary>The audit log: administrators and auditors.</summary>
    public const string Audit = "audit";

    /// <summary>Directory and configuration changes, hot-desk logins and logouts, tokens: administrators.</summary>
    public const string Administer = "administer";

    /// <summary>Another appliance of the estate (README "Cluster"): a recording's sidecar, audio and legal hold on behalf of its user; no user role.</summary>
    public const string Peer = "peer";

    /// <summary>The role of an appliance principal (<c>appliance:&lt;name&gt;</c>, Cluster:Secret): only <see cref="Peer"/> routes accept it.</summary>
    public const string PeerRole = "appliance";

    /// <summary>No token needed (sign-in, which takes one in its body). Not a policy: such a route allows anonymous access.</summary>
    public const string Public = "public";

    public static readonly IReadOnlyDictionary<string, ApiRole[]> Policies = new Dictionary<string, ApiRole[]>(StringComparer.Ordinal)
    {
        [Search] = [ApiRole.Administrator, ApiRole.Supervisor, ApiRole.Auditor, ApiRole.Viewer],
        [Listen] = [ApiRole.Administrator, ApiRole.Supervisor],
        [Live] = [ApiRole.Administrator, ApiRole.Supervisor],
        [Board] = [ApiRole.Administrator, ApiRole.Supervisor],
        [Audit] = [ApiRole.Administrator, ApiRole.Auditor],
        [Administer] = [ApiRole.Administrator],
    };

    /// <summary>
    /// Every /api route by method and pattern: its policy and, when audited, the action and its target ("{id}" filled
    /// from the route, else from the JSON body's top-level property of that name).
    /// </summary>
    public static readonly IReadOnlyList<AccessRule> Rules =
    [
        new("GET", "/api/recordings", Search, AuditActions.Search),
        new("GET", "/api/recordings/{id}", Search, AuditActions.Sidecar, "recording:{id}"),
        new("GET", "/api/recordings/{id}/audio", Listen, AuditActions.Play, "recording:{id}"),
        new("PUT", "/api/recordings/{id}/hold", Administer, AuditActions.Hold, "recording:{id}"),
        new("DELETE", "/api/recordings/{id}/hold", Administer, AuditActions.Release, "recording:{id}"),
        new("GET", "/api/calls", Live),
        new("GET", "/api/calls/{id}", Live),
        new("GET", "/api/events", Live),
        new("POST", "/api/calls/{id}/pause", Live, AuditActions.Pause, "recording:{id}"),
        new("POST", "/api/calls/{id}/resume", Live, AuditActions.Resume, "recording:{id}"),
        new("POST", "/api/extensions/{extension}/pause", Live, AuditActions.Pause, "extension:{extension}"),
        new("POST", "/api/extensions/{extension}/resume", Live, AuditActions.Resume, "extension:{extension}"),
        new("POST", "/api/users/{id}/pause", Live, AuditActions.Pause, "user:{id}"),
        new("POST", "/api/users/{id}/resume", Live, AuditActions.Resume, "user:{id}"),
        new("GET", "/api/devices", Board),
        new("GET", "/api/devices/{id}", Board),
        new("GET", "/api/users", Board),
        new("GET", "/api/users/{id}", Board),
        new("GET", "/api/logins", Board),
        new("GET", "/api/logins/history", Board),
        new("GET", "/api/locate/extension/{extension}", Board),
        new("GET", "/api/locate/user/{id}", Board),
        new("GET", "/api/audit", Audit, AuditActions.AuditRead),
        new("POST", "/api/logins", Administer, AuditActions.Login, "user:{user} device:{device}"),
        new("POST", "/api/devices/{id}/logout", Administer, AuditActions.Logout, "device:{id}"),
        new("POST", "/api/users/{id}/logout", Administer, AuditActions.RemoteLogout, "user:{id}"),
        new("POST", "/api/logins/logout-all", Administer, AuditActions.LogoutAll, "scope:{scope}"),
        new("PUT", "/api/devices/{id}", Administer, AuditActions.ConfigChange, "device:{id}"),
        new("DELETE", "/api/devices/{id}", Administer, AuditActions.ConfigChange, "device:{id}"),
        new("PUT", "/api/users/{id}", Administer, AuditActions.ConfigChange, "user:{id}"),
        new("DELETE", "/api/users/{id}", Administer, AuditActions.ConfigChange, "user:{id}"),
        new("PUT", "/api/profiles/{id}", Administer, AuditActions.ConfigChange, "profile:{id}"),
        new("DELETE", "/api/profiles/{id}", Administer, AuditActions.ConfigChange, "profile:{id}"),
        new("PUT", "/api/recording-groups/{id}", Administer, AuditActions.ConfigChange, "recording-group:{id}"),
        new("DELETE", "/api/recording-groups/{id}", Administer, AuditActions.ConfigChange, "recording-group:{id}"),
        new("PUT", "/api/config", Administer, AuditActions.ConfigChange, "config"),
        new("POST", "/api/tokens", Administer, AuditActions.TokenCreated, "token:{name}"),
        new("DELETE", "/api/tokens/{name}", Administer, AuditActions.TokenRevoked, "token:{name}"),
        new("POST", "/api/session", Public, AuditActions.SignIn),
        new("GET", "/api/session", Search),
        new("DELETE", "/api/session", Search, AuditActions.SignOut),
        new("GET", "/api/health", Board),
        new("GET", "/api/cluster", Board),
        new("GET", "/api/cluster/users/{id}", Board),
        new("GET", "/api/peer/{user}/recordings/{id}", Peer, AuditActions.Sidecar, "recording:{id} for {user}"),
        new("GET", "/api/peer/{user}/recordings/{id}/audio", Peer, AuditActions.Play, "recording:{id} for {user}"),
        new("PUT", "/api/peer/{user}/recordings/{id}/hold", Peer, AuditActions.Hold, "recording:{id} for {user}"),
        new("DELETE", "/api/peer/{user}/recordings/{id}/hold", Peer, AuditActions.Release, "recording:{id} for {user}"),
    ];

    /// <summary>The policies, each requiring an authenticated principal with one of its roles.</summary>
    public static AuthorizationBuilder AddRolePolicies(this AuthorizationBuilder builder)
    {
        foreach ((string name, ApiRole[] roles) in Policies)
        {
            builder.AddPolicy(name, p => p.AddAuthenticationSchemes(BearerTokenHandler.SchemeName, SessionCookieHandler.SchemeName)
                .RequireAuthenticatedUser().RequireRole(roles.Select(RoleName)));
        }

        // Users' tokens and sessions are authenticated here too, so a user is told 403 (no role may), not 401.
        builder.AddPolicy(Peer, p => p.AddAuthenticationSchemes(BearerTokenHandler.SchemeName, SessionCookieHandler.SchemeName, Cluster.PeerAuthHandler.SchemeName)
            .RequireAuthenticatedUser().RequireRole(PeerRole));

        return builder;
    }

    /// <summary>Attaches its policy (and audit rule) to every endpoint of <paramref name="api"/> from <see cref="Rules"/>.</summary>
    public static void Apply(RouteGroupBuilder api) => ((IEndpointConventionBuilder)api).Add(endpoint =>
    {
        if (endpoint is not RouteEndpointBuilder route)
        {
            return;
        }

        string pattern = Normalise(route.RoutePattern);
        IEnumerable<string> methods = route.Metadata.OfType<IHttpMethodMetadata>().LastOrDefault()?.HttpMethods ?? ["GET"];
        AccessRule? rule = Rules.FirstOrDefault(r => r.Pattern == pattern && methods.Contains(r.Method, StringComparer.OrdinalIgnoreCase));
        route.Metadata.Add(rule?.Policy == Public ? new AllowAnonymousAttribute() : (object)new AuthorizeAttribute(rule?.Policy ?? Administer));
        if (rule?.Action is not null)
        {
            route.Metadata.Add(rule);
        }
    });

    /// <summary>The role's name in claims, tokens and JSON: "administrator".</summary>
    public static string RoleName(ApiRole role) => role switch
    {
        ApiRole.Administrator => "administrator",
        ApiRole.Supervisor => "supervisor",
        ApiRole.Auditor => "auditor",
        ApiRole.Viewer => "viewer",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    public static ClaimsPrincipal Principal(string name, ApiRole role, string scheme) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, RoleName(role))], scheme));

    private static string Normalise(RoutePattern pattern)
    {
        string raw = "/" + (pattern.RawText ?? "").TrimStart('/');
        return raw.Length > 1 ? raw.TrimEnd('/') : raw;
    }
}

/// <summary>One row of the access table; as endpoint metadata it tells the audit middleware what to record.</summary>
public sealed record AccessRule(string Method, string Pattern, string Policy, string? Action = null, string? Target = null);

/// <summary>The audit log's action names.</summary>
public static class AuditActions
{
    public const string Search = "search";
    public const string Sidecar = "sidecar";
    public const string Play = "play";
    public const string Download = "download";
    public const string Login = "login";
    public const string Logout = "logout";
    public const string RemoteLogout = "remote-logout";
    public const string LogoutAll = "logout-all";
    public const string ConfigChange = "config-change";
    public const string TokenCreated = "token-created";
    public const string TokenRevoked = "token-revoked";
    public const string AuditRead = "audit-read";

    /// <summary>The web app: a token exchanged for a session cookie, and that session ended.</summary>
    public const string SignIn = "sign-in";
    public const string SignOut = "sign-out";
    public const string Denied = "denied";

    /// <summary>
    /// Failed authentication (README "Roles"): a wrong token at sign-in; a wrong bearer token or appliance credential
    /// on any route; an address throttled after too many failures. Recorded with no token name (none was accepted).
    /// </summary>
    public const string SignInFailed = "sign-in-failed";
    public const string AuthFailed = "auth-failed";
    public const string Throttled = "throttled";

    /// <summary>A recording in progress paused or resumed (PCI DSS), by recording, extension or user.</summary>
    public const string Pause = "pause";
    public const string Resume = "resume";

    /// <summary>A recording put under legal hold, and released.</summary>
    public const string Hold = "hold";
    public const string Release = "release";

    /// <summary>A recording deleted (by retention: <see cref="AuditLog.AppendSystem"/>).</summary>
    public const string Delete = "delete";
}

/// <summary>
/// A valid token without the role an endpoint needs: 403 with a problem body naming the roles that may, and an
/// audit entry ("denied"). Everything else as the framework does it (401 through the bearer handler's challenge).
/// </summary>
internal sealed class RoleForbiddenHandler(AuditLog audit, IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (!authorizeResult.Forbidden || context.User.Identity?.IsAuthenticated != true)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        IReadOnlyList<IAuthorizeData> asked = context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>() ?? [];
        string? policyName = asked.Count > 0 ? asked[^1].Policy : null;
        string allowed = policyName is not null && ApiAccess.Policies.TryGetValue(policyName, out ApiRole[]? roles)
            ? string.Join(" or ", roles.Select(ApiAccess.RoleName))
            : "another role";
        string role = context.User.FindFirstValue(ClaimTypes.Role) ?? "none";
        audit.Append(context, AuditActions.Denied, $"{context.Request.Method} {context.Request.Path}", StatusCodes.Status403Forbidden);
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status403Forbidden,
                Title = "Forbidden",
                Detail = $"The token '{context.User.Identity.Name}' has the role {role}; this needs the role {allowed}.",
            },
        });
    }
}
