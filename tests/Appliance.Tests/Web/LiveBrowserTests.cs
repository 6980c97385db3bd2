using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Tests.Api;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests.Web;

/// <summary>
/// The Live page while SIPp places a real call on the live rig (tests/live/netns.sh, as <see cref="Service.EndToEndServiceTests"/>):
/// `appliance run` captures the bridge and a supervisor signed in to the web app sees the call appear from the event
/// stream, with its parties and a pause button, pauses it (the page says paused, by whom, since when and for how long),
/// resumes it, and sees it leave when it ends; the recording is then silent in both channels over the paused span with sound around it, and the
/// sidecar and the audit log name the supervisor's token. Needs root, sipp, ip, opusdec and chromium (CI runs as root);
/// otherwise it says why and returns. Shares the rig's namespaces with the other live tests (collection "live").
/// </summary>
[Collection("live")]
public sealed class LiveBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task LivePage_ShowsTheCallWhileSippPlaysIt_ASupervisorPausesAndResumesIt_TheFileIsSilentThere_AndTheCallLeavesWhenItEnds()
    {
        if (SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        string netns = LiveRig.Script;
        string dir = Path.Combine(Path.GetTempPath(), "appl-web-live-" + Guid.NewGuid().ToString("N"));
        string rec = Path.Combine(dir, "rec");
        Directory.CreateDirectory(dir);
        (int up, string upLog) = Repo.Run("bash", [netns, "up"], TimeSpan.FromSeconds(60));
        Assert.True(up == 0, "netns rig: " + upLog);
        ServiceProcess? service = null;
        Process? sipp = null;
        try
        {
            service = ServiceProcess.Start(new Dictionary<string, string?>(),
                "--interface", LiveRig.Bridge, "--recordings", rec, "--state", Path.Combine(dir, "state"), "--workers", "1");
            Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "/readyz never 200: " + service.Log);
            var app = new Uri($"http://127.0.0.1:{service.Port}/");
            using var admin = new HttpClient { BaseAddress = app, Timeout = TimeSpan.FromSeconds(30) };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceProcess.Token);
            string supervisor = await RoleApiTests.CreateTokenAsync(admin, "live-supervisor", "supervisor");

            await using BrowserSession browser = await BrowserSession.OpenAsync(app);
            await browser.SignInAsync(supervisor);
            await browser.GoAsync("#/live", "section[aria-label='Calls in progress'] table");
            await browser.WaitAsync("document.querySelector('main [role=status]').textContent.includes('Updating live')");

            // 2001 registers and calls 2002 for about 8.5 s (netns.sh call).
            sipp = Process.Start(new ProcessStartInfo("bash", [netns, "call", Path.Combine(dir, "sipp")]) { WorkingDirectory = Repo.Root })!;
            await browser.WaitAsync("[...document.querySelectorAll('tr[data-id]')].some(r => r.children[1].textContent.includes('2001') && r.children[2].textContent.includes('2002'))");
            string button = await browser.EvalAsync<string>("document.querySelector('tr[data-id] button').textContent");
            Assert.Equal("Pause recording", button);
            await browser.ScreenshotAsync("live");

            using JsonDocument calls = JsonDocument.Parse(await admin.GetStringAsync("/api/calls"));
            string id = Assert.Single(calls.RootElement.EnumerateArray()).GetProperty("id").GetString()!;
            Assert.Equal(id, await browser.EvalAsync<string>("document.querySelector('tr[data-id]').dataset.id"));

            // About a second of media both ways (50 packets a second each way), then the supervisor pauses from the page.
            service.WaitForMetrics(d => d.Sum("appliance_rtp_packets_total") >= 100, TimeSpan.FromSeconds(10));
            await browser.ClickAsync("tr[data-id] button");
            await browser.WaitAsync("document.querySelector('tr[data-id]')?.dataset.paused === 'true'");

            // "paused by live-supervisor since HH:MM:SS (N s)": the call's pausedAt in the browser's time zone, and the
            // seconds since, kept counting.
            string pausedAt;
            using (JsonDocument paused = JsonDocument.Parse(await admin.GetStringAsync($"/api/calls/{id}")))
            {
                pausedAt = paused.RootElement.GetProperty("pausedAt").GetString()!;
            }

            int zoneMinutes = await browser.EvalAsync<int>($"new Date('{pausedAt}').getTimezoneOffset()");
            string since = DateTimeOffset.Parse(pausedAt, CultureInfo.InvariantCulture).ToOffset(TimeSpan.FromMinutes(-zoneMinutes)).ToString("HH:mm:ss", CultureInfo.InvariantCulture);
            string badge = await browser.EvalAsync<string>("document.querySelector('tr[data-id] .badge').textContent");
            Match shown = Regex.Match(badge, $@"^paused by live-supervisor since {since} \((\d+) s\)$");
            Assert.True(shown.Success, $"'{badge}', expected since {since}");
            int lasted = int.Parse(shown.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(lasted, 0, 10);
            Assert.Equal("Resume recording", await browser.EvalAsync<string>("document.querySelector('tr[data-id] button').textContent"));
            await browser.ScreenshotAsync("live-paused");
            await Task.Delay(1500);
            await browser.WaitAsync($"Number(/\\((\\d+) s\\)$/.exec(document.querySelector('tr[data-id] .badge').textContent)[1]) > {lasted}");
            await browser.ClickAsync("tr[data-id] button");
            await browser.WaitAsync("document.querySelector('tr[data-id]')?.dataset.paused === 'false'");
            Assert.Equal("Pause recording", await browser.EvalAsync<string>("document.querySelector('tr[data-id] button').textContent"));

            Assert.True(sipp.WaitForExit(TimeSpan.FromSeconds(60)), "SIPp did not finish");
            Assert.True(sipp.ExitCode == 0, "SIPp failed: " + File.ReadAllText(Directory.GetFiles(Path.Combine(dir, "sipp")).FirstOrDefault() ?? "/dev/null"));
            await browser.WaitAsync("document.querySelector('tr[data-id]') === null");

            // The recording: one pause, ended by the same supervisor, silent in both channels there and heard around it.
            string sidecarJson = await WaitForRecording(admin, id);
            CallSidecar sidecar = CallSidecar.Deserialize(sidecarJson)!;
            CallEventSidecar pause = Assert.Single(sidecar.Events, e => e.Type == CallEventTypes.Pause);
            CallEventSidecar end = Assert.Single(sidecar.Events, e => e.Type == CallEventTypes.PauseEnd);
            Assert.Equal("live-supervisor", pause.By);
            Assert.Equal("live-supervisor", end.By);
            Assert.InRange(sidecar.PausedSeconds, 1.5, 6); // 1.5 s, plus the clicks and the screenshot on a loaded machine
            DecodedAudio audio = DecodedAudio.Decode(Path.Combine(rec, sidecar.File!));
            double from = pause.OffsetSeconds!.Value, to = end.OffsetSeconds!.Value;
            PausedAudio.AssertSilentOnlyWithin(audio, from, to, output);
            double[] caller = PausedAudio.CallerAround(audio, [(from, to)], output);
            Assert.True(caller.Any(r => r > PausedAudio.Heard), $"the caller's speech outside the pause: rms {PausedAudio.Format(caller)}");

            // The audit log: the page's two requests, by the supervisor's name.
            using JsonDocument audit = JsonDocument.Parse(await admin.GetStringAsync("/api/audit?limit=1000"));
            string[] audited = [.. audit.RootElement.GetProperty("items").EnumerateArray()
                .Where(e => e.GetProperty("action").GetString() is "pause" or "resume")
                .Select(e => $"{e.GetProperty("token").GetString()} {e.GetProperty("action").GetString()} {e.GetProperty("target").GetString()} {e.GetProperty("status").GetInt32()}")];
            Assert.Equal([$"live-supervisor pause recording:{id} 200", $"live-supervisor resume recording:{id} 200"], audited);
        }
        finally
        {
            if (sipp is { HasExited: false })
            {
                sipp.Kill(entireProcessTree: true);
            }

            sipp?.Dispose();
            service?.Dispose();
            Repo.Run("bash", [netns, "down"], TimeSpan.FromSeconds(60));
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The recording's sidecar once GET /api/recordings/{id} has it (the call is finalised after its BYE).</summary>
    private static async Task<string> WaitForRecording(HttpClient admin, string id)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            using HttpResponseMessage response = await admin.GetAsync(new Uri($"/api/recordings/{id}", UriKind.Relative));
            if (response.IsSuccessStatusCode)
            {
                return await response.Content.ReadAsStringAsync();
            }

            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"no recording {id} within 15 s: {(int)response.StatusCode}");
            await Task.Delay(100);
        }
    }

    private static string? SkipReason()
    {
        if (BrowserLauncher.Unavailable(WebBrowser.Chromium) is { } noBrowser)
        {
            return noBrowser;
        }

        return LiveRig.SkipReason("the live test");
    }
}
