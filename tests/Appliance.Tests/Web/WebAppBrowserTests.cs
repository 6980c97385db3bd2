using System.Net;
using System.Text.Json;
using Appliance.Tests.Api;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests.Web;

/// <summary>
/// The appliance replaying samples/sipp-topology-hold.pcap (2001 speech left, 2002's 1 kHz tone right, held at 3.0 s
/// and resumed at 19.0 s: samples/README.md) with <see cref="ApiHost.Config"/>'s directory, its recording indexed; and
/// one browser of each kind shared by the class's tests.
/// </summary>
public sealed class WebAppHostFixture : IAsyncLifetime
{
    public ApiHost Host { get; private set; } = null!;

    public string RecordingId { get; private set; } = "";

    public SharedBrowsers Browsers { get; } = new();

    public async Task InitializeAsync()
    {
        Host = await ApiHost.StartAsync(replay: Path.Combine(Repo.Root, "samples", "sipp-topology-hold.pcap"));
        RecordingId = await Host.WaitForRecordingAsync();
    }

    public async Task DisposeAsync()
    {
        await Browsers.DisposeAsync();
        await Host.DisposeAsync();
    }
}

/// <summary>
/// The web app in real headless Chromium and Firefox (README "Web app"): what a person signed in with each role sees and
/// does. Every test runs in both browsers.
/// </summary>
public sealed class WebAppBrowserTests(WebAppHostFixture fixture, ITestOutputHelper output) : IClassFixture<WebAppHostFixture>
{
    private ApiHost Host => fixture.Host;

