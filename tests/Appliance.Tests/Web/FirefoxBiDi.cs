using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using WebDriverBiDi;
using WebDriverBiDi.BrowsingContext;
using WebDriverBiDi.Input;
using WebDriverBiDi.Script;
using WebDriverBiDi.Storage;
using BiDiBrowser = WebDriverBiDi.Browser;

namespace Appliance.Tests.Web;

/// <summary>
/// Debian's firefox-esr, headless, driven over WebDriver BiDi (its own remote agent, no geckodriver) by the WebDriverBiDi
/// client. PuppeteerSharp 25.17.1 would do this itself, but it is built against WebDriverBiDi 0.0.61, which the package
/// mirror here does not serve; 0.0.63 (the oldest served) changed the event types it binds to, so its Firefox launch
/// fails with MissingMethodException (README "Web app"). The few page operations the tests need are made here instead.
/// </summary>
public sealed partial class FirefoxBiDi : IAsyncDisposable
{
    private static readonly TimeSpan s_start = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _profile;
    private readonly PulseNullSink _sink;

    private FirefoxBiDi(Process process, string profile, PulseNullSink sink, BiDiDriver driver)
    {
        _process = process;
        _profile = profile;
        _sink = sink;
        Driver = driver;
    }

    public BiDiDriver Driver { get; }

    /// <summary>Starts firefox-esr (<see cref="BrowserLauncher.ExecutablePath"/>) with a fresh profile and opens a BiDi session.</summary>
    public static async Task<FirefoxBiDi> LaunchAsync()
    {
        string profile = Path.Combine(Path.GetTempPath(), "appl-firefox-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        // A fresh profile: no first-run pages, no update or telemetry traffic, and media may start without a click.
        await File.WriteAllTextAsync(Path.Combine(profile, "user.js"), """
            user_pref("browser.shell.checkDefaultBrowser", false);
            user_pref("browser.startup.homepage_override.mstone", "ignore");
            user_pref("browser.startup.page", 0);
            user_pref("datareporting.policy.dataSubmissionEnabled", false);
            user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
            user_pref("app.update.disabledForTesting", true);
            user_pref("media.autoplay.default", 0);
            user_pref("media.autoplay.block-webaudio", false);
            """);
        PulseNullSink sink = PulseNullSink.Start();
        var psi = new ProcessStartInfo("firefox-esr", ["--headless", "--no-remote", "--remote-debugging-port=0", "--profile", profile, "about:blank"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        psi.Environment["PULSE_SERVER"] = "unix:" + sink.Socket;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("firefox-esr did not start");
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetException(new InvalidOperationException("firefox exited before listening: " + log));
                return;
            }

            lock (log)
            {
                log.AppendLine(e.Data);
            }

            if (ListeningLine().Match(e.Data) is { Success: true } m)
            {
                listening.TrySetResult(m.Groups[1].Value);
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            string ws = await listening.Task.WaitAsync(s_start);
            var driver = new BiDiDriver(TimeSpan.FromSeconds(30));
            await driver.StartAsync(ws + "/session");
            await driver.Session.NewSessionAsync(new WebDriverBiDi.Session.NewCommandParameters());
            return new FirefoxBiDi(process, profile, sink, driver);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            sink.Dispose();
            throw;
        }
    }

    /// <summary>A tab in a new user context (its own cookies), at <paramref name="width"/> x <paramref name="height"/>.</summary>
    public async Task<FirefoxPage> NewPageAsync(int width, int height)
    {
        string userContext = (await Driver.Browser.CreateUserContextAsync(new BiDiBrowser.CreateUserContextCommandParameters())).UserContextId;
        string context = (await Driver.BrowsingContext.CreateAsync(new CreateCommandParameters(CreateType.Tab) { UserContextId = userContext })).BrowsingContextId;
        await Driver.BrowsingContext.SetViewportAsync(new SetViewportCommandParameters
        {
            BrowsingContextId = context,
            Viewport = new Viewport { Width = (ulong)width, Height = (ulong)height },
        });
        return new FirefoxPage(Driver, context, userContext);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Driver.Browser.CloseAsync(new BiDiBrowser.CloseCommandParameters());
            await Driver.StopAsync();
        }
        catch (Exception e) when (e is WebDriverBiDiException or OperationCanceledException or TimeoutException)
        {
            // The browser closing drops the connection; it is killed below if it did not exit.
        }

        if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        _sink.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // A file the exiting browser still held: the temporary folder is left to the OS.
        }
    }

