using Appliance.Tests.Support;
using PuppeteerSharp;

namespace Appliance.Tests.Web;

/// <summary>The browsers the web app is tested in: Debian's own packages, nothing downloaded.</summary>
public enum WebBrowser
{
    /// <summary>Debian <c>chromium</c>, driven over CDP.</summary>
    Chromium,

    /// <summary>Debian <c>firefox-esr</c>, driven over WebDriver BiDi (<see cref="FirefoxBiDi"/>).</summary>
    Firefox,
}

/// <summary>Starts one headless browser of a <see cref="WebBrowser"/> kind with the settings the web app's tests need.</summary>
public static class BrowserLauncher
{
    private static readonly TimeSpan s_start = TimeSpan.FromSeconds(60); // a start on a loaded CI machine

    public static string ExecutablePath(WebBrowser browser) => browser switch
    {
        WebBrowser.Chromium => "/usr/bin/chromium",
        WebBrowser.Firefox => "/usr/bin/firefox-esr",
        _ => throw new ArgumentOutOfRangeException(nameof(browser)),
    };

    /// <summary>The programs tests in a browser need, with the Debian package of each (Makefile TEST_PACKAGES).</summary>
    private static (string Path, string Package)[] Needs(WebBrowser browser) => browser == WebBrowser.Firefox
        ? [(ExecutablePath(browser), "firefox-esr"), (PulseNullSink.Executable, "pulseaudio")]
        : [(ExecutablePath(browser), "chromium")];

    /// <summary>Why tests in <paramref name="browser"/> cannot run here (null: they can). As root (CI) a missing program is a failure, not a skip.</summary>
    public static string? Unavailable(WebBrowser browser)
    {
        foreach ((string path, string package) in Needs(browser))
        {
            if (!File.Exists(path))
            {
                Assert.False(Repo.IsRoot, $"{path} is missing: `make deps-test` installs it (Makefile TEST_PACKAGES: {package})");
                return $"{path} is missing and this is not root (make deps-test installs {package})";
            }
        }

        return null;
    }

    /// <summary>Chromium over CDP through PuppeteerSharp (Firefox: <see cref="FirefoxBiDi.LaunchAsync"/>).</summary>
    public static Task<IBrowser> LaunchChromiumAsync() => Puppeteer.LaunchAsync(new LaunchOptions
    {
        ExecutablePath = ExecutablePath(WebBrowser.Chromium),
        Headless = true,
        Timeout = (int)s_start.TotalMilliseconds,
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
}

/// <summary>
/// One browser of each kind for a whole test class, started when a test first asks for it (Firefox takes seconds to
/// start); each test still gets its own browser context, so cookies never leak from one test to the next.
/// </summary>
public sealed class SharedBrowsers : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private Task<IBrowser>? _chromium;
    private Task<FirefoxBiDi>? _firefox;

    public Task<IBrowser> ChromiumAsync()
    {
        lock (_lock)
        {
            return _chromium is { IsFaulted: false, IsCanceled: false } ? _chromium : _chromium = BrowserLauncher.LaunchChromiumAsync();
        }
    }

    public Task<FirefoxBiDi> FirefoxAsync()
    {
        lock (_lock)
        {
            return _firefox is { IsFaulted: false, IsCanceled: false }
                ? _firefox
                : _firefox = FirefoxBiDi.LaunchAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_chromium is { IsCompletedSuccessfully: true })
        {
            await _chromium.Result.CloseAsync();
            await _chromium.Result.DisposeAsync();
        }

        if (_firefox is { IsCompletedSuccessfully: true })
        {
            await _firefox.Result.DisposeAsync();
        }
    }
}
