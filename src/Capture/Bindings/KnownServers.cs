using System.Collections.Concurrent;
using System.Globalization;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

/// <summary>
/// Registrars, proxies and other servers (DESIGN section 2: infrastructure is not a phone): addresses from the
/// configuration (every port) and endpoints learned from what they do (receiving REGISTERs, forwarding requests).
/// Lookups and learning need no lock; the learned endpoints are kept in the store.
/// </summary>
internal sealed class KnownServers
{
    private const string StorePrefix = "s/";

    private readonly ConcurrentDictionary<IpAddress16, byte> _configured = new();     // every port
    private readonly ConcurrentDictionary<IpEndpoint16, ServerEvidence> _learned = new(); // learned from what they do
    private readonly ConcurrentDictionary<IpAddress16, byte> _addresses = new();      // addresses of either
    private readonly HashSet<IpEndpoint16> _unsaved = [];

    /// <summary>Learned endpoints are remembered for the store (set while the directory has one; under the lock).</summary>
    public bool TrackChanges { get; set; }

    public bool IsServer(IpEndpoint16 endpoint) => _configured.ContainsKey(endpoint.Address) || _learned.ContainsKey(endpoint);

    public bool IsServerAddress(IpAddress16 ip) => _addresses.ContainsKey(ip);

    /// <summary>Learns a server endpoint; false when it was known (or has no address). Thread-safe.</summary>
    public bool TryLearn(IpEndpoint16 endpoint, ServerEvidence evidence)
    {
        if (endpoint.Address == default || !_learned.TryAdd(endpoint, evidence))
        {
            return false;
        }

        _addresses.TryAdd(endpoint.Address, 0);
        return true;
    }

    /// <summary>A learned endpoint to write at the next persist (under the lock).</summary>
    public void MarkUnsaved(IpEndpoint16 endpoint)
    {
        if (TrackChanges)
        {
            _unsaved.Add(endpoint);
        }
    }

    public void AddConfigured(IReadOnlyList<string> servers)
    {
        foreach (string server in servers)
        {
            IpAddress16 ip = ConfigValues.ParseIp(server);
            _configured.TryAdd(ip, 0);
            _addresses.TryAdd(ip, 0);
        }
    }

    /// <summary>Every server: configured addresses (every port), then learned endpoints, each with its evidence.</summary>
    public List<ServerBinding> Snapshot()
    {
        var servers = new List<ServerBinding>();
        foreach (IpAddress16 ip in _configured.Keys)
        {
            servers.Add(new ServerBinding(ip.ToString(), null, ServerEvidence.Configured));
        }

        foreach (KeyValuePair<IpEndpoint16, ServerEvidence> kv in _learned)
        {
            servers.Add(new ServerBinding(kv.Key.Address.ToString(), kv.Key.Port, kv.Value));
        }

        servers.Sort((a, b) => (string.CompareOrdinal(a.Ip, b.Ip), (a.Port ?? -1).CompareTo(b.Port ?? -1)) switch
        {
            (0, int byPort) => byPort,
            (int byIp, _) => byIp,
        });
        return servers;
    }

    public bool WriteChanges(DirectoryStore store)
    {
        foreach (IpEndpoint16 server in _unsaved)
        {
            store.Put(StorePrefix + server.Address + " " + server.Port.ToString(CultureInfo.InvariantCulture), [(byte)_learned.GetValueOrDefault(server)]);
        }

        return _unsaved.Count > 0;
    }

    public void ChangesWritten() => _unsaved.Clear();

    public void Load(DirectoryStore store)
    {
        foreach (KeyValuePair<string, byte[]> kv in store.ReadAll(StorePrefix))
        {
            string[] parts = kv.Key[StorePrefix.Length..].Split(' ');
            if (parts.Length == 2 && ushort.TryParse(parts[1], CultureInfo.InvariantCulture, out ushort port) && ConfigValues.ParseIp(parts[0]) is { } ip && ip != default)
            {
                // The evidence byte (absent in state written before it was kept: those came from REGISTERs).
                _learned.TryAdd(new IpEndpoint16(ip, port), kv.Value.Length > 0 ? (ServerEvidence)kv.Value[0] : ServerEvidence.ReceivesRegisters);
                _addresses.TryAdd(ip, 0);
            }
        }
    }
}
