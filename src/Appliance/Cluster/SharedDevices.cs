using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Capture.Bindings;
using Capture.Bindings.Config;
using StackExchange.Redis;

namespace Appliance.Cluster;

/// <summary>
/// Devices learned from traffic, shared across the estate (README "Cluster"): each appliance writes its own to one hash
/// (<c>devices:&lt;appliance&gt;</c>, a field per device) when they change (at most once a second, on the cluster's task,
/// never on the capture path) and at every reconciliation, and reads the others'. Remote devices are kept apart from the
/// local directory: they own no line here, raise no conflict, and no local call is attributed to them by address.
/// </summary>
public sealed partial class SharedDirectory
{
    private readonly ConcurrentDictionary<(string Appliance, string Id), SharedDevice> _remote = new();
    private readonly ConcurrentQueue<ClusterMessage> _devicePulls = new();
    private readonly Dictionary<string, string> _deviceVersions = new(StringComparer.Ordinal); // appliance -> version read (worker task only)
    private Dictionary<string, SentDevice> _sentDevices = new(StringComparer.Ordinal); // on the server as written here (worker task only)
    private string? _devicesVersion;
    private readonly ConcurrentQueue<string> _changedDevices = new(); // named by the directory's events since the last write
    private volatile bool _compareAllDevices = true;
    private volatile bool _devicesDirty = true;
    private long _devicesWrittenTicks;

    /// <summary>At most one devices write per this interval (changes in between are batched); zero in the benchmark.</summary>
    internal TimeSpan DevicesBatch { get; init; } = TimeSpan.FromSeconds(1);

    private RedisKey DevicesKey(string appliance) => _prefix + "devices:" + appliance;

    private RedisKey DevicesVersionKey(string appliance) => _prefix + "devices-version:" + appliance;

    private RedisKey DeviceAppliancesKey => _prefix + "device-appliances";

    /// <summary>Other appliances' learned devices, as last read from the server, ordered by id then appliance.</summary>
    public IReadOnlyList<SharedDevice> RemoteDevices() =>
        [.. _remote.Values.OrderBy(d => d.Id, StringComparer.Ordinal).ThenBy(d => d.Appliance, StringComparer.Ordinal)];

    /// <summary>Another appliance's device of that id (the first appliance by name when several see one), or null.</summary>
    public SharedDevice? RemoteDevice(string id) =>
        _remote.Values.Where(d => d.Id == id).OrderBy(d => d.Appliance, StringComparer.Ordinal).FirstOrDefault();

    /// <summary>Who is logged in at a device as far as the estate's latest states tell (the latest login there), or null.</summary>
    public EstateLogin? LoggedInAt(string device) => _estate.Values.Where(s => s.In && s.Device == device).OrderByDescending(s => s.At)
        .Select(s => Locate(s.User)).FirstOrDefault();

    /// <summary>
    /// An explicit login made here at another appliance's device: queued for the server as the user's latest state (the
    /// later event wins, as for every login); the appliance that sees the device applies it and attributes its calls.
    /// </summary>
    public EstateLogin LoginAtRemote(string user, SharedDevice device, DateTimeOffset at)
    {
        _outbox.Enqueue(new UserState(user, true, device.Id, null, nameof(LoginKind.Explicit), [], null, at.UtcTicks, _name, _settings.Site));
        _signal.Release();
        return new EstateLogin(user, true, device.Id, device.Appliance, device.Site, null, nameof(LoginKind.Explicit), null, at);
    }

