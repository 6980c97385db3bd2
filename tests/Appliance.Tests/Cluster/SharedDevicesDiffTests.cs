using System.Diagnostics;
using System.Globalization;
using Appliance.Cluster;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Appliance.Tests.Cluster;

/// <summary>
/// Learned devices shared by sending only what changed (README "Cluster"), checked on a real Garnet with two in-process
/// appliances: a has 40 phones and a visiting cross-cluster phone; b lists them. One phone's change rewrites only its own
/// field of a's hash (a field the test planted and another phone's field the test altered on the server both survive,
/// which a whole rewrite would undo), and carries another phone whose last-seen moved past ReconcileSeconds; the visitor unregistering (disposed) disappears at b; a's last-seen moves reach b;
/// a server restarted empty gets a's whole set again; a's hash lapsing (its keys gone) drops a's phones at a third appliance reconciling every second.
/// </summary>
[Collection("cluster")]
public sealed class SharedDevicesDiffTests(ITestOutputHelper output)
{
    private const int Phones = 40;
    private static readonly DateTimeOffset T0 = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    private static DirectoryConfig Config() => new()
    {
        Users = [new UserConfig("carol")],
        Profiles = [new ProfileConfig("carol-emcc", "carol") { Extensions = ["4001"], CrossCluster = true }],
    };

    private static string PhoneId(int i) => "SEP0011220000" + i.ToString("X2", CultureInfo.InvariantCulture);

    [Fact]
    public void OnePhoneChanging_RewritesOnlyItsField_RemovedOnesGoAtTheOther_AndAServerRestartedEmptyIsRefilled()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using GarnetServer garnet = GarnetServer.Start();
        using BindingDirectory a = BindingDirectory.Open(null, Config(), T0);
        using BindingDirectory b = BindingDirectory.Open(null, Config(), T0);
        for (int i = 0; i < Phones; i++)
        {
            string device = a.ObserveDevice(PhoneId(i), DeviceProtocol.Sip, IpAddress16.FromIPv4(0x0A10_0001u + (uint)i), T0);
            a.ReplaceLines(device, [(1, (3000 + i).ToString(CultureInfo.InvariantCulture), null)], LineSource.Registered, T0);
        }

        string visitor = a.ObserveDevice("SEPCAFE00000001", DeviceProtocol.Sip, IpAddress16.FromIPv4(0xC000_022Cu), T0);
        a.ReplaceLines(visitor, [(1, "4001", null)], LineSource.Registered, T0);
        Assert.True(a.GetDevice(visitor)!.Phantom);

        string prefix = "devdiff-" + Guid.NewGuid().ToString("N")[..8] + ":";
        // Neither reconciles on its own here: what reaches the server and b comes from a's change writes (and the reconnect).
        using var sharedA = new SharedDirectory(new ClusterSettings { Redis = garnet.Configuration, Name = "a", Prefix = prefix, ReconcileSeconds = 3600, ClaimSeconds = 7200 }, a, NullLogger.Instance);
        using var sharedB = new SharedDirectory(new ClusterSettings { Redis = garnet.Configuration, Name = "b", Prefix = prefix, ReconcileSeconds = 3600, ClaimSeconds = 7200 }, b, NullLogger.Instance);
        sharedA.Start(TimeSpan.FromSeconds(10));
        sharedB.Start(TimeSpan.FromSeconds(10));
        WaitFor(() => sharedB.RemoteDevices().Count == Phones + 1, "b lists a's 41 phones", sharedB);

        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        IDatabase db = redis.GetDatabase();
        RedisKey hash = prefix + "devices:a";
        // Planted on the server: a field of our own, and phone 7's field altered. Only a whole rewrite would undo them.
        string altered = ((string)db.HashGet(hash, PhoneId(7))!).Replace("\"registered\":true", "\"registered\":false", StringComparison.Ordinal);
        Assert.NotEqual((string)db.HashGet(hash, PhoneId(7))!, altered);
        db.HashSet(hash, [new HashEntry("planted", "not a device"), new HashEntry(PhoneId(7), altered)]);
        Dictionary<string, string> before = All(db, hash);

