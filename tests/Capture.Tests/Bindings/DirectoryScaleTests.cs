using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Capture.Recording;
using Capture.Tests.Support;
using Xunit.Abstractions;

namespace Capture.Tests.Bindings;

/// <summary>The directory's per-packet lookups allocate nothing, and a device costs little memory.</summary>
[Collection(WholeHeap.Name)]
public sealed class DirectoryScaleTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

    private static (BindingDirectory Directory, IpAddress16[] Ips, string[] Ids, string[] Extensions) Build(int devices)
    {
        BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var ips = new IpAddress16[devices];
        var ids = new string[devices];
        var extensions = new string[devices];
        for (int i = 0; i < devices; i++)
        {
            ips[i] = IpAddress16.FromIPv4(0x0A00_0000u + (uint)i + 1);
            ids[i] = "sip:" + ips[i] + ":5060";
            extensions[i] = (100_000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string id = d.ObserveDevice(ids[i], DeviceProtocol.Sip, ips[i], T0);
            d.RegisterLine(id, extensions[i], "Agent " + i, LineSource.Registered, T0.AddHours(1), T0);
        }

        return (d, ips, ids, extensions);
    }

    [Fact]
    public void Lookups_ByIpExtensionAndId_AndRegistrationRefreshes_AllocateNothing()
    {
        (BindingDirectory d, IpAddress16[] ips, string[] ids, string[] extensions) = Build(5000);
        using (d)
        {
            int found = 0;
            void Round()
            {
                for (int i = 0; i < ips.Length; i++)
                {
                    found += d.TryFindByIp(ips[i], out _) ? 1 : 0;
                    found += d.TryFindByExtension(extensions[i].AsSpan(), out _) ? 1 : 0;
                    found += d.TryGetDevice(ids[i].AsSpan(), out _) ? 1 : 0;
                    found += d.TryRefreshLine(ids[i].AsSpan(), extensions[i].AsSpan(), ips[i], T0.AddHours(2), T0.AddMinutes(1)) ? 1 : 0;
                    found += d.TryTouchDevice(ids[i].AsSpan(), ips[i], T0.AddMinutes(1)) ? 1 : 0;
                }
            }

            long allocated = Allocations.Measure(Round, () =>
            {
                found = 0;
                Round();
            });

            Assert.Equal(5 * ips.Length, found);
            Assert.Equal(0, allocated);
        }
    }

    [Fact]
    public void MemoryPerDevice_StaysSmall()
    {
        const int Devices = 20_000;
        long before = GC.GetTotalMemory(forceFullCollection: true);
        (BindingDirectory d, _, _, _) = Build(Devices);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        using (d)
        {
            // The test's own arrays (ips, ids, extensions) are included: an upper bound.
            double perDevice = (after - before) / (double)Devices;
            output.WriteLine($"{perDevice:0} bytes per device ({Devices} devices, one line each)");
            Assert.Equal(Devices, d.DeviceCount);
            Assert.InRange(perDevice, 100, 4096);
        }
    }

    [Fact]
    public void RtpOfAnAttributedCall_AllocatesNothing_WithTheDirectoryInThePipeline()
    {
        var config = new DirectoryConfig
        {
            Devices = [new DeviceConfig("agent-desk") { Ips = ["10.0.0.20"], Extensions = ["2002"] }],
            Users = [new UserConfig("bob")],
        };
        using BindingDirectory directory = BindingDirectory.Open(null, config, SipScenario.TimeAt(-60));
        Assert.True(directory.Login("bob", "agent-desk", null, SipScenario.TimeAt(-1)).Ok);
        using var s = new SipScenario(queueCapacity: 64, directory: directory);
        var dialog = new SipDialog("alloc@10.0.0.10", "<sip:1001@pbx>", "<sip:2002@pbx>");
        s.Sip("10.0.0.10:5060", "10.0.0.20:5060", dialog.Invite(1, SipDialog.Sdp("10.0.0.10", 4000)));
        s.Sip("10.0.0.20:5060", "10.0.0.10:5060", dialog.Response(200, "OK", 1, "INVITE", SipDialog.Sdp("10.0.0.20", 5000)));
        s.Sip("10.0.0.10:5060", "10.0.0.20:5060", dialog.Ack());

        var frames = new List<(long Ts, byte[] Frame)>();
        long ts = s.Now;
        for (int i = 0; i < 3000; i++)
        {
            frames.Add((ts, s.RtpFrame("10.0.0.10:4000", "10.0.0.20:5000", 500, atNs: ts)));
            frames.Add((ts, s.RtpFrame("10.0.0.20:5000", "10.0.0.10:4000", 1300, atNs: ts)));
            ts += 20_000_000;
        }

        void Process(int from, int to)
        {
            for (int i = from; i < to; i++)
            {
                s.Pipeline.ProcessFrame(1, frames[i].Ts, frames[i].Frame); // ticks (directory housekeeping) included
            }
        }

        const int WarmUp = 1000;
        Assert.Equal(0, Allocations.Measure(() => Process(0, WarmUp), () => Process(WarmUp, frames.Count)));
        CallSidecar call = Assert.Single(s.Complete());
        Assert.Equal(("agent-desk", "bob"), (call.Parties[0].Device, call.Parties[0].User));
    }
}
