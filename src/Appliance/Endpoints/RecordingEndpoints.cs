using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Recordings;
using Appliance.Service;
using Capture.Recording;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Endpoints;

/// <summary>Calls in progress and the recordings catalog for quality staff: search, sidecar, audio with range requests.</summary>
internal static class RecordingEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        RouteGroupBuilder calls = api.MapGroup("/calls").WithTags("Calls");
        calls.MapGet("", ActiveCalls).WithSummary("Calls in progress, oldest first.").Produces<IReadOnlyList<CallView>>();
        calls.MapGet("/{id}", ActiveCall).WithSummary("One call in progress, by its recording id.").Produces<CallView>().ProducesProblem(404);

        RouteGroupBuilder recordings = api.MapGroup("/recordings").WithTags("Recordings");
        recordings.MapGet("", Search)
            .WithSummary("Recordings started in [from, to), newest first (or sorted by duration), filtered by extension (any party), user, device (or host device), call id, direction and duration; paged by the after cursor.")
            .Produces<RecordingList>().ProducesValidationProblem();
        recordings.MapGet("/{id}", Sidecar).WithSummary("A recording's metadata: its JSON sidecar, with legalHold.")
            .Produces<CallSidecar>().ProducesValidationProblem().ProducesProblem(404);
        recordings.MapPut("/{id}/hold", (string id, RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context) => Hold(id, true, catalog, runtime, context))
            .WithSummary("Puts the recording under legal hold: retention never deletes it (the hold survives a rebuild of the index). Idempotent. In an estate, a recording another appliance holds is held there.")
            .Produces<RecordingSummary>().ProducesValidationProblem().ProducesProblem(404);
        recordings.MapDelete("/{id}/hold", (string id, RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context) => Hold(id, false, catalog, runtime, context))
            .WithSummary("Releases the recording's legal hold. Idempotent. In an estate, at the appliance holding the recording.")
            .Produces<RecordingSummary>().ProducesValidationProblem().ProducesProblem(404);
        recordings.MapGet("/{id}/audio", Audio)
            .WithSummary("The recording (stereo Ogg Opus, audio/ogg) with range requests, so a browser's audio element plays and seeks it; ?access_token= is accepted here.")
            .WithMetadata(new AllowQueryTokenAttribute())
            .Produces(200, contentType: "audio/ogg").Produces(206, contentType: "audio/ogg").ProducesValidationProblem().ProducesProblem(404).ProducesProblem(416);
    }

    private static IResult ActiveCalls(ApplianceRuntime runtime) =>
        TypedResults.Ok<IReadOnlyList<CallView>>([.. runtime.ActiveCalls.OrderBy(c => c.StartedAt).Select(CallView.From)]);

    private static IResult ActiveCall(string id, ApplianceRuntime runtime)
    {
        if (!ApiArgs.RecordingId(id, out Guid guid, out IResult? problem))
        {
            return problem;
        }

        return runtime.TryGetActiveCall(guid.ToString("D"), out ActiveCall? call) && call is not null
            ? TypedResults.Ok(CallView.From(call))
            : ApiProblems.NotFound($"No call in progress with id '{guid:D}'.");
    }

    private static async Task<IResult> Search(
        RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context, string? scope, string? from, string? to, string? extension, string? user, string? device, string? callId,
        string? direction, string? minDuration, string? maxDuration, string? legalHold, string? sort, string? order, string? after, int? limit)
    {
        if (!ApiArgs.Time("from", from, out DateTimeOffset? since, out IResult? problem) || !ApiArgs.Time("to", to, out DateTimeOffset? until, out problem)
            || !ApiArgs.Text("extension", extension, out problem) || !ApiArgs.Text("user", user, out problem)
            || !ApiArgs.Text("device", device, out problem) || !ApiArgs.Text("callId", callId, out problem)
            || !ApiArgs.Word("direction", direction, DirectionNames, out RecordingDirection? towards, out problem)
            || !ApiArgs.Seconds("minDuration", minDuration, out double? shortest, out problem)
            || !ApiArgs.Seconds("maxDuration", maxDuration, out double? longest, out problem)
            || !ApiArgs.Word("legalHold", legalHold, BoolNames, out bool? held, out problem)
            || !ApiArgs.Word("sort", sort, SortNames, out RecordingSort? sortBy, out problem)
            || !ApiArgs.Word("order", order, OrderNames, out bool? ascending, out problem)
            || !ApiArgs.Word("scope", scope, ScopeNames, out bool? estate, out problem)
            || !ApiArgs.Limit(limit, 100, 1000, out int take, out problem))
        {
            return problem!;
        }

        if (since > until)
        {
            return ApiProblems.Invalid("from", "is after to.");
        }

        if (shortest > longest)
        {
            return ApiProblems.Invalid("minDuration", "is more than maxDuration.");
        }

        RecordingSort by = sortBy ?? RecordingSort.StartedAt;
        RecordingCursor? cursor = null;
        if (after is not null)
        {
            if (!RecordingCursor.TryParse(after, out RecordingCursor parsed))
            {
                return ApiProblems.Invalid("after", "is not a page cursor (the next of a previous page).");
            }

            if (parsed.Sort != by)
            {
                return ApiProblems.Invalid("after", "is the cursor of a search sorted by another field.");
            }

            cursor = parsed;
        }

        await catalog.CaughtUpAsync(RecordingCatalog.CatchUpWait); // a recording already announced is found
        var query = new RecordingQuery
        {
            From = since, To = until, Extension = extension, User = user, Device = device, CallId = callId,
            Direction = towards, MinDuration = shortest, MaxDuration = longest, LegalHold = held,
            Sort = by, Ascending = ascending ?? false, After = cursor, Limit = take,
        };
        if (runtime.Central is not { } central)
        {
            RecordingPage page = catalog.Search(query);
            return TypedResults.Ok(new RecordingList(page.Items, page.Items.Count, catalog.Indexing, page.Next?.ToString()));
        }

        // Several appliances (README "Cluster"): the estate's central index unless scope=local. Its cursors are its own
        // row numbers: a cursor is only good for the scope that made it.
        if (estate != false)
        {
            try
            {
                RecordingPage page = await central.SearchAsync(query, context.RequestAborted);
                return TypedResults.Ok(new RecordingList(page.Items, page.Items.Count, catalog.Indexing, page.Next?.ToString()) { Scope = "estate" });
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                if (estate == true)
                {
                    return TypedResults.Problem($"The central index cannot be searched now: {ex.Message}", statusCode: StatusCodes.Status503ServiceUnavailable,
                        title: "Central index unreachable");
                }

                // PostgreSQL unreachable: this appliance's own recordings, and the answer says so
            }
        }

        RecordingPage own = catalog.Search(query);
        List<RecordingSummary> items = [.. own.Items.Select(s => s with { Appliance = central.Name, Site = central.Site })];
        return TypedResults.Ok(new RecordingList(items, items.Count, catalog.Indexing, own.Next?.ToString()) { Scope = "local" });
    }

    private static readonly Dictionary<string, bool> ScopeNames = new(StringComparer.Ordinal) { ["estate"] = true, ["local"] = false };

    private static readonly Dictionary<string, RecordingDirection> DirectionNames = new(StringComparer.Ordinal)
    {
        ["internal"] = RecordingDirection.Internal, ["external"] = RecordingDirection.External, ["unknown"] = RecordingDirection.Unknown,
    };

    private static readonly Dictionary<string, RecordingSort> SortNames = new(StringComparer.Ordinal)
    {
        ["startedAt"] = RecordingSort.StartedAt, ["duration"] = RecordingSort.Duration,
    };

    private static readonly Dictionary<string, bool> BoolNames = new(StringComparer.Ordinal) { ["true"] = true, ["false"] = false };

    private static readonly Dictionary<string, bool> OrderNames = new(StringComparer.Ordinal) { ["asc"] = true, ["desc"] = false };

    private static async Task<IResult> Sidecar(string id, RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context)
    {
        if (!ApiArgs.RecordingId(id, out Guid guid, out IResult? problem))
        {
            return problem;
        }

        await catalog.CaughtUpAsync(RecordingCatalog.CatchUpWait);

        // Held by another appliance of the estate (README "Cluster"): fetched from it.
        return runtime.Central is { } central && !catalog.TryGet(guid, out _)
            ? await Appliance.Cluster.CentralEndpoints.ProxyAsync(central, guid, audio: false, context)
            : LocalSidecar(guid, catalog, runtime);
    }

    /// <summary>The sidecar of a recording this appliance holds (with legalHold; in an estate, this appliance and site), else 404.</summary>
    internal static IResult LocalSidecar(Guid guid, RecordingCatalog catalog, ApplianceRuntime runtime)
    {
        if (!catalog.TryGet(guid, out RecordingCatalog.Entry? entry) || ReadSidecar(entry!.SidecarPath) is not { } sidecar)
        {
            return ApiProblems.NotFound($"No recording '{guid:D}'.");
        }

        // The hold is the appliance's, not the recorder's: added to the sidecar as it is answered, never written into it.
        sidecar["legalHold"] = entry.Summary.LegalHold;
        if (runtime.Central is { } central)
        {
            // Who holds it (and its hold), as the estate's search says: the web app names the holder on the Call page.
            sidecar["appliance"] = central.Name;
            sidecar["site"] = central.Site;
        }

        return TypedResults.Json(sidecar, ApiJsonContext.Default.JsonObject);
    }

    private static JsonObject? ReadSidecar(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null; // deleted by retention meanwhile, or damaged: as if not there
        }
    }

    private static async Task<IResult> Hold(string id, bool held, RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context)
    {
        if (!ApiArgs.RecordingId(id, out Guid guid, out IResult? problem))
        {
            return problem;
        }

        await catalog.CaughtUpAsync(RecordingCatalog.CatchUpWait);

        // Held by another appliance of the estate (README "Cluster"): the hold is placed there, beside its files.
        return runtime.Central is { } central && !catalog.TryGet(guid, out _)
            ? await Appliance.Cluster.CentralEndpoints.ForwardHoldAsync(central, guid, held, context)
            : LocalHold(guid, held, context.User.Identity?.Name ?? "", catalog, runtime);
    }

    /// <summary>A legal hold placed (or released) on a recording this appliance holds, by <paramref name="by"/>; else 404.</summary>
    internal static async Task<IResult> LocalHoldAsync(string id, bool held, string by, RecordingCatalog catalog, ApplianceRuntime runtime)
    {
        if (!ApiArgs.RecordingId(id, out Guid guid, out IResult? problem))
        {
            return problem;
        }

        await catalog.CaughtUpAsync(RecordingCatalog.CatchUpWait);
        return LocalHold(guid, held, by, catalog, runtime);
    }

    // The summary answered names this appliance in an estate, as its search items do: who holds the recording (and the hold).
    private static IResult LocalHold(Guid guid, bool held, string by, RecordingCatalog catalog, ApplianceRuntime runtime) =>
        catalog.SetHold(guid, held, by) && catalog.TryGet(guid, out RecordingCatalog.Entry? entry)
            ? TypedResults.Ok(runtime.Central is { } central ? entry!.Summary with { Appliance = central.Name, Site = central.Site } : entry!.Summary)
            : ApiProblems.NotFound($"No recording '{guid:D}'.");

    private static async Task<IResult> Audio(string id, RecordingCatalog catalog, ApplianceRuntime runtime, HttpContext context)
    {
        if (!ApiArgs.RecordingId(id, out Guid guid, out IResult? problem))
        {
            return problem;
        }

        await catalog.CaughtUpAsync(RecordingCatalog.CatchUpWait);

        return runtime.Central is { } central && !catalog.TryGet(guid, out _)
            ? await Appliance.Cluster.CentralEndpoints.ProxyAsync(central, guid, audio: true, context)
            : LocalAudio(guid, catalog, context);
    }

    /// <summary>The audio of a recording this appliance holds, with range requests, else 404.</summary>
    internal static IResult LocalAudio(Guid guid, RecordingCatalog catalog, HttpContext context)
    {
        if (!catalog.TryGet(guid, out RecordingCatalog.Entry? entry))
        {
            return ApiProblems.NotFound($"No recording '{guid:D}'.");
        }

        if (!entry!.Summary.HasAudio || !File.Exists(entry.AudioPath))
        {
            return ApiProblems.NotFound($"Recording '{guid:D}' has no audio (end reason: {entry.Summary.EndReason}).");
        }

        var info = new FileInfo(entry.AudioPath);
        if (context.Request.GetTypedHeaders().Range is { } asked && !string.Equals(asked.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 9110 14.2: a range unit the server does not know is ignored (the file result would read "items=0-5" as bytes).
            context.Request.Headers.Remove("Range");
        }

        if (context.Request.Headers.IfRange.Count > 0 && !IfRangeHolds(context.Request, info.LastWriteTimeUtc))
        {
            // RFC 9110 13.1.5: an If-Range that is not the file's Last-Modified (no ETag is sent, so an entity tag never
            // matches; garbage is false too) means the whole file. The file result would honour the range for some.
            context.Request.Headers.Remove("Range");
        }

        if (Unsatisfiable(context.Request, info.Length))
        {
            // The file result would answer an empty 416; this one says why, as every error here does.
            context.Response.Headers.ContentRange = $"bytes */{info.Length}";
            return TypedResults.Problem($"The range '{context.Request.Headers.Range}' is outside the recording's {info.Length} bytes.",
                statusCode: StatusCodes.Status416RangeNotSatisfiable, title: "Range not satisfiable");
        }

        return TypedResults.PhysicalFile(entry.AudioPath, "audio/ogg", fileDownloadName: null, lastModified: info.LastWriteTimeUtc, enableRangeProcessing: true);
    }

    private static bool IfRangeHolds(HttpRequest request, DateTime lastModifiedUtc) =>
        request.Headers.IfRange.Count == 1
        && DateTimeOffset.TryParseExact(request.Headers.IfRange.ToString(), "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date)
        && date.UtcDateTime == lastModifiedUtc.AddTicks(-(lastModifiedUtc.Ticks % TimeSpan.TicksPerSecond));

    // RFC 9110 14.1.1: a byte range is satisfiable when its first byte is inside the file, or it is a non-empty suffix.
    // Range headers the file result would ignore (malformed, several ranges) are left to it.
    private static bool Unsatisfiable(HttpRequest request, long length)
    {
        if (request.GetTypedHeaders().Range is not { } range
            || !string.Equals(range.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase) || range.Ranges.Count == 0)
        {
            return false;
        }

        return range.Ranges.All(r => r.From is { } from ? from >= length : r.To is not > 0);
    }
}
