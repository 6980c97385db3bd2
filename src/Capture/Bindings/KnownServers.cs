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
    private readonly ConcurrentDictionary<IpEndpoint16, byte> _learned = new();       // where REGISTERs go
    private readonly ConcurrentDictionary<IpAddress16, byte> _addresses = new();      // addresses of either
    private readonly HashSet<IpEndpoint16> _unsaved = [];

    /// <summary>Learned endpoints are remembered for the store (set while the directory has one; under the lock).</summary>
    public bool TrackChanges { get; set; }

    public bool IsServer(IpEndpoint16 endpoint) => _configured.ContainsKey(endpoint.Address) || _learned.ContainsKey(endpoint);

    public bool IsServerAddress(IpAddress16 ip) => _addresses.ContainsKey(ip);

    /// <summary>Learns a server endpoint; false when it was known (or has no address). Thread-safe.</summary>
    public bool TryLearn(IpEndpoint16 endpoint)
    {
        if (endpoint.Address == default || !_learned.TryAdd(endpoint, 0))
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

    public bool WriteChanges(DirectoryStore store)
    {
        foreach (IpEndpoint16 server in _unsaved)
        {
            store.Put(StorePrefix + server.Address + " " + server.Port.ToString(CultureInfo.InvariantCulture), []);
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
                _learned.TryAdd(new IpEndpoint16(ip, port), 0);
                _addresses.TryAdd(ip, 0);
            }
        }
    }
}