        // Phone 9 seen again two hours later, phone 10 a minute later (last-seen only, no event), then phone 3 gets a line 2:
        // that write carries phone 3 and phone 9 (its last-seen moved more than ReconcileSeconds), not phone 10.
        Assert.True(a.TryTouchDevice(PhoneId(9), IpAddress16.FromIPv4(0x0A10_0001u + 9), T0.AddHours(2)));
        Assert.True(a.TryTouchDevice(PhoneId(10), IpAddress16.FromIPv4(0x0A10_0001u + 10), T0.AddMinutes(1)));
        a.ReplaceLines(PhoneId(3), [(1, "3003", null), (2, "9003", null)], LineSource.Registered, T0.AddMinutes(1));
        WaitFor(() => sharedB.RemoteDevice(PhoneId(3)) is { Lines.Count: 2 } d && d.Lines[1].Extension == "9003", "b lists phone 3's line 2", sharedB);
        Assert.Equal(T0.AddHours(2), sharedB.RemoteDevice(PhoneId(9))!.LastSeen);
        Assert.Equal(T0, sharedB.RemoteDevice(PhoneId(10))!.LastSeen);
        Dictionary<string, string> after = All(db, hash);
        Assert.Contains("\"9003\"", after[PhoneId(3)], StringComparison.Ordinal);
        Assert.Equal([.. before.Keys.Order(StringComparer.Ordinal)], [.. after.Keys.Order(StringComparer.Ordinal)]);
        foreach ((string field, string value) in before)
        {
            if (field != PhoneId(3) && field != PhoneId(9))
            {
                Assert.True(value == after[field], $"{field} rewritten though unchanged");
            }
        }

        Assert.True(sharedB.RemoteDevice(PhoneId(7))!.Registered, "b read a's whole hash again for one phone's change");

        // The visitor unregisters: disposed at a, removed from the hash, gone at b.
        a.UnregisterDevice(visitor, T0.AddMinutes(2));
        Assert.Null(a.GetDevice(visitor));
        WaitFor(() => sharedB.RemoteDevice(visitor) is null, "the disposed visitor gone at b", sharedB);
        Assert.False(db.HashExists(hash, visitor));
        Assert.Equal(Phones, sharedB.RemoteDevices().Count);

        // A server restarted empty: a writes its whole set again (phone 7 as a has it, nothing planted), b lists it.
        garnet.Kill();
        garnet.Restart();
        WaitFor(() => db.HashLength(hash) == Phones && sharedA.Connected && sharedB.Connected, "a's 40 phones on the restarted server", sharedA);
        Dictionary<string, string> refilled = All(db, hash);
        Assert.False(refilled.ContainsKey("planted"));
        Assert.Equal(before[PhoneId(8)], refilled[PhoneId(8)]);
        Assert.Contains("\"registered\":true", refilled[PhoneId(7)], StringComparison.Ordinal);
        a.ReplaceLines(PhoneId(5), [(1, "3005", null), (2, "9005", null)], LineSource.Registered, T0.AddMinutes(3));
        WaitFor(() => sharedB.RemoteDevice(PhoneId(5)) is { Lines.Count: 2 }, "b lists phone 5's change after the restart", sharedB);
        Assert.Equal(Phones, sharedB.RemoteDevices().Count);

        // a gone for good: its hash and version lapse (deleted here rather than waited for); c, reconciling every second,
        // lists a's phones until then and drops them at its next reconciliation.
        sharedA.Stop(TimeSpan.Zero);
        using BindingDirectory c = BindingDirectory.Open(null, Config(), T0);
        using var sharedC = new SharedDirectory(new ClusterSettings { Redis = garnet.Configuration, Name = "c", Prefix = prefix, ReconcileSeconds = 1, ClaimSeconds = 7200 }, c, NullLogger.Instance);
        sharedC.Start(TimeSpan.FromSeconds(10));
        WaitFor(() => sharedC.RemoteDevices().Count(d => d.Appliance == "a") == Phones, "c lists a's phones", sharedC);
        db.KeyDelete([hash, prefix + "devices-version:a"]);
        WaitFor(() => sharedC.RemoteDevices().Count == 0, "c dropped a's phones once a's hash was gone", sharedC);
    }

    private static Dictionary<string, string> All(IDatabase db, RedisKey key) =>
        db.HashGetAll(key).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);

    private void WaitFor(Func<bool> condition, string what, SharedDirectory shared)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"timed out waiting: {what} (last error: {shared.LastError})");
            Thread.Sleep(50);
        }

        output.WriteLine($"{what}: {sw.Elapsed.TotalMilliseconds:F0} ms");
    }
}
