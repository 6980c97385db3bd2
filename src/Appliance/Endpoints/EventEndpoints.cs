using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Service;
using Capture.Bindings;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Endpoints;

/// <summary>
/// GET /api/events: Server-Sent Events of the directory (login established/cancelled with host and guest, device
/// registered/unregistered/moved/disposed, lines changed, conflicts) and of calls (started, ended, recording written
/// or failed). Event names are dotted (<c>login.established</c>, <c>call.started</c>); data is one JSON object.
/// </summary>
internal static class EventEndpoints
{
    /// <summary>Sent first, once the stream is subscribed: what happens after it is on the stream.</summary>
    public const string OpenEvent = "stream.open";

    private const int Capacity = 1024;

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
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no"; // a reverse proxy must not hold events back
        return TypedResults.ServerSentEvents(Stream(runtime, directory, filter, after, ct));
    }

    private static async IAsyncEnumerable<SseItem<string>> Stream(
        ApplianceRuntime runtime, BindingDirectory directory, string[] filter, long? after, [EnumeratorCancellation] CancellationToken ct)
    {
        // One queue per client; a client that does not keep up loses the oldest events, never stalls the capture.
        Channel<SseItem<string>> queue = Channel.CreateBounded<SseItem<string>>(new BoundedChannelOptions(Capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        void OnCall(CallNotice notice)
        {
            string name = notice.Kind;
            if (Wanted(filter, name))
            {
                queue.Writer.TryWrite(new SseItem<string>(JsonSerializer.Serialize(ToView(notice), ApiJsonContext.Default.CallEventView), name));
            }
        }

        ChannelReader<DirectoryEvent> events = directory.Subscribe(Capacity);
        runtime.CallNotice += OnCall;
        Task pump = Task.Run(async () =>
        {
            long replayed = long.MinValue;
            if (after is { } last)
            {
                foreach (DirectoryEvent e in directory.RecentEvents())
                {
                    if (e.Seq > last)
                    {
                        Write(e);
                        replayed = e.Seq;
                    }
                }
            }

            await foreach (DirectoryEvent e in events.ReadAllAsync(CancellationToken.None))
            {
                if (e.Seq > replayed)
                {
                    Write(e);
                }
            }
        }, CancellationToken.None);

        void Write(DirectoryEvent e)
        {
            string name = NameOf(e.Kind);
            if (Wanted(filter, name))
            {
                queue.Writer.TryWrite(new SseItem<string>(JsonSerializer.Serialize(e, ApiJsonContext.Default.DirectoryEvent), name)
                {
                    EventId = e.Seq.ToString(CultureInfo.InvariantCulture),
                });
            }
        }

        try
        {
            yield return new SseItem<string>($"{{\"at\":\"{DateTimeOffset.UtcNow:O}\"}}", OpenEvent);
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
        n.Sidecar is null ? null : RecordingSummary.From(n.Sidecar));
}
