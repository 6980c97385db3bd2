using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Tests.Bindings;

/// <summary>
/// What the local directory does with another appliance's changes (README "Cluster"): a login made elsewhere attributes
/// local calls without a PIN, stale changes lose to newer local ones by event time, a logout ends only a login that began
/// before it, and a line-1 conflict with another appliance's holder is reported like a local one and withdrawn cleanly.
/// </summary>
public sealed class SharedDirectoryApplyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

    private static BindingDirectory Open() => BindingDirectory.Open(null, new DirectoryConfig
    {
        Devices =
        [
            new DeviceConfig("desk-1") { Protocol = DeviceProtocol.Sip, Ips = ["10.0.1.11"], Extensions = ["2001"] },
            new DeviceConfig("desk-2") { Protocol = DeviceProtocol.Sip, Ips = ["10.0.1.12"], Extensions = ["2002"] },
        ],
        Users = [new UserConfig("alice") { Pin = "1234" }, new UserConfig("bob")],
    }, T0);

    [Fact]
    public void LoginMadeElsewhere_NoPin_AttributesTheNextLocalCall_AndRaisesTheEvent()
    {
        using BindingDirectory d = Open();
        var events = d.Subscribe();

        Assert.True(d.ApplySharedLogin("alice", "desk-1", null, LoginKind.Explicit, [], T0.AddMinutes(1)));

        PartyBinding? party = d.Attribute("2001", ConfigValues.ParseIp("10.0.1.11"), T0.AddMinutes(2));
        Assert.Equal(("alice", "explicit"), (party?.User, party?.LoginKind));
        Assert.Null(d.Attribute("2001", ConfigValues.ParseIp("10.0.1.11"), T0.AddSeconds(30))?.User); // before the login: nobody
        Assert.True(events.TryRead(out DirectoryEvent? e));
        Assert.Equal((DirectoryEventKind.LoginEstablished, "alice", "desk-1", T0.AddMinutes(1)), (e.Kind, e.User, e.HostDevice, e.At));
        Assert.Equal(["2001"], d.LocateUser("alice").Guest);
    }

    [Fact]
    public void StaleRemoteLogin_LosesToANewerLocalOne_ANewerOneMovesTheUser()
    {
        using BindingDirectory d = Open();
        Assert.True(d.Login("bob", "desk-2", null, T0.AddMinutes(5)).Ok);

        // Older than bob's login here: bob stays at desk-2 (the user's newer login wins) ...
        Assert.False(d.ApplySharedLogin("bob", "desk-1", null, LoginKind.Explicit, [], T0.AddMinutes(4)));
        Assert.Equal("desk-2", d.LocateUser("bob").HostDevice);

        // ... a newer one moves him, and ends the login here as moved at its time.
        Assert.True(d.ApplySharedLogin("bob", "desk-1", null, LoginKind.Explicit, [], T0.AddMinutes(6)));
        Assert.Equal("desk-1", d.LocateUser("bob").HostDevice);
        LoginEntry ended = Assert.Single(d.History(device: "desk-2"));
        Assert.Equal((LogoutReasons.Moved, T0.AddMinutes(6)), (ended.EndReason, ended.Until));

        // A device this appliance does not know: bob's login here ends (he is elsewhere in the estate).
        d.ApplySharedLogin("bob", "desk-far-away", null, LoginKind.Explicit, [], T0.AddMinutes(7));
        Assert.False(d.LocateUser("bob").LoggedIn);
    }

    [Fact]
    public void RemoteLogout_EndsOnlyALoginThatBeganBefore_NeverResurrects()
    {
        using BindingDirectory d = Open();
        Assert.True(d.Login("bob", "desk-2", null, T0.AddMinutes(10)).Ok);

        Assert.False(d.ApplySharedLogout("bob", T0.AddMinutes(9), LogoutReasons.Logout)); // older than the login: stale
        Assert.True(d.LocateUser("bob").LoggedIn);

        Assert.True(d.ApplySharedLogout("bob", T0.AddMinutes(11), LogoutReasons.RemoteLogout));
        Assert.False(d.LocateUser("bob").LoggedIn);
        Assert.Equal(LogoutReasons.RemoteLogout, Assert.Single(d.History(user: "bob")).EndReason);

        // A login older than that logout, offered late (a queue sent after an outage): it does not come back.
        Assert.False(d.ApplySharedLogin("bob", "desk-2", null, LoginKind.Explicit, [], T0.AddMinutes(10).AddSeconds(30)));
        Assert.False(d.LocateUser("bob").LoggedIn);
        Assert.Null(d.Attribute("2002", ConfigValues.ParseIp("10.0.1.12"), T0.AddMinutes(12))?.User);
        Assert.Single(d.History(user: "bob"));
    }

    [Fact]
    public void IdleLogout_InACluster_OnlyAtDevicesOfThisSite_WhoseCallsItSees()
    {
        using BindingDirectory d = BindingDirectory.Open(null, new DirectoryConfig
        {
            Devices =
            [
                new DeviceConfig("here") { Extensions = ["2001"], Site = "north" },
                new DeviceConfig("there") { Extensions = ["2002"], Site = "south" },
                new DeviceConfig("nowhere") { Extensions = ["2003"] },
            ],
            Users = [new UserConfig("alice"), new UserConfig("bob"), new UserConfig("carol")],
            IdleLogout = TimeSpan.FromMinutes(30),
        }, T0);
        d.LocalSite = "north";
        Assert.True(d.Login("alice", "here", null, T0).Ok);
        Assert.True(d.Login("bob", "there", null, T0).Ok); // through this appliance's API, at south's phone
        Assert.True(d.Login("carol", "nowhere", null, T0).Ok);

        d.Tick(T0.AddHours(1));

        Assert.False(d.LocateUser("alice").LoggedIn);
        Assert.True(d.LocateUser("bob").LoggedIn); // south sees bob's calls and idles him out, not north
        Assert.False(d.LocateUser("carol").LoggedIn);
    }

    [Fact]
    public void ConflictWithAnotherAppliancesHolder_IsReported_AndNotPassedBackToItsClaimant()
    {
        using BindingDirectory d = Open();
        string phone = d.ObserveDevice("phone-a", DeviceProtocol.Sip, ConfigValues.ParseIp("10.0.0.1"), T0);
        d.ReplaceLines(phone, [(1, "4001", null)], LineSource.Registered, T0);

        d.ReportSharedConflict("4001", "phone-z at south", phone, T0.AddSeconds(1));
        LineConflict c = Assert.Single(d.Conflicts(openOnly: true));
        Assert.Equal(("4001", "phone-z at south", phone), (c.Extension, c.Holder, c.Claimant));
        Assert.Equal(1, d.OpenConflictCount);

        // The local phone gives the line up: its own shared claim is not handed back to it as holder ...
        d.UnregisterDevice(phone, T0.AddMinutes(1));
        Assert.False(d.TryFindByExtension("4001", out _));

        // ... and the cluster withdraws the claim.
        d.ResolveSharedConflict("4001", phone, T0.AddMinutes(1), "withdrawn");
        Assert.Empty(d.Conflicts(openOnly: true));
        Assert.Equal("withdrawn", Assert.Single(d.Conflicts()).Resolution);
    }
}