    [Theory]
    [InlineData(WebBrowser.Chromium)]
    [InlineData(WebBrowser.Firefox)]
    public async Task SignIn_RefusesAWrongToken_KeepsTheSessionInAnHttpOnlyCookie_RefusesAPostWithoutCsrf_SignOutEndsTheSession(WebBrowser kind)
    {
        if (BrowserLauncher.Unavailable(kind) is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        await using BrowserSession browser = await BrowserSession.OpenAsync(fixture.Browsers, kind, Host.BaseAddress);
        await browser.WaitForSelectorAsync("#token");
        await browser.TypeAsync("#token", "not-a-token-of-this-appliance");
        await browser.ClickAsync("form.sign-in button[type=submit]");
        await browser.WaitAsync("document.querySelector('form.sign-in [role=alert]')?.textContent.includes('refused')");
        Assert.True(await browser.EvalAsync<bool>("document.getElementById('nav').hidden"), "signed in with a wrong token");
        await browser.ScreenshotAsync("sign-in-refused");

        await browser.EvalAsync<string>("document.getElementById('token').value = ''");
        await browser.SignInAsync(ApiHost.Token);
        Assert.Equal("admin (administrator)", await browser.EvalAsync<string>("document.getElementById('who').textContent"));
        Assert.DoesNotContain("appliance-session", await browser.EvalAsync<string>("document.cookie"), StringComparison.Ordinal); // HttpOnly
        (string Value, bool HttpOnly, string SameSite) cookie = Assert.NotNull(await browser.CookieAsync("appliance-session"));
        Assert.True(cookie.HttpOnly);
        Assert.Equal("strict", cookie.SameSite);

        // The cookie alone does not change state: a POST from the page without the header is refused, with it accepted.
        (int refused, string problem) = await browser.FetchAsync("POST", "/api/logins/logout-all", new { scope = "external" });
        Assert.True(refused == 403, problem);
        Assert.Contains("X-CSRF-Token", problem, StringComparison.Ordinal);
        (int accepted, string body) = await browser.FetchAsync("POST", "/api/logins/logout-all", new { scope = "external" }, csrf: true);
        Assert.True(accepted == 200, body);

        await browser.ClickAsync("#sign-out");
        await browser.WaitForSelectorAsync("#token");
        Assert.Equal(401, (await browser.FetchAsync("GET", "/api/recordings")).Status);

        // Ended on the server, not only forgotten by this browser: the old cookie is refused too.
        using var replayed = new HttpRequestMessage(HttpMethod.Get, "/api/recordings");
        replayed.Headers.Add("Cookie", $"appliance-session={cookie.Value}");
        using HttpResponseMessage again = await Host.Anonymous.SendAsync(replayed);
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
    }

    [Theory]
    [InlineData(WebBrowser.Chromium)]
    [InlineData(WebBrowser.Firefox)]
    public async Task Recordings_SearchFindsTheReplayedCall_ItPlaysWithLevelInBothLanes_MutingALaneSilencesIt_HoldAndResumeOnTheTimeline(WebBrowser kind)
    {
        if (BrowserLauncher.Unavailable(kind) is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        await using BrowserSession browser = await BrowserSession.OpenAsync(fixture.Browsers, kind, Host.BaseAddress);
        await browser.SignInAsync(ApiHost.Token);
        await browser.GoAsync("#/recordings", "form.search");
        await browser.TypeAsync("input[name=extension]", "2002");
        await browser.ClickAsync("form.search button[type=submit]");
        await browser.WaitAsync($"document.querySelector('a[href=\"#/call/{fixture.RecordingId}\"]') !== null");
        await browser.ScreenshotAsync("recordings");

        // A legal hold placed and released elsewhere (here through the API) shows in the listed row as it happens.
        await browser.WaitAsync("document.querySelector('section[aria-label=Results]').dataset.events === 'open'");
        string badge = $"document.querySelector('tr[data-id=\"{fixture.RecordingId}\"] .legal-hold')";
        Assert.True(await browser.EvalAsync<bool>(badge + ".hidden"));
        (await Host.Client.PutAsync(new Uri($"/api/recordings/{fixture.RecordingId}/hold", UriKind.Relative), null)).EnsureSuccessStatusCode();
        await browser.WaitAsync($"!{badge}.hidden && {badge}.offsetWidth > 0");
        (await Host.Client.DeleteAsync(new Uri($"/api/recordings/{fixture.RecordingId}/hold", UriKind.Relative))).EnsureSuccessStatusCode();
        await browser.WaitAsync($"{badge}.hidden && {badge}.offsetWidth === 0");

        // A search that matches nothing shows no row (the filter reaches the API).
        await browser.GoAsync("#/recordings?extension=9999", "td.empty");

        // The Duration header sorts by duration (longest first), clicked again shortest first, the filter kept.
        await browser.GoAsync("#/recordings?extension=2002", $"a[href=\"#/call/{fixture.RecordingId}\"]");
        await browser.ClickAsync("button[aria-label='Sort by duration']");
        await browser.WaitAsync("location.hash.includes('sort=duration&order=desc') && document.querySelector('button[aria-label=\"Sort by duration\"]')?.textContent.includes('▼')");
        await browser.ClickAsync("button[aria-label='Sort by duration']");
        await browser.WaitAsync("location.hash.includes('sort=duration&order=asc') && document.querySelector('button[aria-label=\"Sort by duration\"]')?.textContent.includes('▲')");
        Assert.Contains("extension=2002", await browser.EvalAsync<string>("location.hash"), StringComparison.Ordinal);
        await browser.WaitAsync($"document.querySelector('a[href=\"#/call/{fixture.RecordingId}\"]') !== null");

        await browser.GoAsync($"#/call/{fixture.RecordingId}", "#player");
        string[] events = await browser.EvalAsync<string[]>("[...document.querySelectorAll('.timeline li')].map(li => li.dataset.type)");
        Assert.Equal(["answered", "hold", "resume", "bye"], events);
        double holdAt = await browser.EvalAsync<double>("Number(document.querySelector('.timeline li[data-type=hold]').dataset.offset)");
        Assert.InRange(holdAt, 2.9, 3.1);
        Assert.Equal(["left 2001", "right 2002"],
            await browser.EvalAsync<string[]>("[...document.querySelectorAll('tr[data-channel]')].map(r => r.dataset.channel + ' ' + r.children[1].textContent)"));

        // The level strips come from the decoded file: both lanes have sound in them.
        await browser.WaitAsync("[...document.querySelectorAll('canvas.strip')].every(c => c.dataset.energy !== undefined)");
        double[] energy = await browser.EvalAsync<double[]>("[...document.querySelectorAll('canvas.strip')].map(c => Number(c.dataset.energy))");
        Assert.All(energy, e => Assert.True(e > 0.01, $"level strips {string.Join(", ", energy)}"));

        // Playing: the element's clock advances and both live meters move (speech left, tone right, before the hold at 3 s).
        await browser.CallAsync<JsonElement>("() => { document.getElementById('player').play(); }");
        await browser.WaitAsync("document.getElementById('player').currentTime > 0.5");
        await browser.WaitAsync("Number(document.querySelector('.lane-left meter').dataset.level) > 0.001");
        await browser.WaitAsync("Number(document.querySelector('.lane-right meter').dataset.level) > 0.001");
        await browser.ScreenshotAsync("call-playing");

        // Mute the left lane and play the talk before the hold again: its meter stays at zero, the right one does not.
        await browser.ClickAsync(".lane-left button.mute");
        await browser.EvalAsync<double>("document.getElementById('player').currentTime = 0.2");
        await Task.Delay(300);
        double[][] levels = await browser.CallAsync<double[][]>("""
            async () => {
              const left = [], right = [];
              for (let i = 0; i < 15; i++) {
                await new Promise(r => setTimeout(r, 100));
                left.push(Number(document.querySelector('.lane-left meter').dataset.level));
                right.push(Number(document.querySelector('.lane-right meter').dataset.level));
              }
              return [left, right];
            }
            """);
        output.WriteLine($"muted left: {string.Join(' ', levels[0])}; right: {string.Join(' ', levels[1])}");
        Assert.All(levels[0], l => Assert.Equal(0, l));
        Assert.Contains(levels[1], l => l > 0.001);
        Assert.True(await browser.EvalAsync<double>("document.getElementById('player').currentTime") > 0.5, "the player stopped");
        await browser.ScreenshotAsync("call-left-muted");
    }

    [Theory]
    [InlineData(WebBrowser.Chromium)]
    [InlineData(WebBrowser.Firefox)]
    public async Task HotDeskBoard_ShowsALoginMadeThroughTheApi_AndAnAdministratorLogsThatUserOutFromThePage(WebBrowser kind)
    {
        if (BrowserLauncher.Unavailable(kind) is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using (HttpResponseMessage login = await Host.PostJsonAsync("/api/logins", """{ "user": "bob", "device": "desk-2", "pin": "1234", "replace": true }"""))
        {
            Assert.True(login.IsSuccessStatusCode, await login.Content.ReadAsStringAsync());
        }

        await using BrowserSession browser = await BrowserSession.OpenAsync(fixture.Browsers, kind, Host.BaseAddress);
        await browser.SignInAsync(ApiHost.Token);
        await browser.GoAsync("#/directory", "tr[data-user=bob][data-device=desk-2]");
        Assert.Equal("4002", await browser.EvalAsync<string>("document.querySelector('tr[data-user=bob]').children[2].textContent"));

        // Locate the user and read the desk's history from the page.
        await browser.SelectAsync("select[name=what]", "user");
        await browser.TypeAsync("input[name=who]", "bob");
        await browser.ClickAsync("form[aria-label=Locate] button[type=submit]");
        await browser.WaitAsync("document.querySelector('form[aria-label=Locate] + div [role=status]')?.textContent.includes('desk-2')");
        await browser.ClickAsync("tr[data-device=desk-2] button.link");
        await browser.WaitAsync("document.getElementById('history-title')?.textContent === 'History of device desk-2'");
        Assert.Contains("bob", await browser.EvalAsync<string[]>("[...document.querySelectorAll('#history-title ~ table tbody td:first-child')].map(td => td.textContent)"));
        await browser.ScreenshotAsync("directory");

        await browser.ClickAsync("tr[data-user=bob] button");
        await browser.WaitAsync("document.querySelector('tr[data-user=bob]') === null");
        using JsonDocument logins = await Host.GetJsonAsync("/api/logins");
        Assert.DoesNotContain(logins.RootElement.EnumerateArray(), l => l.GetProperty("user").GetString() == "bob");
    }

    [Theory]
    [InlineData(WebBrowser.Chromium)]
    [InlineData(WebBrowser.Firefox)]
    public async Task Viewer_SeesTheCallsMetadataButNoPlayer_AndNoLiveDirectoryOrHealthPages(WebBrowser kind)
    {
        if (BrowserLauncher.Unavailable(kind) is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        string token = await RoleApiTests.CreateTokenAsync(Host.Client, "web-viewer-" + Guid.NewGuid().ToString("N")[..6], "viewer");
        await using BrowserSession browser = await BrowserSession.OpenAsync(fixture.Browsers, kind, Host.BaseAddress);
        await browser.SignInAsync(token);
        Assert.Equal(["Recordings"], await browser.EvalAsync<string[]>("[...document.querySelectorAll('#nav a:not([hidden])')].map(a => a.textContent)"));
        await browser.GoAsync($"#/call/{fixture.RecordingId}", ".timeline");
        Assert.False(await browser.EvalAsync<bool>("document.querySelector('audio') !== null || document.querySelector('.lane') !== null"), "a viewer got a player");
        Assert.Contains("viewer", await browser.EvalAsync<string>("document.querySelector('main .note').textContent"), StringComparison.Ordinal);
        Assert.Equal(4, await browser.EvalAsync<int>("document.querySelectorAll('.timeline li').length"));
        await browser.ScreenshotAsync("call-viewer");
    }

    [Theory]
    [InlineData(WebBrowser.Chromium)]
    [InlineData(WebBrowser.Firefox)]
    public async Task Health_ShowsTheCaptureSourceWithItsPackets_TheDiskAndTheLastCheckpoint(WebBrowser kind)
    {
        if (BrowserLauncher.Unavailable(kind) is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        await using BrowserSession browser = await BrowserSession.OpenAsync(fixture.Browsers, kind, Host.BaseAddress);
        await browser.SignInAsync(ApiHost.Token);
        await browser.GoAsync("#/health", "tr[data-source]");
        string source = await browser.EvalAsync<string>("document.querySelector('tr[data-source]').dataset.source");
        Assert.EndsWith("sipp-topology-hold.pcap", source, StringComparison.Ordinal);
        long packets = long.Parse(await browser.EvalAsync<string>("document.querySelector('tr[data-source]').children[3].textContent.replace(/\\D/g, '')"),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(1031, packets); // every frame of the capture (tshark: 1031)
        Assert.Contains(Host.Recordings, await browser.EvalAsync<string>("document.querySelector('main').textContent"), StringComparison.Ordinal);
        await browser.ScreenshotAsync("health");
    }
}