    [GeneratedRegex(@"WebDriver BiDi listening on (ws://\S+)")]
    private static partial Regex ListeningLine();
}

/// <summary>One Firefox tab in its own user context: the page operations <see cref="BrowserSession"/> needs.</summary>
public sealed class FirefoxPage(BiDiDriver driver, string context, string userContext)
{
    public async Task GoToAsync(string url) =>
        await driver.BrowsingContext.NavigateAsync(new NavigateCommandParameters(context, url) { Wait = ReadinessState.Complete });

    /// <summary>
    /// Calls the JavaScript function <paramref name="function"/> with <paramref name="args"/> (JSON) in the page, awaits
    /// it, and returns its result as JSON (the same values PuppeteerSharp hands back).
    /// </summary>
    public async Task<JsonElement> CallAsync(string function, params object?[] args)
    {
        string expression = $"(async () => JSON.stringify(await ({function})(...{JsonSerializer.Serialize(args)}) ?? null))()";
        EvaluateResult result = await driver.Script.EvaluateAsync(new EvaluateCommandParameters(expression, new ContextTarget(context), awaitPromise: true));
        return result switch
        {
            EvaluateResultSuccess { Result: StringRemoteValue json } => JsonDocument.Parse(json.Value).RootElement.Clone(),
            EvaluateResultSuccess => JsonDocument.Parse("null").RootElement.Clone(), // undefined: JSON.stringify gave nothing
            EvaluateResultException failure => throw new InvalidOperationException($"in Firefox: {failure.ExceptionDetails.Text}"),
            _ => throw new InvalidOperationException($"in Firefox: unexpected result {result}"),
        };
    }

    /// <summary>A real click (pointer events from the input module) in the middle of the first element matching <paramref name="selector"/>.</summary>
    public async Task ClickAsync(string selector)
    {
        JsonElement at = await CallAsync("""
            s => {
              const e = document.querySelector(s);
              if (!e) throw new Error('no element ' + s);
              e.scrollIntoView({ block: 'center' });
              const r = e.getBoundingClientRect();
              return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];
            }
            """, selector);
        var pointer = new PointerSourceActions();
        pointer.Actions.Add(new PointerMoveAction { X = at[0].GetDouble(), Y = at[1].GetDouble() });
        pointer.Actions.Add(new PointerDownAction(0));
        pointer.Actions.Add(new PointerUpAction(0));
        var perform = new PerformActionsCommandParameters(context);
        perform.Actions.Add(pointer);
        await driver.Input.PerformActionsAsync(perform);
    }

    /// <summary>Focuses the element and types <paramref name="text"/> key by key (input module), as a person would.</summary>
    public async Task TypeAsync(string selector, string text)
    {
        await CallAsync("s => { const e = document.querySelector(s); if (!e) throw new Error('no element ' + s); e.focus(); }", selector);
        var keys = new KeySourceActions();
        foreach (char c in text)
        {
            keys.Actions.Add(new KeyDownAction(c.ToString()));
            keys.Actions.Add(new KeyUpAction(c.ToString()));
        }

        var perform = new PerformActionsCommandParameters(context);
        perform.Actions.Add(keys);
        await driver.Input.PerformActionsAsync(perform);
    }

    /// <summary>The cookie <paramref name="name"/> the browser keeps for this tab: value, HttpOnly, SameSite (lower case); null if none.</summary>
    public async Task<(string Value, bool HttpOnly, string SameSite)?> CookieAsync(string name)
    {
        GetCookiesCommandResult result = await driver.Storage.GetCookiesAsync(new GetCookiesCommandParameters
        {
            Partition = new BrowsingContextPartitionDescriptor(context),
        });
        foreach (WebDriverBiDi.Network.Cookie c in result.Cookies)
        {
            if (c.Name == name)
            {
                return (c.Value.Value, c.HttpOnly, c.SameSite.ToString().ToLowerInvariant());
            }
        }

        return null;
    }

    public async Task ScreenshotAsync(string path)
    {
        CaptureScreenshotCommandResult shot = await driver.BrowsingContext.CaptureScreenshotAsync(new CaptureScreenshotCommandParameters(context)
        {
            Origin = ScreenshotOrigin.Document,
        });
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(shot.Data));
    }

    public async Task CloseAsync()
    {
        await driver.BrowsingContext.CloseAsync(new CloseCommandParameters(context));
        await driver.Browser.RemoveUserContextAsync(new BiDiBrowser.RemoveUserContextCommandParameters(userContext));
    }
}
