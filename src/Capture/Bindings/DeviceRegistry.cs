using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

/// <summary>
/// The devices (DESIGN section 2): by id, by the learned identities (aliases) and MACs that resolve to a configured
/// device, and by IP; a device's addresses as it moves (DHCP); the published snapshot of each device; when its
/// registered lines expire; and its record in the store. Changes run under the directory's lock; the lookups by id,
/// IP and extension read concurrent indexes of immutable snapshots and allocate nothing.
/// </summary>
internal sealed class DeviceRegistry
{
    private const string StorePrefix = "d/";

    private readonly LineIndex _lines;
    private readonly PendingEvents _events;
    private readonly TimeSpan _registrationGrace;

    private readonly ConcurrentDictionary<string, DeviceState> _devices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DeviceState>.AlternateLookup<ReadOnlySpan<char>> _devicesBySpan;
    private readonly ConcurrentDictionary<string, string> _aliases = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _aliasesBySpan;
    private readonly ConcurrentDictionary<IpAddress16, DeviceState> _byIp = new();
    private Dictionary<string, DeviceState> _configuredByMac = new(StringComparer.Ordinal);
    private readonly PriorityQueue<(string Device, string Extension), DateTimeOffset> _expiries = new();

    private readonly HashSet<string> _unsaved = new(StringComparer.Ordinal);
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);

    public DeviceRegistry(LineIndex lines, PendingEvents events, TimeSpan registrationGrace)
    {
        _lines = lines;
        _events = events;
        _registrationGrace = registrationGrace;
        _devicesBySpan = _devices.GetAlternateLookup<ReadOnlySpan<char>>();
        _aliasesBySpan = _aliases.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Changed and removed devices are remembered for the store (set while the directory has one).</summary>
    public bool TrackChanges { get; set; }

    public int Count => _devices.Count;

    /// <summary>Every device (a snapshot of the collection).</summary>
    public ICollection<DeviceState> All => _devices.Values;

    // ---- Lock-free lookups ------------------------------------------------------------------------------------

    /// <summary>The device with this id (or a learned identity that resolves to it). Allocates nothing.</summary>
    public bool TryGetBinding(ReadOnlySpan<char> id, out DeviceBinding binding)
    {
        if (TryResolve(id, out DeviceState? d))
        {
            binding = d.Binding;
            return true;
        }

        binding = null!;
        return false;
    }

    /// <summary>The device last seen at (or configured with) this address. Allocates nothing.</summary>
    public bool TryFindByIp(IpAddress16 ip, out DeviceBinding binding)
    {
        if (_byIp.TryGetValue(ip, out DeviceState? d))
        {
            binding = d.Binding;
            return true;
        }

        binding = null!;
        return false;
    }

    /// <summary>The device holding <paramref name="extension"/> as line 1, else the first device it appears on. Allocates nothing.</summary>
    public bool TryFindByExtension(ReadOnlySpan<char> extension, out DeviceBinding binding)
    {
        if (_lines.TryGetEntry(extension, out LineIndex.ExtensionEntry? entry))
        {
            string? id = entry.Line1Owner ?? (entry.Devices.Length > 0 ? entry.Devices[0] : null);
            if (id is not null && _devices.TryGetValue(id, out DeviceState? d))
            {
                binding = d.Binding;
                return true;
            }
        }

        binding = null!;
        return false;
    }

    /// <summary>The device known by this id or by a learned identity of it. Allocates nothing.</summary>
    public bool TryResolve(ReadOnlySpan<char> id, [MaybeNullWhen(false)] out DeviceState device) =>
        _devicesBySpan.TryGetValue(id, out device)
        || (_aliasesBySpan.TryGetValue(id, out string? real) && _devices.TryGetValue(real, out device));

    // ---- Under the lock ---------------------------------------------------------------------------------------

    public DeviceState? Resolve(string id) =>
        _devices.TryGetValue(id, out DeviceState? d) ? d
        : _aliases.TryGetValue(id, out string? real) && _devices.TryGetValue(real, out d) ? d
        : null;

    /// <summary>The device with exactly this id (no alias).</summary>
    public bool TryGet(string id, [MaybeNullWhen(false)] out DeviceState device) => _devices.TryGetValue(id, out device);

    public bool TryGetAtIp(IpAddress16 ip, [MaybeNullWhen(false)] out DeviceState device) => _byIp.TryGetValue(ip, out device);

    /// <summary>A snapshot of every device, ordered by id.</summary>
    public IReadOnlyList<DeviceBinding> Snapshots() => [.. _devices.Values.OrderBy(d => d.Id, StringComparer.Ordinal).Select(Fresh)];

    public DeviceBinding? Snapshot(string id) => Resolve(id) is { } d ? Fresh(d) : null;

    /// <summary>
    /// The device a learned identity names: a known one, else a configured device identified by the MAC inside the
    /// identity or by its static IP, else a new device.
    /// </summary>
    public DeviceState ResolveOrCreate(string id, DeviceProtocol protocol, IpAddress16 ip, DateTimeOffset now)
    {
        DeviceState? d = Resolve(id);
        if (d is not null)
        {
            return d;
        }

        // A learned identity may be a configured device: by the MAC inside it (SEP<mac>, urn:uuid:...<mac>), else by a
        // static IP of a configured device that has not been identified yet.
        DeviceState? configured = null;
        string? mac = MacOf(id);
        if (mac is not null && _configuredByMac.TryGetValue(mac, out DeviceState? byMac))
        {
            configured = byMac;
        }
        else if (ip != default && _byIp.TryGetValue(ip, out DeviceState? atIp) && atIp.Config is not null
            && atIp.Aliases.Count == 0 && atIp.LastSeen is null && atIp.HasIp(ip))
        {
            configured = atIp;
        }

        if (configured is not null)
        {
            configured.Aliases.Add(id);
            _aliases[id] = configured.Id;
            configured.FirstSeen ??= now;
            return configured;
        }

        d = new DeviceState(id) { Protocol = protocol, FirstSeen = now, LastActivity = now };
        _devices[id] = d;
        Publish(d);
        return d;
    }

    /// <summary>
    /// Another identity of a known device from now on (the contact of a phone that moved to a new address, known to be
    /// the same phone by its registration): messages naming it resolve to the device. False when the identity is taken.
    /// </summary>
    public bool AddAlias(DeviceState d, string alias)
    {
        if (_devices.ContainsKey(alias) || _aliases.ContainsKey(alias))
        {
            return false;
        }

        d.Aliases.Add(alias);
        _aliases[alias] = d.Id;
        MarkUnsaved(d);
        return true;
    }

    /// <summary>The 12 hex digits of a MAC inside a device identity (SEP&lt;mac&gt;, urn:uuid:...&lt;mac&gt;), upper case, or null.</summary>
    private static string? MacOf(string id) =>
        id.StartsWith("SEP", StringComparison.OrdinalIgnoreCase) && id.Length == 15 ? ConfigValues.NormalizeMac(id[3..])
        : id.StartsWith("urn:uuid:", StringComparison.OrdinalIgnoreCase) && id.Length >= 21 ? ConfigValues.NormalizeMac(id[^12..])
        : null;

    /// <summary>Puts <paramref name="ip"/> first; replaces an older learned address of the same family. True when it moved.</summary>
    public bool Rebind(DeviceState d, IpAddress16 ip, DateTimeOffset now)
    {
        if (d.Ips.Count > 0 && d.Ips[0] == ip)
        {
            _byIp[ip] = d;
            return false;
        }

        IpAddress16? previous = null;
        for (int i = 0; i < d.Ips.Count; i++)
        {
            IpAddress16 old = d.Ips[i];
            bool isStatic = d.Config is not null && d.Config.Ips.Any(s => ConfigValues.ParseIp(s) == old);
            if (old == ip || (old.IsIPv4 == ip.IsIPv4 && !isStatic))
            {
                d.Ips.RemoveAt(i--);
                if (old != ip)
                {
                    previous = old;
                    if (_byIp.TryGetValue(old, out DeviceState? holder) && holder == d)
                    {
                        _byIp.TryRemove(old, out _);
                    }
                }
            }
        }

        d.Ips.Insert(0, ip);
        _byIp[ip] = d;
        if (previous is { } from)
        {
            _events.Add(_events.New(DirectoryEventKind.DeviceMoved, now, d.Id) with { Ip = ip.ToString(), Detail = "from " + from });
        }

        return true;
    }

    /// <summary>A configured (static) device: created when new, given its configuration and static IPs.</summary>
    public DeviceState Configure(DeviceConfig cfg)
    {
        if (!_devices.TryGetValue(cfg.Id, out DeviceState? d))
        {
            d = new DeviceState(cfg.Id) { Protocol = cfg.Protocol };
            _devices[cfg.Id] = d;
        }

        if (d.Config is { } previous)
        {
            // Static IPs the new configuration no longer has stop pointing at the device.
            foreach (string text in previous.Ips)
            {
                IpAddress16 old = ConfigValues.ParseIp(text);
                if (old != default && !cfg.Ips.Contains(text))
                {
                    d.Ips.Remove(old);
                    if (_byIp.TryGetValue(old, out DeviceState? holder) && holder == d)
                    {
                        _byIp.TryRemove(old, out _);
                    }
                }
            }
        }

        d.Config = cfg;
        d.Phantom = false;
        foreach (string text in cfg.Ips)
        {
            IpAddress16 ip = ConfigValues.ParseIp(text);
            if (ip != default && !d.HasIp(ip))
            {
                d.Ips.Add(ip);
            }

            if (ip != default)
            {
                _byIp.TryAdd(ip, d);
            }
        }

        return d;
    }

    /// <summary>Configured devices by the MAC in their configuration (a learned identity with that MAC is theirs).</summary>
    public void IndexConfiguredMacs(IReadOnlyList<DeviceConfig> devices)
    {
        _configuredByMac = new Dictionary<string, DeviceState>(StringComparer.Ordinal);
        foreach (DeviceConfig cfg in devices)
        {
            if (cfg.Mac is not null)
            {
                _configuredByMac.TryAdd(cfg.Mac, _devices[cfg.Id]);
            }
        }
    }

    /// <summary>Removes the device (and its record from the store at the next persist).</summary>
    public void Remove(DeviceState d)
    {
        _devices.TryRemove(d.Id, out _);
        if (TrackChanges)
        {
            _unsaved.Remove(d.Id);
            _deleted.Add(d.Id);
        }
    }

    /// <summary>Drops the addresses this device holds and the learned identities that resolve to it.</summary>
    public void ReleaseAddresses(DeviceState d)
    {
        foreach (IpAddress16 ip in d.Ips)
        {
            if (_byIp.TryGetValue(ip, out DeviceState? holder) && holder == d)
            {
                _byIp.TryRemove(ip, out _);
            }
        }

        foreach (string alias in d.Aliases)
        {
            _aliases.TryRemove(alias, out _);
        }
    }

    /// <summary>Publishes a new snapshot of the device for lock-free readers.</summary>
    public void Publish(DeviceState d) => d.Binding = BuildBinding(d);

    /// <summary>A snapshot with current last-seen and expiry times (registration refreshes do not rebuild the published one).</summary>
    private DeviceBinding Fresh(DeviceState d) => d.Binding.LastSeen == d.LastSeen ? d.Binding : BuildBinding(d);

    private DeviceBinding BuildBinding(DeviceState d)
    {
        List<LineBinding> lines = d.EffectiveLines();
        for (int i = 0; i < lines.Count; i++)
        {
            LineBinding l = lines[i];
            if (i == 0 && _lines.Line1Holder(l.Extension) is { } owner && owner != d.Id)
            {
                lines[i] = l with { Conflict = true };
            }
        }

        DeviceConfig? cfg = d.Config;
        return new DeviceBinding(d.Id, d.Protocol != DeviceProtocol.Unknown ? d.Protocol : cfg?.Protocol ?? DeviceProtocol.Unknown, [.. d.Ips.Select(ip => ip.ToString())], lines)
        {
            Configured = cfg is not null,
            Phantom = d.Phantom,
            Registered = d.Registered,
            Name = cfg?.Name,
            Site = cfg?.Site,
            RecordingGroup = cfg?.RecordingGroup,
            HotelingAgent = cfg?.HotelingAgent,
            Contact = d.Contact,
            UserAgent = d.UserAgent,
            FirstSeen = d.FirstSeen,
            LastSeen = d.LastSeen,
            Login = d.Login,
            ConfiguredExtensions = cfg?.Extensions ?? [],
        };
    }

    // ---- Registration expiry ----------------------------------------------------------------------------------

    /// <summary>Queues a check of the line's expiry (plus the grace); one check per line at a time.</summary>
    public void QueueExpiry(DeviceState d, LearnedLine line)
    {
        if (line.ExpiresAt is { } at && !line.ExpiryQueued)
        {
            line.ExpiryQueued = true;
            _expiries.Enqueue((d.Id, line.Extension), at + _registrationGrace);
        }
    }

    /// <summary>The next line whose registration (plus grace) has lapsed by <paramref name="now"/>; a line refreshed meanwhile is re-queued at its new time.</summary>
    public bool TryTakeLapsed(DateTimeOffset now, [MaybeNullWhen(false)] out DeviceState device, [MaybeNullWhen(false)] out LearnedLine line)
    {
        while (_expiries.TryPeek(out (string Device, string Extension) key, out DateTimeOffset due) && due <= now)
        {
            _expiries.Dequeue();
            DeviceState? d = Resolve(key.Device);
            LearnedLine? l = d?.FindLine(key.Extension);
            if (d is null || l is null)
            {
                continue;
            }

            l.ExpiryQueued = false;
            if (l.ExpiresAt is not { } expires)
            {
                continue;
            }

            if (expires + _registrationGrace <= now)
            {
                device = d;
                line = l;
                return true;
            }

            QueueExpiry(d, l);
        }

        device = null;
        line = null;
        return false;
    }

    // ---- Store ------------------------------------------------------------------------------------------------

    /// <summary>The device's record is written at the next persist.</summary>
    public void MarkUnsaved(DeviceState d)
    {
        if (TrackChanges)
        {
            _unsaved.Add(d.Id);
            _deleted.Remove(d.Id);
        }
    }

    public bool WriteChanges(DirectoryStore store)
    {
        bool wrote = false;
        foreach (string id in _unsaved)
        {
            if (_devices.TryGetValue(id, out DeviceState? d))
            {
                store.Put(StorePrefix + id, JsonSerializer.SerializeToUtf8Bytes(ToStored(d), DirectoryJsonContext.Default.StoredDevice));
                wrote = true;
            }
        }

        foreach (string id in _deleted)
        {
            store.Delete(StorePrefix + id);
            wrote = true;
        }

        return wrote;
    }

    public void ChangesWritten()
    {
        _unsaved.Clear();
        _deleted.Clear();
    }

    private static StoredDevice ToStored(DeviceState d) => new(
        d.Id,
        d.Protocol,
        [.. d.Ips.Select(ip => ip.ToString())],
        [.. d.Lines.Select(l => new StoredLine(l.Number, l.Extension, l.DisplayName, l.Source, l.ExpiresAt))],
        [.. d.Aliases],
        d.Phantom,
        d.Registered,
        d.FirstSeen,
        d.LastSeen,
        d.Contact,
        d.UserAgent);

    /// <summary>Recovers every device the store holds, with its addresses, lines (expiries queued) and learned identities.</summary>
    public void Load(DirectoryStore store)
    {
        foreach (KeyValuePair<string, byte[]> kv in store.ReadAll(StorePrefix))
        {
            StoredDevice? s = JsonSerializer.Deserialize(kv.Value, DirectoryJsonContext.Default.StoredDevice);
            if (s is null)
            {
                continue;
            }

            var d = new DeviceState(s.Id)
            {
                Protocol = s.Protocol,
                Phantom = s.Phantom,
                Registered = s.Registered,
                FirstSeen = s.FirstSeen,
                LastSeen = s.LastSeen,
                Contact = s.Contact,
                UserAgent = s.UserAgent,
                LastActivity = s.LastSeen ?? default,
            };
            foreach (string ip in s.Ips)
            {
                IpAddress16 a = ConfigValues.ParseIp(ip);
                if (a != default)
                {
                    d.Ips.Add(a);
                    _byIp[a] = d;
                }
            }

            foreach (StoredLine l in s.Lines)
            {
                var line = new LearnedLine(l.Extension) { Number = l.Number, DisplayName = l.DisplayName, Source = l.Source, ExpiresAt = l.ExpiresAt };
                d.Lines.Add(line);
                QueueExpiry(d, line);
            }

            foreach (string alias in s.Aliases)
            {
                d.Aliases.Add(alias);
                _aliases[alias] = d.Id;
            }

            _devices[d.Id] = d;
        }
    }
}

internal sealed record StoredLine(int Number, string Extension, string? DisplayName, LineSource Source, DateTimeOffset? ExpiresAt);

internal sealed record StoredDevice(
    string Id,
    DeviceProtocol Protocol,
    string[] Ips,
    StoredLine[] Lines,
    string[] Aliases,
    bool Phantom,
    bool Registered,
    DateTimeOffset? FirstSeen,
    DateTimeOffset? LastSeen,
    string? Contact,
    string? UserAgent);
