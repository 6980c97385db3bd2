using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Service;
using Capture.Bindings;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Endpoints;

/// <summary>
/// GET /api/events: Server-Sent Events of the directory (login established/cancelled with host and guest, device
/// registered/unregistered/moved/disposed, lines changed, conflicts), of calls (started, paused, resumed, ended,
/// recording written or failed) and of recordings (legal hold placed or released, deleted by retention). Event names
/// are dotted (<c>login.established</c>, <c>call.started</c>); data is one JSON object.
/// </summary>
internal static class EventEndpoints
{
    /// <summary>Sent first, once the stream is subscribed: what happens after it is on the stream.</summary>
    public const string OpenEvent = "stream.open";

    /// <summary>The kernel's send buffer for an event-stream connection (Linux doubles it).</summary>
    private const int SendBufferBytes = 32 * 1024;

    /// <summary>Events a client may fall behind before it is disconnected (a reconnecting EventSource replays with Last-Event-ID).</summary>
    public const int Capacity = 256;

    // Each event is serialised once, whichever clients receive it (not once per client on the capture thread).
    private static readonly ConditionalWeakTable<CallNotice, string> s_callJson = [];
    private static readonly ConditionalWeakTable<DirectoryEvent, string> s_directoryJson = [];

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/events", Events).WithTags("Events")
            .WithSummary("Server-Sent Events (text/event-stream) of directory and call events; types=login,call.ended filters by name or prefix; "
                + "Last-Event-ID replays recent directory events after that id. ?access_token= is accepted here (EventSource cannot send headers).")
            .WithMetadata(new AllowQueryTokenAttribute())
            .Produces(200, contentType: "text/event-stream").ProducesValidationProblem();
    }

    private static IResult Events(HttpContext context, ApplianceRuntime runtime, string? types, CancellationToken ct)
    {
        if (runtime.Directory is not { } directory)
        {
            return DirectoryEndpoints.NotReady();
        }

        string[] filter = types is null ? [] : types.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (filter.Length > 32 || filter.Any(t => t.Length > 64))
        {
            return ApiProblems.Invalid("types", "at most 32 names of at most 64 characters.");
        }

        long? after = long.TryParse(context.Request.Headers["Last-Event-ID"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out long last) ? last : null;
        if (runtime.EventClients.TryEnter() is not { } place)
        {
            context.Response.Headers.RetryAfter = "30";
            return TypedResults.Problem(
                $"{runtime.EventClients.Limit} event-stream clients are connected, the most this appliance serves (MaxEventClients); try again later.",
                statusCode: StatusCodes.Status503ServiceUnavailable, title: "Too many event-stream clients");
        }

        context.Response.RegisterForDispose(place); // the place is freed however the request ends

        // A client that does not read is held to what its buffers take: a small kernel send buffer (not autotuned to
        // megabytes), Kestrel's 64 KB, then Capacity events; past that it is dropped.
        if (context.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
        {
            socket.SendBufferSize = SendBufferBytes;
        }

        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no"; // a reverse proxy must not hold events back
        return TypedResults.ServerSentEvents(Stream(context, runtime, directory, filter, after, ct));
    }

    private static async IAsyncEnumerable<SseItem<string>> Stream(
        HttpContext context, ApplianceRuntime runtime, BindingDirectory directory, string[] filter, long? after, [EnumeratorCancellation] CancellationToken ct)
    {
        // One queue per client; the capture never waits for a client. One that falls Capacity events behind (slow, or
        // not reading at all while Kestrel's buffers are full) is disconnected and counted, which frees its buffers.
        Channel<SseItem<string>> queue = Channel.CreateBounded<SseItem<string>>(new BoundedChannelOptions(Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: that client is dropped
            SingleReader = true,
        });
        void Enqueue(SseItem<string> item)
        {
            if (!queue.Writer.TryWrite(item) && queue.Writer.TryComplete())
            {
                runtime.EventClients.CountDropped();
                context.Abort();
            }
        }

        void OnCall(CallNotice notice)
        {
            string name = notice.Kind;
            if (Wanted(filter, name))
            {
                Enqueue(new SseItem<string>(s_callJson.GetValue(notice, n => JsonSerializer.Serialize(ToView(n), ApiJsonContext.Default.CallEventView)), name));
            }
        }

        ChannelReader<DirectoryEvent> events = directory.Subscribe(Capacity);

        // Last-Event-ID: the recent events after it, taken once subscribed, so that none falls between the two. They are
        // yielded directly (paced by the client, not counted against its queue); the pump skips what they cover.
        DirectoryEvent[] backlog = after is { } last ? [.. directory.RecentEvents().Where(e => e.Seq > last)] : [];
        long replayed = backlog.Length > 0 ? backlog[^1].Seq : long.MinValue;
        runtime.CallNotice += OnCall;
        Task pump = Task.Run(async () =>
        {
            await foreach (DirectoryEvent e in events.ReadAllAsync(CancellationToken.None))
            {
                if (e.Seq > replayed && ItemOf(e) is { } item)
                {
                    Enqueue(item);
                }
            }
        }, CancellationToken.None);

        SseItem<string>? ItemOf(DirectoryEvent e)
        {
            string name = NameOf(e.Kind);
            return Wanted(filter, name)
                ? new SseItem<string>(s_directoryJson.GetValue(e, d => JsonSerializer.Serialize(d, ApiJsonContext.Default.DirectoryEvent)), name)
                {
                    EventId = e.Seq.ToString(CultureInfo.InvariantCulture),
                }
                : null;
        }

        try
        {
            yield return new SseItem<string>($"{{\"at\":\"{DateTimeOffset.UtcNow:O}\"}}", OpenEvent);
            foreach (DirectoryEvent e in backlog)
            {
                if (ItemOf(e) is { } item)
                {
                    yield return item;
                }
            }

            while (await queue.Reader.WaitToReadAsync(ct))
            {
                while (queue.Reader.TryRead(out SseItem<string> item))
                {
                    yield return item;
                }
            }
        }
        finally
        {
            runtime.CallNotice -= OnCall;
            directory.Unsubscribe(events); // ends the pump
            await pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

            // Gone with events still waiting for it: Kestrel aborted it for reading too slowly (MinResponseDataRate)
            // before its queue filled. A slow client too; unless we dropped it already (then the queue is completed).
            if (queue.Reader.Count > 0 && queue.Writer.TryComplete())
            {
                runtime.EventClients.CountDropped();
            }
        }
    }

    /// <summary><see cref="DirectoryEventKind.LoginEstablished"/> is <c>login.established</c>.</summary>
    public static string NameOf(DirectoryEventKind kind) => JsonNamingPolicy.KebabCaseLower.ConvertName(kind.ToString()).Replace('-', '.');

    private static bool Wanted(string[] filter, string name)
    {
        if (filter.Length == 0)
        {
            return true;
        }

        foreach (string f in filter)
        {
            if (name == f || (name.StartsWith(f, StringComparison.Ordinal) && name.Length > f.Length && name[f.Length] == '.'))
            {
                return true;
            }
        }

        return false;
    }

    private static CallEventView ToView(CallNotice n) => new(
        n.Kind, n.RecordingId, n.At, n.Metadata is null ? null : CallView.From(n.RecordingId, n.Metadata), n.Reason,
        n.Sidecar is null ? null : RecordingSummary.From(n.Sidecar)) { By = n.By };
}
