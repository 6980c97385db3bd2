using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

/// <summary>
/// What signalling and configuration say about a device and its lines (DESIGN section 2, learning), and what follows
/// from a change of lines: the extension index and the line-1 rule (a claim on a held line 1 is a conflict, on a lapsed
/// one a move), extension-mobility login detection, registration and its expiry, phantom devices disposed when they
/// unregister. Used under the directory's lock.
/// </summary>
internal sealed class DeviceLearning
{
    private readonly DeviceRegistry _devices;
    private readonly LineIndex _lines;
    private readonly LoginBook _logins;
    private readonly PendingEvents _events;

    public DeviceLearning(DeviceRegistry devices, LineIndex lines, LoginBook logins, PendingEvents events)
    {
        _devices = devices;
        _lines = lines;
        _logins = logins;
        _events = events;
    }

    /// <summary>
    /// A message from device <paramref name="id"/> (a Skinny device name, a SIP instance or contact) seen from
    /// <paramref name="ip"/>: creates the device when new, re-binds it when its address changed (DHCP: no reboot
    /// needed), and returns the id it is known by (a configured device's id when the identity resolves to one).
    /// </summary>
    public string ObserveDevice(string id, DeviceProtocol protocol, IpAddress16 ip, DateTimeOffset now, string? contact, string? userAgent)
    {
        DeviceState d = _devices.ResolveOrCreate(id, protocol, ip, now);
        bool changed = false;
        if (d.Protocol == DeviceProtocol.Unknown && protocol != DeviceProtocol.Unknown)
        {
            d.Protocol = protocol;
            changed = true;
        }

        d.LastSeen = now;
        if (ip != default)
        {
            changed |= _devices.Rebind(d, ip, now);
        }

        if (contact is not null && contact != d.Contact)
        {
            d.Contact = contact;
            changed = true;
        }

        if (userAgent is not null && userAgent != d.UserAgent)
        {
            d.UserAgent = userAgent;
            changed = true;
        }

        if (changed)
        {
            _devices.Publish(d);
        }

        _devices.MarkUnsaved(d);
        return d.Id;
    }

    /// <summary>
    /// <paramref name="identity"/> (a contact at a new address) names device <paramref name="deviceId"/> from now on; an
    /// identity that is already another device's stays that device's.
    /// </summary>
    public void AddIdentity(string deviceId, string identity)
    {
        if (_devices.Resolve(deviceId) is { } d)
        {
            _devices.AddAlias(d, identity);
        }
    }

    /// <summary>
    /// The common case of a registration refresh: the device is known at this address and already has the line from a
    /// registration. Updates expiry and last-seen and returns true without allocating; false means "not that simple,
    /// call <see cref="ObserveDevice"/> and <see cref="RegisterLine"/>".
    /// </summary>
    public bool TryRefreshLine(ReadOnlySpan<char> deviceId, ReadOnlySpan<char> extension, IpAddress16 ip, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        if (!_devices.TryResolve(deviceId, out DeviceState? d))
        {
            return false;
        }

        if (ip != default && (d.Ips.Count == 0 || d.Ips[0] != ip))
        {
            return false;
        }

        LearnedLine? line = d.FindLine(extension);
        if (line is null || line.Source != LineSource.Registered)
        {
            return false;
        }

        line.ExpiresAt = expiresAt;
        d.LastSeen = now;
        _devices.QueueExpiry(d, line);
        _devices.MarkUnsaved(d);
        return true;
    }

    /// <summary>Adds or refreshes a line learned from traffic; a new line goes after the device's other lines.</summary>
    public void RegisterLine(string deviceId, string extension, string? displayName, LineSource source, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        DeviceState? d = _devices.Resolve(deviceId);
        if (d is null)
        {
            return;
        }

        d.LastSeen = now;
        LearnedLine? line = d.FindLine(extension);
        bool changed = false;
        if (line is null)
        {
            line = new LearnedLine(extension) { Number = NextLineNumber(d), DisplayName = displayName, Source = source };
            d.Lines.Add(line);
            changed = true;
        }
        else
        {
            if (displayName is not null && displayName != line.DisplayName)
            {
                line.DisplayName = displayName;
                changed = true;
            }

            if (source < line.Source || (line.Source == LineSource.Signalling && source != LineSource.Signalling))
            {
                line.Source = source; // a registration outranks a line guessed from a call
                changed = true;
            }
        }

        line.ExpiresAt = source == LineSource.Signalling ? null : expiresAt;
        _devices.QueueExpiry(d, line);
        if (!d.Registered && source is LineSource.Registered or LineSource.Skinny)
        {
            d.Registered = true;
            _events.Add(_events.New(DirectoryEventKind.DeviceRegistered, now, d.Id) with { Ip = d.PrimaryIp(), Extension = extension });
        }

        if (changed)
        {
            Recompute(d, now);
        }

        _devices.MarkUnsaved(d);
    }

