using System.Globalization;
using System.Text;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Sip;

/// <summary>
/// Learns SIP phones from the signalling they send (DESIGN section 2): REGISTER transactions bind an address-of-record
/// to the registering device (on the 2xx; from the request alone when no answer is seen; Expires 0 unregisters at
/// once), and every other request or response a phone sends re-binds its address. Runs on the capture thread.
/// </summary>
/// <remarks>
/// Device identity: the Contact's +sip.instance (RFC 5626), else Cisco's devicename parameter, else the Contact's
/// host:port. A contact nobody has, in a REGISTER with the Call-ID and AOR of a registration already applied, is that
/// phone at a new address (RFC 3261 10.2: one Call-ID per registrar for a boot cycle; a DHCP renewal is no reboot): the
/// device is re-bound and the new contact becomes another identity of it. A private Contact that a device at another
/// public address already has, in a message naming none of its lines (nor its Call-ID), is another phone behind another
/// NAT: its identity also names its source address (<see cref="IsAnotherPhoneBehindNat"/>). Addresses that receive REGISTERs, or forward
/// requests (more than one Via), are servers: what they send is never learned as a phone's (a proxy relaying a REGISTER
/// upstream is not the phone).
/// </remarks>
public sealed class SipDeviceLearner(BindingDirectory directory)
{
    private const int MaxPending = 10_000;
    private const int MaxRegistrations = 100_000; // REGISTER Call-IDs remembered: one per phone and AOR
    private const int DefaultExpires = 3600; // RFC 3261 10.2.1.1: what a registrar assumes when none is given
    private static readonly TimeSpan s_unansweredAfter = TimeSpan.FromSeconds(32); // Timer F: no answer will come now

    private readonly BindingDirectory _directory = directory;
    private readonly Dictionary<string, PendingRegister> _pending = new(StringComparer.Ordinal);
    private readonly List<string> _due = [];

