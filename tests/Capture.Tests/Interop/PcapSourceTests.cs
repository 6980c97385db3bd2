using System.Net;
using System.Net.Sockets;
using Capture.Interop;
using Capture.Tests.Support;
using Xunit.Abstractions;

namespace Capture.Tests.Interop;

public class PcapSourceTests
{
    private readonly ITestOutputHelper _output;

    public PcapSourceTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void OpenOffline_Throws_WhenFileMissing()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-capture-" + Guid.NewGuid().ToString("N") + ".pcap");

        var ex = Assert.Throws<PcapException>(() => PcapSource.OpenOffline(path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("No such file", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(path, ex.Source);
    }

    [Fact]
    public void OpenOffline_Throws_WhenFileIsNotACapture()
    {
        string path = Captures.PathOf("MANIFEST.md");

        var ex = Assert.Throws<PcapException>(() => PcapSource.OpenOffline(path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("format", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(string.IsNullOrEmpty(ex.PcapError));
    }

    [Fact]
    public void ReadNext_GivesNanosecondTimestamps_AndEndOfFile()
    {
        using var source = PcapSource.OpenOffline(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        Assert.Equal(1, source.LinkType);

        Assert.Equal(PcapReadStatus.Packet, source.ReadNext(out long ts, out int originalLength, out ReadOnlySpan<byte> frame));

        // capinfos: first packet time 2005-01-14 17:58:02.965944 (UTC); tshark -c1 -T fields -e frame.len: 740.
        long expected = (new DateTimeOffset(2005, 1, 14, 17, 58, 2, TimeSpan.Zero).ToUnixTimeSeconds() * 1_000_000_000L) + 965_944_000L;
        Assert.Equal(expected, ts);
        Assert.Equal(740, originalLength);
        Assert.Equal(740, frame.Length);

        int count = 1;
        PcapReadStatus status;
        while ((status = source.ReadNext(out _, out _, out _)) == PcapReadStatus.Packet)
        {
            count++;
        }

        Assert.Equal(PcapReadStatus.EndOfFile, status);
        Assert.Equal(4269, count); // capinfos -c
        Assert.Equal(PcapReadStatus.EndOfFile, source.ReadNext(out _, out _, out _));
    }

    [Fact]
    public void OpenOffline_ReadsPcapng()
    {
        using var source = PcapSource.OpenOffline(Captures.PathOf("rtp.pcapng"));
        int count = 0;
        while (source.ReadNext(out _, out _, out _) == PcapReadStatus.Packet)
        {
            count++;
        }

        Assert.Equal(112, count); // capinfos -c rtp.pcapng
    }

    [Fact]
    public void ReadNext_DoesNotAllocate()
    {
        using var source = PcapSource.OpenOffline(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        long bytes = 0;
        long allocated = Allocations.Measure(
            () => Assert.Equal(PcapReadStatus.Packet, source.ReadNext(out _, out _, out _)),
            () =>
            {
                while (source.ReadNext(out _, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
                {
                    bytes += frame.Length;
                }
            });

        Assert.True(bytes > 0);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Dispose_IsIdempotent_AndReadAfterDisposeIsEndOfFile()
    {
        var source = PcapSource.OpenOffline(Captures.PathOf("gre.pcapng"));
        source.Dispose();
        source.Dispose();
        source.BreakLoop();
        Assert.Equal(PcapReadStatus.EndOfFile, source.ReadNext(out _, out _, out _));
        Assert.False(source.TryGetStatistics(out _));
    }

    [Fact]
    public void OpenLive_Throws_WhenInterfaceMissing()
    {
        if (!IsRoot("OpenLive_Throws_WhenInterfaceMissing"))
        {
            return;
        }

        var ex = Assert.Throws<PcapException>(() => PcapSource.OpenLive(new LiveCaptureOptions { Interface = "nosuchif0" }));
        Assert.Contains("nosuchif0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenLive_Throws_WhenFilterDoesNotCompile()
    {
        if (!IsRoot("OpenLive_Throws_WhenFilterDoesNotCompile"))
        {
            return;
        }

        var ex = Assert.Throws<PcapException>(() => PcapSource.OpenLive(new LiveCaptureOptions { Interface = "lo", Filter = "udp port banana" }));
        Assert.Contains("banana", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenLive_SeesUdpOnLoopback_AndStopsOnBreakLoop()
    {
        if (!IsRoot("OpenLive_SeesUdpOnLoopback_AndStopsOnBreakLoop"))
        {
            return;
        }

        using var receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)receiver.Client.LocalEndPoint!).Port;
        using var source = PcapSource.OpenLive(new LiveCaptureOptions { Interface = "lo", Filter = $"udp dst port {port}", TimeoutMs = 10 });
        Assert.True(source.TryGetStatistics(out _));

        byte[] marker = "appliance-live-test"u8.ToArray();
        bool seen = false;
        int seenLength = 0;
        PcapReadStatus final = PcapReadStatus.Packet;
        var reader = new Thread(() =>
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline)
            {
                PcapReadStatus status = source.ReadNext(out _, out _, out ReadOnlySpan<byte> frame);
                if (status == PcapReadStatus.Packet)
                {
                    if (frame.IndexOf(marker) >= 0)
                    {
                        seen = true;
                        seenLength = frame.Length;
                    }
                }
                else if (status is PcapReadStatus.EndOfFile or PcapReadStatus.Error)
                {
                    final = status;
                    return;
                }
            }
        });
        reader.Start();

        using var sender = new UdpClient();
        for (int i = 0; i < 50 && !Volatile.Read(ref seen); i++)
        {
            sender.Send(marker, marker.Length, new IPEndPoint(IPAddress.Loopback, port));
            Thread.Sleep(20);
        }

        source.BreakLoop();
        Assert.True(reader.Join(TimeSpan.FromSeconds(5)), "reader did not stop after BreakLoop");
        Assert.True(seen, "the UDP datagram was not captured on lo");
        Assert.Equal(PcapReadStatus.EndOfFile, final);
        Assert.Equal(14 + 20 + 8 + marker.Length, seenLength); // lo is DLT_EN10MB
        Assert.Equal(1, source.LinkType);
    }

    private bool IsRoot(string test)
    {
        if (Environment.UserName == "root" || (OperatingSystem.IsLinux() && File.Exists("/proc/self/status") && File.ReadAllText("/proc/self/status").Contains("\nUid:\t0\t", StringComparison.Ordinal)))
        {
            return true;
        }

        _output.WriteLine($"{test} skipped: live capture needs root (or CAP_NET_RAW); running as {Environment.UserName}.");
        return false;
    }
}
