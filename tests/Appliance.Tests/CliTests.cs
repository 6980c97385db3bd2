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

    /// <summary>A flag of the other command is refused, not ignored: `replay --filter` would otherwise record everything.</summary>
    [Fact]
    public void FlagOfTheOtherCommand_ExitsWithCode2AndNamesTheCommandItBelongsTo()
    {
        string capture = Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap");
        (int code, string output) = Appliance("replay", capture, "--filter", "udp port 5060");
        Assert.Equal(2, code);
        Assert.Contains("--filter applies to 'capture' only, not to 'replay'", output, StringComparison.Ordinal);

        (code, output) = Appliance("replay", capture, "--checkpoint-seconds", "5");
        Assert.Equal(2, code);
        Assert.Contains("--checkpoint-seconds applies to 'capture' only", output, StringComparison.Ordinal);

        (code, output) = Appliance("capture", "--interface", "lo", "--json");
        Assert.Equal(2, code);
        Assert.Contains("--json applies to 'replay' only, not to 'capture'", output, StringComparison.Ordinal);

        (code, output) = Appliance("replay", capture, "--workers", "0");
        Assert.Equal(2, code);
        Assert.Contains("--workers must be an integer from 1 to 256", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A pcapng libpcap refuses to read past its header (interfaces with different snapshot lengths: libpcap 1.10 reads
    /// one snaplen per file) exits 2 with libpcap's own words, like a file that cannot be opened; a file cut mid-record
    /// keeps the calls read before the cut and exits 1, saying where reading stopped.
    /// </summary>
    [Fact]
    public void Replay_FileLibpcapRefusesOrCannotFinish_SaysSoWithLibpcapsMessage()
    {
        string dir = Path.Combine(Path.GetTempPath(), "appliance-refused-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string twoSnaplens = Path.Combine(dir, "two-snaplens.pcapng");
            File.WriteAllBytes(twoSnaplens, PcapngWithTwoInterfaces(65535, 200));
            (int code, string output) = Appliance("replay", twoSnaplens, "--out", Path.Combine(dir, "rec"));
            Assert.Equal(2, code);
            Assert.Contains(twoSnaplens + ": libpcap cannot read it: an interface has a snapshot length 200 different from", output, StringComparison.Ordinal);

            // SIP_CALL_RTP_G711.pcap cut inside its 1,000th record: the calls begun before the cut are still recorded.
            byte[] whole = File.ReadAllBytes(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
            int offset = 24;
            for (int i = 0; i < 999; i++)
            {
                offset += 16 + (int)BinaryPrimitives.ReadUInt32LittleEndian(whole.AsSpan(offset + 8));
            }

            string cut = Path.Combine(dir, "cut.pcap");
            File.WriteAllBytes(cut, whole.AsSpan(0, offset + 30).ToArray());
            (code, output) = Appliance("replay", cut, "--out", Path.Combine(dir, "rec"), "--json");
            Assert.Equal(1, code);
            Assert.Contains(cut + ": reading stopped after 999 frame(s): truncated dump file", output, StringComparison.Ordinal);
            Assert.Contains("\"callId\": \"12013223@200.57.7.195\"", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A section header, two Ethernet interfaces with the given snapshot lengths, and one packet on each.</summary>
    private static byte[] PcapngWithTwoInterfaces(uint firstSnaplen, uint secondSnaplen)
    {
        var file = new List<byte>();
        void Block(uint type, byte[] body)
        {
            int padded = (body.Length + 3) & ~3;
            byte[] block = new byte[12 + padded];
            BinaryPrimitives.WriteUInt32LittleEndian(block, type);
            BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), (uint)block.Length);
            body.CopyTo(block, 8);
            BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(block.Length - 4), (uint)block.Length);
            file.AddRange(block);
        }

        byte[] shb = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(shb, 0x1A2B3C4D); // byte-order magic
        BinaryPrimitives.WriteUInt16LittleEndian(shb.AsSpan(4), 1); // version 1.0
        BinaryPrimitives.WriteInt64LittleEndian(shb.AsSpan(8), -1); // section length unknown
        Block(0x0A0D0D0A, shb);
        foreach (uint snaplen in (uint[])[firstSnaplen, secondSnaplen])
        {
            byte[] idb = new byte[8];
            BinaryPrimitives.WriteUInt16LittleEndian(idb, 1); // LINKTYPE_ETHERNET
            BinaryPrimitives.WriteUInt32LittleEndian(idb.AsSpan(4), snaplen);
            Block(1, idb);
        }

        byte[] frame = new byte[60];
        for (uint i = 0; i < 2; i++)
        {
            byte[] epb = new byte[20 + frame.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(epb, i); // interface id
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(8), 1_000_000 * (i + 1)); // timestamp, microseconds
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(12), (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(16), (uint)frame.Length);
            Block(6, epb);
        }

        return [.. file];
    }
}
