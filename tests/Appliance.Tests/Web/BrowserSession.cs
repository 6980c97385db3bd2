using System.Text.Json;
using Appliance.Tests.Api;
using Appliance.Tests.Support;
using PuppeteerSharp;

namespace Appliance.Tests.Web;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c>, <see cref="ExecutablePath"/>; nothing downloaded) driven over CDP
/// by PuppeteerSharp, with one page on the appliance's web app. Screenshots go to out/screenshots/ (gitignored).
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    private readonly IBrowser _browser;

    private BrowserSession(IBrowser browser, IPage page, Uri app)
    {
        _browser = browser;
        Page = page;
        App = app;
    }

    public IPage Page { get; }

    public Uri App { get; }

    /// <summary>Why browser tests cannot run here (null: they can). As root (CI) a missing chromium is a failure, not a skip.</summary>
    public static string? Unavailable()
    {
        if (File.Exists(ExecutablePath))
        {
            return null;
        }

        Assert.False(Repo.IsRoot, $"{ExecutablePath} is missing: `make deps-test` installs it (Makefile TEST_PACKAGES: chromium)");
        return $"{ExecutablePath} is missing and this is not root (make deps-test installs it)";
    }

    public static async Task<BrowserSession> OpenAsync(Uri app)
    {
        IBrowser browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Timeout = (int)s_wait.TotalMilliseconds,
            Args =
            [
                "--no-sandbox", // root in a container has no user namespace for the sandbox
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", // the player may start without a click
                "--disable-background-networking",
                "--no-first-run",
                "--mute-audio", // audio is still decoded and processed (the meters read it), just not sent to a device
            ],
        });
        try
        {
            IPage page = await browser.NewPageAsync();
            page.DefaultTimeout = (int)s_wait.TotalMilliseconds;
            await page.SetViewportAsync(new ViewPortOptions { Width = 1280, Height = 900 });
            await page.GoToAsync(app.ToString(), WaitUntilNavigation.Networkidle2);
            return new BrowserSession(browser, page, app);
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    /// <summary>Signs in through the page's form with <paramref name="token"/> and waits for the navigation to show.</summary>
    public async Task SignInAsync(string token)
    {
        await Page.WaitForSelectorAsync("#token");
        await Page.TypeAsync("#token", token);
        await Page.ClickAsync("form.sign-in button[type=submit]");
        await Page.WaitForSelectorAsync("#nav:not([hidden])");
    }

    public async Task GoAsync(string hash, string readySelector)
    {
        await Page.EvaluateFunctionAsync("h => { location.hash = h; }", hash);
        await Page.WaitForSelectorAsync(readySelector);
    }

    /// <summary>Waits until <paramref name="predicate"/> (a JavaScript expression) is true in the page.</summary>
    public Task WaitAsync(string predicate) =>
        Page.WaitForFunctionAsync($"() => {predicate}", new WaitForFunctionOptions { PollingInterval = 50, Timeout = (int)s_wait.TotalMilliseconds });

    public Task<T> EvalAsync<T>(string expression) => Page.EvaluateExpressionAsync<T>(expression);

    /// <summary>A request from the page itself (its cookie, its origin): status and body.</summary>
    public async Task<(int Status, string Body)> FetchAsync(string method, string path, object? body = null, bool csrf = false)
    {
        JsonElement result = await Page.EvaluateFunctionAsync<JsonElement>("""
            async (method, path, body, csrf) => {
              const headers = { 'Content-Type': 'application/json' };
              if (csrf) headers['X-CSRF-Token'] = (await (await fetch('/api/session')).json()).csrf;
              const r = await fetch(path, { method, headers, body: body === null ? undefined : JSON.stringify(body) });
              return { status: r.status, body: await r.text() };
            }
            """, method, path, body!, csrf);
        return (result.GetProperty("status").GetInt32(), result.GetProperty("body").GetString()!);
    }

    /// <summary>
    /// Saves the page as out/screenshots/<paramref name="name"/>.png (the test's artifact), after checking that no value
    /// the page shows was missing when it was drawn ("null", "undefined" or "NaN" in place of text).
    /// </summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        string text = await EvalAsync<string>("document.body.innerText");
        Assert.DoesNotMatch(@"\b(null|undefined|NaN)\b", text);

        string dir = Path.Combine(Repo.Root, "out", "screenshots");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".png");
        await Page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        await _browser.DisposeAsync();
    }

    /// <summary>The host's address as the browser opens it.</summary>
    public static Uri AppOf(ApiHost host) => host.BaseAddress;
}
