using System.Text.Json;
using Appliance.Tests.Support;

namespace Appliance.Tests;

/// <summary>What `replay --config --state --json` shows of the directory, as a user runs it.</summary>
public sealed class DirectoryCliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appliance-dir-" + Guid.NewGuid().ToString("N"));

    public DirectoryCliTests() => Directory.CreateDirectory(_dir);

    /// <summary>alice's extension-mobility profile is {3001, 3002} (the set uac_mobility.xml registers).</summary>
    internal const string MobilityConfig = """
        {
          "users": [ { "id": "alice", "name": "Alice" } ],
          "profiles": [ { "id": "alice-em", "user": "alice", "extensions": ["3001", "3002"] } ]
        }
        """;

    private static (int Code, string Output) Appliance(params string[] args) =>
        Repo.Run("dotnet", [Repo.ApplianceDll, .. args], TimeSpan.FromSeconds(120));

    private string Config(string json)
    {
        string path = Path.Combine(_dir, "appliance.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void ReplayJson_ShowsTheDevicesLoginsAndEventsLearnedFromRealRegisters()
    {
        string sample = Path.Combine(Repo.Root, "samples", "sipp-mobility-registers.pcap");
        (int code, string output) = Appliance("replay", sample, "--out", Path.Combine(_dir, "rec"), "--json", "--config", Config(MobilityConfig));
        Assert.True(code == 0, output);
        using JsonDocument doc = JsonDocument.Parse(output);

        JsonElement device = Assert.Single(doc.RootElement.GetProperty("devices").EnumerateArray());
        Assert.Equal("sip:10.77.0.10:5061", device.GetProperty("id").GetString());
        Assert.Equal(["10.77.0.10"], device.GetProperty("ips").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["2001"], device.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("extension").GetString()));

        JsonElement login = Assert.Single(doc.RootElement.GetProperty("logins").EnumerateArray());
        Assert.Equal(("alice", "alice-em", "Mobility", "sip:10.77.0.10:5061"), (login.GetProperty("user").GetString(), login.GetProperty("profile").GetString(), login.GetProperty("kind").GetString(), login.GetProperty("hostDevice").GetString()));
        Assert.Equal("set-changed", login.GetProperty("endReason").GetString());
        TimeSpan held = login.GetProperty("until").GetDateTimeOffset() - login.GetProperty("since").GetDateTimeOffset();
        Assert.InRange(held.TotalSeconds, 1.4, 1.6); // tshark: {3001, 3002} from 1.005 s to 2.508 s

        string[] kinds = [.. doc.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()!)];
        Assert.Contains("LoginEstablished", kinds);
        Assert.Contains("LoginCancelled", kinds);
        Assert.Equal(3, doc.RootElement.GetProperty("counters").GetProperty("sip_unregisters").GetInt64()); // three Expires: 0
    }

    [Fact]
    public void ReplayWithState_KeepsTheDirectoryAcrossRuns()
    {
        string state = Path.Combine(_dir, "state");
        string config = Config(MobilityConfig);
        string mobility = Path.Combine(Repo.Root, "samples", "sipp-mobility-registers.pcap");
        (int code, string output) = Appliance("replay", mobility, "--out", Path.Combine(_dir, "rec"), "--state", state, "--config", config);
        Assert.True(code == 0, output);
        Assert.Contains("directory: 1 device(s)", output, StringComparison.Ordinal);

        // A second run on a capture without this phone still knows it, its line and alice's login history.
        string other = Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap");
        (code, output) = Appliance("replay", other, "--out", Path.Combine(_dir, "rec2"), "--state", state, "--config", config, "--json");
        Assert.True(code == 0, output);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement phone = doc.RootElement.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("id").GetString() == "sip:10.77.0.10:5061");
        Assert.Equal(["2001"], phone.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("extension").GetString()));
        Assert.Equal("alice", Assert.Single(doc.RootElement.GetProperty("logins").EnumerateArray()).GetProperty("user").GetString());
    }

    [Fact]
    public void ReplayWithABadConfig_ExitsWithCode2AndListsEveryProblem()
    {
        string config = Config("""
            {
              "users": [ { "id": "alice" } ],
              "devices": [ { "id": "desk", "extensions": ["3001", "3002"] } ],
              "profiles": [
                { "id": "a", "user": "alice", "extensions": ["3001", "3002"] },
                { "id": "b", "user": "alice", "extensions": ["30 03"] }
              ]
            }
            """);
        string sample = Path.Combine(Repo.Root, "samples", "sipp-mobility-registers.pcap");
        (int code, string output) = Appliance("replay", sample, "--out", Path.Combine(_dir, "rec"), "--config", config);

        Assert.Equal(2, code);
        Assert.Contains("desk", output, StringComparison.Ordinal);   // profile a's set equals device desk's configured set
        Assert.Contains("30 03", output, StringComparison.Ordinal);  // malformed extension
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
