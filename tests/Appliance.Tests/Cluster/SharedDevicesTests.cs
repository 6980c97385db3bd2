using System.Net;
using System.Text;
using System.Text.Json;
using Appliance.Tests.Support;
using static Appliance.Tests.Cluster.ServiceProbes;

namespace Appliance.Tests.Cluster;

/// <summary>
/// Issue 12, devices learned from traffic shared across the estate (README "Cluster"): south learns a phone from its
/// REGISTER; north's GET /api/devices lists it with appliance and site south, though north never saw it nor has it
/// configured; a login at that phone made through north's API is applied at south, and south's next call on it is that
/// user's. Uses the two-appliance harness of <see cref="SharedDirectoryTests"/>.
/// </summary>
public sealed partial class SharedDirectoryTests
{
    /// <summary>No device at 200.57.7.204 is configured: south can only learn it.</summary>
    private const string ConfigWithoutDeskB = """
        {
          "devices": [ { "id": "desk-a", "extensions": ["5001"], "site": "north" } ],
          "users": [ { "id": "carol", "pin": "4321" }, { "id": "bob" } ]
        }
        """;

    [Fact]
    public void PhoneLearnedAtSouth_IsListedAtNorth_AndALoginThroughNorthAttributesSouthsNextCall()
    {
        if (GarnetServer.SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        using var dir = new Estate(ConfigWithoutDeskB);
        using GarnetServer garnet = GarnetServer.Start();
        // South's capture: francisco's REGISTER (from 200.57.7.204, answered 200) first, then 25 s later the whole
        // Wireshark sample, whose answered call to francisco starts at its first frame.
        string southPcap = RegisterFirst(Captures.PathOf("SIP_CALL_RTP_G711.pcap"), TimeSpan.FromSeconds(25), dir.Path);
        using ServiceProcess north = dir.Start("north", Estate.SippCall, paced: false, garnet);
        using ServiceProcess south = dir.Start("south", southPcap, paced: true, garnet);
        Assert.True(north.WaitForReady(TimeSpan.FromSeconds(30)), "north never ready: " + north.Log);
        Assert.True(south.WaitForReady(TimeSpan.FromSeconds(30)), "south never ready: " + south.Log);

        JsonElement learned = Poll(() => Json(south, "/api/devices").EnumerateArray().Where(d => !d.GetProperty("configured").GetBoolean()
                && d.GetProperty("ips").EnumerateArray().Any(ip => ip.GetString() == "200.57.7.204")).Select(d => (JsonElement?)d).FirstOrDefault(),
            TimeSpan.FromSeconds(10), "south learned the phone at 200.57.7.204", south);
        string id = learned.GetProperty("id").GetString()!;
        output.WriteLine("south learned: " + learned);

        // North lists it, marked as south's, with its line.
        JsonElement remote = Poll(() => Json(north, "/api/devices").EnumerateArray().Where(d => d.GetProperty("id").GetString() == id)
                .Select(d => (JsonElement?)d).FirstOrDefault(),
            TimeSpan.FromSeconds(10), "north lists south's phone", north);
        output.WriteLine("north lists: " + remote);
        Assert.Equal(("south", "south"), (remote.GetProperty("appliance").GetString(), remote.GetProperty("site").GetString()));
        Assert.Contains(remote.GetProperty("lines").EnumerateArray(), l => l.GetProperty("extension").GetString() == "francisco");
        Assert.Equal("south", Json(north, "/api/devices/" + Uri.EscapeDataString(id)).GetProperty("appliance").GetString());
        Assert.DoesNotContain(Json(north, "/api/devices?scope=local").EnumerateArray(), d => d.GetProperty("id").GetString() == id);
        // Kept apart from north's own directory: no line 1 claimed for it there, no conflict.
        Assert.DoesNotContain(Json(north, "/api/cluster").GetProperty("lines").EnumerateArray(), l => l.GetProperty("extension").GetString() == "francisco");
        Assert.Empty(Json(north, "/api/conflicts").EnumerateArray());

        // A wrong PIN is refused at north; the right one is accepted and applied at south.
        using (HttpResponseMessage wrong = Post(north, "/api/logins", new { user = "carol", device = id, pin = "0000" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        using (HttpResponseMessage accepted = Post(north, "/api/logins", new { user = "carol", device = id, pin = "4321" }))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        JsonElement where = Poll(() => Json(south, "/api/locate/user/carol") is { } l && l.GetProperty("loggedIn").GetBoolean() ? l : (JsonElement?)null,
            TimeSpan.FromSeconds(10), "carol logged in at south", south);
        Assert.Equal(id, where.GetProperty("hostDevice").GetString());
        using (HttpResponseMessage taken = Post(north, "/api/logins", new { user = "bob", device = id }))
        {
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode); // carol is there: "replace" is required, as for a local device
        }

        Assert.Empty(Json(south, "/api/calls").EnumerateArray()); // else the call began before the login

        // South's next call at that phone is carol's.
        JsonElement call = Poll(() => Json(south, "/api/calls").EnumerateArray().Where(c => c.GetProperty("left").GetProperty("user").GetString() == "carol"
                || c.GetProperty("right").GetProperty("user").GetString() == "carol").Select(c => (JsonElement?)c).FirstOrDefault(),
            TimeSpan.FromSeconds(60), "south's call attributed to carol", south);
        output.WriteLine("south's call: " + call);
        JsonElement party = call.GetProperty("left").GetProperty("user").GetString() == "carol" ? call.GetProperty("left") : call.GetProperty("right");
        Assert.Equal((id, "francisco", "explicit"),
            (party.GetProperty("hostDevice").GetString(), party.GetProperty("extension").GetString(), party.GetProperty("login").GetString()));
        Assert.Equal(id, Json(north, "/api/cluster/users/carol").GetProperty("device").GetString());
    }

    /// <summary>francisco's REGISTER and its answer moved to the front, <paramref name="gap"/> before the whole capture.</summary>
    private static string RegisterFirst(string capture, TimeSpan gap, string folder)
    {
        (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(capture);
        long first = frames[0].Ns;
        List<(long Ns, byte[] Frame)> register = [.. frames.Where(f => Contains(f.Frame, "REGISTER") && Contains(f.Frame, "francisco"))];
        Assert.Equal(2, register.Count); // the request and its 200
        long shift = register[^1].Ns - first + (long)gap.TotalMilliseconds * 1_000_000;
        List<(long Ns, byte[] Frame)> moved = [.. register.Select(f => (f.Ns - register[0].Ns + first, f.Frame)), .. frames.Select(f => (f.Ns + shift, f.Frame))];
        string path = Path.Combine(folder, "register-first.pcap");
        PcapFile.WriteClassic(path, linkType, moved);
        return path;
    }

    private static bool Contains(byte[] frame, string text) => frame.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;
}