    /// <summary>
    /// This appliance's learned devices (configured ones are in every appliance's configuration) to its hash: only those
    /// that changed since the last write (HSET) and those gone (HDEL), with the hash's version (a key beside it) and the
    /// lease renewed in one transaction, then "devices changed" naming them. The whole hash is written again (DEL, HSET of
    /// every device, a new version epoch) when <paramref name="full"/>, or at reconciliation when the server does not hold
    /// the version last written here (a server restarted empty, a lapsed hash). A device whose only change is its last-seen
    /// time is written once that moved <see cref="LastSeenStep"/> (ReconcileSeconds) past what was sent: phones seen
    /// continuously would otherwise be rewritten at every write. A device changed without an event naming it (none is
    /// known) would reach the server at the next reconciliation, which compares every device.
    /// </summary>
    private async Task WriteDevicesAsync(bool full, bool reconcile)
    {
        if (!full && !reconcile && Stopwatch.GetElapsedTime(Interlocked.Read(ref _devicesWrittenTicks)) < DevicesBatch)
        {
            _devicesDirty = true; // batched: written at the next pass after the interval is up
            return;
        }

        IDatabase db = Database;
        RedisKey key = DevicesKey(_name);
        RedisKey versionKey = DevicesVersionKey(_name);
        if (reconcile && !full)
        {
            full = _devicesVersion is null || await db.StringGetAsync(versionKey).ConfigureAwait(false) != _devicesVersion;
        }

        // Between reconciliations only the devices the directory's events named are compared (serialising every device
        // at every write is what a contact centre's constant changes cannot afford); reconciliation compares them all.
        bool compareAll = full || reconcile || _compareAllDevices;
        _compareAllDevices = false;
        HashSet<string> named = new(StringComparer.Ordinal);
        while (_changedDevices.TryDequeue(out string? id))
        {
            named.Add(id);
        }

        Dictionary<string, SentDevice> sent = new(StringComparer.Ordinal);
        List<HashEntry> write = [];
        foreach (DeviceBinding d in _directory.Devices())
        {
            if (d.Configured)
            {
                continue;
            }

            if (!compareAll && !named.Contains(d.Id) && _sentDevices.TryGetValue(d.Id, out SentDevice kept) && LastSeenSent(kept, d))
            {
                sent[d.Id] = kept;
                continue;
            }

            SharedDevice shared = SharedDevice.Of(d, _name, _settings.Site);
            string content = JsonSerializer.Serialize(shared with { LastSeen = null }, ClusterJsonContext.Default.SharedDevice);
            if (!full && _sentDevices.TryGetValue(d.Id, out SentDevice before) && before.Content == content && LastSeenSent(before, d))
            {
                sent[d.Id] = before;
                continue;
            }

            write.Add(new HashEntry(d.Id, JsonSerializer.Serialize(shared, ClusterJsonContext.Default.SharedDevice)));
            sent[d.Id] = new SentDevice(content, d.LastSeen);
        }

        string[] removed = full ? [] : [.. _sentDevices.Keys.Where(id => !sent.ContainsKey(id))];
        TimeSpan lease = TimeSpan.FromSeconds(_settings.ClaimSeconds); // an appliance gone for good: its devices lapse
        if (!full && write.Count == 0 && removed.Length == 0)
        {
            if (reconcile)
            {
                ITransaction renew = db.CreateTransaction();
                _ = renew.KeyExpireAsync(key, lease);
                _ = renew.KeyExpireAsync(versionKey, lease);
                _ = renew.SetAddAsync(DeviceAppliancesKey, _name);
                await renew.ExecuteAsync().ConfigureAwait(false);
            }

            return;
        }

        string? previous = full ? null : _devicesVersion;
        string version = full || _devicesVersion is null
            ? Guid.NewGuid().ToString("N")[..12] + ".1"
            : VersionAfter(_devicesVersion);
        ITransaction tx = db.CreateTransaction();
        if (full)
        {
            _ = tx.KeyDeleteAsync(key);
        }

        if (removed.Length > 0)
        {
            _ = tx.HashDeleteAsync(key, [.. removed.Select(id => (RedisValue)id)]);
        }

        if (write.Count > 0)
        {
            _ = tx.HashSetAsync(key, [.. write]);
        }

        _ = tx.KeyExpireAsync(key, lease);
        _ = tx.StringSetAsync(versionKey, version, lease);
        _ = tx.SetAddAsync(DeviceAppliancesKey, _name);
        await tx.ExecuteAsync().ConfigureAwait(false);
        _sentDevices = sent;
        _devicesVersion = version;
        Interlocked.Exchange(ref _devicesWrittenTicks, Stopwatch.GetTimestamp());
        var changed = new ClusterMessage(ClusterMessage.DevicesChanged, _name)
        {
            Site = _settings.Site,
            At = DateTimeOffset.UtcNow.UtcTicks,
            Version = version,
            Previous = previous,
            Devices = full ? null : [.. write.Select(e => (string)e.Name!)],
            Removed = removed.Length > 0 ? removed : null,
        };
        await db.PublishAsync(_channel, JsonSerializer.Serialize(changed, ClusterJsonContext.Default.ClusterMessage)).ConfigureAwait(false);
    }

