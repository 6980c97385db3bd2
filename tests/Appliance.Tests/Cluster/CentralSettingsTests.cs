using Appliance.Cluster;
using Appliance.Service;
using Appliance.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Cluster;

/// <summary>The central index's settings as `appliance run` binds them; bad values refused naming the key; the default URL.</summary>
public sealed class CentralSettingsTests
{
    [Fact]
    public async Task Run_BindsTheCentralSettings()
    {
        string dir = Path.Combine(Path.GetTempPath(), "appl-central-settings-" + Guid.NewGuid().ToString("N"));
        await using var app = ApplianceHost.Build(Args(dir, "--Cluster:Postgres=Host=pg1;Database=rec", "--Cluster:Url=https://rec-north:8443",
            "--Cluster:Secret=0123456789abcdef-estate"));
        ClusterSettings c = app.Services.GetRequiredService<ApplianceSettings>().Cluster;
        Assert.True(c.CentralEnabled);
        Assert.False(c.Enabled); // the shared directory is a separate choice
        Assert.Equal(("https://rec-north:8443", "0123456789abcdef-estate"), (c.Url, c.Secret));
    }

    [Theory]
    [InlineData("--Cluster:Postgres=Hots=pg1", "Cluster:Postgres")]
    [InlineData("--Cluster:Url=ftp://x", "Cluster:Url")]
    [InlineData("--Cluster:Secret=short", "Cluster:Secret")]
    public void Run_RefusesBadCentralValues_NamingTheKey(string flag, string key)
    {
        SettingsException refused = Assert.Throws<SettingsException>(() => ApplianceHost.Build(Args(Path.GetTempPath(), "--Cluster:Postgres=Host=pg1", flag)));
        Assert.Contains(key + ": ", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", "http://127.0.0.1:8080")]
    [InlineData("https://rec-north:8443/;http://127.0.0.1:8080", "https://rec-north:8443")]
    [InlineData("http://0.0.0.0:8080", null)]
    [InlineData("http://*:8080", null)]
    [InlineData("http://+:8080", null)]
    [InlineData("http://[::]:8080", null)]
    public void DefaultUrl_IsTheFirstListenAddress_UnlessAWildcard(string listen, string? url) => Assert.Equal(url, CentralIndex.UrlOf(listen));

    private static string[] Args(string dir, params string[] more) =>
        ["--settings", "none", "--replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--state", Path.Combine(dir, "state"),
         "--recordings", Path.Combine(dir, "rec"), "--Token=central-settings-token-0123", .. more];
}
