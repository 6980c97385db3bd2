using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Interop;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Sip;
using Capture.Tests.Support;

namespace Capture.Tests.Sip;

/// <summary>What the directory learns from the SIP in real captures (MANIFEST.md and tshark say what is there).</summary>
public sealed class SipDeviceLearnerTests
{
    [Fact]
    public void AaaCapture_OneDeviceWithSeveralAccounts_OnlyAcceptedRegistrationsBind()
    {
        // tshark -r aaa.pcap -Y 'sip.CSeq.method == "REGISTER"': from 192.168.1.2 (Contact host 192.168.1.2:5060)
        //   voi18063: 401, 403 Wrong password, 401s - never a 200;  voi18062: 401s then 200 OK at 415.4 s (expires 1200),
        //   unregistered at 915.3 s (Expires 0);  35104723: 401s, 200 OK at 1273.4 s and again at 1477.9 s.
        using Replay r = Replay.Run("aaa.pcap");

        DeviceBinding phone = Assert.Single(r.Directory.Devices());
        Assert.Equal("sip:192.168.1.2:5060", phone.Id);
        Assert.Equal(["192.168.1.2"], phone.Ips);
        Assert.Equal(["35104723"], phone.Lines.Select(l => l.Extension));
        Assert.Equal(LineSource.Registered, phone.Lines[0].Source);
        Assert.True(phone.Registered);
        Assert.StartsWith("Nero SIPPS IP Phone", phone.UserAgent);
        Assert.True(r.Directory.IsServer(new IpEndpoint16(ConfigValues.ParseIp("212.242.33.35"), 5060)));

        // Three 200 OKs to REGISTER bind; 13 error answers to REGISTERs refuse (the 2 answers to unregisters need none).
        Assert.Equal((3, 13, 2), (r.Counters["sip_registers_applied"], r.Counters["sip_registers_refused"], r.Counters["sip_unregisters"]));

        // The set changes exactly as the accepted registrations say.
        string[][] sets = [.. r.Events.Where(e => e.Kind == DirectoryEventKind.LinesChanged).Select(e => e.Extensions!.ToArray())];
        Assert.Equal([["voi18062"], [], ["35104723"]], sets);
        Assert.Equal(2, r.Events.Count(e => e.Kind == DirectoryEventKind.DeviceRegistered));
        Assert.Equal(1, r.Events.Count(e => e.Kind == DirectoryEventKind.DeviceUnregistered));
        Assert.DoesNotContain(r.Events, e => e.Extensions?.Contains("voi18063") == true);

        // Calls from the phone name it, whichever account placed them.
        Assert.All(r.Calls, c => Assert.Equal("sip:192.168.1.2:5060", c.Parties.Single(p => p.Ip == "192.168.1.2").Device));
    }

    [Fact]
    public void SipHelloCapture_PhoneBehindNat_IsBoundToItsSourceAddress_KeepAlivesIgnored()
    {
        // tshark: REGISTER of 26841945 from 172.29.38.91, Contact sip:26841945@10.231.142.84:5060 (NAT), 401 then
        // 200 OK (expires=600) at 160.7 s, refreshed at 460.8 s; 22 UDP "hello" datagrams are not SIP.
        using Replay r = Replay.Run("sip_hello.pcapng");

        DeviceBinding phone = Assert.Single(r.Directory.Devices());
        Assert.Equal("sip:10.231.142.84:5060", phone.Id);
        Assert.Equal(["172.29.38.91"], phone.Ips); // where its packets come from, not the private Contact address
        Assert.Equal("sip:26841945@10.231.142.84:5060", phone.Contact);
        LineBinding line = Assert.Single(phone.Lines);
        Assert.Equal(("26841945", "26841945"), (line.Extension, line.DisplayName));
        DateTimeOffset refreshed = new DateTimeOffset(2022, 2, 22, 7, 43, 54, 708, TimeSpan.Zero).AddSeconds(460.847);
        Assert.Equal(refreshed.AddSeconds(600), line.ExpiresAt!.Value, TimeSpan.FromSeconds(1));
        Assert.True(r.Directory.TryFindByIp(ConfigValues.ParseIp("172.29.38.91"), out _));
        Assert.True(r.Directory.IsServer(new IpEndpoint16(ConfigValues.ParseIp("10.239.156.235"), 5060)));
        Assert.Equal(8, r.Counters["sip_messages"]);
        Assert.Equal(2, r.Counters["sip_registers_applied"]);
    }

