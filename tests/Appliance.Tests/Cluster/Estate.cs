using Appliance.Tests.Support;

namespace Appliance.Tests.Cluster;

/// <summary>
/// The multi-appliance tests' estate: a temporary folder with each appliance's state and recordings under its name, the
/// directory configuration every appliance is given, a key prefix of the test's own on the shared server, and
/// `appliance run` processes started with the cluster settings of the servers the test runs.
/// </summary>
internal sealed class Estate : IDisposable
{
    /// <summary>The secret the appliances of a test estate share (Cluster:Secret).</summary>
    public const string Secret = "estate-secret-for-the-tests";

    /// <summary>The SIPp call sample (10 s): 2001 at 127.0.0.1:5061 calls 2002 at sip:127.0.0.1:5070, which becomes its line 1.</summary>
    public static string SippCall => System.IO.Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap");

    /// <param name="config">The directory configuration (devices, users, profiles) every appliance loads; null: none.</param>
    public Estate(string? config)
    {
        Path = Directory.CreateTempSubdirectory("appl-cluster-").FullName;
        if (config is not null)
        {
            File.WriteAllText(ConfigFile, config);
        }
    }

    public string Path { get; }

    public string ConfigFile => System.IO.Path.Combine(Path, "directory.json");

    /// <summary>Keys of this test only.</summary>
    public string Prefix => "t-" + System.IO.Path.GetFileName(Path) + ":";

