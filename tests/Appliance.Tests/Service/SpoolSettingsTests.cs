using Appliance.Service;
using Capture.Pipeline;

namespace Appliance.Tests.Service;

/// <summary>The spool's settings: live capture spools under the state folder, bad bounds are refused naming their key.</summary>
public sealed class SpoolSettingsTests
{
    [Fact]
    public void PipelineOptions_SpoolUnderTheStateFolder_WithTheConfiguredBounds()
    {
        var settings = new ApplianceSettings { Replay = "x.pcap", State = "/var/lib/appliance/state", Workers = 2, SpoolMemoryMb = 64, SpoolDiskMb = 1024 };
        Assert.Empty(settings.Validate());

        PipelineOptions options = settings.PipelineOptions();
        options.Validate();
        Assert.False(options.WaitWhenQueueFull);
        Assert.Equal("/var/lib/appliance/state/spool", options.SpoolDirectory);
        Assert.Equal(64L << 20, options.SpoolMemoryBytes);
        Assert.Equal(1024L << 20, options.SpoolDiskBytes);
    }

    [Theory]
    [InlineData(0, 2048, "SpoolMemoryMb")]
    [InlineData(-5, 2048, "SpoolMemoryMb")]
    [InlineData(256, -1, "SpoolDiskMb")]
    public void Validate_RefusesBadSpoolBounds_NamingTheKey(int memoryMb, int diskMb, string key)
    {
        var settings = new ApplianceSettings { Replay = "x.pcap", SpoolMemoryMb = memoryMb, SpoolDiskMb = diskMb };
        string problem = Assert.Single(settings.Validate());
        Assert.StartsWith(key + ": ", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RefusesTooLittleSpoolMemory_ForTheWorkers()
    {
        // Two 64 KiB chunks per worker: 1 MiB is enough for 8 workers, not for 16.
        Assert.Empty(new ApplianceSettings { Replay = "x.pcap", Workers = 8, SpoolMemoryMb = 1 }.Validate());
        Assert.Contains("16 worker(s)", Assert.Single(new ApplianceSettings { Replay = "x.pcap", Workers = 16, SpoolMemoryMb = 1 }.Validate()), StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PipelineOptions { Workers = 16, SpoolMemoryBytes = 1 << 20 }.Validate());
    }
}
