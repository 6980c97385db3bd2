using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Appliance.Web;

/// <summary>
/// The web app (README "Web app") served at <c>/</c>: plain ES modules and one style sheet under Web/wwwroot, embedded
/// in the appliance at build time, so `make run`, the installed service and the tests serve the same files with nothing
/// to copy or find on disk. The pages are public (they hold no data); everything they show comes from /api with the
/// session cookie. Every answer is revalidated (<c>no-cache</c> with a strong ETag): the module names are not
/// fingerprinted, so a new appliance version must never be hidden behind a cached old module.
/// </summary>
public static class WebApp
{
    /// <summary>Same origin only: no inline script or style, no CDN, no font from elsewhere, never framed.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private const string ResourcePrefix = "webapp/";

    private static readonly FrozenDictionary<string, Asset> s_assets = Load();

    /// <summary>The embedded files by path (<c>index.html</c>, <c>app/main.js</c>).</summary>
    public static IReadOnlyCollection<string> Paths => s_assets.Keys;

    public static void MapWebApp(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HttpContext context) => Serve(context, "index.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/app/{**file}", (string file, HttpContext context) => Serve(context, "app/" + file)).AllowAnonymous().ExcludeFromDescription();
    }

    private static IResult Serve(HttpContext context, string path)
    {
        if (!s_assets.TryGetValue(path, out Asset? asset))
        {
            return Results.NotFound();
        }

        IHeaderDictionary headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        if (context.Request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static FrozenDictionary<string, Asset> Load()
    {
        Assembly assembly = typeof(WebApp).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] content = copy.ToArray();
            string path = name[ResourcePrefix.Length..].Replace('\\', '/');
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 12)) + "\"";
            assets[path] = new Asset(content, ContentTypeOf(path), etag);
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentTypeOf(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Content, string ContentType, string ETag);
}