    /// <summary>
    /// An appliance named <paramref name="name"/> (its site too) replaying <paramref name="replay"/>, with Cluster:Redis
    /// when <paramref name="garnet"/> is given (reconciling every second) and Cluster:Postgres when <paramref name="pg"/> is.
    /// </summary>
    public ServiceProcess Start(string name, string replay, bool paced, GarnetServer? garnet = null, PostgresServer? pg = null, int? claimSeconds = null)
    {
        string root = System.IO.Path.Combine(Path, name);
        var env = new Dictionary<string, string?>
        {
            ["APPLIANCE_CLUSTER__NAME"] = name,
            ["APPLIANCE_CLUSTER__SITE"] = name,
            ["APPLIANCE_CLUSTER__SECRET"] = Secret,
        };
        if (garnet is not null)
        {
            env["APPLIANCE_CLUSTER__REDIS"] = garnet.Configuration;
            env["APPLIANCE_CLUSTER__PREFIX"] = Prefix;
            env["APPLIANCE_CLUSTER__RECONCILESECONDS"] = "1";
            env["APPLIANCE_CLUSTER__CLAIMSECONDS"] = claimSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (pg is not null)
        {
            env["APPLIANCE_CLUSTER__POSTGRES"] = pg.ConnectionString();
        }

        List<string> args = ["--replay", replay, "--recordings", System.IO.Path.Combine(root, "rec"), "--state", System.IO.Path.Combine(root, "state"),
            "--workers", "1", "--checkpoint-seconds", "1"];
        if (File.Exists(ConfigFile))
        {
            args.AddRange(["--config", ConfigFile]);
        }

        if (!paced)
        {
            args.Add("--no-pacing");
        }

        return ServiceProcess.Start(env, [.. args]);
    }

    /// <summary>The capture with a frame nobody parses (an unknown EtherType) <paramref name="delay"/> before its first.</summary>
    public string Delayed(string capture, TimeSpan delay)
    {
        (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(capture);
        Assert.Equal(1, linkType); // Ethernet
        byte[] filler = new byte[60];
        filler[12] = 0x88;
        filler[13] = 0xB5; // IEEE 802 local experimental
        string path = System.IO.Path.Combine(Path, System.IO.Path.GetFileNameWithoutExtension(capture) + "-delayed.pcap");
        PcapFile.WriteClassic(path, linkType, [(frames[0].Ns - (long)delay.TotalMilliseconds * 1_000_000, filler), .. frames]);
        return path;
    }

    /// <summary>The capture with every frame from <paramref name="after"/> on (since its first) <paramref name="by"/> later.</summary>
    public string Stretched(string capture, TimeSpan after, TimeSpan by)
    {
        (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(capture);
        long first = frames[0].Ns, cut = (long)after.TotalMilliseconds * 1_000_000, shift = (long)by.TotalMilliseconds * 1_000_000;
        string path = System.IO.Path.Combine(Path, System.IO.Path.GetFileNameWithoutExtension(capture) + "-stretched.pcap");
        PcapFile.WriteClassic(path, linkType, frames.Select(f => f.Ns - first >= cut ? (f.Ns + shift, f.Frame) : f));
        return path;
    }

    /// <summary>The second capture's frames <paramref name="gap"/> after the first's last (both Ethernet).</summary>
    public string TwoCalls(string a, string b, TimeSpan gap)
    {
        (int linkA, List<(long Ns, byte[] Frame)> first) = PcapFile.Read(a);
        (int linkB, List<(long Ns, byte[] Frame)> second) = PcapFile.Read(b);
        Assert.Equal((1, 1), (linkA, linkB));
        long shift = first[^1].Ns + (long)gap.TotalMilliseconds * 1_000_000 - second[0].Ns;
        string path = System.IO.Path.Combine(Path, "two-calls.pcap");
        PcapFile.WriteClassic(path, 1, [.. first, .. second.Select(f => (f.Ns + shift, f.Frame))]);
        return path;
    }

    /// <summary>
    /// The capture moved to another network: IPv4 addresses starting <paramref name="from"/> (e.g. "10.0.2.") start
    /// <paramref name="to"/> (same length) instead, in the IP headers and in the SIP and SDP text; UDP checksums cleared
    /// (optional over IPv4). For two sites whose calls come from the same sample.
    /// </summary>
    public string Moved(string capture, string from, string to)
    {
        Assert.Equal(from.Length, to.Length);
        byte[] fromNet = [.. from.TrimEnd('.').Split('.').Select(byte.Parse)], toNet = [.. to.TrimEnd('.').Split('.').Select(byte.Parse)];
        byte[] fromText = System.Text.Encoding.ASCII.GetBytes(from), toText = System.Text.Encoding.ASCII.GetBytes(to);
        (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(capture);
        Assert.Equal(1, linkType);
        foreach ((_, byte[] frame) in frames)
        {
            if (frame.Length < 34 || frame[12] != 0x08 || frame[13] != 0x00)
            {
                continue; // not IPv4 over Ethernet
            }

            const int Ip = 14;
            int headerLength = (frame[Ip] & 0x0F) * 4;
            foreach (int address in (int[])[Ip + 12, Ip + 16])
            {
                if (frame.AsSpan(address, fromNet.Length).SequenceEqual(fromNet))
                {
                    toNet.CopyTo(frame, address);
                }
            }

            frame[Ip + 10] = frame[Ip + 11] = 0;
            uint sum = 0;
            for (int i = 0; i < headerLength; i += 2)
            {
                sum += (uint)(frame[Ip + i] << 8 | frame[Ip + i + 1]);
            }

            sum = (sum & 0xFFFF) + (sum >> 16);
            sum = (sum & 0xFFFF) + (sum >> 16);
            frame[Ip + 10] = (byte)(~sum >> 8);
            frame[Ip + 11] = (byte)~sum;
            if (frame[Ip + 9] == 17)
            {
                frame[Ip + headerLength + 6] = frame[Ip + headerLength + 7] = 0;
            }

            Span<byte> payload = frame.AsSpan(Ip + headerLength);
            for (int at; (at = payload.IndexOf(fromText)) >= 0; payload = payload[(at + toText.Length)..])
            {
                toText.CopyTo(payload[at..]);
            }
        }

        string path = System.IO.Path.Combine(Path, System.IO.Path.GetFileNameWithoutExtension(capture) + "-moved.pcap");
        PcapFile.WriteClassic(path, linkType, frames);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a process still closing a file: the temp folder is cleaned by the system
        }
    }
}