    [Fact]
    public void TcpRetransCapture_Extension1001_IsOnePhoneBehindAnOutboundProxy_NotAConflict()
    {
        // tshark: MicroSIP at 172.168.0.252 registers 1001 over TCP to 172.168.0.228, which re-registers it over UDP
        // to 172.168.0.227 under its own Contact (172.168.0.228:5160) with the SAME +sip.instance
        // (urn:uuid:00000000-0000-0000-0000-00009314fa8a). MANIFEST calls these two clients; the instance says one
        // phone, and .228 receives REGISTERs, so it is a proxy: decided "neither conflict nor move".
        using Replay r = Replay.Run("sip_ipv4_tcp_retrans.pcap");

        DeviceBinding phone = Assert.Single(r.Directory.Devices());
        Assert.Equal("urn:uuid:00000000-0000-0000-0000-00009314fa8a", phone.Id);
        Assert.Equal(["172.168.0.252"], phone.Ips);
        Assert.Equal(["1001"], phone.Lines.Select(l => l.Extension));
        Assert.Empty(r.Directory.Conflicts());
        Assert.True(r.Directory.IsServer(new IpEndpoint16(ConfigValues.ParseIp("172.168.0.228"), 5060)));
        Assert.True(r.Directory.IsServer(new IpEndpoint16(ConfigValues.ParseIp("172.168.0.227"), 5060)));
        Assert.True(r.Counters["sip_registers_proxied"] > 0);
        Assert.All(r.Directory.Servers(), server => Assert.Equal(ServerEvidence.ReceivesRegisters, server.Evidence));
        Assert.Equal(["172.168.0.227", "172.168.0.228"], r.Directory.Servers().Select(server => server.Ip).Distinct());
    }

    [Fact]
    public void FuzzedCapture_LearnsNothingFromBrokenRegisters_AndDoesNotCrash()
    {
        // The fuzzed aaa.pcap: no REGISTER survives with its 200 OK intact; one has a To user no extension can be.
        using Replay r = Replay.Run("fuzz-2006-06-26-2594.pcap");
        Assert.Empty(r.Directory.Devices());
        Assert.Equal(0, r.Counters["sip_registers_applied"]);
        Assert.Equal(1, r.Counters["sip_bad_extensions"]);
    }

    [Fact]
    public void WithheldCallerPlaceholders_AreNeverLines_AndRaiseNoConflict()
    {
        // Two phones calling with their number withheld, as PBXs and carriers show it (RFC 3323 anonymous, "unavailable").
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        using var s = new SipScenario(directory: directory);
        (string Phone, string From)[] callers =
        [
            ("10.0.0.10:5060", "\"Anonymous\" <sip:anonymous@anonymous.invalid>"),
            ("10.0.0.11:5060", "\"Anonymous\" <sip:Anonymous@anonymous.invalid>"),
            ("10.0.0.12:5060", "<sip:unavailable@10.0.0.12>"),
        ];
        foreach ((string phone, string from) in callers)
        {
            var d = new SipDialog("withheld-" + phone, from, "<sip:2002@pbx.example.com>");
            s.Sip(phone, "10.0.0.20:5060", d.Invite(headers: "Contact: <sip:" + phone + ">"));
            s.Sip("10.0.0.20:5060", phone, d.Response(486, "Busy Here"));
            s.Advance(1);
        }

        s.Complete();
        Assert.All(directory.Devices(), device => Assert.DoesNotContain(device.Lines, l => ExtensionText.IsPlaceholder(System.Text.Encoding.UTF8.GetBytes(l.Extension))));
        Assert.Equal(0, directory.OpenConflictCount);
        Assert.Empty(directory.Conflicts());
    }

