using System.Collections.Concurrent;
using System.Diagnostics;
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
    private readonly ConcurrentQueue<string> _devicePulls = new();
    private volatile bool _devicesDirty = true;
    private long _devicesWrittenTicks;

    /// <summary>At most one devices write per this interval (changes in between are batched); zero in the benchmark.</summary>
    internal TimeSpan DevicesBatch { get; init; } = TimeSpan.FromSeconds(1);

    private RedisKey DevicesKey(string appliance) => _prefix + "devices:" + appliance;

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

    /// <summary>This appliance's learned devices (configured ones are in every appliance's configuration) replace its hash.</summary>
    private async Task WriteDevicesAsync(bool force)
    {
        if (!force && Stopwatch.GetElapsedTime(Interlocked.Read(ref _devicesWrittenTicks)) < DevicesBatch)
        {
            _devicesDirty = true; // batched: written at the next pass after the second is up
            return;
        }

        HashEntry[] fields = [.. _directory.Devices().Where(d => !d.Configured).Select(d => new HashEntry(d.Id,
            JsonSerializer.Serialize(SharedDevice.Of(d, _name, _settings.Site), ClusterJsonContext.Default.SharedDevice)))];
        IDatabase db = Database;
        RedisKey key = DevicesKey(_name);
        ITransaction tx = db.CreateTransaction();
        _ = tx.KeyDeleteAsync(key);
        if (fields.Length > 0)
        {
            _ = tx.HashSetAsync(key, fields);
            _ = tx.KeyExpireAsync(key, TimeSpan.FromSeconds(_settings.ClaimSeconds)); // an appliance gone for good: its devices lapse
        }

        _ = tx.SetAddAsync(DeviceAppliancesKey, _name);
        await tx.ExecuteAsync().ConfigureAwait(false);
        Interlocked.Exchange(ref _devicesWrittenTicks, Stopwatch.GetTimestamp());
        var changed = new ClusterMessage(ClusterMessage.DevicesChanged, _name) { Site = _settings.Site, At = DateTimeOffset.UtcNow.UtcTicks };
        await db.PublishAsync(_channel, JsonSerializer.Serialize(changed, ClusterJsonContext.Default.ClusterMessage)).ConfigureAwait(false);
    }

    /// <summary>Every other appliance's devices (at reconciliation), or those of the appliances that said theirs changed.</summary>
    private async Task ReadDevicesAsync(bool all)
    {
        HashSet<string> appliances = new(StringComparer.Ordinal);
        if (all)
        {
            foreach (RedisValue a in await Database.SetMembersAsync(DeviceAppliancesKey).ConfigureAwait(false))
            {
                appliances.Add(a!);
            }

            foreach ((string a, _) in _remote.Keys)
            {
                appliances.Add(a); // gone from the set too: its devices are dropped below
            }
        }

        while (_devicePulls.TryDequeue(out string? a))
        {
            appliances.Add(a);
        }

        appliances.Remove(_name);
        foreach (string appliance in appliances)
        {
            HashEntry[] hash = await Database.HashGetAllAsync(DevicesKey(appliance)).ConfigureAwait(false);
            HashSet<string> seen = new(StringComparer.Ordinal);
            foreach (HashEntry e in hash)
            {
                SharedDevice? d;
                try
                {
                    d = JsonSerializer.Deserialize((string)e.Value!, ClusterJsonContext.Default.SharedDevice);
                }
                catch (JsonException)
                {
                    continue; // not ours
                }

                if (d is not null && d.Id == (string)e.Name!)
                {
                    _remote[(appliance, d.Id)] = d with { Appliance = appliance };
                    seen.Add(d.Id);
                }
            }

            foreach ((string a, string id) in _remote.Keys)
            {
                if (a == appliance && !seen.Contains(id))
                {
                    _remote.TryRemove((a, id), out _); // unregistered and disposed, or the appliance's hash lapsed
                }
            }
        }
    }
}

/// <summary>A device another appliance learned from its traffic, as it published it (README "Cluster").</summary>
public sealed record SharedDevice(string Id, DeviceProtocol Protocol, IReadOnlyList<string> Ips, IReadOnlyList<LineBinding> Lines, bool Registered,
    string? Contact, string? UserAgent, DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, string Appliance, string? Site)
{
    internal static SharedDevice Of(DeviceBinding d, string appliance, string? site) =>
        new(d.Id, d.Protocol, d.Ips, d.Lines, d.Registered, d.Contact, d.UserAgent, d.FirstSeen, d.LastSeen, appliance, site);
}
