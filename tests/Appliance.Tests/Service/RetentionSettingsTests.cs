using Appliance.Service;
using Appliance.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Service;

/// <summary>The Retention section as `appliance run` binds it: defaults, a nested key from the command line, bad values refused naming the key.</summary>
public sealed class RetentionSettingsTests
{
    [Fact]
    public void Defaults_KeepForever_FivePercentMark()
    {
        var settings = new ApplianceSettings { Replay = "x.pcap" };
        Assert.Empty(settings.Validate());
        Assert.Equal((0, 5.0, 0L, 1.0, 600), (settings.Retention.DefaultKeepDays, settings.Retention.MinFreePercent, settings.Retention.MinFreeMb,
            settings.Retention.HysteresisPercent, settings.Retention.IntervalSeconds));
    }

    [Fact]
    public async Task Run_BindsTheRetentionSection()
    {
        string dir = Path.Combine(Path.GetTempPath(), "appl-retention-settings-" + Guid.NewGuid().ToString("N"));
        await using var app = ApplianceHost.Build(Args(dir, "--Retention:DefaultKeepDays=90", "--Retention:MinFreeMb=2048"));
        ApplianceSettings settings = app.Services.GetRequiredService<ApplianceSettings>();
        Assert.Equal((90, 2048L, 5.0), (settings.Retention.DefaultKeepDays, settings.Retention.MinFreeMb, settings.Retention.MinFreePercent));
    }

    [Theory]
    [InlineData("--Retention:DefaultKeepDays=-1", "Retention:DefaultKeepDays")]
    [InlineData("--Retention:MinFreePercent=100", "Retention:MinFreePercent")]
    [InlineData("--Retention:MinFreeMb=-5", "Retention:MinFreeMb")]
    [InlineData("--Retention:IntervalSeconds=0", "Retention:IntervalSeconds")]
    [InlineData("--Retention:BatchSize=0", "Retention:BatchSize")]
    public void Run_RefusesBadRetentionValues_NamingTheKey(string flag, string key)
    {
        SettingsException refused = Assert.Throws<SettingsException>(() => ApplianceHost.Build(Args(Path.GetTempPath(), flag)));
        Assert.Contains(key + ": ", refused.Message, StringComparison.Ordinal);
    }

    private static string[] Args(string dir, params string[] more) =>
        ["--settings", "none", "--replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--state", Path.Combine(dir, "state"),
         "--recordings", Path.Combine(dir, "rec"), "--Token=retention-settings-token-0123", .. more];
}