    /// <summary>The device gave up one line (SIP unregister: Expires 0 on its contact).</summary>
    public void UnregisterLine(string deviceId, string extension, DateTimeOffset now)
    {
        DeviceState? d = _devices.Resolve(deviceId);
        LearnedLine? line = d?.FindLine(extension);
        if (d is null || line is null)
        {
            return;
        }

        d.Lines.Remove(line);
        Renumber(d);
        Recompute(d, now);
        AfterLinesRemoved(d, now, "unregister");
    }

    /// <summary>Replaces every learned line at once (a Skinny LineStatRes round, a re-registration with another set).</summary>
    public void ReplaceLines(string deviceId, IReadOnlyList<(int Number, string Extension, string? DisplayName)> lines, LineSource source, DateTimeOffset now)
    {
        DeviceState? d = _devices.Resolve(deviceId);
        if (d is null)
        {
            return;
        }

        d.LastSeen = now;
        d.Lines.Clear();
        foreach ((int number, string extension, string? display) in lines)
        {
            if (d.FindLine(extension) is null)
            {
                d.Lines.Add(new LearnedLine(extension) { Number = number, DisplayName = display, Source = source });
            }
        }

        if (!d.Registered && d.Lines.Count > 0)
        {
            d.Registered = true;
            _events.Add(_events.New(DirectoryEventKind.DeviceRegistered, now, d.Id) with { Ip = d.PrimaryIp() });
        }

        Recompute(d, now);
        if (d.Lines.Count == 0)
        {
            AfterLinesRemoved(d, now, "unregister");
        }

        _devices.MarkUnsaved(d);
    }

    /// <summary>The device unregistered entirely (Skinny Unregister, SIP Contact: * with Expires 0).</summary>
    public void UnregisterDevice(string deviceId, DateTimeOffset now)
    {
        DeviceState? d = _devices.Resolve(deviceId);
        if (d is null)
        {
            return;
        }

        d.Lines.Clear();
        Recompute(d, now);
        AfterLinesRemoved(d, now, "unregister");
    }

    /// <summary>A message from a device known at this address: last-seen only. False (nothing done) when unknown or moved. Allocates nothing.</summary>
    public bool TryTouchDevice(ReadOnlySpan<char> deviceId, IpAddress16 ip, DateTimeOffset now)
    {
        if (!_devices.TryResolve(deviceId, out DeviceState? d))
        {
            return false;
        }

        if (ip != default && (d.Ips.Count == 0 || d.Ips[0] != ip))
        {
            return false;
        }

        d.LastSeen = now;
        _devices.MarkUnsaved(d);
        return true;
    }

    /// <summary>
    /// A device learned at a server's endpoint from signalling alone (never registered, never configured, nobody logged
    /// in) was the server misread, and goes.
    /// </summary>
    public void ForgetDeviceAtServer(IpEndpoint16 server)
    {
        if (_devices.TryGet("sip:" + server.ToString(), out DeviceState? d) && d.Config is null && !d.Registered && d.Login is null
            && d.Lines.TrueForAll(l => l.Source == LineSource.Signalling))
        {
            DisposeDevice(d, d.LastSeen ?? DateTimeOffset.UnixEpoch, "learned from a server's messages");
        }
    }

    /// <summary>
    /// The configured (static) devices: a device the configuration no longer has loses its configuration (and goes
    /// when nothing else was learned about it); each configured one takes its configuration and static IPs.
    /// </summary>
    public void ApplyConfiguredDevices(IReadOnlyList<DeviceConfig> configured, DateTimeOffset now)
    {
        var byId = configured.ToDictionary(d => d.Id, StringComparer.Ordinal);
        foreach (DeviceState d in _devices.All)
        {
            if (d.Config is not null && !byId.ContainsKey(d.Id))
            {
                d.Config = null;
                Recompute(d, now);
                if (d.Lines.Count == 0 && d.LastSeen is null && d.Login is null)
                {
                    _devices.Remove(d);
                    _devices.ReleaseAddresses(d); // its static IPs must not keep finding a device that is gone
                }
            }
        }

        foreach (DeviceConfig cfg in configured)
        {
            Recompute(_devices.Configure(cfg), now);
        }

        _devices.IndexConfiguredMacs(configured);
    }

    /// <summary>Drops registrations whose expiry (plus grace) has passed.</summary>
    public void ExpireRegistrations(DateTimeOffset now)
    {
        while (_devices.TryTakeLapsed(now, out DeviceState? d, out LearnedLine? line))
        {
            d.Lines.Remove(line);
            Renumber(d);
            Recompute(d, now);
            AfterLinesRemoved(d, now, "expired");
        }
    }

    private static int NextLineNumber(DeviceState d)
    {
        int max = 0;
        foreach (LearnedLine l in d.Lines)
        {
            max = Math.Max(max, l.Number);
        }

        return max + 1;
    }