    [Fact]
    public void PhoneThatRegisteredWithAnInstance_AndCallsWithoutIt_IsOneDevice_NoGhostNoConflict()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        using var s = new SipScenario(directory: directory);
        const string Instance = "urn:uuid:00000000-0000-1000-8000-00a0c9a1b2c3";
        string register =
            "REGISTER sip:pbx.example.com SIP/2.0\r\n" +
            "Via: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bK-reg1\r\n" +
            "From: <sip:1001@pbx.example.com>;tag=r1\r\n" +
            "To: <sip:1001@pbx.example.com>\r\n" +
            "Call-ID: reg-1001\r\n" +
            "CSeq: 1 REGISTER\r\n" +
            $"Contact: <sip:1001@10.0.0.10:5060>;+sip.instance=\"<{Instance}>\"\r\n" +
            "Expires: 3600\r\n" +
            "Content-Length: 0\r\n\r\n";
        s.Sip("10.0.0.10:5060", "10.0.0.20:5060", register);
        s.Sip("10.0.0.20:5060", "10.0.0.10:5060", register.Replace("REGISTER sip:pbx.example.com SIP/2.0", "SIP/2.0 200 OK", StringComparison.Ordinal)
            .Replace("To: <sip:1001@pbx.example.com>", "To: <sip:1001@pbx.example.com>;tag=s1", StringComparison.Ordinal));
        s.Advance(1);

        // Its calls carry a Contact without the instance (as many phones send them).
        var d = new SipDialog("call-1001", "\"Alice\" <sip:1001@pbx.example.com>", "<sip:2002@pbx.example.com>");
        s.Sip("10.0.0.10:5060", "10.0.0.20:5060", d.Invite(headers: "Contact: <sip:1001@10.0.0.10:5060>"));
        s.Sip("10.0.0.20:5060", "10.0.0.10:5060", d.Response(486, "Busy Here"));
        s.Complete();

