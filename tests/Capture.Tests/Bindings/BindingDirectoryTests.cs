using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Tests.Bindings;

/// <summary>Every rule of DESIGN section 2, driven through the directory's learning and hot-desking operations.</summary>
public sealed class BindingDirectoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

    private static IpAddress16 Ip(string text) => ConfigValues.ParseIp(text);

    /// <summary>A contact centre: two configured desk phones, users alice (PIN), bob, carol (external), profiles.</summary>
    private static DirectoryConfig ContactCentre(Func<DirectoryConfig, DirectoryConfig>? tweak = null)
    {
        var config = new DirectoryConfig
        {
            RecordingGroups = [new RecordingGroupConfig("agents", Record: true), new RecordingGroupConfig("managers", Record: false)],
            Devices =
            [
                new DeviceConfig("desk-1") { Protocol = DeviceProtocol.Sip, Ips = ["10.0.1.11"], Extensions = ["2001"], RecordingGroup = "agents", HotelingAgent = "bob" },
                new DeviceConfig("desk-2") { Protocol = DeviceProtocol.Sip, Ips = ["10.0.1.12"], Extensions = ["2002"] },
                new DeviceConfig("boss") { Extensions = ["2100", "2101"], Ips = ["10.0.1.50"], RecordingGroup = "managers" },
            ],
            Users =
            [
                new UserConfig("alice") { Name = "Alice", Pin = "1234" },
                new UserConfig("bob") { Name = "Bob" },
                new UserConfig("carol") { Name = "Carol", External = true },
            ],
            Profiles =
            [
                new ProfileConfig("alice-em", "alice") { Extensions = ["3001", "3002"], RecordingGroup = "agents" },
                new ProfileConfig("bob-em", "bob") { Extensions = ["3003"] },
                new ProfileConfig("carol-emcc", "carol") { Extensions = ["4001"], RecordingGroup = "agents", CrossCluster = true },
            ],
        };
        return tweak is null ? config : tweak(config);
    }

    private static BindingDirectory Open(DirectoryConfig? config = null) =>
        BindingDirectory.Open(null, config ?? ContactCentre(), T0);

    /// <summary>A SIP phone at <paramref name="ip"/> registering <paramref name="extensions"/> (replacing what it had).</summary>
    private static string Phone(BindingDirectory d, string id, string ip, DateTimeOffset at, params string[] extensions)
    {
        string device = d.ObserveDevice(id, DeviceProtocol.Sip, Ip(ip), at);
        d.ReplaceLines(device, [.. extensions.Select((e, i) => (i + 1, e, (string?)null))], LineSource.Registered, at);
        return device;
    }

    [Fact]
    public void Extensions_AreExact_NoSuffixMatching()
    {
        using BindingDirectory d = Open(DirectoryConfig.Empty);
        Phone(d, "sip:10.0.0.1:5060", "10.0.0.1", T0, "6175551212");
        Phone(d, "sip:10.0.0.2:5060", "10.0.0.2", T0, "5551212");

        Assert.True(d.TryFindByExtension("6175551212", out DeviceBinding a));
        Assert.True(d.TryFindByExtension("5551212", out DeviceBinding b));
        Assert.Equal("sip:10.0.0.1:5060", a.Id);
        Assert.Equal("sip:10.0.0.2:5060", b.Id);
        Assert.False(d.TryFindByExtension("1212", out _));
        Assert.Empty(d.Conflicts());
    }

    [Fact]
    public void SecondLine1Claim_IsAConflict_KeptAndReported_ThenResolvedWhenHolderLeaves()
    {
        using BindingDirectory d = Open(DirectoryConfig.Empty);
        var events = d.Subscribe();
        string a = Phone(d, "phone-a", "10.0.0.1", T0, "2001");
        string b = Phone(d, "phone-b", "10.0.0.2", T0.AddMinutes(1), "2001", "2050");

        LineConflict conflict = Assert.Single(d.Conflicts(openOnly: true));
        Assert.Equal(("2001", a, b), (conflict.Extension, conflict.Holder, conflict.Claimant));
        Assert.True(d.TryFindByExtension("2001", out DeviceBinding holder));
        Assert.Equal(a, holder.Id); // never silently overwritten
        Assert.True(d.GetDevice(b)!.Lines[0].Conflict);
        Assert.False(d.GetDevice(a)!.Lines[0].Conflict);
        Assert.Contains(Drain(events), e => e.Kind == DirectoryEventKind.ConflictDetected && e.Extension == "2001" && e.Device == b);

        d.UnregisterDevice(a, T0.AddMinutes(2));

        Assert.Empty(d.Conflicts(openOnly: true));
        Assert.Equal("holder-released", Assert.Single(d.Conflicts()).Resolution);
        Assert.True(d.TryFindByExtension("2001", out holder));
        Assert.Equal(b, holder.Id);
        Assert.False(d.GetDevice(b)!.Lines[0].Conflict);
    }

    [Fact]
    public void SharedLine_AsLine2_IsNoConflict_AndAppearsOnBothDevices()
    {
        using BindingDirectory d = Open(DirectoryConfig.Empty);
        Phone(d, "phone-a", "10.0.0.1", T0, "2001", "2999");
        Phone(d, "phone-b", "10.0.0.2", T0, "2002", "2999");

        Assert.Empty(d.Conflicts());
        Assert.All(d.Devices(), x => Assert.Contains(x.Lines, l => l.Extension == "2999"));

        // 2999 is indexed on both: a call on it is the device's at the call's address.
        Assert.Equal("phone-a", d.Attribute("2999", Ip("10.0.0.1"), T0)!.HostDevice);
        Assert.Equal("phone-b", d.Attribute("2999", Ip("10.0.0.2"), T0)!.HostDevice);
    }

    [Fact]
    public void Line1ClaimAfterTheHoldersRegistrationLapsed_IsAMove()
    {
        using BindingDirectory d = Open(DirectoryConfig.Empty);
        string a = d.ObserveDevice("phone-a", DeviceProtocol.Sip, Ip("10.0.0.1"), T0);
        d.RegisterLine(a, "2001", null, LineSource.Registered, T0.AddMinutes(5), T0);
        string b = d.ObserveDevice("phone-b", DeviceProtocol.Sip, Ip("10.0.0.2"), T0.AddMinutes(10));
        d.RegisterLine(b, "2001", null, LineSource.Registered, T0.AddMinutes(70), T0.AddMinutes(10));

        Assert.Empty(d.Conflicts());
        Assert.True(d.TryFindByExtension("2001", out DeviceBinding holder));
        Assert.Equal(b, holder.Id);
        Assert.Empty(d.GetDevice(a)!.Lines);
    }

    [Fact]
    public void RegistrationExpiry_DropsTheLine_AfterTheGrace()
    {
        using BindingDirectory d = Open(DirectoryConfig.Empty);
        string a = d.ObserveDevice("phone-a", DeviceProtocol.Sip, Ip("10.0.0.1"), T0);
        d.RegisterLine(a, "2001", null, LineSource.Registered, T0.AddSeconds(60), T0);

        d.Tick(T0.AddSeconds(80));
        Assert.Single(d.GetDevice(a)!.Lines); // within the 32 s grace: a refresh may be in flight
        d.Tick(T0.AddSeconds(93));
        Assert.Empty(d.GetDevice(a)!.Lines);
        Assert.False(d.GetDevice(a)!.Registered);
    }

    [Fact]
    public void RefreshedRegistration_DoesNotExpire()
    {
        using BindingDirectory d = Open(DirectoryConfig.Empty);
        string a = d.ObserveDevice("phone-a", DeviceProtocol.Sip, Ip("10.0.0.1"), T0);
        d.RegisterLine(a, "2001", null, LineSource.Registered, T0.AddSeconds(60), T0);
        for (int s = 50; s < 400; s += 50)
        {
            Assert.True(d.TryRefreshLine(a, "2001", Ip("10.0.0.1"), T0.AddSeconds(s + 60), T0.AddSeconds(s)));
            d.Tick(T0.AddSeconds(s + 1));
        }

        Assert.Single(d.GetDevice(a)!.Lines);
    }

    [Fact]
    public void PhoneThatChangesIp_IsReboundOnItsNextMessage()
    {
        using BindingDirectory d = Open(DirectoryConfig.Empty);
        var events = d.Subscribe();
        Phone(d, "urn:uuid:00000000-0000-1000-8000-0004f2aabbcc", "10.0.0.1", T0, "2001");

        d.ObserveDevice("urn:uuid:00000000-0000-1000-8000-0004f2aabbcc", DeviceProtocol.Sip, Ip("10.0.0.77"), T0.AddHours(1));

        Assert.True(d.TryFindByIp(Ip("10.0.0.77"), out DeviceBinding moved));
        Assert.Equal(["10.0.0.77"], moved.Ips);
        Assert.False(d.TryFindByIp(Ip("10.0.0.1"), out _));
        Assert.Equal(["2001"], moved.Lines.Select(l => l.Extension));
        Assert.Contains(Drain(events), e => e.Kind == DirectoryEventKind.DeviceMoved && e.Ip == "10.0.0.77" && e.Detail == "from 10.0.0.1");
    }

    [Fact]
    public void StaticDevice_IsFoundByItsConfiguredIpAndExtensions_WithoutSignalling()
    {
        using BindingDirectory d = Open();
        Assert.True(d.TryFindByIp(Ip("10.0.1.50"), out DeviceBinding boss));
        Assert.Equal("boss", boss.Id);
        Assert.Equal(["2100", "2101"], boss.Lines.Select(l => l.Extension));
        Assert.All(boss.Lines, l => Assert.Equal(LineSource.Configured, l.Source));
        Assert.True(d.TryFindByExtension("2101", out DeviceBinding byExt));
        Assert.Equal("boss", byExt.Id);
    }

    [Fact]
    public void StaticDevice_RemovedOrMovedByConfiguration_IsNoLongerFoundAtItsOldIp()
    {
        using BindingDirectory d = Open();
        Assert.True(d.ApplyConfig(ContactCentre(c => c with
        {
            Devices = [.. c.Devices.Where(x => x.Id != "boss").Select(x => x.Id == "desk-2" ? x with { Ips = ["10.0.1.22"] } : x)],
        }), T0.AddMinutes(1)).Ok);

        Assert.False(d.TryFindByIp(Ip("10.0.1.50"), out _)); // boss is gone, never seen
        Assert.Null(d.Attribute("2100", Ip("10.0.1.50"), T0.AddMinutes(2)));
        Assert.False(d.TryFindByIp(Ip("10.0.1.12"), out _)); // desk-2 moved
        Assert.True(d.TryFindByIp(Ip("10.0.1.22"), out DeviceBinding desk2));
        Assert.Equal("desk-2", desk2.Id);
    }

    [Fact]
    public void StaticDevice_HasNoLimitOnExtensions()
    {
        string[] many = [.. Enumerable.Range(0, 500).Select(i => (50000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture))];
        using BindingDirectory d = Open(new DirectoryConfig { Devices = [new DeviceConfig("trunk-side") { Extensions = many }] });
        Assert.Equal(500, d.GetDevice("trunk-side")!.Lines.Count);
        Assert.True(d.TryFindByExtension("50499", out _));
    }

    [Fact]
    public void LearnedIdentity_ResolvesToTheConfiguredDevice_ByStaticIp_OrByMac()
    {
        using BindingDirectory d = Open(ContactCentre(c => c with
        {
            Devices = [.. c.Devices, new DeviceConfig("SEP0004F2AABBCC") { Mac = "00:04:f2:aa:bb:cc", Extensions = ["2003"] }],
        }));

        Assert.Equal("desk-1", d.ObserveDevice("sip:10.0.1.11:5060", DeviceProtocol.Sip, Ip("10.0.1.11"), T0));
        Assert.Equal("SEP0004F2AABBCC", d.ObserveDevice("urn:uuid:00000000-0000-1000-8000-0004F2AABBCC", DeviceProtocol.Sip, Ip("10.0.1.99"), T0));
        Assert.True(d.TryGetDevice("sip:10.0.1.11:5060", out DeviceBinding alias));
        Assert.Equal("desk-1", alias.Id);
    }

    [Fact]
    public void ProfileLogin_IsDetectedFromTheDevicesExtensionSet_AndLogoutWhenItChangesBack()
    {
        using BindingDirectory d = Open();
        var events = d.Subscribe();
        string desk = Phone(d, "sip:10.0.1.11:5060", "10.0.1.11", T0, "2001");
        Assert.Null(d.GetDevice(desk)!.Login);

        Phone(d, "sip:10.0.1.11:5060", "10.0.1.11", T0.AddMinutes(5), "3002", "3001"); // order does not matter: a set

        LoginEntry login = d.GetDevice(desk)!.Login!;
        Assert.Equal(("alice", "alice-em", LoginKind.Mobility, "desk-1"), (login.User, login.Profile, login.Kind, login.HostDevice));
        DirectoryEvent established = Assert.Single(Drain(events), e => e.Kind == DirectoryEventKind.LoginEstablished);
        Assert.Equal(("desk-1", "alice", "alice-em"), (established.HostDevice, established.User, established.Profile));
        Assert.Equal(["3001", "3002"], established.Guest!);
        Assert.Equal(T0.AddMinutes(5), established.At);

        PartyBinding party = d.Attribute("3001", Ip("10.0.1.11"), T0.AddMinutes(6))!;
        Assert.Equal(("alice-em", "desk-1", "alice", "mobility"), (party.Device, party.HostDevice, party.User, party.LoginKind));

        Phone(d, "sip:10.0.1.11:5060", "10.0.1.11", T0.AddMinutes(60), "2001");
        Assert.Null(d.GetDevice(desk)!.Login);
        DirectoryEvent cancelled = Assert.Single(Drain(events), e => e.Kind == DirectoryEventKind.LoginCancelled);
        Assert.Equal(("desk-1", "alice", LogoutReasons.SetChanged), (cancelled.HostDevice, cancelled.User, cancelled.Detail));
        Assert.Equal(T0.AddMinutes(60), Assert.Single(d.History(user: "alice")).Until);
    }

    [Fact]
    public void AnotherProfilesSet_ReplacesTheLoggedInUser()
    {
        using BindingDirectory d = Open();
        string desk = Phone(d, "desk-1", "10.0.1.11", T0, "3001", "3002");
        Phone(d, "desk-1", "10.0.1.11", T0.AddMinutes(30), "3003");

        Assert.Equal("bob", d.GetDevice(desk)!.Login!.User);
        LoginEntry alice = Assert.Single(d.History(user: "alice"));
        Assert.Equal(LogoutReasons.Replaced, alice.EndReason);
    }

    [Fact]
    public void SameProfileOnAnotherDevice_MovesTheLogin()
    {
        using BindingDirectory d = Open();
        Phone(d, "desk-1", "10.0.1.11", T0, "3003");
        Phone(d, "desk-2", "10.0.1.12", T0.AddMinutes(10), "3003");

        Assert.Equal("desk-2", d.LocateUser("bob").HostDevice);
        Assert.Equal(LogoutReasons.Moved, d.History(device: "desk-1").Single().EndReason);
    }

    [Theory]
    [InlineData("duplicate-set")]
    [InlineData("equals-device-set")]
    [InlineData("malformed-extension")]
    public void ProfileThatBreaksARule_IsRejected_WithAClearError_AndNothingChanges(string broken)
    {
        using BindingDirectory d = Open();
        DirectoryConfig bad = ContactCentre(c => c with
        {
            Profiles = broken switch
            {
                "duplicate-set" => [.. c.Profiles, new ProfileConfig("bob-em2", "bob") { Extensions = ["3002", "3001"] }],
                "equals-device-set" => [.. c.Profiles, new ProfileConfig("bob-desk", "bob") { Extensions = ["2002"] }],
                _ => [.. c.Profiles, new ProfileConfig("bob-bad", "bob") { Extensions = ["30 04"] }],
            },
        });

        DirectoryConfig before = d.Config;
        DirectoryOutcome outcome = d.ApplyConfig(bad, T0);

        Assert.Equal(DirectoryStatus.Invalid, outcome.Status);
        Assert.Contains(broken switch { "duplicate-set" => "alice-em", "equals-device-set" => "desk-2", _ => "30 04" }, outcome.Problem);
        Assert.Same(before, d.Config); // left unchanged: none of the broken profiles is there
        Assert.DoesNotContain(d.Config.Profiles, p => p.Id is "bob-em2" or "bob-desk" or "bob-bad");
    }

    [Fact]
    public void PhantomCrossClusterDevice_RecordsWithItsProfilesGroup_AndIsDisposedAtUnregister()
    {
        using BindingDirectory d = Open(ContactCentre(c => c with { RecordByDefault = false }));
        var events = d.Subscribe();
        string visitor = Phone(d, "SEPCAFE00000001", "192.0.2.44", T0, "4001");

        DeviceBinding phantom = d.GetDevice(visitor)!;
        Assert.True(phantom.Phantom);
        Assert.Equal(LoginKind.CrossCluster, phantom.Login!.Kind);
        PartyBinding party = d.Attribute("4001", Ip("192.0.2.44"), T0.AddMinutes(1))!;
        Assert.Equal(("carol", "agents", true), (party.User, party.RecordingGroup, party.Record));

        d.UnregisterDevice(visitor, T0.AddMinutes(30));

        Assert.Null(d.GetDevice(visitor));
        Assert.False(d.TryFindByIp(Ip("192.0.2.44"), out _));
        List<DirectoryEvent> seen = Drain(events);
        Assert.Contains(seen, e => e.Kind == DirectoryEventKind.LoginCancelled && e.User == "carol" && e.Detail == LogoutReasons.Unregistered);
        Assert.Contains(seen, e => e.Kind == DirectoryEventKind.DeviceDisposed && e.Device == visitor);
        Assert.Equal(T0.AddMinutes(30), Assert.Single(d.History(user: "carol")).Until); // the history outlives the device
    }

    [Fact]
    public void ApiLogin_NeedsThePin_ThenLocateFindsTheUser()
    {
        using BindingDirectory d = Open();
        Phone(d, "desk-2", "10.0.1.12", T0, "2002");

        Assert.Equal(DirectoryStatus.Forbidden, d.Login("alice", "desk-2", null, T0).Status);
        Assert.Equal(DirectoryStatus.Forbidden, d.Login("alice", "desk-2", "9999", T0).Status);
        Assert.Equal(DirectoryStatus.NotFound, d.Login("mallory", "desk-2", null, T0).Status);
        Assert.Equal(DirectoryStatus.NotFound, d.Login("alice", "nowhere", "1234", T0).Status);
        Assert.True(d.Login("alice", "desk-2", "1234", T0.AddMinutes(1)).Ok);

        Location where = d.LocateUser("alice");
        Assert.True(where.LoggedIn);
        Assert.Equal(("desk-2", LoginKind.Explicit, T0.AddMinutes(1)), (where.HostDevice, where.Kind, where.Since));
        Assert.Equal(["10.0.1.12"], where.Ips);
        Assert.Equal(["2002"], where.Guest);

        Location ext = d.LocateExtension("2002");
        Assert.Equal(("alice", "desk-2", true), (ext.User, ext.HostDevice, ext.LoggedIn));
        Assert.False(d.LocateExtension("2001").LoggedIn);
        Assert.False(d.LocateUser("bob").LoggedIn);
    }

    [Fact]
    public void ApiLoginElsewhere_MovesTheUser_AndRemoteLogoutEndsItWhereverItIs()
    {
        using BindingDirectory d = Open();
        Assert.True(d.Login("bob", "desk-1", null, T0).Ok);
        Assert.True(d.Login("bob", "desk-2", null, T0.AddMinutes(5)).Ok);
        Assert.Null(d.GetDevice("desk-1")!.Login);
        Assert.Equal(LogoutReasons.Moved, d.History(device: "desk-1").Single().EndReason);

        Assert.True(d.LogoutUser("bob", T0.AddMinutes(9)).Ok);
        Assert.Null(d.GetDevice("desk-2")!.Login);
        Assert.Equal(LogoutReasons.RemoteLogout, d.History(device: "desk-2").Single().EndReason);
        Assert.Equal(DirectoryStatus.NotFound, d.LogoutUser("bob", T0.AddMinutes(10)).Status);
        Assert.Equal(DirectoryStatus.NotFound, d.Logout("desk-2", T0.AddMinutes(10)).Status);
    }

    [Fact]
    public void ScheduledLogout_At1900_LogsOutTheUsersInItsScope_Only()
    {
        using BindingDirectory d = Open(ContactCentre(c => c with
        {
            LogoutSchedules = [new LogoutSchedule(new TimeOnly(19, 0)) { Users = UserScope.Internal }],
            TimeZone = "Europe/Berlin",
        }));
        DateTimeOffset evening = new(2026, 11, 20, 17, 0, 0, TimeSpan.Zero); // 18:00 in Berlin
        Assert.True(d.Login("bob", "desk-1", null, evening).Ok);
        Assert.True(d.Login("carol", "desk-2", null, evening).Ok);

        d.Tick(evening.AddMinutes(59));
        Assert.Equal(2, d.LoggedInCount);
        d.Tick(evening.AddMinutes(60).AddSeconds(1)); // 19:00:01 Berlin

        Assert.False(d.LocateUser("bob").LoggedIn);
        Assert.True(d.LocateUser("carol").LoggedIn); // external: not in this schedule's scope
        Assert.Equal(LogoutReasons.Scheduled, d.History(user: "bob").Single().EndReason);
    }

    [Fact]
    public void IdleLogout_EndsAnExplicitLogin_AfterTheIdleTime_ButNotDuringACall()
    {
        using BindingDirectory d = Open(ContactCentre(c => c with { IdleLogout = TimeSpan.FromMinutes(30) }));
        Assert.True(d.Login("bob", "desk-1", null, T0).Ok);
        Assert.True(d.Login("carol", "desk-2", null, T0).Ok);
        d.NoteCallStarted("desk-2", T0.AddMinutes(10));

        d.Tick(T0.AddMinutes(29));
        Assert.Equal(2, d.LoggedInCount);
        d.Tick(T0.AddMinutes(31));

        Assert.False(d.LocateUser("bob").LoggedIn);
        Assert.Equal(LogoutReasons.Idle, d.History(user: "bob").Single().EndReason);
        Assert.True(d.LocateUser("carol").LoggedIn); // on a call
        d.NoteCallEnded("desk-2", T0.AddMinutes(50));
        d.Tick(T0.AddMinutes(79));
        Assert.True(d.LocateUser("carol").LoggedIn);
        d.Tick(T0.AddMinutes(81));
        Assert.False(d.LocateUser("carol").LoggedIn);
    }

    [Fact]
    public void NobodyLoggedIn_CallIsAttributedToTheHotelingAgent_ElseToNoUser()
    {
        using BindingDirectory d = Open();
        PartyBinding desk1 = d.Attribute("2001", default, T0)!;
        Assert.Equal(("desk-1", "desk-1", "bob", true), (desk1.Device, desk1.HostDevice, desk1.User, desk1.HotelingAgent));

        PartyBinding desk2 = d.Attribute("2002", default, T0)!;
        Assert.Equal(("desk-2", null), (desk2.Device, desk2.User));
        Assert.Null(d.Attribute("9999", default, T0));
    }

    [Fact]
    public void History_AnswersWhoWasAtThePhone_AtAnyMoment()
    {
        using BindingDirectory d = Open();
        DateTimeOffset yesterday10 = new(2026, 11, 19, 10, 0, 0, TimeSpan.Zero);
        Assert.True(d.Login("bob", "desk-1", null, yesterday10).Ok);
        Assert.True(d.Login("alice", "desk-1", "1234", yesterday10.AddMinutes(45)).Ok);
        Assert.True(d.Logout("desk-1", yesterday10.AddHours(3)).Ok);

        // Who sat at desk-1 (line 2001) at a moment: what a call there then is attributed to (nobody: its hoteling agent).
        LoginEntry[] logins = [.. d.History(device: "desk-1")];
        Assert.Equal(("bob", logins[0].Seq, false), Who(yesterday10.AddMinutes(32)));
        Assert.Equal(("alice", logins[1].Seq, false), Who(yesterday10.AddMinutes(50)));
        Assert.Equal(("bob", null, true), Who(yesterday10.AddHours(4)));
        Assert.Equal(("bob", null, true), Who(yesterday10.AddMinutes(-1)));
        Assert.Equal(["bob", "alice"], d.History(device: "desk-1", from: yesterday10, to: yesterday10.AddHours(1)).Select(e => e.User));
        Assert.Equal(["alice"], d.History(device: "desk-1", from: yesterday10.AddHours(1)).Select(e => e.User));

        (string? User, long? LoginSeq, bool HotelingAgent) Who(DateTimeOffset at) =>
            d.Attribute("2001", default, at) is { } party ? (party.User, party.LoginSeq, party.HotelingAgent) : default;
    }

    [Fact]
    public void RecordingGroups_DecideWhichCallsAreRecorded()
    {
        using BindingDirectory d = Open(ContactCentre(c => c with { RecordByDefault = false }));

        Assert.True(d.Attribute("2001", default, T0)!.Record);   // desk-1: agents (records)
        Assert.False(d.Attribute("2100", default, T0)!.Record);  // boss: managers (does not)
        Assert.False(d.Attribute("2002", default, T0)!.Record);  // no group: the default (off here)

        // A logged-in profile in a recording group makes the device's calls recorded.
        Phone(d, "desk-2", "10.0.1.12", T0, "3001", "3002");
        Assert.True(d.Attribute("3001", default, T0.AddMinutes(1))!.Record);
    }

    [Fact]
    public void Events_NameHostAndGuest_AndReachEverySubscriber()
    {
        using BindingDirectory d = Open();
        var first = d.Subscribe();
        var second = d.Subscribe();
        Phone(d, "desk-2", "10.0.1.12", T0, "3001", "3002");

        foreach (var reader in new[] { first, second })
        {
            List<DirectoryEvent> seen = Drain(reader);
            Assert.Contains(seen, e => e.Kind == DirectoryEventKind.DeviceRegistered && e.Device == "desk-2");
            Assert.Contains(seen, e => e.Kind == DirectoryEventKind.LinesChanged && e.Extensions!.SequenceEqual(["3001", "3002"]));
            Assert.Contains(seen, e => e.Kind == DirectoryEventKind.LoginEstablished && e.HostDevice == "desk-2" && e.Guest!.SequenceEqual(["3001", "3002"]));
        }
    }

    [Fact]
    public void ConfigurationThatDropsAUser_EndsTheirLogin()
    {
        using BindingDirectory d = Open();
        Assert.True(d.Login("bob", "desk-1", null, T0).Ok);
        DirectoryConfig withoutBob = ContactCentre(c => c with
        {
            Users = [.. c.Users.Where(u => u.Id != "bob")],
            Profiles = [.. c.Profiles.Where(p => p.User != "bob")],
            Devices = [.. c.Devices.Select(x => x with { HotelingAgent = null })],
        });

        Assert.True(d.ApplyConfig(withoutBob, T0.AddHours(1)).Ok);
        Assert.Equal(LogoutReasons.Reconfigured, d.History(user: "bob").Single().EndReason);
    }

    [Fact]
    public void Restart_KeepsDevicesLinesLoginsHistoryConflictsAndServers()
    {
        string path = Path.Combine(Path.GetTempPath(), "directory-restart-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (BindingDirectory d = BindingDirectory.Open(DirectoryStore.Open(new DirectoryStoreOptions { Path = path }), ContactCentre(), T0))
            {
                Phone(d, "desk-1", "10.0.1.11", T0, "3001", "3002");               // alice by mobility
                Assert.True(d.Login("bob", "desk-2", null, T0.AddMinutes(1)).Ok);  // bob by API
                Assert.True(d.Logout("desk-2", T0.AddMinutes(2)).Ok);
                Phone(d, "phone-x", "10.0.9.1", T0, "7001");
                Phone(d, "phone-y", "10.0.9.2", T0, "7001");                       // a conflict
                d.NoteServer(new IpEndpoint16(Ip("10.0.0.1"), 5060), ServerEvidence.ReceivesRegisters);
                d.NoteServer(new IpEndpoint16(Ip("10.0.0.2"), 5060), ServerEvidence.RelaysCalls);
            } // Dispose persists and closes: the clean shutdown

            using BindingDirectory again = BindingDirectory.Open(DirectoryStore.Open(new DirectoryStoreOptions { Path = path }), ContactCentre(), T0.AddHours(1));
            DeviceBinding desk = again.GetDevice("desk-1")!;
            Assert.Equal(["3001", "3002"], desk.Lines.Select(l => l.Extension));
            Assert.Equal(["10.0.1.11"], desk.Ips);
            Assert.Equal(("alice", LoginKind.Mobility), (desk.Login!.User, desk.Login.Kind));
            Assert.Equal(["alice", "bob"], again.History().Select(h => h.User));
            Assert.Equal(LogoutReasons.Logout, again.History(user: "bob").Single().EndReason);
            LineConflict conflict = Assert.Single(again.Conflicts(openOnly: true));
            Assert.Equal(("7001", "phone-x", "phone-y"), (conflict.Extension, conflict.Holder, conflict.Claimant));
            Assert.True(again.TryFindByExtension("7001", out DeviceBinding holder));
            Assert.Equal("phone-x", holder.Id);
            Assert.True(again.IsServer(new IpEndpoint16(Ip("10.0.0.1"), 5060)));
            Assert.Equal(
                [new ServerBinding("10.0.0.1", 5060, ServerEvidence.ReceivesRegisters), new ServerBinding("10.0.0.2", 5060, ServerEvidence.RelaysCalls)],
                again.Servers());
            Assert.Equal("alice", again.Attribute("3001", default, T0.AddMinutes(30))!.User);

            // Nothing was emitted on recovery: the directory only remembered.
            Assert.DoesNotContain(again.RecentEvents(), e => e.Kind is DirectoryEventKind.LoginEstablished or DirectoryEventKind.ConflictDetected);

            // The next login continues the sequence (no history entry is overwritten).
            Assert.True(again.Login("bob", "desk-2", null, T0.AddHours(2)).Ok);
            Assert.Equal(3, again.History().Select(h => h.Seq).Distinct().Count());
        }
        finally
        {
            Directory.Delete(path, recursive: true);
        }
    }

    [Fact]
    public void Crash_LosesOnlyWhatWasNotCheckpointed()
    {
        string path = Path.Combine(Path.GetTempPath(), "directory-crash-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = DirectoryStore.Open(new DirectoryStoreOptions { Path = path });
            BindingDirectory d = BindingDirectory.Open(store, ContactCentre(), T0);
            Phone(d, "phone-x", "10.0.9.1", T0, "7001");
            Assert.True(d.Persist());                      // what the periodic checkpoint does
            Phone(d, "phone-y", "10.0.9.2", T0, "7002");   // after the last checkpoint: lost in a crash
            store.Dispose();                               // the "crash": no final persist

            using BindingDirectory again = BindingDirectory.Open(DirectoryStore.Open(new DirectoryStoreOptions { Path = path }), ContactCentre(), T0);
            Assert.NotNull(again.GetDevice("phone-x"));
            Assert.Null(again.GetDevice("phone-y"));
        }
        finally
        {
            Directory.Delete(path, recursive: true);
        }
    }

    [Fact]
    public void Seats_UsersBeyondTheLicenceWait_AndAreCreatedWhenAValidLicenceArrives()
    {
        string dir = Path.Combine(Path.GetTempPath(), "seats-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string licence = Path.Combine(dir, "license.json");
        try
        {
            // No valid licence at start (expired): no user is created.
            File.WriteAllText(licence, """{"customer": "Leeds", "seats": 2, "validUntil": "2026-01-31"}""");
            DateTimeOffset now = DateTimeOffset.UtcNow;
            using BindingDirectory d = BindingDirectory.Open(null, ContactCentre(c => c with { LicenseFile = licence }), now);
            Assert.Equal(["alice", "bob", "carol"], d.UsersWaitingForSeats);
            Assert.Equal(DirectoryStatus.NotFound, d.Login("bob", "desk-1", null, now).Status);

            // A valid two-seat licence arrives: the next sync (while invalid, every sync) creates two users.
            File.WriteAllText(licence, $$"""{"customer": "Leeds", "seats": 2, "validUntil": "{{now.AddYears(1):yyyy-MM-dd}}"}""");
            d.Tick(now.AddMinutes(2));
            Assert.Equal(["carol"], d.UsersWaitingForSeats);
            Assert.True(d.Login("bob", "desk-1", null, now.AddMinutes(3)).Ok);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static List<DirectoryEvent> Drain(System.Threading.Channels.ChannelReader<DirectoryEvent> reader)
    {
        var list = new List<DirectoryEvent>();
        while (reader.TryRead(out DirectoryEvent? e))
        {
            list.Add(e);
        }

        return list;
    }
}
