using Appliance.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Endpoints;

/// <summary>
/// Pause and resume of recordings in progress (PCI DSS: a card number is read): a call by its recording id, or the calls
/// where an extension is a party, or the calls of a user (an agent desktop pausing "my current call"). Idempotent: a
/// paused call paused again answers its unchanged state. The pause takes effect on the capture thread at its clock's
/// time; the answer is given once it has (the call's view shows <c>paused</c>, <c>pausedBy</c>, <c>pausedAt</c>).
/// </summary>
internal static class PauseEndpoints
{
    // How long an answer waits for the capture thread, which applies a request with its next frame (a call in progress
    // sends one every 20 ms) or read timeout.
    private static readonly TimeSpan s_applyTimeout = TimeSpan.FromSeconds(2);

    public static void Map(RouteGroupBuilder api)
    {
        RouteGroupBuilder calls = api.MapGroup("/calls").WithTags("Calls");
        calls.MapPost("/{id}/pause", (string id, HttpContext context, ApplianceRuntime runtime) => ById(id, pause: true, context, runtime))
            .WithSummary("Pauses the recording of a call in progress: both channels are silence (the audio is not written) until resumed or the call ends.")
            .Produces<CallView>().ProducesValidationProblem().ProducesProblem(404);
        calls.MapPost("/{id}/resume", (string id, HttpContext context, ApplianceRuntime runtime) => ById(id, pause: false, context, runtime))
            .WithSummary("Resumes the recording of a paused call in progress.")
            .Produces<CallView>().ProducesValidationProblem().ProducesProblem(404);

        RouteGroupBuilder extensions = api.MapGroup("/extensions").WithTags("Calls");
        extensions.MapPost("/{extension}/pause", (string extension, HttpContext context, ApplianceRuntime runtime) => ByExtension(extension, pause: true, context, runtime))
            .WithSummary("Pauses the recordings of the calls in progress where this extension is a party.")
            .Produces<IReadOnlyList<CallView>>().ProducesValidationProblem().ProducesProblem(404);
        extensions.MapPost("/{extension}/resume", (string extension, HttpContext context, ApplianceRuntime runtime) => ByExtension(extension, pause: false, context, runtime))
            .WithSummary("Resumes the recordings of the calls in progress where this extension is a party.")
            .Produces<IReadOnlyList<CallView>>().ProducesValidationProblem().ProducesProblem(404);

        RouteGroupBuilder users = api.MapGroup("/users").WithTags("Calls");
        users.MapPost("/{id}/pause", (string id, HttpContext context, ApplianceRuntime runtime) => ByUser(id, pause: true, context, runtime))
            .WithSummary("Pauses the recordings of the calls in progress of this user (a party's user).")
            .Produces<IReadOnlyList<CallView>>().ProducesValidationProblem().ProducesProblem(404);
        users.MapPost("/{id}/resume", (string id, HttpContext context, ApplianceRuntime runtime) => ByUser(id, pause: false, context, runtime))
            .WithSummary("Resumes the recordings of the calls in progress of this user.")
            .Produces<IReadOnlyList<CallView>>().ProducesValidationProblem().ProducesProblem(404);
    }

    private static async Task<IResult> ById(string id, bool pause, HttpContext context, ApplianceRuntime runtime)
    {
        if (!ApiArgs.RecordingId(id, out Guid guid, out IResult? problem))
        {
            return problem;
        }

        string recordingId = guid.ToString("D");
        if (!runtime.TryGetActiveCall(recordingId, out _) || !await runtime.RequestPause(recordingId, pause, Who(context), s_applyTimeout))
        {
            return ApiProblems.NotFound($"No call in progress with id '{recordingId}'.");
        }

        return runtime.TryGetActiveCall(recordingId, out ActiveCall? call) && call is not null
            ? TypedResults.Ok(CallView.From(call))
            : ApiProblems.NotFound($"The call '{recordingId}' ended.");
    }

    private static Task<IResult> ByExtension(string extension, bool pause, HttpContext context, ApplianceRuntime runtime) =>
        ApiArgs.Id("extension", extension, out IResult? problem)
            ? Many(runtime, pause, Who(context), c => c.Metadata.Left.Extension == extension || c.Metadata.Right.Extension == extension, $"extension '{extension}' is a party")
            : Task.FromResult(problem!);

    private static Task<IResult> ByUser(string id, bool pause, HttpContext context, ApplianceRuntime runtime) =>
        ApiArgs.Id("id", id, out IResult? problem)
            ? Many(runtime, pause, Who(context), c => c.Metadata.Left.User == id || c.Metadata.Right.User == id, $"user '{id}' is a party")
            : Task.FromResult(problem!);

    private static async Task<IResult> Many(ApplianceRuntime runtime, bool pause, string by, Func<ActiveCall, bool> party, string what)
    {
        ActiveCall[] matching = [.. runtime.ActiveCalls.Where(party).OrderBy(c => c.StartedAt)];
        bool[] applied = await Task.WhenAll(matching.Select(c => runtime.RequestPause(c.RecordingId, pause, by, s_applyTimeout)));
        List<CallView> views = [];
        for (int i = 0; i < matching.Length; i++)
        {
            if (applied[i] && runtime.TryGetActiveCall(matching[i].RecordingId, out ActiveCall? call) && call is not null)
            {
                views.Add(CallView.From(call));
            }
        }

        return views.Count > 0
            ? TypedResults.Ok<IReadOnlyList<CallView>>(views)
            : ApiProblems.NotFound($"No call in progress where {what}.");
    }

    /// <summary>The token's (or session's) name: who the sidecar and the audit log say paused.</summary>
    private static string Who(HttpContext context) => context.User.Identity?.Name ?? "unknown";
}
