using System.Text.Json;
using Appliance.Tests.Api;
using Appliance.Tests.Support;
using PuppeteerSharp;

namespace Appliance.Tests.Web;

/// <summary>
/// One page on the appliance's web app in a real headless browser, in a browser context of its own (its own cookies):
/// Debian's chromium over CDP (PuppeteerSharp) or firefox-esr over WebDriver BiDi (<see cref="FirefoxBiDi"/>). The
/// tests speak only to this class, so each journey is written once for both. Screenshots go to
/// out/screenshots/&lt;browser&gt;/ (gitignored).
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    private const int Width = 1280;
    private const int Height = 900;

    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(50);

    private readonly IPage? _chromium;
    private readonly FirefoxPage? _firefox;
    private readonly Func<Task> _close;

    private BrowserSession(WebBrowser browser, IPage? chromium, FirefoxPage? firefox, Uri app, Func<Task> close)
    {
        Browser = browser;
        _chromium = chromium;
        _firefox = firefox;
        App = app;
        _close = close;
    }

    public WebBrowser Browser { get; }

    public Uri App { get; }

    /// <summary>A page in a new context of <paramref name="browsers"/>' shared <paramref name="browser"/>: no cookie from an earlier test.</summary>
    public static async Task<BrowserSession> OpenAsync(SharedBrowsers browsers, WebBrowser browser, Uri app)
    {
        if (browser == WebBrowser.Firefox)
        {
            FirefoxPage page = await (await browsers.FirefoxAsync()).NewPageAsync(Width, Height);
            try
            {
                await page.GoToAsync(app.ToString());
                return new BrowserSession(browser, null, page, app, page.CloseAsync);
            }
            catch
            {
                await page.CloseAsync();
                throw;
            }
        }

        IBrowserContext context = await (await browsers.ChromiumAsync()).CreateBrowserContextAsync();
        return await OpenChromiumPageAsync(() => context.NewPageAsync(), app, () => context.CloseAsync());
    }

    /// <summary>A Chromium of its own for one test (the live test, which has no class to share one with).</summary>
    public static async Task<BrowserSession> OpenAsync(Uri app)
    {
        IBrowser started = await BrowserLauncher.LaunchChromiumAsync();
        return await OpenChromiumPageAsync(() => started.NewPageAsync(), app, async () =>
        {
            await started.CloseAsync();
            await started.DisposeAsync();
        });
    }

    private static async Task<BrowserSession> OpenChromiumPageAsync(Func<Task<IPage>> newPage, Uri app, Func<Task> close)
    {
        try
        {
            IPage page = await newPage();
            page.DefaultTimeout = (int)s_wait.TotalMilliseconds;
            await page.SetViewportAsync(new ViewPortOptions { Width = Width, Height = Height });
            await page.GoToAsync(app.ToString(), WaitUntilNavigation.Networkidle2);
            return new BrowserSession(WebBrowser.Chromium, page, null, app, close);
        }
        catch
        {
            await close();
            throw;
        }
    }

    /// <summary>Signs in through the page's form with <paramref name="token"/> and waits for the navigation to show.</summary>
    public async Task SignInAsync(string token)
    {
        await WaitForSelectorAsync("#token");
        await TypeAsync("#token", token);
        await ClickAsync("form.sign-in button[type=submit]");
        await WaitForSelectorAsync("#nav:not([hidden])");
    }

    public async Task GoAsync(string hash, string readySelector)
    {
        await CallAsync<JsonElement>("h => { location.hash = h; }", hash);
        await WaitForSelectorAsync(readySelector);
    }

    public Task WaitForSelectorAsync(string selector) =>
        WaitAsync($"document.querySelector({JsonSerializer.Serialize(selector)}) !== null");

    /// <summary>Waits until <paramref name="predicate"/> (a JavaScript expression) is true in the page.</summary>
    public async Task WaitAsync(string predicate)
    {
        if (_chromium is not null)
        {
            await _chromium.WaitForFunctionAsync($"() => {predicate}", new WaitForFunctionOptions { PollingInterval = (int)s_poll.TotalMilliseconds, Timeout = (int)s_wait.TotalMilliseconds });
            return;
        }

        DateTime deadline = DateTime.UtcNow + s_wait;
        while (!await EvalAsync<bool>($"Boolean({predicate})"))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"in {Browser}, still false after {s_wait.TotalSeconds} s: {predicate}");
            }

            await Task.Delay(s_poll);
        }
    }

    public Task<T> EvalAsync<T>(string expression) => CallAsync<T>($"() => ({expression})");

    /// <summary>Calls the JavaScript function <paramref name="function"/> in the page with <paramref name="args"/>, awaiting it.</summary>
    public async Task<T> CallAsync<T>(string function, params object[] args)
    {
        if (_chromium is not null)
        {
            return await _chromium.EvaluateFunctionAsync<T>(function, args);
        }

        return (await _firefox!.CallAsync(function, args)).Deserialize<T>()!;
    }

    /// <summary>A person's click on the first element matching <paramref name="selector"/>.</summary>
    public Task ClickAsync(string selector) => _chromium?.ClickAsync(selector) ?? _firefox!.ClickAsync(selector);

    /// <summary>A person typing <paramref name="text"/> into the element matching <paramref name="selector"/>.</summary>
    public Task TypeAsync(string selector, string text) => _chromium?.TypeAsync(selector, text) ?? _firefox!.TypeAsync(selector, text);

    /// <summary>Chooses <paramref name="value"/> in the select element matching <paramref name="selector"/>.</summary>
    public Task SelectAsync(string selector, string value) => _chromium is not null ? _chromium.SelectAsync(selector, value) : CallAsync<JsonElement>("""
        (s, v) => { const e = document.querySelector(s); e.value = v; e.dispatchEvent(new Event('input', { bubbles: true })); e.dispatchEvent(new Event('change', { bubbles: true })); }
        """, selector, value);

    /// <summary>The cookie <paramref name="name"/> as the browser keeps it (value, HttpOnly, SameSite in lower case); null if none.</summary>
    public async Task<(string Value, bool HttpOnly, string SameSite)?> CookieAsync(string name)
    {
        if (_chromium is null)
        {
            return await _firefox!.CookieAsync(name);
        }

        foreach (CookieParam c in await _chromium.GetCookiesAsync())
        {
            if (c.Name == name)
            {
                return (c.Value, c.HttpOnly ?? false, c.SameSite?.ToString().ToLowerInvariant() ?? "");
            }
        }

        return null;
    }

    /// <summary>A request from the page itself (its cookie, its origin): status and body.</summary>
    public async Task<(int Status, string Body)> FetchAsync(string method, string path, object? body = null, bool csrf = false)
    {
        JsonElement result = await CallAsync<JsonElement>("""
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
    /// Saves the page as out/screenshots/&lt;browser&gt;/<paramref name="name"/>.png (the test's artifact), after checking
    /// that no value the page shows was missing when it was drawn ("null", "undefined" or "NaN" in place of text).
    /// </summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        string text = await EvalAsync<string>("document.body.innerText");
        Assert.DoesNotMatch(@"\b(null|undefined|NaN)\b", text);

        string dir = Path.Combine(Repo.Root, "out", "screenshots", Browser.ToString().ToLowerInvariant());
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".png");
        if (_chromium is not null)
        {
            await _chromium.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        }
        else
        {
            await _firefox!.ScreenshotAsync(path);
        }

        return path;
    }

    public async ValueTask DisposeAsync() => await _close();

    /// <summary>The host's address as the browser opens it.</summary>
    public static Uri AppOf(ApiHost host) => host.BaseAddress;
}
