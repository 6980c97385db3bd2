using System.Buffers.Binary;
using System.Text.Json;
using Appliance.Tests.Support;

namespace Appliance.Tests;

/// <summary>The command line as a user runs it: the built appliance in its own process.</summary>
public class CliTests
{
    private static (int Code, string Output) Appliance(params string[] args) =>
        Repo.Run("dotnet", [Repo.ApplianceDll, .. args], TimeSpan.FromSeconds(120));

    [Fact]
    public void ReplayJson_PrintsCallsAndCounters()
    {
        string dir = Path.Combine(Path.GetTempPath(), "appliance-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            (int code, string output) = Appliance("replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--out", dir, "--json");
            Assert.True(code == 0, output);
            using JsonDocument doc = JsonDocument.Parse(output);
            JsonElement call = Assert.Single(doc.RootElement.GetProperty("calls").EnumerateArray());
            Assert.Equal("2001", call.GetProperty("parties")[0].GetProperty("extension").GetString());
            Assert.Equal("2002", call.GetProperty("parties")[1].GetProperty("extension").GetString());
            Assert.Equal("bye", call.GetProperty("endReason").GetString());
            Assert.True(File.Exists(Path.Combine(dir, call.GetProperty("file").GetString()!)));

            // tshark on the sample: 656 frames, 10 SIP messages, 236 + 400 PCMA and 10 telephone-event packets.
            JsonElement counters = doc.RootElement.GetProperty("counters");
            Assert.Equal(656, counters.GetProperty("frames").GetInt64());
            Assert.Equal(10, counters.GetProperty("sip_messages").GetInt64());
            Assert.Equal(646, counters.GetProperty("media_packets").GetInt64());
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Replay_UnreadableOrUnsupportedInput_ExitsWithCode2AndSaysWhy()
    {
        string notPcap = Path.GetTempFileName();
        string tokenRing = Path.GetTempFileName();
        try
        {
            File.WriteAllText(notPcap, "this is not a capture file\n");
            (int code, string output) = Appliance("replay", notPcap);
            Assert.Equal(2, code);
            Assert.Contains(notPcap, output, StringComparison.Ordinal);

            (code, output) = Appliance("replay", "/nonexistent/file.pcap");
            Assert.Equal(2, code);
            Assert.Contains("/nonexistent/file.pcap", output, StringComparison.Ordinal);

            // A valid pcap header with link type 6 (IEEE 802.5 Token Ring): readable, but not a link we decode.
            byte[] header = new byte[24];
            BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 2);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), 4);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 65535);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 6);
            File.WriteAllBytes(tokenRing, header);
            (code, output) = Appliance("replay", tokenRing);
            Assert.Equal(2, code);
            Assert.Contains("link type 6 is not supported", output, StringComparison.Ordinal);

            (code, output) = Appliance("replay", notPcap, "--complexity", "11");
            Assert.Equal(2, code);
            Assert.Contains("--complexity must be an integer from 0 to 10", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(notPcap);
            File.Delete(tokenRing);
        }
    }
}
