using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Appliance.Tests.Api;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests.Web;

/// <summary>
/// The Live page while SIPp places a real call on the live rig (tests/live/netns.sh, as <see cref="Service.EndToEndServiceTests"/>):
/// `appliance run` captures the bridge and a supervisor signed in to the web app sees the call appear from the event
/// stream, with its parties and a pause button, and leave when it ends. Needs root, sipp, ip and chromium (CI runs as
/// root); otherwise it says why and returns. Shares the rig's namespaces with the other live tests (collection "live").
/// </summary>
[Collection("live")]
public sealed class LiveBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task LivePage_ShowsTheCallWhileSippPlaysIt_WithAPauseButtonForASupervisor_AndDropsItWhenItEnds()
    {
        if (SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        string netns = LiveRig.Script;
        string dir = Path.Combine(Path.GetTempPath(), "appl-web-live-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        (int up, string upLog) = Repo.Run("bash", [netns, "up"], TimeSpan.FromSeconds(60));
        Assert.True(up == 0, "netns rig: " + upLog);
        ServiceProcess? service = null;
        Process? sipp = null;
        try
        {
            service = ServiceProcess.Start(new Dictionary<string, string?>(),
                "--interface", LiveRig.Bridge, "--recordings", Path.Combine(dir, "rec"), "--state", Path.Combine(dir, "state"), "--workers", "1");
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

            Assert.True(sipp.WaitForExit(TimeSpan.FromSeconds(60)), "SIPp did not finish");
            Assert.True(sipp.ExitCode == 0, "SIPp failed: " + File.ReadAllText(Directory.GetFiles(Path.Combine(dir, "sipp")).FirstOrDefault() ?? "/dev/null"));
            await browser.WaitAsync("document.querySelector('tr[data-id]') === null");
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

    private static string? SkipReason()
    {
        if (BrowserSession.Unavailable() is { } noBrowser)
        {
            return noBrowser;
        }

        if (!Repo.IsRoot)
        {
            return "the live test needs root (network namespaces, raw capture, SIPp's raw socket); CI runs as root.";
        }

        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        string[] missing = [.. new[] { "sipp", "ip" }.Where(t => !path.Any(p => File.Exists(Path.Combine(p, t))))];
        return missing.Length == 0 ? null : $"missing tool(s) for the live test: {string.Join(", ", missing)}";
    }
}
