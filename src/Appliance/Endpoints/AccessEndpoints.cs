using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Endpoints;

/// <summary>Named tokens (administrators) and the audit log (auditors), and the middleware that fills the log.</summary>
internal static class AccessEndpoints
{
    private const string QueryTokenParameter = "access_token";

    public static void Map(RouteGroupBuilder api)
    {
        RouteGroupBuilder tokens = api.MapGroup("/tokens").WithTags("Access");
        tokens.MapGet("", (ApiTokenStore store) => TypedResults.Ok(store.List()))
            .WithSummary("The API's tokens: names, roles, when and by whom created (never a secret).").Produces<IReadOnlyList<TokenView>>();
        tokens.MapPost("", Create)
            .WithSummary("Create a named token with a role; the answer holds the token, shown this once (only its SHA-256 is kept).")
            .Produces<CreatedToken>(201).ProducesValidationProblem().ProducesProblem(409);
        tokens.MapDelete("/{name}", Revoke).WithSummary("Revoke a named token at once.").ProducesProblem(404).ProducesProblem(409);

        api.MapGet("/audit", ReadAudit).WithTags("Access")
            .WithSummary("The audit log, oldest first: entries in [from, to) after the sequence number 'after'; 'next' pages on.")
            .Produces<AuditPage>().ProducesValidationProblem();
    }

    /// <summary>Records each audited endpoint's request (its <see cref="AccessRule"/>) with the status it is answered with.</summary>
    public static async Task AuditMiddleware(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<AccessRule>() is not { Action: { } action } rule)
        {
            await next(context);
            return;
        }

        if (action == AuditActions.Play && context.Request.Headers.Range.Count == 0)
        {
            action = AuditActions.Download; // a player asks for ranges; a whole-file request is a download
        }

        JsonElement body = rule.Target?.Contains('{', StringComparison.Ordinal) == true ? await BodyAsync(context.Request) : default;
        string? target = Target(rule.Target, context, body);
        string? query = action is AuditActions.Search or AuditActions.AuditRead ? QueryOf(context.Request) : null;

        // Recorded as the answer starts, before the client can see it: its next request's entry comes after this one.
        context.Response.OnStarting(() =>
        {
            context.RequestServices.GetRequiredService<AuditLog>().Append(context, action, target, context.Response.StatusCode, query);
            return Task.CompletedTask;
        });
        await next(context);
    }

    private static IResult Create(TokenRequest? request, ApiTokenStore store, HttpContext context)
    {
        if (!ApiTokenStore.ValidName(request?.Name))
        {
            return ApiProblems.Invalid("name", "1-64 letters, digits, '.', '_' or '-'.");
        }

        if (request!.Role is not { } role)
        {
            return ApiProblems.Invalid("role", "administrator, supervisor, auditor or viewer.");
        }

        return store.Create(request.Name!, role, context.User.Identity?.Name ?? "") is { } created
            ? TypedResults.Created($"/api/tokens/{created.Name}", created)
            : ApiProblems.Conflict($"A token named '{request.Name}' exists.");
    }

    private static IResult Revoke(string name, ApiTokenStore store)
    {
        if (name == ApiTokenStore.AdminName)
        {
            return ApiProblems.Conflict($"'{name}' is the configured token (Token, TokenFile or {ApiToken.GeneratedFileName}): change it there.");
        }

        return store.Revoke(name) ? TypedResults.NoContent() : ApiProblems.NotFound($"No token named '{name}'.");
    }

    private static async Task<IResult> ReadAudit(AuditLog audit, string? from, string? to, long? after, int? limit)
    {
        if (!ApiArgs.Time("from", from, out DateTimeOffset? since, out IResult? problem) || !ApiArgs.Time("to", to, out DateTimeOffset? until, out problem)
            || !ApiArgs.Limit(limit, 100, 1000, out int take, out problem))
        {
            return problem!;
        }

        if (after is < 0)
        {
            return ApiProblems.Invalid("after", "must not be negative.");
        }

        await audit.FlushAsync(); // what was done before this request is in the answer
        return TypedResults.Ok(audit.Read(since, until, after ?? 0, take));
    }

    // "recording:{id}" with the route's id, or the JSON body's "user" (POST /api/logins).
    private static string? Target(string? template, HttpContext context, JsonElement body)
    {
        if (template is null)
        {
            return null;
        }

        var target = new StringBuilder(template);
        foreach (string name in Placeholders(template))
        {
            string? value = context.Request.RouteValues.TryGetValue(name, out object? route) ? route?.ToString()
                : body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString()
                : null;
            target.Replace("{" + name + "}", value is null ? "?" : Shorten(value));
        }

        return target.ToString();
    }

    private static IEnumerable<string> Placeholders(string template)
    {
        for (int start = template.IndexOf('{', StringComparison.Ordinal); start >= 0; start = template.IndexOf('{', start + 1))
        {
            int end = template.IndexOf('}', start);
            if (end < 0)
            {
                yield break;
            }

            yield return template[(start + 1)..end];
        }
    }

    // The JSON body, read ahead of the handler (which reads it again from the start): a login names its user there.
    // Kestrel's body limit holds here as in the handler (a larger body is its 413, thrown from this read).
    private static async Task<JsonElement> BodyAsync(HttpRequest request)
    {
        if (request.ContentLength == 0 || !HttpMethods.IsPost(request.Method))
        {
            return default;
        }

        request.EnableBuffering();
        try
        {
            using JsonDocument document = await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return default; // the handler answers it with 400
        }
        finally
        {
            request.Body.Position = 0;
        }
    }

    // The search as asked (decoded), without a token that came in the query.
    private static string? QueryOf(HttpRequest request)
    {
        string query = string.Join('&', request.Query.Where(q => q.Key != QueryTokenParameter).Select(q => $"{q.Key}={Shorten(q.Value.ToString())}"));
        return query.Length == 0 ? null : query;
    }

    private static string Shorten(string value) => value.Length <= 256 ? value : value[..256] + "...";
}
