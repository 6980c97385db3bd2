using System.Text;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Capture.Skinny;
using Capture.Tests.Support;

namespace Capture.Tests.Skinny;

/// <summary>Device learning from the shared captures (what tshark sees in them, MANIFEST.md) and from byte-built sessions.</summary>
public sealed class SkinnyDeviceLearnerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
    private static readonly long T0Ns = T0.ToUnixTimeMilliseconds() * 1_000_000;

    private static IpAddress16 Ip(string s) => ConfigValues.ParseIp(s);

    private static (BindingDirectory Directory, SkinnyDeviceLearner Learner, Dictionary<SkinnyCapture.Connection, SkinnyConnection> States) Replay(string file)
    {
        BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var learner = new SkinnyDeviceLearner(directory);
        Dictionary<SkinnyCapture.Connection, SkinnyConnection> states = SkinnyCapture.Load(file).Replay(learner);
        Assert.Equal(0, learner.Counters.InvalidTotal);
        Assert.Equal(0, learner.Counters.Resyncs);
        return (directory, learner, states);
    }

    [Fact]
    public void CmCap_BindsLine1012_ToTheReal7912_ByDeviceName()
    {
        (BindingDirectory d, SkinnyDeviceLearner learner, var states) = Replay("cm_cap.pcapng");
        using (d)
        {
            DeviceBinding phone = d.GetDevice("SEP001380AD9E5F")!;
            Assert.Equal(DeviceProtocol.Skinny, phone.Protocol);
            Assert.True(phone.Registered);
            Assert.Equal(["10.102.10.209"], phone.Ips);
            LineBinding line = Assert.Single(phone.Lines);
            Assert.Equal((1, "1012", "8165551012", LineSource.Skinny), (line.Number, line.Extension, line.DisplayName, line.Source));
            Assert.True(d.TryFindByExtension("1012", out DeviceBinding owner));
            Assert.Equal("SEP001380AD9E5F", owner.Id);
            Assert.True(d.IsServer(new IpEndpoint16(Ip("10.0.0.180"), 2000)));

            SkinnyConnection c = Assert.Single(states.Values);
            Assert.Equal(("SEP001380AD9E5F", 30007u, (byte)7, (byte)6, 0u), (c.DeviceName, c.DeviceType, c.ProtocolVersion, c.ServerProtocolVersion, c.HeaderVersion));
            Assert.Equal(Ip("10.102.10.209"), c.Phone.Address);
            Assert.True(c.Registered);
            Assert.Equal((1, 1), ((int)learner.Registers, (int)learner.RegisterAcks));
        }
    }

    [Fact]
    public void Cm2Register_LearnsThreePyskinnyDevices_AndCountsEveryRegistrationOutcome()
    {
        (BindingDirectory d, SkinnyDeviceLearner learner, _) = Replay("cm2_register.pcapng");
        using (d)
        {
            Assert.Equal((35, 28, 7, 28), ((int)learner.Registers, (int)learner.RegisterAcks, (int)learner.RegisterRejects, (int)learner.Unregisters));
            var learned = d.RecentEvents()
                .Where(e => e.Kind == DirectoryEventKind.LinesChanged && e.Extensions is { Count: > 0 })
                .Select(e => (e.Device, string.Join(",", e.Extensions!)))
                .Distinct()
                .Order()
                .ToList();
            Assert.Equal([("pyskinny01", "1091"), ("pyskinny02", "1092"), ("pyskinny03", "1093")], learned);
            foreach (string name in new[] { "pyskinny01", "pyskinny02", "pyskinny03" })
            {
                DeviceBinding device = d.GetDevice(name)!;
                Assert.Equal(["10.102.172.11"], device.Ips);
                Assert.False(device.Registered); // every session ends with an Unregister
            }

            Assert.Equal(0, learner.CallInfoLines); // the legacy CallInfo has no call type: nothing guessed from it
        }
    }

    [Fact]
    public void Cm2Register_ReadsCallInfoAndTheLegacyStartMediaTransmission()
    {
        var sink = new SkinnyStreamReaderTests.RecordingSink();
        var counters = new SkinnyCounters();
        foreach (SkinnyCapture.Connection c in SkinnyCapture.Load("cm2_register.pcapng").Connections)
        {
            SkinnyStreamReader.Read(new SkinnyConnection(c.Phone, c.Server), false, c.Stream(false), 0, sink, counters);
        }

        var calls = new List<string>();
        var media = new List<string>();
        foreach ((bool _, uint version, uint id, byte[] body) in sink.Messages)
        {
            byte[] m = SkinnyBytes.Message(version, id, body);
            Assert.Equal(System.Buffers.OperationStatus.Done, SkinnyMessage.TryRead(m, out SkinnyMessage message, out _));
            if (SkinnyCallInfo.TryRead(message, out SkinnyCallInfo info, out _) == System.Buffers.OperationStatus.Done)
            {
                calls.Add(Encoding.ASCII.GetString(info.CallingParty) + ">" + Encoding.ASCII.GetString(info.CalledParty));
            }

            if (SkinnyStartMediaTransmission.TryRead(message, out SkinnyStartMediaTransmission s, out _) == System.Buffers.OperationStatus.Done)
            {
                media.Add($"{s.Layout} {s.RemoteIp}:{s.RemotePort} {s.PacketMs}ms codec {s.CompressionType}");
            }
        }

        Assert.Equal(18, calls.Count);
        Assert.All(calls, c => Assert.Equal("1091>1092", c));
        Assert.Equal(12, media.Count);
        Assert.All(media, m => Assert.Equal("Legacy 10.102.172.11:5001 30ms codec 4", m));
    }

    [Fact]
    public void SccpHwConfRegister_RegistersTheConferenceBridge_WithoutExtensions()
    {
        (BindingDirectory d, SkinnyDeviceLearner learner, var states) = Replay("sccp_hw_conf_register.pcapng");
        using (d)
        {
            SkinnyConnection c = Assert.Single(states.Values);
            Assert.Equal(("NONSECURE_CONF", 52u, (byte)18, true, true), (c.DeviceName, c.DeviceType, c.ProtocolVersion, c.Registered, c.IsMediaResource));
            Assert.Empty(c.Lines);
            Assert.Equal((0, 0), (d.DeviceCount, d.ExtensionCount));
            Assert.Equal(1, learner.MediaResourceRegistrations);
            Assert.True(d.IsServer(new IpEndpoint16(Ip("10.180.110.48"), 2000)));
        }
    }

    [Fact]
    public void SkinnyPcap_LearnsBothPhones_FromCallInfoV2()
    {
        (BindingDirectory d, SkinnyDeviceLearner learner, var states) = Replay("skinny.pcap");
        using (d)
        {
            Assert.True(d.TryFindByExtension("321", out DeviceBinding caller));
            Assert.Equal(["192.168.195.58"], caller.Ips);
            Assert.Equal(("321", "RIX Meeting Room"), (caller.Lines[0].Extension, caller.Lines[0].DisplayName));
            Assert.True(d.TryFindByExtension("307", out DeviceBinding callee));
            Assert.Equal(["192.168.195.50"], callee.Ips);
            Assert.Equal(("307", "Ervins Gailiss"), (callee.Lines[0].Extension, callee.Lines[0].DisplayName));
            Assert.Equal(2, learner.CallInfoLines);
            Assert.Equal(0, learner.Registers);
            Assert.All(states.Values, c => Assert.Equal(SkinnyHeaderVersion.V20, c.HeaderVersion));
            Assert.Empty(d.Conflicts());
        }
    }

    [Fact]
    public void SkinnyPcap_ReadsMediaTargetsAndReceivePorts_AsTsharkLists()
    {
        var targets = new List<string>();
        var acks = new List<string>();
        var calls = new List<string>();
        foreach (SkinnyCapture.Connection c in SkinnyCapture.Load("skinny.pcap").Connections)
        {
            foreach (bool fromPhone in new[] { true, false })
            {
                var sink = new SkinnyStreamReaderTests.RecordingSink();
                SkinnyStreamReader.Read(new SkinnyConnection(c.Phone, c.Server), fromPhone, c.Stream(fromPhone), 0, sink, new SkinnyCounters());
                foreach ((bool _, uint version, uint id, byte[] body) in sink.Messages)
                {
                    SkinnyMessage.TryRead(SkinnyBytes.Message(version, id, body), out SkinnyMessage m, out _);
                    if (SkinnyStartMediaTransmission.TryRead(m, out SkinnyStartMediaTransmission s, out _) == System.Buffers.OperationStatus.Done)
                    {
                        targets.Add($"{c.Phone.Address}/{s.RemoteIp}/{s.RemotePort}/{s.CompressionType}");
                    }

                    if (SkinnyOpenReceiveChannelAck.TryRead(m, out SkinnyOpenReceiveChannelAck a, out _) == System.Buffers.OperationStatus.Done)
                    {
                        acks.Add($"{c.Phone.Address}/{a.Ip}/{a.Port}");
                    }

                    if (SkinnyCallInfo.TryRead(m, out SkinnyCallInfo info, out _) == System.Buffers.OperationStatus.Done)
                    {
                        calls.Add($"{c.Phone.Address} {info.CallType} {Encoding.ASCII.GetString(info.CallingParty)}>{Encoding.ASCII.GetString(info.CalledParty)}");
                    }
                }
            }
        }

        string[] tshark =
        [
            "192.168.195.50/192.168.193.24/9399/4", "192.168.195.50/192.168.193.24/9400/4", "192.168.195.50/192.168.195.58/32144/4",
            "192.168.195.58/192.168.193.24/9395/4", "192.168.195.58/192.168.193.24/9396/4", "192.168.195.58/192.168.195.50/17718/4",
        ];
        Assert.Equal(tshark, targets.Order(StringComparer.Ordinal));
        Assert.Equal(["192.168.195.50/192.168.195.50/17718", "192.168.195.58/192.168.195.58/32144"], acks.Order(StringComparer.Ordinal));
        Assert.Equal(7, calls.Count);
        Assert.Contains("192.168.195.58 Outbound 321>307", calls);
        Assert.Contains("192.168.195.50 Inbound 321>307", calls);
    }

    // ---- Byte-built sessions --------------------------------------------------------------------------------------

    private static readonly IpEndpoint16 CallManager = new(Ip("10.0.0.254"), 2000);

    private sealed class Session(SkinnyDeviceLearner learner, string phoneIp, ushort port)
    {
        public SkinnyConnection Connection { get; } = new(new IpEndpoint16(Ip(phoneIp), port), CallManager);

        public long Now { get; set; } = T0Ns;

        public Session Phone(params byte[][] messages) => Send(true, messages);

        public Session Server(params byte[][] messages) => Send(false, messages);

        private Session Send(bool fromPhone, byte[][] messages)
        {
            byte[] bytes = [.. messages.SelectMany(m => m)];
            Assert.Equal(bytes.Length, learner.OnStream(Connection, fromPhone, bytes, Now));
            Now += 1_000_000; // 1 ms between bursts
            return this;
        }

        /// <summary>Register, RegisterAck, ButtonTemplate, then one LineStatRes per extension.</summary>
        public Session Registers(string device, params string[] extensions)
        {
            Phone(SkinnyBytes.Register(device, Connection.Phone.Address.ToString()));
            Server(SkinnyBytes.RegisterAck(), SkinnyBytes.ButtonTemplate(extensions.Length));
            for (int i = 0; i < extensions.Length; i++)
            {
                Phone(SkinnyBytes.Message(0, 0x000B, SkinnyBytes.U32((uint)(i + 1))));
                Server(SkinnyBytes.LineStatRes((uint)(i + 1), extensions[i], "Line " + extensions[i]));
            }

            return this;
        }
    }

    [Fact]
    public void ExtensionMobility_ReRegistrationWithAProfilesLines_LogsItsUserInThenOut()
    {
        var config = new DirectoryConfig
        {
            Users = [new UserConfig("alice") { Name = "Alice" }],
            Profiles = [new ProfileConfig("alice-em", "alice") { Extensions = ["3001", "3002"] }],
        };
        using BindingDirectory d = BindingDirectory.Open(null, config, T0);
        var learner = new SkinnyDeviceLearner(d);
        const string Device = "SEP00112233AABB";

        var home = new Session(learner, "10.0.5.20", 51000).Registers(Device, "2001");
        Assert.Equal(["2001"], d.GetDevice(Device)!.Lines.Select(l => l.Extension));
        Assert.Null(d.GetDevice(Device)!.Login);

        // EM login: the CallManager resets the phone; it registers again (new connection) with the profile's lines.
        home.Phone(SkinnyBytes.Unregister());
        var em = new Session(learner, "10.0.5.20", 51001) { Now = home.Now + 5_000_000_000 }.Registers(Device, "3001", "3002");
        LoginEntry login = d.GetDevice(Device)!.Login!;
        Assert.Equal(("alice", "alice-em", Device, LoginKind.Mobility), (login.User, login.Profile, login.HostDevice, login.Kind));
        Assert.Equal(["3001", "3002"], login.Guest);

        // EM logout: back to the device's own line.
        em.Phone(SkinnyBytes.Unregister());
        new Session(learner, "10.0.5.20", 51002) { Now = em.Now + 5_000_000_000 }.Registers(Device, "2001");
        Assert.Null(d.GetDevice(Device)!.Login);
        Assert.Equal(["2001"], d.GetDevice(Device)!.Lines.Select(l => l.Extension));

        LoginEntry history = Assert.Single(d.History(device: Device));
        Assert.Equal(("alice", Device, false), (history.User, history.HostDevice, history.IsOpen));
        Assert.Equal(LogoutReasons.Unregistered, history.EndReason);
        var logins = d.RecentEvents().Where(e => e.Kind is DirectoryEventKind.LoginEstablished or DirectoryEventKind.LoginCancelled).ToList();
        Assert.Equal([DirectoryEventKind.LoginEstablished, DirectoryEventKind.LoginCancelled], logins.Select(e => e.Kind));
        Assert.All(logins, e => Assert.Equal((Device, "alice"), (e.HostDevice, e.User)));
    }

    [Fact]
    public void ExtensionMobility_WithoutUnregister_ChangingTheSetLogsInAndOut()
    {
        var config = new DirectoryConfig
        {
            Users = [new UserConfig("bob")],
            Profiles = [new ProfileConfig("bob-em", "bob") { Extensions = ["4001"] }],
        };
        using BindingDirectory d = BindingDirectory.Open(null, config, T0);
        var learner = new SkinnyDeviceLearner(d);
        var s = new Session(learner, "10.0.5.21", 52000).Registers("SEP0011223344CC", "2002");
        s.Registers("SEP0011223344CC", "4001");
        Assert.Equal("bob", d.GetDevice("SEP0011223344CC")!.Login!.User);
        s.Registers("SEP0011223344CC", "2002");
        LoginEntry entry = Assert.Single(d.History(user: "bob"));
        Assert.Equal(LogoutReasons.SetChanged, entry.EndReason);
    }

    [Fact]
    public void LineRound_IsPublishedAsOneSet_NotLineByLine()
    {
        var config = new DirectoryConfig
        {
            Users = [new UserConfig("carol")],
            Profiles = [new ProfileConfig("carol-em", "carol") { Extensions = ["5001"] }], // a prefix of the device's set
        };
        using BindingDirectory d = BindingDirectory.Open(null, config, T0);
        var learner = new SkinnyDeviceLearner(d);
        new Session(learner, "10.0.5.22", 53000).Registers("SEP0011223344DD", "5001", "5002");
        Assert.Equal(["5001", "5002"], d.GetDevice("SEP0011223344DD")!.Lines.Select(l => l.Extension));
        Assert.Empty(d.History(user: "carol")); // {5001} alone never showed: no spurious login
        Assert.Single(d.RecentEvents(), e => e.Kind == DirectoryEventKind.LinesChanged);
    }

    [Fact]
    public void LineRound_WithoutButtonTemplate_IsPublishedWhenItTimesOut()
    {
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var learner = new SkinnyDeviceLearner(d);
        var s = new Session(learner, "10.0.5.23", 54000);
        s.Phone(SkinnyBytes.Register("SEP0011223344EE", "10.0.5.23")).Server(SkinnyBytes.RegisterAck(), SkinnyBytes.LineStatRes(1, "6001"));
        Assert.Empty(d.GetDevice("SEP0011223344EE")!.Lines);
        learner.Expire(s.Now + 1_000_000_000);
        Assert.Empty(d.GetDevice("SEP0011223344EE")!.Lines);
        learner.Expire(s.Now + 3_000_000_000);
        Assert.Equal(["6001"], d.GetDevice("SEP0011223344EE")!.Lines.Select(l => l.Extension));
    }

    [Fact]
    public void RegisterReject_BindsNothing()
    {
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var learner = new SkinnyDeviceLearner(d);
        new Session(learner, "10.0.5.24", 55000)
            .Phone(SkinnyBytes.Register("SEP0011223344FF", "10.0.5.24"))
            .Server(SkinnySamples.Cm2RegisterReject.ToArray(), SkinnyBytes.LineStatRes(1, "7001"));
        Assert.Equal((0, 1), (d.DeviceCount, (int)learner.RegisterRejects));
    }

    [Fact]
    public void CallInfoPlaceholder_GivesWayToTheDeviceName_WhenTheDeviceRegisters()
    {
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var learner = new SkinnyDeviceLearner(d);
        var early = new Session(learner, "10.0.5.25", 56000);
        early.Server(SkinnyBytes.CallInfoV2(1, 42, 2, "8001", "Dee", "8100", "Desk"));
        Assert.True(d.TryFindByExtension("8001", out DeviceBinding guessed));
        Assert.Equal("skinny:10.0.5.25", guessed.Id);

        early.Registers("SEP001122334400", "8001");
        Assert.True(d.TryFindByExtension("8001", out DeviceBinding named));
        Assert.Equal("SEP001122334400", named.Id);
        Assert.Empty(d.GetDevice("skinny:10.0.5.25")!.Lines);
        Assert.Empty(d.Conflicts());
    }

    [Fact]
    public void CallInfo_DoesNotOverrideALineFromLineStatRes()
    {
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var learner = new SkinnyDeviceLearner(d);
        var s = new Session(learner, "10.0.5.26", 57000).Registers("SEP001122334411", "1012");
        s.Server(SkinnyBytes.CallInfoV2(1, 7, 2, "8165551012", "Masked", "2000", "Other"));
        Assert.Equal(["1012"], d.GetDevice("SEP001122334411")!.Lines.Select(l => l.Extension));
        Assert.Equal(0, learner.CallInfoLines);
    }

    [Fact]
    public void Register_FromTheSideTakenForTheServer_SwapsTheConnection()
    {
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var learner = new SkinnyDeviceLearner(d);
        var phone = new IpEndpoint16(Ip("10.0.5.27"), 2000); // a device that happens to use source port 2000
        var server = new IpEndpoint16(Ip("10.0.0.253"), 2000);
        var c = new SkinnyConnection(server, phone); // guessed the wrong way round
        learner.OnStream(c, c.IsFromPhone(phone), SkinnyBytes.Register("SEP001122334422", "10.0.5.27"), T0Ns);
        Assert.Equal(phone, c.Phone);
        Assert.True(c.IsFromPhone(phone));
        learner.OnStream(c, c.IsFromPhone(server), [.. SkinnyBytes.RegisterAck(), .. SkinnyBytes.ButtonTemplate(1), .. SkinnyBytes.LineStatRes(1, "9001")], T0Ns);
        Assert.Equal(["10.0.5.27"], d.GetDevice("SEP001122334422")!.Ips);
    }

    [Fact]
    public void UnregisterAckRefused_KeepsTheDeviceRegisteredWithItsLines()
    {
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, T0);
        var learner = new SkinnyDeviceLearner(d);
        var s = new Session(learner, "10.0.5.28", 58000).Registers("SEP001122334433", "9101");
        s.Phone(SkinnyBytes.Unregister()).Server(SkinnyBytes.Message(0, 0x0118, SkinnyBytes.U32(2)));
        DeviceBinding device = d.GetDevice("SEP001122334433")!;
        Assert.True(device.Registered);
        Assert.Equal(["9101"], device.Lines.Select(l => l.Extension));
        Assert.Equal(1, learner.UnregistersRefused);
    }
}