    // The Call-ID of each applied registration, with the device and AOR it bound: a REGISTER with that Call-ID and AOR
    // from a contact nobody has is that device at a new address, not a second phone claiming its line.
    // A phone reboots with a new Call-ID: its last one per AOR is kept, so the table holds the registrations that live.
    private readonly Dictionary<string, (string Device, string Aor)> _registrations = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Device, string Aor), string> _registrationCallIds = [];

    // Who sent a REGISTER for which AOR to which address: an address that then registers the same AOR itself is an
    // outbound proxy (or SBC) relaying the phone's registration, not the phone.
    private readonly Dictionary<(IpAddress16 Target, string Aor), (IpAddress16 Sender, long AtNs)> _registerTargets = [];
    private readonly List<(IpAddress16, string)> _staleTargets = [];

    // Who received an initial INVITE from which caller: an address that then sends an INVITE of another dialog from the
    // same caller to someone else relays the call (a B2BUA: a PBX, an SBC, a media server), so it is a server.
    private static readonly TimeSpan s_relayWindow = TimeSpan.FromSeconds(10);
    private readonly Dictionary<(IpAddress16 Receiver, string Caller), (IpAddress16 Sender, long AtNs)> _invitesReceived = [];

    public long RegistersApplied { get; private set; }
    public long RegistersRefused { get; private set; }
    public long Unregisters { get; private set; }
    public long ProxiedRegisters { get; private set; }
    public long BadExtensions { get; private set; }
    public long RelaysDetected { get; private set; }
    public long PhonesMoved { get; private set; }

    /// <summary>A REGISTER awaiting its answer; <paramref name="NewIdentity"/>: its contact, when it is a known device's new one.</summary>
    private sealed record PendingRegister(string DeviceId, string Aor, string? Display, IpAddress16 Ip, int Expires, string Contact, string? UserAgent, DateTimeOffset At,
        string CallId, string? NewIdentity);

    public void OnMessage(in SipMessage message, IpEndpoint16 source, IpEndpoint16 destination, long atNs)
    {
        if (message.IsRequest && message.Method == SipMethod.Register)
        {
            OnRegister(message, source, destination, atNs);
        }
        else if (!message.IsRequest && message.CSeqMethod == SipMethod.Register)
        {
            OnRegisterResponse(message, destination, atNs);
        }
        else
        {
            if (message.IsRequest && message.Method == SipMethod.Invite && IsRelayedInvite(message, source, destination, atNs))
            {
                return;
            }

            OnOtherMessage(message, source, atNs);
        }
    }

    /// <summary>
    /// An initial INVITE (no To tag) is noted for its receiver; one its sender sends on for a caller it received an INVITE
    /// from moments ago (another dialog, to another address) shows a back-to-back user agent: a server, never a phone.
    /// </summary>
    private bool IsRelayedInvite(in SipMessage m, IpEndpoint16 source, IpEndpoint16 destination, long atNs)
    {
        if (!SipNameAddr.TryParse(m.From, out SipNameAddr from) || !ExtensionText.IsValid(from.User)
            || !SipNameAddr.TryParse(m.To, out SipNameAddr to) || !to.Tag.IsEmpty)
        {
            return false;
        }

        string caller = Encoding.UTF8.GetString(from.User);
        if (_invitesReceived.Count < MaxPending || _invitesReceived.ContainsKey((destination.Address, caller)))
        {
            _invitesReceived[(destination.Address, caller)] = (source.Address, atNs);
        }
        if (_directory.IsServer(source))
        {
            return true; // already known: nothing of a phone's to learn from what it sends
        }

        if (ViaCount(m) > 1)
        {
            return false; // the caller's own INVITE forwarded (its Via kept under the sender's): a proxy, which OnOtherMessage notes
        }

        if (_invitesReceived.TryGetValue((source.Address, caller), out (IpAddress16 Sender, long AtNs) received)
            && received.Sender != destination.Address && atNs - received.AtNs <= s_relayWindow.Ticks * 100)
        {
            RelaysDetected++;
            _directory.NoteServer(source, ServerEvidence.RelaysCalls);
            return true;
        }

        return false;
    }

    /// <summary>Applies REGISTERs whose answer never came (a one-way mirror, a lost packet).</summary>
    public void Expire(long nowNs)
    {
        if (_invitesReceived.Count > 0)
        {
            foreach (KeyValuePair<(IpAddress16, string), (IpAddress16 Sender, long AtNs)> kv in _invitesReceived)
            {
                if (nowNs - kv.Value.AtNs > s_relayWindow.Ticks * 100)
                {
                    _invitesReceived.Remove(kv.Key); // allowed while enumerating, and allocates nothing
                }
            }
        }

        if (_registerTargets.Count > 0)
        {
            foreach (KeyValuePair<(IpAddress16 Target, string Aor), (IpAddress16 Sender, long AtNs)> kv in _registerTargets)
            {
                if (nowNs - kv.Value.AtNs > s_unansweredAfter.Ticks * 100)
                {
                    _staleTargets.Add(kv.Key);
                }
            }

            foreach ((IpAddress16, string) key in _staleTargets)
            {
                _registerTargets.Remove(key);
            }

            _staleTargets.Clear();
        }

        if (_pending.Count == 0)
        {
            return;
        }

        DateTimeOffset now = CaptureTime.ToDateTime(nowNs);
        foreach ((string key, PendingRegister p) in _pending)
        {
            if (now - p.At >= s_unansweredAfter)
            {
                _due.Add(key);
            }
        }

        foreach (string key in _due)
        {
            if (_pending.Remove(key, out PendingRegister? p))
            {
                Apply(p, p.Expires, p.At);
            }
        }

        _due.Clear();
    }

    private void OnRegister(in SipMessage m, IpEndpoint16 source, IpEndpoint16 destination, long atNs)
    {
        _directory.NoteServer(destination, ServerEvidence.ReceivesRegisters);
        if (!SipNameAddr.TryParse(m.To, out SipNameAddr to) || !ExtensionText.IsLearnable(to.User))
        {
            BadExtensions++;
            return;
        }

        string aor = Encoding.UTF8.GetString(to.User);
        _registerTargets[(destination.Address, aor)] = (source.Address, atNs);
        if (_directory.IsServer(source)
            || (_registerTargets.TryGetValue((source.Address, aor), out (IpAddress16 Sender, long AtNs) relayed) && relayed.Sender != source.Address))
        {
            ProxiedRegisters++; // an outbound proxy re-registering the phone upstream under its own Contact
            return;
        }

        ReadOnlySpan<byte> contactList = m.Contact;
        if (!SipText.TryNextListElement(ref contactList, out ReadOnlySpan<byte> contactValue) || !SipNameAddr.TryParse(contactValue, out SipNameAddr contact))
        {
            return; // no Contact: a query of the bindings, nothing changes
        }

        DateTimeOffset now = CaptureTime.ToDateTime(atNs);
        int expires = ContactExpires(contact, m.Expires);
        Span<char> idBuffer = stackalloc char[256];
        int idLength = contact.IsWildcard ? 0 : WriteIdentity(contact, idBuffer);

        string callId = Encoding.Latin1.GetString(m.CallId);
        string contactUri = Encoding.UTF8.GetString(contact.Uri);
        bool behindAnotherNat = idLength > 0 && _directory.TryGetDevice(idBuffer[..idLength], out DeviceBinding holder)
            && IsAnotherPhoneBehindNat(contact, source.Address, holder, aor, callId);
        if (behindAnotherNat)
        {
            idLength = WriteNatIdentity(source.Address, idBuffer, idLength);
        }

        string? deviceId = null, newIdentity = null;
        if (idLength > 0)
        {
            if (_directory.TryGetDevice(idBuffer[..idLength], out DeviceBinding known))
            {
                deviceId = known.Id; // the id it is known by, when the identity is another of its own
            }
            else if (_registrations.TryGetValue(callId, out (string Device, string Aor) registered) && registered.Aor == aor
                && _directory.TryGetDevice(registered.Device, out _))
            {
                newIdentity = idBuffer[..idLength].ToString(); // the registered phone, at a new contact
                deviceId = registered.Device;
            }
            else if (behindAnotherNat && _directory.TryFindByExtension(aor, out DeviceBinding owner) && owner.Contact == contactUri)
            {
                newIdentity = idBuffer[..idLength].ToString(); // rebooted behind a router with a new address: its line and Contact say who
                deviceId = owner.Id;
            }
            else
            {
                deviceId = idBuffer[..idLength].ToString();
            }
        }

        if (expires == 0)
        {
            // Unregister: the phone is giving the line up; a challenge to it changes nothing about that intent.
            Unregisters++;
            if (_registrations.Remove(callId, out (string Device, string Aor) gone))
            {
                _registrationCallIds.Remove(gone);
            }

            if (deviceId is not null)
            {
                _directory.UnregisterLine(deviceId, aor, now);
            }
            else if (_directory.TryFindByIp(source.Address, out DeviceBinding atIp))
            {
                _directory.UnregisterLine(atIp.Id, aor, now);
            }

            return;
        }

        if (deviceId is null)
        {
            return;
        }

        string key = PendingKey(m.CallId, m.CSeq, source);
        if (_pending.Count >= MaxPending)
        {
            return;
        }

        _pending[key] = new PendingRegister(
            deviceId,
            aor,
            to.DisplayName.IsEmpty ? null : Encoding.UTF8.GetString(SipText.Unquote(to.DisplayName)),
            source.Address,
            expires,
            contactUri,
            m.UserAgent.IsEmpty ? null : Encoding.UTF8.GetString(m.UserAgent),
            now,
            callId,
            newIdentity);
    }

    private void OnRegisterResponse(in SipMessage m, IpEndpoint16 destination, long atNs)
    {
        if (m.StatusCode < 200 || _pending.Count == 0)
        {
            return;
        }

        string key = PendingKey(m.CallId, m.CSeq, destination);
        if (!_pending.Remove(key, out PendingRegister? p))
        {
            return;
        }

        if (m.StatusCode >= 300)
        {
            RegistersRefused++; // 401/407 are retried with a new CSeq; 403 and others: the line is not the phone's
            return;
        }

        // The registrar's granted expiry: the 2xx lists our Contact with expires=, else its Expires header.
        int expires = p.Expires;
        ReadOnlySpan<byte> list = m.Contact;
        while (SipText.TryNextListElement(ref list, out ReadOnlySpan<byte> value))
        {
            if (SipNameAddr.TryParse(value, out SipNameAddr c) && Encoding.UTF8.GetString(c.Uri) == p.Contact)
            {
                expires = ContactExpires(c, m.Expires >= 0 ? m.Expires : p.Expires);
                break;
            }
        }

        if (expires == 0)
        {
            _directory.UnregisterLine(p.DeviceId, p.Aor, CaptureTime.ToDateTime(atNs));
            return;
        }

        Apply(p, expires, CaptureTime.ToDateTime(atNs));
    }

    private void Apply(PendingRegister p, int expires, DateTimeOffset now)
    {
        RegistersApplied++;
        DateTimeOffset expiresAt = now.AddSeconds(expires);
        if (_directory.TryRefreshLine(p.DeviceId, p.Aor, p.Ip, expiresAt, now))
        {
            RememberRegistration(p.CallId, p.DeviceId, p.Aor);
            return;
        }

        string id = _directory.ObserveDevice(p.DeviceId, DeviceProtocol.Sip, p.Ip, now, p.Contact, p.UserAgent);
        if (p.NewIdentity is not null)
        {
            PhonesMoved++;
            _directory.AddIdentity(id, p.NewIdentity);
        }

        _directory.RegisterLine(id, p.Aor, p.Display, LineSource.Registered, expiresAt, now);
        RememberRegistration(p.CallId, id, p.Aor);
    }

    private void RememberRegistration(string callId, string deviceId, string aor)
    {
        if (_registrationCallIds.TryGetValue((deviceId, aor), out string? last) && last == callId)
        {
            return; // a refresh: allocates nothing
        }

        if (last is not null)
        {
            _registrations.Remove(last); // the phone rebooted: its old Call-ID names nothing now
        }

        if (_registrations.Count < MaxRegistrations || _registrations.ContainsKey(callId))
        {
            if (_registrations.TryGetValue(callId, out (string Device, string Aor) previous))
            {
                _registrationCallIds.Remove(previous);
            }

            _registrations[callId] = (deviceId, aor);
            _registrationCallIds[(deviceId, aor)] = callId;
        }
    }

    /// <summary>
    /// Any other message: a known phone is re-bound to the address it sent from; a phone never seen registering is
    /// learned from a request it originated (one Via, Contact at its own address) with its From user as a line.
    /// </summary>
    private void OnOtherMessage(in SipMessage m, IpEndpoint16 source, long atNs)
    {
        if (m.Contact.IsEmpty || _directory.IsServer(source))
        {
            return;
        }

        if (m.IsRequest && ViaCount(m) > 1)
        {
            _directory.NoteServer(source, ServerEvidence.ForwardsRequests); // it forwards requests: a proxy
            return;
        }

        ReadOnlySpan<byte> contactList = m.Contact;
        if (!SipText.TryNextListElement(ref contactList, out ReadOnlySpan<byte> contactValue)
            || !SipNameAddr.TryParse(contactValue, out SipNameAddr contact) || contact.IsWildcard)
        {
            return;
        }

        Span<char> idBuffer = stackalloc char[256];
        int idLength = WriteIdentity(contact, idBuffer);
        if (idLength == 0)
        {
            return;
        }

        DateTimeOffset now = CaptureTime.ToDateTime(atNs);
        ReadOnlySpan<char> id = idBuffer[..idLength];
        if (_directory.TryTouchDevice(id, source.Address, now))
        {
            return; // known, same address: nothing to learn
        }

        bool known = _directory.TryGetDevice(id, out DeviceBinding holder);
        Span<char> aor = stackalloc char[ExtensionText.MaxLength];
        if (known && SipNameAddr.TryParse(m.IsRequest ? m.From : m.To, out SipNameAddr sender) && ExtensionText.IsLearnable(sender.User)
            && Latin1(sender.User, aor) is > 0 and var aorLength
            && IsAnotherPhoneBehindNat(contact, source.Address, holder, aor[..aorLength], null))
        {
            // Not the phone known by this Contact: the one that registered it from this address, if any (else its REGISTER will tell).
            int natLength = WriteNatIdentity(source.Address, idBuffer, idLength);
            if (natLength > 0)
            {
                _directory.TryTouchDevice(idBuffer[..natLength], source.Address, now);
            }

            return;
        }

        bool selfContact = IpAddress16.TryParse(contact.Host, out IpAddress16 contactIp) && contactIp == source.Address;
        if (!known && !selfContact)
        {
            return; // not obviously the sender's own identity (a proxy or B2BUA relaying someone else's)
        }

        if (!known && IsRegisteredPhone(m, source.Address, now))
        {
            return; // a phone that registered with an instance id and leaves it out of its other Contacts: the same phone
        }

        string deviceId = _directory.ObserveDevice(id.ToString(), DeviceProtocol.Sip, source.Address, now,
            Encoding.UTF8.GetString(contact.Uri), m.UserAgent.IsEmpty ? null : Encoding.UTF8.GetString(m.UserAgent));

        // Its own AOR: From on a request it sends, To on a response it gives.
        if (SipNameAddr.TryParse(m.IsRequest ? m.From : m.To, out SipNameAddr self) && ExtensionText.IsLearnable(self.User)
            && _directory.TryGetDevice(deviceId, out DeviceBinding device) && device.Lines.Count == 0)
        {
            _directory.RegisterLine(deviceId, Encoding.UTF8.GetString(self.User),
                self.DisplayName.IsEmpty ? null : Encoding.UTF8.GetString(SipText.Unquote(self.DisplayName)), LineSource.Signalling, null, now);
        }
    }

    /// <summary>
    /// The sender's own AOR (From of a request, To of a response) is line 1 of a device at the sender's address: that
    /// device sent it, whatever identity the Contact shows (many phones put +sip.instance only in their REGISTER's
    /// Contact). Touches that device.
    /// </summary>
    private bool IsRegisteredPhone(in SipMessage m, IpAddress16 sender, DateTimeOffset now)
    {
        Span<char> extension = stackalloc char[ExtensionText.MaxLength];
        if (!SipNameAddr.TryParse(m.IsRequest ? m.From : m.To, out SipNameAddr self) || !ExtensionText.IsLearnable(self.User)
            || Latin1(self.User, extension) is not (> 0 and var length)
            || !_directory.TryFindByExtension(extension[..length], out DeviceBinding owner))
        {
            return false;
        }

        string senderText = sender.ToString();
        return owner.Ips.Contains(senderText) && _directory.TryTouchDevice(owner.Id, sender, now);
    }

    /// <summary>
    /// Whether a message whose Contact names a private address other than its sender's (a phone behind NAT that no proxy
    /// fixed) comes from another phone than <paramref name="holder"/>, the device known by that Contact at another address.
    /// Home routers hand out the same few private addresses and phones default to port 5060, so two home workers show one
    /// Contact from two public addresses. The holder itself moved (its router got a new WAN address) when the message
    /// names one of its lines or, for a REGISTER, its registration's Call-ID: the rule for a DHCP move, unchanged.
    /// </summary>
    private bool IsAnotherPhoneBehindNat(in SipNameAddr contact, IpAddress16 source, DeviceBinding holder, ReadOnlySpan<char> aor, string? registerCallId)
    {
        if (!IpAddress16.TryParse(contact.Host, out IpAddress16 host) || !host.IsPrivateUse || host == source
            || (_directory.TryFindByIp(source, out DeviceBinding atSource) && atSource.Id == holder.Id)
            || (registerCallId is not null && _registrations.TryGetValue(registerCallId, out (string Device, string Aor) registered)
                && registered.Device == holder.Id))
        {
            return false;
        }

        foreach (LineBinding line in holder.Lines)
        {
            if (aor.SequenceEqual(line.Extension))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The identity of a phone behind NAT whose Contact another phone already has (<see cref="IsAnotherPhoneBehindNat"/>):
    /// the Contact's identity (<paramref name="length"/> characters in <paramref name="buffer"/>) with the public address it
    /// registered from, as a Via's received= names it. Returns the new length (0: no room). Allocates nothing for IPv4.
    /// </summary>
    private static int WriteNatIdentity(IpAddress16 source, Span<char> buffer, int length)
    {
        const string Received = ";received=";
        if (length + Received.Length >= buffer.Length)
        {
            return 0;
        }

        Received.CopyTo(buffer[length..]);
        length += Received.Length;
        return source.TryFormat(buffer[length..], out int written) ? length + written : 0;
    }

    private static int ViaCount(in SipMessage m)
    {
        int count = 0;
        foreach (ReadOnlySpan<byte> _ in m.EnumerateHeaders("Via"u8))
        {
            count++;
        }

        return count;
    }

    private static int ContactExpires(in SipNameAddr contact, int headerExpires)
    {
        if (contact.TryGetHeaderParameter("expires"u8, out ReadOnlySpan<byte> e) && SipText.TryParseDecimal(e, int.MaxValue, out long v))
        {
            return (int)v;
        }

        return headerExpires >= 0 ? headerExpires : DefaultExpires;
    }

    /// <summary>Writes the device identity of a Contact into <paramref name="destination"/>; returns its length (0: none).</summary>
    internal static int WriteIdentity(in SipNameAddr contact, Span<char> destination)
    {
        if (contact.TryGetHeaderParameter("+sip.instance"u8, out ReadOnlySpan<byte> instance) && !instance.IsEmpty)
        {
            instance = SipText.Trim(instance);
            if (instance.Length > 2 && instance[0] == (byte)'<' && instance[^1] == (byte)'>')
            {
                instance = instance[1..^1];
            }

            return Latin1(instance, destination);
        }

        if (contact.TryGetHeaderParameter("+u.sip!devicename.ccm.cisco.com"u8, out ReadOnlySpan<byte> name) && !name.IsEmpty)
        {
            return Latin1(name, destination);
        }

        if (contact.Host.IsEmpty || contact.Host.Length + 12 > destination.Length)
        {
            return 0;
        }

        int n = Latin1("sip:"u8, destination);
        n += Latin1(contact.Host, destination[n..]);
        destination[n++] = ':';
        (contact.Port > 0 ? contact.Port : 5060).TryFormat(destination[n..], out int written, default, CultureInfo.InvariantCulture);
        return n + written;
    }

    private static int Latin1(ReadOnlySpan<byte> source, Span<char> destination) =>
        source.Length > destination.Length ? 0 : Encoding.Latin1.GetChars(source, destination);

    /// <summary>A REGISTER transaction: Call-ID, CSeq and the sender (a proxy relaying it upstream keeps both ids).</summary>
    private static string PendingKey(ReadOnlySpan<byte> callId, uint cseq, IpEndpoint16 sender) =>
        string.Concat(Encoding.Latin1.GetString(callId), "\u001f", cseq.ToString(CultureInfo.InvariantCulture), "\u001f", sender.ToString());
}
