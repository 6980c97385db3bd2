using Appliance.Service;
using Appliance.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Service;

/// <summary>The AuthThrottle section as `appliance run` binds it: defaults, nested keys, bad values refused at start naming the key.</summary>
public sealed class AuthThrottleSettingsTests
{
    [Fact]
    public void Defaults_TenFailuresInFiveMinutes_TenThousandAddresses()
    {
        var settings = new ApplianceSettings { Replay = "x.pcap" };
        Assert.Empty(settings.Validate());
        Assert.Equal((10, 300, 10_000), (settings.AuthThrottle.MaxFailures, settings.AuthThrottle.WindowSeconds, settings.AuthThrottle.MaxAddresses));
    }

    [Fact]
    public async Task Run_BindsTheAuthThrottleSection()
    {
        string dir = Path.Combine(Path.GetTempPath(), "appl-auth-settings-" + Guid.NewGuid().ToString("N"));
        await using var app = ApplianceHost.Build(Args(dir, "--AuthThrottle:MaxFailures=5", "--AuthThrottle:WindowSeconds=60"));
        ApplianceSettings settings = app.Services.GetRequiredService<ApplianceSettings>();
        Assert.Equal((5, 60, 10_000), (settings.AuthThrottle.MaxFailures, settings.AuthThrottle.WindowSeconds, settings.AuthThrottle.MaxAddresses));
    }

    [Theory]
    [InlineData("--AuthThrottle:MaxFailures=0", "AuthThrottle:MaxFailures")]
    [InlineData("--AuthThrottle:WindowSeconds=0", "AuthThrottle:WindowSeconds")]
    [InlineData("--AuthThrottle:WindowSeconds=86401", "AuthThrottle:WindowSeconds")]
    [InlineData("--AuthThrottle:MaxAddresses=0", "AuthThrottle:MaxAddresses")]
    public void Run_RefusesBadValues_NamingTheKey(string flag, string key)
    {
        SettingsException refused = Assert.Throws<SettingsException>(() => ApplianceHost.Build(Args(Path.GetTempPath(), flag)));
        Assert.Contains(key + ": ", refused.Message, StringComparison.Ordinal);
    }

    private static string[] Args(string dir, params string[] more) =>
        ["--settings", "none", "--replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--state", Path.Combine(dir, "state"),
         "--recordings", Path.Combine(dir, "rec"), "--Token=auth-settings-token-0123456789", .. more];
}