    private TimeSpan LastSeenStep => TimeSpan.FromSeconds(Math.Max(1, _settings.ReconcileSeconds));

    /// <summary>The device's last-seen time is within <see cref="LastSeenStep"/> of the one sent (or it has none).</summary>
    private bool LastSeenSent(SentDevice sent, DeviceBinding d) =>
        d.LastSeen is not { } seen || sent.LastSeen is { } was && seen - was < LastSeenStep;

    /// <summary>"epoch.serial": the epoch is new at every whole write, the serial counts the changes made over it.</summary>
    private static string VersionAfter(string version)
    {
        int dot = version.LastIndexOf('.');
        long serial = long.TryParse(version.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : 0;
        return string.Concat(version.AsSpan(0, dot + 1), (serial + 1).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Whether <paramref name="version"/> is one <paramref name="have"/> already includes (same epoch, serial not later).</summary>
    private static bool Includes(string? have, string version)
    {
        if (have is null)
        {
            return false;
        }

        int a = have.LastIndexOf('.'), b = version.LastIndexOf('.');
        return a > 0 && a == b && have.AsSpan(0, a).SequenceEqual(version.AsSpan(0, b))
            && long.TryParse(have.AsSpan(a + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long h)
            && long.TryParse(version.AsSpan(b + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v <= h;
    }

    /// <summary>
    /// The changes other appliances announced: applied from the fields they name (HMGET) when made over the version read
    /// here last; otherwise (a message missed, a whole write) that appliance's whole hash is read again.
    /// </summary>
    private async Task ReadDeviceChangesAsync()
    {
        while (_devicePulls.TryDequeue(out ClusterMessage? m))
        {
            string appliance = m.Appliance;
            if (appliance == _name || m.Version is null)
            {
                if (appliance != _name)
                {
                    await ReadWholeDevicesAsync(appliance).ConfigureAwait(false); // an appliance that names no version
                }

                continue;
            }

            _deviceVersions.TryGetValue(appliance, out string? have);
            if (Includes(have, m.Version))
            {
                continue; // read already (a whole read after the message was sent)
            }

            if (m.Previous is null || have != m.Previous)
            {
                await ReadWholeDevicesAsync(appliance).ConfigureAwait(false);
                continue;
            }

            IReadOnlyList<string> ids = m.Devices ?? [];
            if (ids.Count > 0)
            {
                RedisValue[] values = await Database.HashGetAsync(DevicesKey(appliance), [.. ids.Select(id => (RedisValue)id)]).ConfigureAwait(false);
                for (int i = 0; i < ids.Count; i++)
                {
                    if (Parse(appliance, ids[i], values[i]) is { } d)
                    {
                        _remote[(appliance, d.Id)] = d;
                    }
                    else
                    {
                        _remote.TryRemove((appliance, ids[i]), out _); // removed since: a later message says so too
                    }
                }
            }

            foreach (string id in m.Removed ?? [])
            {
                _remote.TryRemove((appliance, id), out _);
            }

            _deviceVersions[appliance] = m.Version;
        }
    }

    /// <summary>
    /// At reconciliation: every other appliance's devices version (one GET each); a whole hash is read only where that
    /// moved since the last read here (a message lost), and an appliance whose version is gone (its lease lapsed, the
    /// server lost it) has its devices dropped.
    /// </summary>
    private async Task ReadAllDevicesAsync()
    {
        HashSet<string> appliances = new(StringComparer.Ordinal);
        foreach (RedisValue a in await Database.SetMembersAsync(DeviceAppliancesKey).ConfigureAwait(false))
        {
            appliances.Add(a!);
        }

        foreach ((string a, _) in _remote.Keys)
        {
            appliances.Add(a); // gone from the set too: its devices are dropped below
        }

        appliances.UnionWith(_deviceVersions.Keys);
        appliances.Remove(_name);
        IDatabase db = Database;
        string[] names = [.. appliances];
        Task<RedisValue>[] versions = [.. names.Select(a => db.StringGetAsync(DevicesVersionKey(a)))];
        await Task.WhenAll(versions).ConfigureAwait(false);
        for (int i = 0; i < names.Length; i++)
        {
            RedisValue version = versions[i].Result;
            if (version.IsNull || !_deviceVersions.TryGetValue(names[i], out string? have) || have != version)
            {
                await ReadWholeDevicesAsync(names[i]).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One appliance's whole hash and its version, read together; its devices not in it are dropped.</summary>
    private async Task ReadWholeDevicesAsync(string appliance)
    {
        ITransaction tx = Database.CreateTransaction();
        Task<RedisValue> version = tx.StringGetAsync(DevicesVersionKey(appliance));
        Task<HashEntry[]> hash = tx.HashGetAllAsync(DevicesKey(appliance));
        await tx.ExecuteAsync().ConfigureAwait(false);
        HashSet<string> seen = new(StringComparer.Ordinal);
        if (!(await version.ConfigureAwait(false)).IsNull)
        {
            foreach (HashEntry e in await hash.ConfigureAwait(false))
            {
                if (Parse(appliance, e.Name!, e.Value) is { } d)
                {
                    _remote[(appliance, d.Id)] = d;
                    seen.Add(d.Id);
                }
            }

            _deviceVersions[appliance] = version.Result!;
        }
        else
        {
            _deviceVersions.Remove(appliance); // the hash lapsed (or the server lost it): its devices go below
        }

        foreach ((string a, string id) in _remote.Keys)
        {
            if (a == appliance && !seen.Contains(id))
            {
                _remote.TryRemove((a, id), out _); // unregistered and disposed, or the appliance's hash lapsed
            }
        }
    }

    private static SharedDevice? Parse(string appliance, string id, RedisValue value)
    {
        if (value.IsNull)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize((string)value!, ClusterJsonContext.Default.SharedDevice) is { } d && d.Id == id ? d with { Appliance = appliance } : null;
        }
        catch (JsonException)
        {
            return null; // not ours
        }
    }

    /// <summary>What was last written for a device: its JSON without the last-seen time, and that time.</summary>
    private readonly record struct SentDevice(string Content, DateTimeOffset? LastSeen);
}

/// <summary>A device another appliance learned from its traffic, as it published it (README "Cluster").</summary>
public sealed record SharedDevice(string Id, DeviceProtocol Protocol, IReadOnlyList<string> Ips, IReadOnlyList<LineBinding> Lines, bool Registered,
    string? Contact, string? UserAgent, DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, string Appliance, string? Site)
{
    internal static SharedDevice Of(DeviceBinding d, string appliance, string? site) =>
        new(d.Id, d.Protocol, d.Ips, d.Lines, d.Registered, d.Contact, d.UserAgent, d.FirstSeen, d.LastSeen, appliance, site);
}
