using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>
/// Pause and resume (PCI DSS) as a supervisor does it: `appliance run` captures the live rig's bridge while SIPp plays a
/// call (2001 speaks to 2002, which answers with a tone); the call is paused through the API by its recording id, resumed,
/// then paused and resumed by extension. Meanwhile GET /api/calls shows it paused and the event stream says so; after it,
/// the file is silent in both channels over each paused span and has voice around them, the sidecar names who and when,
/// the audit log has each request and the metrics count them. Needs root, sipp, ip and opusdec (CI runs as root).
/// </summary>
[Collection("live")]
public sealed class PauseLiveTests(ITestOutputHelper output)
{
    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task PausedByRecordingIdAndByExtension_TheFileIsSilentThere_TheSidecarAuditAndEventsSaySo()
    {
        if (SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        string netns = LiveRig.Script;
        string dir = Path.Combine(Path.GetTempPath(), "appl-pause-" + Guid.NewGuid().ToString("N"));
        string rec = Path.Combine(dir, "rec");
        Directory.CreateDirectory(dir);
        (int up, string upLog) = Repo.Run("bash", [netns, "up"], TimeSpan.FromSeconds(60));
        Assert.True(up == 0, "netns rig: " + upLog);
        ServiceProcess? service = null;
        EndToEndServiceTests.BackgroundCall? call = null;
        using var stopEvents = new CancellationTokenSource();
        Task? events = null;
        var lines = new ConcurrentQueue<string>();
        try
        {
            service = ServiceProcess.Start(new Dictionary<string, string?>(),
                "--interface", LiveRig.Bridge, "--recordings", rec, "--state", Path.Combine(dir, "state"), "--workers", "1");
            Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "/readyz never 200: " + service.Log);

            // The event stream, read from the start (the web app's Live page does the same).
            events = ReadEvents(service.Port, lines, stopEvents.Token);
            await Until(() => lines.Contains("event: stream.open"), TimeSpan.FromSeconds(10), "the event stream opened", service);

            call = EndToEndServiceTests.BackgroundCall.Start(netns, Path.Combine(dir, "call"));
            JsonElement active = await Poll(() => Json(service, "/api/calls").EnumerateArray().SingleOrDefault(c =>
                    c.GetProperty("left").GetProperty("extension").GetString() == "2001" && c.GetProperty("codecs").GetArrayLength() > 0),
                "call 2001 -> 2002 in GET /api/calls", service);
            string id = active.GetProperty("id").GetString()!;
            Assert.False(active.GetProperty("paused").GetBoolean());

            // About a second of media both ways (50 packets a second each way) before the first pause.
            service.WaitForMetrics(d => d.Sum("appliance_rtp_packets_total") >= 100, TimeSpan.FromSeconds(10));

            JsonElement paused = Post(service, $"/api/calls/{id}/pause", HttpStatusCode.OK);
            Assert.True(paused.GetProperty("paused").GetBoolean(), paused.ToString());
            Assert.Equal("admin", paused.GetProperty("pausedBy").GetString());
            Assert.Equal(JsonValueKind.String, paused.GetProperty("pausedAt").ValueKind);
            JsonElement listed = Assert.Single(Json(service, "/api/calls").EnumerateArray(), c => c.GetProperty("id").GetString() == id);
            Assert.True(listed.GetProperty("paused").GetBoolean(), "GET /api/calls shows the call paused: " + listed);
            Assert.Equal(paused.GetProperty("pausedAt").GetString(), Post(service, $"/api/calls/{id}/pause", HttpStatusCode.OK).GetProperty("pausedAt").GetString()); // idempotent
            Assert.Equal(1, service.WaitForMetrics(d => d.Sum("appliance_calls_paused") == 1, TimeSpan.FromSeconds(5)).Sum("appliance_calls_paused"));
            await Task.Delay(1500);
            Assert.False(Post(service, $"/api/calls/{id}/resume", HttpStatusCode.OK).GetProperty("paused").GetBoolean());

            await Task.Delay(1000);
            JsonElement byExtension = Assert.Single(Post(service, "/api/extensions/2001/pause", HttpStatusCode.OK).EnumerateArray());
            Assert.Equal(id, byExtension.GetProperty("id").GetString());
            Assert.True(byExtension.GetProperty("paused").GetBoolean());
            await Task.Delay(1500);
            Assert.False(Assert.Single(Post(service, "/api/extensions/2001/resume", HttpStatusCode.OK).EnumerateArray()).GetProperty("paused").GetBoolean());

            string ended = Guid.NewGuid().ToString("D"); // no such call in progress
            Post(service, $"/api/calls/{ended}/pause", HttpStatusCode.NotFound);
            Post(service, "/api/extensions/2999/pause", HttpStatusCode.NotFound);

            (int code, string log) = call.Wait(TimeSpan.FromSeconds(40));
            Assert.True(code == 0, "SIPp call failed: " + log);
            JsonElement found = await Poll(() => Json(service, "/api/recordings?extension=2001").GetProperty("items").EnumerateArray().SingleOrDefault(r => r.GetProperty("id").GetString() == id),
                "the recording in GET /api/recordings", service);
            Assert.Equal(CallEndReasons.Bye, found.GetProperty("endReason").GetString());

            // The sidecar: two pauses, each ended by whoever resumed it, at the capture times the API answered with.
            CallSidecar sidecar = CallSidecar.Deserialize(service.Get($"/api/recordings/{id}"))!;
            CallEventSidecar[] pauses = [.. sidecar.Events.Where(e => e.Type == CallEventTypes.Pause)];
            CallEventSidecar[] ends = [.. sidecar.Events.Where(e => e.Type == CallEventTypes.PauseEnd)];
            Assert.Equal(2, pauses.Length);
            Assert.Equal(2, ends.Length);
            Assert.All(pauses.Concat(ends), e => Assert.Equal("admin", e.By));
            Assert.Equal(DateTimeOffset.Parse(paused.GetProperty("pausedAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture), pauses[0].At);
            // Each duration and the total are rounded to the millisecond on their own: equal within two roundings.
            Assert.Equal(ends.Sum(e => e.DurationSeconds!.Value), sidecar.PausedSeconds, tolerance: 0.0021);
            Assert.InRange(sidecar.PausedSeconds, 2.5, 6); // 1.5 s twice, plus the requests' time on a loaded machine

            // The file: silent in both channels within each paused span, the caller's speech or the callee's tone around them.
            DecodedAudio audio = DecodedAudio.Decode(Path.Combine(rec, sidecar.File!));
            Assert.InRange(audio.DurationSeconds, sidecar.MediaDurationSeconds - 0.05, sidecar.MediaDurationSeconds + 0.05);
            for (int i = 0; i < 2; i++)
            {
                PausedAudio.AssertSilentOnlyWithin(audio, pauses[i].OffsetSeconds!.Value, ends[i].OffsetSeconds!.Value, output);
            }

            // The caller's speech (SIPp's g711a.pcap: words and gaps) is heard in the spans that were not paused.
            double[] unpaused = PausedAudio.CallerAround(audio, [.. pauses.Zip(ends, (p, e) => (p.OffsetSeconds!.Value, e.OffsetSeconds!.Value))], output);
            Assert.True(unpaused.Count(r => r > PausedAudio.Heard) >= 2, $"the caller's speech around the pauses: rms {PausedAudio.Format(unpaused)}");

            // The audit log: each request, by whom, on what.
            string[] audited = [.. Json(service, "/api/audit?limit=1000").GetProperty("items").EnumerateArray()
                .Where(e => e.GetProperty("action").GetString() is "pause" or "resume")
                .Select(e => $"{e.GetProperty("token").GetString()} {e.GetProperty("action").GetString()} {e.GetProperty("target").GetString()} {e.GetProperty("status").GetInt32()}")];
            Assert.Equal(
            [
                $"admin pause recording:{id} 200",
                $"admin pause recording:{id} 200",
                $"admin resume recording:{id} 200",
                "admin pause extension:2001 200",
                "admin resume extension:2001 200",
                $"admin pause recording:{ended} 404",
                "admin pause extension:2999 404",
            ], audited);

            // The event stream: call.paused twice and call.resumed twice, each naming the call and who.
            await Until(() => lines.Count(l => l == "event: call.resumed") == 2, TimeSpan.FromSeconds(5), "two call.resumed events", service);
            List<JsonElement> pauseEvents = Events(lines, "call.paused");
            Assert.Equal(2, pauseEvents.Count);
            Assert.All(pauseEvents.Concat(Events(lines, "call.resumed")), e =>
            {
                Assert.Equal(id, e.GetProperty("recordingId").GetString());
                Assert.Equal("admin", e.GetProperty("by").GetString());
            });
            Assert.Equal(pauses[0].At, pauseEvents[0].GetProperty("at").GetDateTimeOffset());

            Exposition.Document m = service.WaitForMetrics(d => d.Sum("appliance_calls_paused_seconds_total") > 0, TimeSpan.FromSeconds(5));
            Assert.Equal(2, m.Sum("appliance_calls_pauses_total"));
            Assert.Equal(0, m.Sum("appliance_calls_paused"));
            // The sidecar rounds to the millisecond, the metric adds the exact spans: equal within that rounding.
            Assert.Equal(sidecar.PausedSeconds, m.Sum("appliance_calls_paused_seconds_total"), tolerance: 0.0011);
        }
        finally
        {
            await stopEvents.CancelAsync();
            if (events is not null)
            {
                await events.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            }

            call?.Kill();
            service?.Dispose();
            Repo.Run("bash", [netns, "down"], TimeSpan.FromSeconds(60));
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string? SkipReason() => LiveRig.SkipReason("the live pause test");

    /// <summary>GET /api/events?types=call,stream line by line into <paramref name="lines"/> until cancelled.</summary>
    private static Task ReadEvents(int port, ConcurrentQueue<string> lines, CancellationToken ct) => Task.Run(async () =>
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceProcess.Token);
        await using Stream stream = await http.GetStreamAsync(new Uri($"http://127.0.0.1:{port}/api/events?types=call,stream"), ct);
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            lines.Enqueue(line);
        }
    }, ct);

    /// <summary>The data of each event named <paramref name="name"/>, in order.</summary>
    private static List<JsonElement> Events(ConcurrentQueue<string> lines, string name)
    {
        string[] all = [.. lines];
        List<JsonElement> found = [];
        for (int i = 0; i + 1 < all.Length; i++)
        {
            if (all[i] == "event: " + name && all[i + 1].StartsWith("data: ", StringComparison.Ordinal))
            {
                found.Add(JsonSerializer.Deserialize<JsonElement>(all[i + 1]["data: ".Length..], s_web));
            }
        }

        return found;
    }

    private static JsonElement Post(ServiceProcess service, string path, HttpStatusCode expected)
    {
        using HttpResponseMessage response = service.Send(path, r => r.Method = HttpMethod.Post);
        string body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        Assert.True(response.StatusCode == expected, $"POST {path}: {(int)response.StatusCode} {body}");
        return JsonSerializer.Deserialize<JsonElement>(body, s_web);
    }

    private static JsonElement Json(ServiceProcess service, string path) => JsonSerializer.Deserialize<JsonElement>(service.Get(path), s_web);

    private static async Task<JsonElement> Poll(Func<JsonElement> probe, string what, ServiceProcess service)
    {
        JsonElement found = default;
        await Until(() => (found = probe()).ValueKind != JsonValueKind.Undefined, TimeSpan.FromSeconds(10), what, service);
        return found;
    }

    private static async Task Until(Func<bool> done, TimeSpan timeout, string what, ServiceProcess service)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            if (sw.Elapsed > timeout || service.Process.HasExited)
            {
                throw new TimeoutException($"no {what} within {timeout.TotalSeconds} s: {service.Log}");
            }

            await Task.Delay(100);
        }
    }
}
