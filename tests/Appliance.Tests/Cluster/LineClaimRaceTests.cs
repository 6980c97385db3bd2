using System.Diagnostics;
using Appliance.Cluster;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Appliance.Tests.Cluster;

/// <summary>
/// Line-1 claims racing on a real Garnet: two appliances (in-process <see cref="SharedDirectory"/> instances over their
/// own directories) start at the same moment, each with 200 phones holding the same 200 extensions as line 1, first seen
/// at random times. Every extension ends with exactly one holder, the phone seen first (DESIGN section 2), the server
/// naming the same, and the other appliance reporting the conflict with it.
/// </summary>
[Collection("cluster")]
public sealed class LineClaimRaceTests(ITestOutputHelper output)
{
    private const int Extensions = 200;
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TwoAppliancesClaimingTheSameLineOnesAtOnce_EachEndsWithExactlyOneHolder_TheFirstSeen()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using GarnetServer garnet = GarnetServer.Start();
        var random = new Random(12);
        var firstSeen = new Dictionary<(string Appliance, string Extension), DateTimeOffset>();
        BindingDirectory Appliance(string name, byte net)
        {
            BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
            for (int i = 0; i < Extensions; i++)
            {
                string ext = (7000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
                DateTimeOffset at = T0.AddSeconds(random.Next(0, 3600));
                firstSeen[(name, ext)] = at;
                string device = d.ObserveDevice("phone-" + ext, DeviceProtocol.Sip, IpAddress16.FromIPv4(((uint)net << 24) | (uint)(i + 1)), at);
                d.ReplaceLines(device, [(1, ext, null)], LineSource.Registered, at);
            }

            return d;
        }

        using BindingDirectory a = Appliance("a", 10);
        using BindingDirectory b = Appliance("b", 11);
        string prefix = "race-" + Guid.NewGuid().ToString("N")[..8] + ":";
        using var sharedA = new SharedDirectory(new ClusterSettings { Redis = garnet.Configuration, Name = "a", Prefix = prefix }, a, NullLogger.Instance);
        using var sharedB = new SharedDirectory(new ClusterSettings { Redis = garnet.Configuration, Name = "b", Prefix = prefix }, b, NullLogger.Instance);
        Parallel.Invoke(() => sharedA.Start(TimeSpan.FromSeconds(10)), () => sharedB.Start(TimeSpan.FromSeconds(10)));

        var sw = Stopwatch.StartNew();
        Dictionary<string, SharedLine> linesA, linesB;
        while (true)
        {
            linesA = sharedA.Lines().ToDictionary(l => l.Extension);
            linesB = sharedB.Lines().ToDictionary(l => l.Extension);
            bool settled = linesA.Count == Extensions && linesB.Count == Extensions
                && linesA.Keys.All(e => linesA[e].Held != linesB[e].Held);
            if (settled || sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                break;
            }

            Thread.Sleep(100);
        }

        output.WriteLine($"settled after {sw.Elapsed.TotalSeconds:F1} s: a holds {linesA.Values.Count(l => l.Held)}, b {linesB.Values.Count(l => l.Held)}");
        using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect(garnet.Configuration);
        IDatabase db = redis.GetDatabase();
        HashSet<string> conflictsA = [.. a.Conflicts(openOnly: true).Select(c => c.Extension)];
        HashSet<string> conflictsB = [.. b.Conflicts(openOnly: true).Select(c => c.Extension)];
        for (int i = 0; i < Extensions; i++)
        {
            string ext = (7000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(linesA.ContainsKey(ext) && linesB.ContainsKey(ext), $"{ext} claimed by both");
            Assert.True(linesA[ext].Held != linesB[ext].Held, $"{ext}: exactly one holder, not a {linesA[ext].Held} b {linesB[ext].Held}");
            string winner = firstSeen[("a", ext)] <= firstSeen[("b", ext)] ? "a" : "b";
            string loser = winner == "a" ? "b" : "a";
            Assert.True((winner == "a" ? linesA : linesB)[ext].Held, $"{ext}: the phone seen first ({winner}) holds it");
            Assert.Equal(winner, (string?)db.HashGet(prefix + "line1:" + ext, "appliance"));
            Assert.Equal($"phone-{ext} at {winner}", (loser == "a" ? linesA : linesB)[ext].Holder);
            Assert.Contains(ext, loser == "a" ? conflictsA : conflictsB);
            Assert.DoesNotContain(ext, winner == "a" ? conflictsA : conflictsB);
        }
    }
}
