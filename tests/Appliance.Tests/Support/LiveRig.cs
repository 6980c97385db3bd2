using System.Globalization;

namespace Appliance.Tests.Support;

/// <summary>
/// This test process's own live rig (tests/live/netns.sh): two namespaces and a bridge named after the process id, set in
/// APPL_NS_UAC, APPL_NS_UAS and APPL_BRIDGE for netns.sh and every other process the tests start. The rig is machine-wide
/// state: with netns.sh's default names, a test run of another checkout on the same machine tore this one's rig down and
/// rebuilt it under a running call (`netns.sh up` starts with `down`), and its SIPps met this run's.
/// </summary>
public static class LiveRig
{
    private static readonly string s_id = Environment.ProcessId.ToString("x", CultureInfo.InvariantCulture);

    static LiveRig()
    {
        // At most 6 hex digits (pid_max is 2^22): "appl-c" + id + "0" for the root-side veth end fits IFNAMSIZ (15 characters).
        Environment.SetEnvironmentVariable("APPL_NS_UAC", "appl-c" + s_id);
        Environment.SetEnvironmentVariable("APPL_NS_UAS", "appl-s" + s_id);
        Environment.SetEnvironmentVariable("APPL_BRIDGE", Bridge);
        Environment.SetEnvironmentVariable("APPL_NS_PRX", "appl-p" + s_id);
        Environment.SetEnvironmentVariable("APPL_NS_NAT", "appl-n" + s_id);
    }

    /// <summary>The bridge to capture on (netns.sh's appl-br0 for this process).</summary>
    public static string Bridge => "appl-b" + s_id;

    /// <summary>tests/live/netns.sh, to run with bash once the names above are in the environment.</summary>
    public static string Script => Path.Combine(Repo.Root, "tests", "live", "netns.sh");

    /// <summary>tests/live/topology.sh: the same rig with Kamailio as registrar and proxy in a third namespace.</summary>
    public static string TopologyScript => Path.Combine(Repo.Root, "tests", "live", "topology.sh");

    /// <summary>tests/live/websocket-phone.sh: topology.sh's rig with Kamailio on WebSocket too, and a browser-style phone.</summary>
    public static string WebSocketPhoneScript => Path.Combine(Repo.Root, "tests", "live", "websocket-phone.sh");

    /// <summary>tests/live/phone-moves.sh: topology.sh's rig with a phone whose address changes between two calls.</summary>
    public static string PhoneMovesScript => Path.Combine(Repo.Root, "tests", "live", "phone-moves.sh");
    /// <summary>tests/live/nat-phone.sh: topology.sh's rig with phone 2001 behind a NAT router on the bridge.</summary>
    public static string NatPhoneScript => Path.Combine(Repo.Root, "tests", "live", "nat-phone.sh");

    /// <summary>tests/live/topology-b2b.sh: the topology rig with an SBC hiding the Call-ID (topoh), or a transfer target.</summary>
    public static string B2bScript => Path.Combine(Repo.Root, "tests", "live", "topology-b2b.sh");

    /// <summary>
    /// Why a live test (SIPp calls in this rig, captured by the appliance, files decoded) cannot run here, in the words
    /// of <paramref name="test"/> ("the live pause test"); null when it can. CI runs as root with TEST_PACKAGES.
    /// </summary>
    public static string? SkipReason(string test)
    {
        if (!Repo.IsRoot)
        {
            return $"{test} needs root (network namespaces, raw capture, SIPp's raw socket); CI runs as root.";
        }

        string[] missing = MissingTools();
        return missing.Length == 0 ? null : $"missing tool(s) for {test}: {string.Join(", ", missing)}";
    }

    /// <summary>
    /// <see cref="SkipReason"/> for a test on a rig with Kamailio and rtpengine (topology.sh and the scripts sourcing it,
    /// nft for nat-phone.sh's router); null when it can run.
    /// </summary>
    public static string? TopologySkipReason(string test)
    {
        if (SkipReason(test) is { } reason)
        {
            return reason;
        }

        string[] missing = MissingTopologyTools();
        return missing.Length == 0 ? null : $"missing tool(s) for {test}: {string.Join(", ", missing)}";
    }

    /// <summary>The topology rigs' servers and the NAT router's tool not on PATH (no parameter, as <see cref="MissingTools"/>).</summary>
    private static string[] MissingTopologyTools()
    {
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return [.. new[] { "kamailio", "rtpengine", "nft" }.Where(t => !path.Any(p => File.Exists(Path.Combine(p, t))))];
    }

    /// <summary>The live tests' programs not on PATH (no parameter: ToolchainTests' scan reads the names here).</summary>
    private static string[] MissingTools()
    {
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return [.. new[] { "sipp", "ip", "opusdec" }.Where(t => !path.Any(p => File.Exists(Path.Combine(p, t))))];
    }
}