    /// <summary>SIP lines are numbered in registration order; after one goes, the rest close up (Skinny keeps its numbers).</summary>
    private static void Renumber(DeviceState d)
    {
        if (d.Protocol == DeviceProtocol.Skinny)
        {
            return;
        }

        d.Lines.Sort(static (a, b) => a.Number.CompareTo(b.Number));
        for (int i = 0; i < d.Lines.Count; i++)
        {
            d.Lines[i].Number = i + 1;
        }
    }

    private void AfterLinesRemoved(DeviceState d, DateTimeOffset now, string reason)
    {
        bool stillRegistered = d.Lines.Exists(IsRegistration);
        if (d.Registered && !stillRegistered)
        {
            d.Registered = false;
            _events.Add(_events.New(DirectoryEventKind.DeviceUnregistered, now, d.Id) with { Ip = d.PrimaryIp(), Detail = reason });
            if (d.Phantom)
            {
                DisposeDevice(d, now);
                return;
            }
        }

        _devices.Publish(d);
        _devices.MarkUnsaved(d);
    }

    private void DisposeDevice(DeviceState d, DateTimeOffset now, string why = "phantom device unregistered")
    {
        if (d.Login is not null)
        {
            _logins.EndLogin(d, LogoutReasons.Unregistered, now);
        }

        d.Lines.Clear();
        Recompute(d, now);
        _devices.Remove(d);
        _devices.ReleaseAddresses(d);
        _events.Add(_events.New(DirectoryEventKind.DeviceDisposed, now, d.Id) with { Detail = why });
    }

    /// <summary>
    /// Publishes a device after its lines may have changed: appearances, the line-1 rule (conflicts), the extension
    /// index, and extension-mobility login detection when its extension set changed.
    /// </summary>
    private void Recompute(DeviceState d, DateTimeOffset now)
    {
        List<LineBinding> lines = d.EffectiveLines();
        string[] set = LineIndex.SetOf(lines);
        string? line1 = lines.Count > 0 ? lines[0].Extension : null;
        string[] old = d.PublishedSet;
        string? oldLine1 = d.PublishedLine1;
        bool setChanged = !old.AsSpan().SequenceEqual(set);
        var touched = new HashSet<string>(StringComparer.Ordinal);

        if (oldLine1 is not null && oldLine1 != line1)
        {
            ReleaseLine1(d, oldLine1, now, touched);
        }

        _lines.MoveAppearances(d.Id, old, set, touched);

        d.PublishedSet = set;
        d.PublishedLine1 = line1;
        if (line1 is not null && line1 != oldLine1)
        {
            ClaimLine1(d, line1, now, touched);
        }

        _lines.Publish(touched);

        if (setChanged)
        {
            _events.Add(_events.New(DirectoryEventKind.LinesChanged, now, d.Id) with { Extensions = [.. lines.Select(l => l.Extension)], Ip = d.PrimaryIp() });
            _logins.DetectLogin(d, set, now, d.Lines.Exists(IsRegistration) ? LogoutReasons.SetChanged : LogoutReasons.Unregistered);
        }

        _devices.Publish(d);
        _devices.MarkUnsaved(d);
    }

    /// <summary>
    /// <paramref name="d"/> has <paramref name="extension"/> as line 1 now. Held elsewhere, it is a conflict, unless the
    /// holder's registration has lapsed: then it is a move, and the holder loses the line.
    /// </summary>
    private void ClaimLine1(DeviceState d, string extension, DateTimeOffset now, HashSet<string> touched)
    {
        if (_lines.Line1Holder(extension) is not { } holderId || holderId == d.Id)
        {
            _lines.SetLine1Holder(extension, d.Id);
            return;
        }

        DeviceState? holder = _devices.Resolve(holderId);
        LearnedLine? held = holder?.FindLine(extension);
        if (holder is null || (held?.ExpiresAt is { } expires && expires <= now))
        {
            // The holder's registration has lapsed: this is a move, not a conflict.
            if (holder is not null && held is not null)
            {
                holder.Lines.Remove(held);
                Renumber(holder);
                Recompute(holder, now);
                AfterLinesRemoved(holder, now, "moved");
            }

            if (_lines.Line1Holder(extension) is not { } current || current == d.Id || _devices.Resolve(current) is null)
            {
                _lines.SetLine1Holder(extension, d.Id);
                _lines.ResolveClaims(d.Id, extension, now, "holder-released");
            }

            touched.Add(extension);
            return;
        }

        _lines.RecordConflict(extension, holderId, d.Id, now);
    }

    /// <summary><paramref name="d"/> no longer has <paramref name="extension"/> as line 1: a claimant that takes it over is republished.</summary>
    private void ReleaseLine1(DeviceState d, string extension, DateTimeOffset now, HashSet<string> touched)
    {
        if (_lines.ReleaseLine1(d.Id, extension, now, touched) is { } holderId && _devices.Resolve(holderId) is { } holder)
        {
            _devices.Publish(holder);
        }
    }

    /// <summary>A line from a registration (SIP REGISTER, Skinny), not one seen only in other signalling.</summary>
    private static bool IsRegistration(LearnedLine l) => l.Source is LineSource.Registered or LineSource.Skinny;
}