        DeviceBinding phone = Assert.Single(directory.Devices());
        Assert.Equal(Instance, phone.Id);
        Assert.Equal(["1001"], phone.Lines.Select(l => l.Extension));
        Assert.Empty(directory.Conflicts());
    }

    /// <summary>
    /// DHCP hands phone 1001 another address: it re-registers from there, never unregistering the old one (it cannot).
    /// With an instance id the Contact says who it is; without one, its REGISTER's Call-ID does (RFC 3261 10.2: one
    /// Call-ID per registrar for a boot cycle, CSeq counting on). Either way: one device, re-bound, no conflict.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PhoneThatMovesToANewAddress_AndReRegisters_IsOneDevice_ReboundNotAConflict(bool withInstance)
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        using var s = new SipScenario(directory: directory);
        string? instance = withInstance ? "urn:uuid:00000000-0000-1000-8000-00a0c9a1b2c3" : null;
        Register(s, "10.0.0.10", "reg-1001@boot-7", 1, instance);
        s.Advance(60);
        Register(s, "10.0.0.11", "reg-1001@boot-7", 2, instance);

        // Its calls from the new address carry a Contact of their own (another port, no instance), as SIPp's and many phones' do.
        var d = new SipDialog("call-1001", "\"Alice\" <sip:1001@pbx.example.com>", "<sip:2002@pbx.example.com>");
        s.Sip("10.0.0.11:5062", "10.0.0.20:5060", d.Invite(headers: "Contact: <sip:1001@10.0.0.11:5062>"));
        s.Sip("10.0.0.20:5060", "10.0.0.11:5062", d.Response(486, "Busy Here"));
        s.Complete();

        DeviceBinding phone = Assert.Single(directory.Devices());
        Assert.Equal(instance ?? "sip:10.0.0.10:5060", phone.Id); // the id it was first known by: recordings name it
        Assert.Equal(["10.0.0.11"], phone.Ips);
        Assert.Equal(("1001", LineSource.Registered), (phone.Lines[0].Extension, phone.Lines[0].Source));
        Assert.False(directory.TryFindByIp(ConfigValues.ParseIp("10.0.0.10"), out _));
        Assert.True(directory.TryGetDevice("sip:10.0.0.11:5060", out DeviceBinding byNewContact) || withInstance);
        if (!withInstance)
        {
            Assert.Equal(phone.Id, byNewContact.Id); // the new contact is another identity of the same phone
        }

        Assert.Empty(directory.Conflicts());
        Assert.Equal(withInstance ? 0 : 1, s.Pipeline.Snapshot()["sip_phones_moved"]);
    }

    /// <summary>A reboot brings a new Call-ID: the move after it is told by the new one, and the old one names nothing now.</summary>
    [Fact]
    public void PhoneThatRebootedAndThenMoves_IsToldByItsNewCallId_NotItsOldOne()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        using var s = new SipScenario(directory: directory);
        Register(s, "10.0.0.10", "reg-1001@boot-1", 1, null);
        s.Advance(60);
        Register(s, "10.0.0.10", "reg-1001@boot-2", 1, null); // rebooted, same address
        s.Advance(60);
        Register(s, "10.0.0.11", "reg-1001@boot-2", 2, null); // moved
        s.Advance(60);
        Register(s, "10.0.0.12", "reg-1001@boot-1", 5, null); // the first boot's Call-ID again: not this phone's any more
        s.Complete();

        Assert.Equal(["10.0.0.11", "10.0.0.12"], directory.Devices().SelectMany(d => d.Ips).Order());
        LineConflict conflict = Assert.Single(directory.Conflicts());
        Assert.Equal(("sip:10.0.0.10:5060", "sip:10.0.0.12:5060"), (conflict.Holder, conflict.Claimant));
        Assert.Equal(1, s.Pipeline.Snapshot()["sip_phones_moved"]);
    }

    /// <summary>A second phone registering the same line 1 (its own contact and Call-ID) is a conflict, not a move.</summary>
    [Fact]
    public void AnotherPhoneRegisteringTheSameLine_WithItsOwnCallId_IsAConflict_NotAMove()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        using var s = new SipScenario(directory: directory);
        Register(s, "10.0.0.10", "reg-1001@phone-a", 1, null);
        s.Advance(60);
        Register(s, "10.0.0.11", "reg-1001@phone-b", 1, null);
        s.Complete();

        Assert.Equal(["10.0.0.10", "10.0.0.11"], directory.Devices().SelectMany(d => d.Ips).Order());
        LineConflict conflict = Assert.Single(directory.Conflicts());
        Assert.Equal(("1001", "sip:10.0.0.10:5060", "sip:10.0.0.11:5060"), (conflict.Extension, conflict.Holder, conflict.Claimant));
        Assert.Equal(0, s.Pipeline.Snapshot()["sip_phones_moved"]);
    }

    /// <summary>
    /// Two home workers whose routers both gave their phone 192.168.1.10 (phones default to port 5060): the same private
    /// Contact, no instance id and no proxy fixing it, seen from two public addresses, each phone with its own AOR and
    /// REGISTER Call-ID. Two phones, each with its own line 1 and its own calls; neither is the other one moved.
    /// </summary>
    [Fact]
    public void TwoHomeWorkersBehindNat_WithTheSamePrivateContact_AreTwoPhones_EachWithItsLineAndItsCalls()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        var events = directory.Subscribe();
        using var s = new SipScenario(directory: directory);
        Register(s, "203.0.113.5:5060", "2001", "<sip:2001@192.168.1.10:5060>", "reg-x", 1);
        s.Advance(5);
        Register(s, "198.51.100.7:5060", "3001", "<sip:3001@192.168.1.10:5060>", "reg-y", 1);
        s.Advance(5);
        CallFromBehindNat(s, "203.0.113.5", "2001", "call-a", 30000, 500);
        CallFromBehindNat(s, "198.51.100.7", "3001", "call-b", 30002, 700);
        List<CallSidecar> calls = s.Complete();

        Assert.Equal(2, directory.Devices().Count);
        DeviceBinding a = Assert.Single(directory.Devices(), d => d.Ips.Contains("203.0.113.5"));
        DeviceBinding b = Assert.Single(directory.Devices(), d => d.Ips.Contains("198.51.100.7"));
        Assert.Equal("sip:192.168.1.10:5060", a.Id); // the id such a phone always had: a stored directory keeps it
        Assert.Equal("sip:192.168.1.10:5060;received=198.51.100.7", b.Id); // the second: its Contact and where it registered from
        Assert.Equal(["203.0.113.5"], a.Ips);
        Assert.Equal(["2001"], a.Lines.Select(l => l.Extension));
        Assert.Equal(["198.51.100.7"], b.Ips);
        Assert.Equal(["3001"], b.Lines.Select(l => l.Extension));
        Assert.True(directory.TryFindByExtension("2001", out DeviceBinding owner2001) && owner2001.Id == a.Id);
        Assert.True(directory.TryFindByExtension("3001", out DeviceBinding owner3001) && owner3001.Id == b.Id);
        Assert.Empty(directory.Conflicts());
        Assert.DoesNotContain(Capture.Tests.Bindings.BindingDirectoryTests.Drain(events), e => e.Kind == DirectoryEventKind.DeviceMoved);
        Assert.Equal(0, s.Pipeline.Snapshot()["sip_phones_moved"]);

        Assert.Equal(2, calls.Count);
        foreach ((CallSidecar call, DeviceBinding phone, string extension, string publicIp, double tone) in
                 new[] { (calls[0], a, "2001", "203.0.113.5", 500.0), (calls[1], b, "3001", "198.51.100.7", 700.0) })
        {
            PartySidecar caller = Assert.Single(call.Parties, p => p.Device is not null);
            Assert.Equal((extension, phone.Id, publicIp, "left"), (caller.Extension, caller.Device, caller.Ip, caller.Channel));
            s.AssertLegs(call, tone, 1300);
        }
    }

    /// <summary>
    /// A home router gets a new WAN address: the phone behind it re-registers with the same Call-ID and AOR (and, after a
    /// power cut, a new Call-ID but the same AOR) from the new address. Still one device, moved; the other home worker
    /// with the same private Contact keeps its own device, and moves the same way when its router's address changes.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HomeWorkerBehindNat_WhoseRouterGetsANewPublicAddress_IsOneDeviceThatMoved(bool rebooted)
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        var events = directory.Subscribe();
        using var s = new SipScenario(directory: directory);
        Register(s, "203.0.113.5:5060", "2001", "<sip:2001@192.168.1.10:5060>", "reg-x", 1);
        s.Advance(5);
        Register(s, "198.51.100.7:5060", "3001", "<sip:3001@192.168.1.10:5060>", "reg-y", 1);
        s.Advance(60);
        Register(s, "203.0.113.99:5060", "2001", "<sip:2001@192.168.1.10:5060>", rebooted ? "reg-x2" : "reg-x", rebooted ? 1 : 2);
        s.Advance(5);
        Register(s, "198.51.100.99:5060", "3001", "<sip:3001@192.168.1.10:5060>", rebooted ? "reg-y2" : "reg-y", rebooted ? 1 : 2);
        s.Advance(5);
        CallFromBehindNat(s, "198.51.100.99", "3001", "call-b", 30002, 700);
        CallSidecar call = Assert.Single(s.Complete());

        Assert.Equal(2, directory.Devices().Count);
        DeviceBinding a = Assert.Single(directory.Devices(), d => d.Lines.Any(l => l.Extension == "2001"));
        DeviceBinding b = Assert.Single(directory.Devices(), d => d.Lines.Any(l => l.Extension == "3001"));
        Assert.Equal("sip:192.168.1.10:5060", a.Id);
        Assert.Equal(["203.0.113.99"], a.Ips);
        Assert.Equal(["198.51.100.99"], b.Ips);
        Assert.NotEqual(a.Id, b.Id);
        Assert.Empty(directory.Conflicts());
        List<DirectoryEvent> moves = [.. Capture.Tests.Bindings.BindingDirectoryTests.Drain(events).Where(e => e.Kind == DirectoryEventKind.DeviceMoved)];
        Assert.Equal([(a.Id, "203.0.113.99", "from 203.0.113.5"), (b.Id, "198.51.100.99", "from 198.51.100.7")],
            moves.Select(e => (e.Device, e.Ip, e.Detail)));
        PartySidecar caller = Assert.Single(call.Parties, p => p.Device is not null);
        Assert.Equal((b.Id, "198.51.100.99"), (caller.Device, caller.Ip));
    }

    /// <summary>
    /// The same two home workers when their Contacts tell them apart already: a proxy fixed them to the public address
    /// (fix_nated_contact), or the phones send an instance id. Their ids are what they always were.
    /// </summary>
    [Theory]
    [InlineData("<sip:2001@203.0.113.5:5060>", "<sip:3001@198.51.100.7:5060>", "sip:203.0.113.5:5060", "sip:198.51.100.7:5060")]
    [InlineData("<sip:2001@192.168.1.10:5060>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-0000000000a1>\"",
        "<sip:3001@192.168.1.10:5060>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-0000000000b2>\"",
        "urn:uuid:00000000-0000-1000-8000-0000000000a1", "urn:uuid:00000000-0000-1000-8000-0000000000b2")]
    public void HomeWorkersBehindNat_WhoseContactsDiffer_KeepTheirIds(string contactA, string contactB, string idA, string idB)
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        using var s = new SipScenario(directory: directory);
        Register(s, "203.0.113.5:5060", "2001", contactA, "reg-x", 1);
        s.Advance(5);
        Register(s, "198.51.100.7:5060", "3001", contactB, "reg-y", 1);
        s.Complete();

        Assert.Equal([(idA, "203.0.113.5", "2001"), (idB, "198.51.100.7", "3001")],
            directory.Devices().OrderBy(d => d.FirstSeen).Select(d => (d.Id, Assert.Single(d.Ips), Assert.Single(d.Lines).Extension)));
        Assert.Empty(directory.Conflicts());
    }

    /// <summary>
    /// A call from a phone behind NAT to the PBX at 10.0.0.20 (which anchors the media): the SDP names the phone's private
    /// address, its packets come from the router's public one. Caller tone <paramref name="tone"/>, the PBX 1300 Hz.
    /// </summary>
    private static void CallFromBehindNat(SipScenario s, string publicIp, string aor, string callId, int pbxMediaPort, double tone)
    {
        var d = new SipDialog(callId, $"<sip:{aor}@pbx.example.com>", "<sip:1000@pbx.example.com>");
        string phone = publicIp + ":5060", pbx = "10.0.0.20:5060";
        s.Sip(phone, pbx, d.Invite(sdp: SipDialog.Sdp("192.168.1.10", 4000), headers: $"Contact: <sip:{aor}@192.168.1.10:5060>"));
        s.Sip(pbx, phone, d.Response(200, "OK", sdp: SipDialog.Sdp("10.0.0.20", pbxMediaPort), headers: "Contact: <sip:1000@10.0.0.20:5060>"));
        s.Sip(phone, pbx, d.Ack());
        s.Talk(publicIp + ":4000", "10.0.0.20:" + pbxMediaPort, 50, tone, 1300);
        s.Sip(phone, pbx, d.InDialog("BYE", true, 2, headers: $"Contact: <sip:{aor}@192.168.1.10:5060>"));
        s.Sip(pbx, phone, d.Response(200, "OK", 2, "BYE"));
        s.Advance(1);
    }

    /// <summary>One REGISTER of 1001 from <paramref name="ip"/>:5060 to the registrar at 10.0.0.20 and its 200.</summary>
    private static void Register(SipScenario s, string ip, string callId, int cseq, string? instance) =>
        Register(s, ip + ":5060", "1001", $"<sip:1001@{ip}:5060>" + (instance is null ? "" : $";+sip.instance=\"<{instance}>\""), callId, cseq);

    /// <summary>One REGISTER of <paramref name="aor"/> from <paramref name="source"/> to the registrar at 10.0.0.20 and its 200.</summary>
    private static void Register(SipScenario s, string source, string aor, string contact, string callId, int cseq)
    {
        string register =
            "REGISTER sip:pbx.example.com SIP/2.0\r\n" +
            $"Via: SIP/2.0/UDP {source};branch=z9hG4bK-reg{cseq}\r\n" +
            $"From: <sip:{aor}@pbx.example.com>;tag=r1\r\n" +
            $"To: <sip:{aor}@pbx.example.com>\r\n" +
            $"Call-ID: {callId}\r\n" +
            $"CSeq: {cseq} REGISTER\r\n" +
            $"Contact: {contact}\r\n" +
            "Expires: 3600\r\n" +
            "Content-Length: 0\r\n\r\n";
        s.Sip(source, "10.0.0.20:5060", register);
        s.Sip("10.0.0.20:5060", source, register.Replace("REGISTER sip:pbx.example.com SIP/2.0", "SIP/2.0 200 OK", StringComparison.Ordinal)
            .Replace($"To: <sip:{aor}@pbx.example.com>", $"To: <sip:{aor}@pbx.example.com>;tag=s1", StringComparison.Ordinal));
    }

    [Fact]
    public void BackToBackUserAgent_RelayingACall_IsAServer_NotAPhoneWithTheCallersLine()
    {
        // Phone 1001 (10.0.0.10) calls 2002 through an SBC (10.0.0.2) that is not the registrar: the SBC answers the A-leg
        // and places a B-leg of its own (new Call-ID, one Via, its own Contact) to the phone at 10.0.0.20, From 1001.
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, SipScenario.TimeAt(0));
        using var s = new SipScenario(directory: directory);
        var aLeg = new SipDialog("a-leg", "\"Alice\" <sip:1001@sbc.example.com>", "<sip:2002@sbc.example.com>");
        s.Sip("10.0.0.10:5060", "10.0.0.2:5060", aLeg.Invite(headers: "Contact: <sip:1001@10.0.0.10:5060>"));
        s.Advance(0.05);
        var bLeg = new SipDialog("b-leg", "\"Alice\" <sip:1001@10.0.0.2>", "<sip:2002@10.0.0.20>");
        s.Sip("10.0.0.2:5060", "10.0.0.20:5060", bLeg.Invite(headers: "Contact: <sip:1001@10.0.0.2:5060>"));
        s.Sip("10.0.0.20:5060", "10.0.0.2:5060", bLeg.Response(486, "Busy Here", headers: "Contact: <sip:2002@10.0.0.20:5060>"));
        s.Sip("10.0.0.2:5060", "10.0.0.10:5060", aLeg.Response(486, "Busy Here", headers: "Contact: <sip:2002@10.0.0.2:5060>"));
        s.Complete();

        DeviceBinding phone = Assert.Single(directory.Devices(), d => d.Lines.Any(l => l.Extension == "1001"));
        Assert.Equal("sip:10.0.0.10:5060", phone.Id);
        Assert.DoesNotContain(directory.Devices(), d => d.Ips.Contains("10.0.0.2"));
        Assert.Empty(directory.Conflicts());
        Assert.Equal(1, s.Pipeline.Snapshot()["sip_relays_detected"]);
        Assert.Equal([new ServerBinding("10.0.0.2", 5060, ServerEvidence.RelaysCalls)], directory.Servers());
    }

    /// <summary>Replays a shared capture inline through a pipeline with an in-memory directory.</summary>
    internal sealed class Replay : ICallResultSink, IDisposable
    {
        private readonly string _out = Path.Combine(Path.GetTempPath(), "learner-" + Guid.NewGuid().ToString("N"));

        public BindingDirectory Directory { get; }
        public List<CallSidecar> Calls { get; } = [];
        public List<DirectoryEvent> Events { get; }
        public IReadOnlyDictionary<string, long> Counters { get; }

        private Replay(string file, DirectoryConfig? config)
        {
            Directory = BindingDirectory.Open(null, config ?? DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
            var events = Directory.Subscribe(100_000);
            using PcapSource source = PcapSource.OpenOffline(Captures.PathOf(file));
            using (var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = _out }, new PipelineOptions { Workers = 0 }, results: this, directory: Directory))
            {
                Assert.Equal(CaptureEnd.EndOfFile, pipeline.Run(source));
                pipeline.Complete();
                Counters = pipeline.Snapshot();
            }

            Events = Capture.Tests.Bindings.BindingDirectoryTests.Drain(events);
        }

        public static Replay Run(string file, DirectoryConfig? config = null) => new(file, config);

        public void OnCallFinished(CallSidecar sidecar) => Calls.Add(sidecar);

        public void OnRecordingError(string recordingId, Exception error) => throw error;

        public void Dispose()
        {
            Directory.Dispose();
            if (System.IO.Directory.Exists(_out))
            {
                System.IO.Directory.Delete(_out, recursive: true);
            }
        }
    }
}
