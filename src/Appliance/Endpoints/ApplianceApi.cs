using Appliance.Service;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;

namespace Appliance.Endpoints;

/// <summary>
/// The control API under /api (README "Control API"): registration of its services (<see cref="AddApplianceApi"/>)
/// and of its middleware and endpoints (<see cref="MapApplianceApi"/>).
/// </summary>
public static class ApplianceApi
{
    /// <summary>Requests larger than this are refused with 413 (PUT /api/config allows 16 MB).</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>
    /// Registers the API: bearer-token authentication required by every endpoint by default (a fallback policy, so
    /// endpoints others add, such as /metrics, are covered too), problem details, JSON, OpenAPI, the body size limit,
    /// the configuration editor and the recordings catalog.
    /// </summary>
    /// <exception cref="SettingsException">The token cannot be read or written.</exception>
    public static WebApplicationBuilder AddApplianceApi(this WebApplicationBuilder builder, ApplianceSettings settings)
    {
        ApiToken token = ApiToken.Resolve(settings);
        IServiceCollection services = builder.Services;
        services.AddSingleton(token);
        services.AddSingleton(new ApiTokenStore(token, settings));
        services.AddSingleton<AuditLog>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditLog>());
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, RoleForbiddenHandler>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<AuthenticationGuard>(); // failed authentication: audit, metrics, throttle (README "Roles")

        // The authentication handler logs every request without a valid token at Information ("Bearer was not
        // authenticated", "was challenged"): anyone who reaches the port could fill the log. Its warnings still show.
        builder.Logging.AddFilter(typeof(BearerTokenHandler).FullName, LogLevel.Warning);
        builder.Logging.AddFilter(typeof(SessionCookieHandler).FullName, LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = MaxRequestBodyBytes);

        // AddAuthenticationCore, not AddAuthentication: the latter brings data protection, which would keep keys under
        // $HOME for cookies this API never issues.
        services.AddAuthenticationCore(o =>
        {
            o.AddScheme<BearerTokenHandler>(BearerTokenHandler.SchemeName, displayName: null);
            o.AddScheme<SessionCookieHandler>(SessionCookieHandler.SchemeName, displayName: null); // the web app's cookie (SessionEndpoints)
            o.AddScheme<Cluster.PeerAuthHandler>(Cluster.PeerAuthHandler.SchemeName, displayName: null); // another appliance (README "Cluster")
            o.DefaultScheme = BearerTokenHandler.SchemeName;
        });
        services.AddOptions<AuthenticationSchemeOptions>(BearerTokenHandler.SchemeName);
        services.AddOptions<AuthenticationSchemeOptions>(SessionCookieHandler.SchemeName);
        services.AddOptions<AuthenticationSchemeOptions>(Cluster.PeerAuthHandler.SchemeName);
        services.AddWebEncoders();
        services.AddTransient<BearerTokenHandler>();
        services.AddTransient<SessionCookieHandler>();
        services.AddTransient<Cluster.PeerAuthHandler>();
        services.AddAuthorizationBuilder()
            // The web app's session too: a signed-in page asking for a route that is not there gets 404, not a 401 that signs it out.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(BearerTokenHandler.SchemeName, SessionCookieHandler.SchemeName).RequireAuthenticatedUser().Build())
            .AddRolePolicies(); // per-role access to each /api route (ApiAccess.Rules); the fallback stays for /metrics and /openapi

        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            // A request the framework refused (unreadable JSON, a query value of the wrong type, too large): say why.
            if (c.Exception is BadHttpRequestException bad)
            {
                c.ProblemDetails.Detail = bad.Message;
            }
        });
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.ConfigureHttpJsonOptions(o => ApiJsonContext.Configure(o.SerializerOptions));
        services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Call-recording appliance control API";
            document.Info.Description = "Directory, hot desking, locate, calls, recordings and events. Every endpoint but /healthz, /readyz, POST /api/session (sign-in) and the web app's pages needs 'Authorization: Bearer <token>' or the web app's session cookie; what a token may call depends on its role (administrator, supervisor, auditor, viewer: README 'Roles'), else 403.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerTokenHandler.SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The API token (Token or TokenFile setting, else <State>/api-token).",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerTokenHandler.SchemeName, document)] = [] }];
            return Task.CompletedTask;
        }));

        services.AddSingleton<DirectoryEditor>();
        services.AddSingleton<RecordingCatalog>();
        services.AddHostedService(sp => sp.GetRequiredService<RecordingCatalog>());
        services.AddHostedService<Recordings.RetentionService>();
        services.AddHostedService<ApiStartupLog>();
        return builder;
    }

    /// <summary>Adds the error handling (problem details for every error) and maps /api/... and /openapi/v1.json.</summary>
    public static WebApplication MapApplianceApi(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,

            // A client's bad request (unreadable JSON, a wrong type) is answered with a problem, not logged as a failure
            // with its stack trace: anyone able to reach the port could fill the log. Real failures are still logged.
            SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException,
        });
        app.UseStatusCodePages();
        app.Use((context, next) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff"; // JSON and audio are never to be sniffed as HTML
            return next(context);
        });
        app.Use(SessionEndpoints.CsrfMiddleware);
        app.Use(AccessEndpoints.AuditMiddleware);

        app.MapOpenApi();
        RouteGroupBuilder api = app.MapGroup("/api");
        ApiAccess.Apply(api);
        DirectoryEndpoints.Map(api);
        HotDeskingEndpoints.Map(api);
        RecordingEndpoints.Map(api);
        PauseEndpoints.Map(api);
        EventEndpoints.Map(api);
        AccessEndpoints.Map(api);
        SessionEndpoints.Map(api);
        HealthEndpoints.Map(api);
        Cluster.CentralEndpoints.MapPeer(api);
        Cluster.ClusterEndpoints.Map(api);
        return app;
    }
}

/// <summary>Says at start where the API listens and where its token is (never the token itself).</summary>
internal sealed partial class ApiStartupLog(ApiToken token, ApiTokenStore tokens, AuditLog audit, ApplianceSettings settings, ILogger<ApiStartupLog> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (token.Generated)
        {
            LogGenerated(token.Source, settings.Listen);
        }
        else
        {
            LogToken(token.Source, settings.Listen);
        }

        LogAccess(tokens.NamedCount, audit.Path);

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "control API on {Listen}: generated a bearer token into {Path} (mode 0600); clients send 'Authorization: Bearer <its contents>'")]
    private partial void LogGenerated(string path, string listen);

    [LoggerMessage(Level = LogLevel.Information, Message = "control API: {Named} named tokens besides 'admin'; audit log {Path}")]
    private partial void LogAccess(int named, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "control API on {Listen}: bearer token from {Source}")]
    private partial void LogToken(string source, string listen);
}
