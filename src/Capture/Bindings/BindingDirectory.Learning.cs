using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

public sealed partial class BindingDirectory
{
    /// <summary>
    /// A message from device <paramref name="id"/> (a Skinny device name, a SIP instance or contact) seen from
    /// <paramref name="ip"/>: creates the device when new, re-binds it when its address changed (DHCP: no reboot
    /// needed), and returns the id it is known by (a configured device's id when the identity resolves to one).
    /// </summary>
    public string ObserveDevice(string id, DeviceProtocol protocol, IpAddress16 ip, DateTimeOffset now, string? contact = null, string? userAgent = null)
    {
        using (new Change(this))
        {
            return _learning.ObserveDevice(id, protocol, ip, now, contact, userAgent);
        }
    }

    /// <summary>
    /// The common case of a registration refresh: the device is known at this address and already has the line from a
    /// registration. Updates expiry and last-seen and returns true without allocating; false means "not that simple,
    /// call <see cref="ObserveDevice"/> and <see cref="RegisterLine"/>".
    /// </summary>
    public bool TryRefreshLine(ReadOnlySpan<char> deviceId, ReadOnlySpan<char> extension, IpAddress16 ip, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        using (new Change(this))
        {
            return _learning.TryRefreshLine(deviceId, extension, ip, expiresAt, now);
        }
    }

    /// <summary>Adds or refreshes a line learned from traffic; a new line goes after the device's other lines.</summary>
    public void RegisterLine(string deviceId, string extension, string? displayName, LineSource source, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _learning.RegisterLine(deviceId, extension, displayName, source, expiresAt, now);
        }
    }

    /// <summary>The device gave up one line (SIP unregister with Expires 0, or its registration expired).</summary>
    public void UnregisterLine(string deviceId, string extension, DateTimeOffset now, string reason = "unregister")
    {
        using (new Change(this))
        {
            _learning.UnregisterLine(deviceId, extension, now, reason);
        }
    }

    /// <summary>Replaces every learned line at once (a Skinny LineStatRes round, a re-registration with another set).</summary>
    public void ReplaceLines(string deviceId, IReadOnlyList<(int Number, string Extension, string? DisplayName)> lines, LineSource source, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _learning.ReplaceLines(deviceId, lines, source, now);
        }
    }

    /// <summary>The device unregistered entirely (Skinny Unregister, SIP Contact: * with Expires 0).</summary>
    public void UnregisterDevice(string deviceId, DateTimeOffset now)
    {
        using (new Change(this))
        {
            _learning.UnregisterDevice(deviceId, now);
        }
    }

    /// <summary>A message from a device known at this address: last-seen only. False (nothing done) when unknown or moved. Allocates nothing.</summary>
    public bool TryTouchDevice(ReadOnlySpan<char> deviceId, IpAddress16 ip, DateTimeOffset now)
    {
        using (new Change(this))
        {
            return _learning.TryTouchDevice(deviceId, ip, now);
        }
    }

    /// <summary>
    /// Marks an address as a registrar or proxy: messages it sends are never learned as a phone's. A device learned
    /// there from signalling alone (never registered, never configured) was the server misread, and goes.
    /// </summary>
    public void NoteServer(IpEndpoint16 endpoint)
    {
        if (!_servers.TryLearn(endpoint))
        {
            return;
        }

        using (new Change(this))
        {
            _servers.MarkUnsaved(endpoint);
            _learning.ForgetDeviceAtServer(endpoint);
        }
    }
}
