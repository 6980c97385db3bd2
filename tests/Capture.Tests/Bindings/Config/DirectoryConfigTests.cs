using Capture.Bindings.Config;

namespace Capture.Tests.Bindings.Config;

public class DirectoryConfigTests
{
    /// <summary>A contact centre floor: recorded agents on two SIP phones (one static), an unrecorded supervisor
    /// on a Skinny phone, an agency agent visiting from another cluster. Also the README's example.</summary>
    public const string ContactCentreJson = """
        {
          // Leeds contact centre, floor 2. Ids and extensions are compared exactly as written.
          "recordingGroups": [
            { "id": "agents" },
            { "id": "supervisors", "record": false }
          ],
          "recordByDefault": false,             // calls of phones in no group are not recorded
          "servers": ["10.20.0.10", "10.20.0.11"],  // CUCM publisher and subscriber: never learned as phones
          "devices": [
            {
              "id": "urn:uuid:0f6a5c7e-3b1d-4d7a-9a51-0004f2a1b2c3",  // SIP +sip.instance of a Poly VVX
              "protocol": "sip",
              "name": "Desk 2-14",
              "mac": "00:04:f2:a1:b2:c3",
              "extensions": ["3014", "3900"],   // 3900: the team's shared line, line 2 on both agent desks
              "site": "Leeds",
              "recordingGroup": "agents",
              "hotelingAgent": "jsmith"         // calls here with nobody logged in are Jane's
            },
            {
              "id": "desk-2-15",                // signalling not mirrored: bound by its static IP
              "protocol": "sip",
              "name": "Desk 2-15",
              "ips": ["10.20.4.15"],
              "extensions": ["3015", "3900"],
              "site": "Leeds",
              "recordingGroup": "agents",
            },
            {
              "id": "SEP0021CCA1B2C3",
              "protocol": "skinny",
              "name": "Supervisor desk",
              "mac": "0021.cca1.b2c3",
              "extensions": ["3100"],
              "site": "Leeds",
              "recordingGroup": "supervisors"
            }
          ],
          "users": [
            { "id": "jsmith", "name": "Jane Smith", "recordingGroup": "agents" },
            { "id": "mpatel", "name": "Mo Patel", "pin": "4721", "recordingGroup": "agents" },
            { "id": "agency-07", "name": "Agency agent 7", "external": true, "recordingGroup": "agents" }
          ],
          "profiles": [
            // Mo's extension mobility profile: a desk showing exactly {3201, 3900} has Mo logged in.
            { "id": "mpatel-em", "user": "mpatel", "extensions": ["3201", "3900"], "recordingGroup": "agents" },
            // The agency agent logs in from the London cluster (EMCC): recorded with this profile's group.
            { "id": "agency-07-emcc", "user": "agency-07", "extensions": ["+442079460123"], "recordingGroup": "agents", "crossCluster": true }
          ],
          "logoutSchedules": [
            { "at": "19:00", "users": "all", "days": ["mon", "tue", "wed", "thu", "fri"] }
          ],
          "logoutDuringCall": "continue",
          "idleLogoutMinutes": 240,
          "timeZone": "Europe/London",
          "licenseFile": "/etc/appliance/license.json"
        }
        """;

    private static ConfigurationException Invalid(string json) => Assert.Throws<ConfigurationException>(() => DirectoryConfig.Parse(json));

    private static string OneProblem(string json)
    {
        ConfigurationException ex = Invalid(json);
        return Assert.Single(ex.Problems);
    }

    [Fact]
    public void Parse_ContactCentreExample_ReadsEveryValue()
    {
        DirectoryConfig c = DirectoryConfig.Parse(ContactCentreJson);

        Assert.Equal([new RecordingGroupConfig("agents"), new RecordingGroupConfig("supervisors", Record: false)], c.RecordingGroups);
        Assert.False(c.RecordByDefault);
        Assert.Equal(["10.20.0.10", "10.20.0.11"], c.Servers);

        Assert.Equal(3, c.Devices.Count);
        DeviceConfig sip = c.Devices[0];
        Assert.Equal("urn:uuid:0f6a5c7e-3b1d-4d7a-9a51-0004f2a1b2c3", sip.Id);
        Assert.Equal(DeviceProtocol.Sip, sip.Protocol);
        Assert.Equal("Desk 2-14", sip.Name);
        Assert.Equal("0004F2A1B2C3", sip.Mac);
        Assert.Empty(sip.Ips);
        Assert.Equal(["3014", "3900"], sip.Extensions);
        Assert.Equal("Leeds", sip.Site);
        Assert.Equal("agents", sip.RecordingGroup);
        Assert.Equal("jsmith", sip.HotelingAgent);
        Assert.Equal(["10.20.4.15"], c.Devices[1].Ips);
        Assert.Null(c.Devices[1].Mac);
        Assert.Null(c.Devices[1].HotelingAgent);
        Assert.Equal(DeviceProtocol.Skinny, c.Devices[2].Protocol);
        Assert.Equal("0021CCA1B2C3", c.Devices[2].Mac);

        Assert.Equal(
            [
                new UserConfig("jsmith") { Name = "Jane Smith", RecordingGroup = "agents" },
                new UserConfig("mpatel") { Name = "Mo Patel", Pin = "4721", RecordingGroup = "agents" },
                new UserConfig("agency-07") { Name = "Agency agent 7", External = true, RecordingGroup = "agents" },
            ],
            c.Users);
        Assert.Equal(
            [
                new ProfileConfig("mpatel-em", "mpatel") { Extensions = ["3201", "3900"], RecordingGroup = "agents" },
                new ProfileConfig("agency-07-emcc", "agency-07") { Extensions = ["+442079460123"], RecordingGroup = "agents", CrossCluster = true },
            ],
            c.Profiles);

        LogoutSchedule schedule = Assert.Single(c.LogoutSchedules);
        Assert.Equal(new TimeOnly(19, 0), schedule.At);
        Assert.Equal(UserScope.All, schedule.Users);
        Assert.Equal([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], schedule.Days);

        Assert.Equal(LogoutPolicy.Continue, c.LogoutDuringCall);
        Assert.Equal(TimeSpan.FromHours(4), c.IdleLogout);
        Assert.Equal("Europe/London", c.TimeZone);
        Assert.Equal("Europe/London", c.GetScheduleTimeZone().Id);
        Assert.Equal("/etc/appliance/license.json", c.LicenseFile);
        Assert.Empty(c.Validate());
    }

    [Fact]
    public void ToJson_RoundTripsTheContactCentreExample()
    {
        DirectoryConfig c = DirectoryConfig.Parse(ContactCentreJson);
        string json = c.ToJson();

        DirectoryConfig again = DirectoryConfig.Parse(json);

        Assert.Equal(c, again);
        Assert.Equal(c.GetHashCode(), again.GetHashCode());
        Assert.Equal(json, again.ToJson());
        Assert.Contains("\"idleLogoutMinutes\": 240", json, StringComparison.Ordinal);
        Assert.Contains("\"at\": \"19:00\"", json, StringComparison.Ordinal);
        Assert.Contains("\"mon\"", json, StringComparison.Ordinal);
        Assert.Contains("\"protocol\": \"skinny\"", json, StringComparison.Ordinal);
        Assert.Contains("\"logoutDuringCall\": \"continue\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_CompareByValue_IncludingLists()
    {
        var a = new DeviceConfig("d") { Extensions = ["1", "2"], Ips = ["10.0.0.1"] };
        var b = new DeviceConfig("d") { Extensions = new List<string> { "1", "2" }, Ips = ["10.0.0.1"] };

        Assert.Equal(a, b);
        Assert.NotEqual(a, b with { Extensions = ["2", "1"] });
        Assert.Equal(DirectoryConfig.Empty with { Devices = [a] }, DirectoryConfig.Empty with { Devices = [b] });
    }

    [Fact]
    public void Records_KeepAPrivateCopyOfEachList()
    {
        var extensions = new List<string> { "3001" };
        var device = new DeviceConfig("d") { Extensions = extensions };

        extensions.Add("3002");

        Assert.Equal(["3001"], device.Extensions);
        Assert.IsNotType<List<string>>(device.Extensions);
    }

    [Fact]
    public void UserConfig_ToString_HidesThePin()
    {
        string text = new UserConfig("mpatel") { Pin = "4721" }.ToString();

        Assert.DoesNotContain("4721", text, StringComparison.Ordinal);
        Assert.Contains("mpatel", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Defaults_WhenPropertiesAreLeftOut()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""{ "recordingGroups": [{ "id": "g" }], "logoutSchedules": [{ "at": "07:30:15" }], "devices": [{ "id": "d" }] }""");

        Assert.True(c.RecordByDefault);
        Assert.Equal(LogoutPolicy.Continue, c.LogoutDuringCall);
        Assert.Null(c.IdleLogout);
        Assert.Null(c.TimeZone);
        Assert.Same(TimeZoneInfo.Utc, c.GetScheduleTimeZone());
        Assert.Null(c.LicenseFile);
        Assert.True(c.RecordingGroups[0].Record);
        Assert.Equal(DeviceProtocol.Unknown, c.Devices[0].Protocol);
        Assert.Equal(new LogoutSchedule(new TimeOnly(7, 30, 15)), c.LogoutSchedules[0]);
        Assert.Empty(c.LogoutSchedules[0].Days);
        Assert.Equal(UserScope.All, c.LogoutSchedules[0].Users);
        Assert.Equal(DirectoryConfig.Empty, DirectoryConfig.Parse("{}"));
    }

    [Fact]
    public void Parse_StopPolicyAndExternalScope()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""{ "logoutDuringCall": "stop", "logoutSchedules": [{ "at": "23:00", "users": "external", "days": ["sat", "sun"] }] }""");

        Assert.Equal(LogoutPolicy.Stop, c.LogoutDuringCall);
        Assert.Equal(UserScope.External, c.LogoutSchedules[0].Users);
        Assert.Equal([DayOfWeek.Saturday, DayOfWeek.Sunday], c.LogoutSchedules[0].Days);
    }

    [Fact]
    public void Validate_EmptyIsValid()
    {
        Assert.Empty(DirectoryConfig.Empty.Validate());
    }

    // Extensions are exact.

    [Fact]
    public void Parse_KeepsExtensionsExactlyAsWritten()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""{ "devices": [{ "id": "d", "extensions": ["6175551212", "5551212", "+4930123", "0030123", "voi18062", "*55#", "Sales.Desk_1-a"] }] }""");

        Assert.Equal(["6175551212", "5551212", "+4930123", "0030123", "voi18062", "*55#", "Sales.Desk_1-a"], c.Devices[0].Extensions);
    }

    [Fact]
    public void Validate_NoLimitOnExtensionsPerDevice()
    {
        DirectoryConfig c = DirectoryConfig.Empty with
        {
            Devices = [new DeviceConfig("static-trunk") { Extensions = [.. Enumerable.Range(4000, 500).Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))] }],
        };

        Assert.Empty(c.Validate());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(36_501)]
    public void Validate_KeepDaysOutsideZeroToACentury_NamesTheGroup(int days)
    {
        string problem = OneProblem($$"""{ "recordingGroups": [{ "id": "a", "keepDays": 30 }, { "id": "b", "keepDays": {{days}} }] }""");

        Assert.StartsWith($"recordingGroups[1].keepDays: {days} is not 0 (keep forever)", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeepDays_ZeroIsForever_AbsentIsTheDefault()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""{ "recordingGroups": [{ "id": "a", "keepDays": 0 }, { "id": "b" }, { "id": "c", "keepDays": 90 }] }""");

        Assert.Equal([0, null, 90], c.RecordingGroups.Select(g => g.KeepDays));
        Assert.Empty(c.Validate());
    }

    [Fact]
    public void Validate_MalformedExtension_NamesLocationAndValue()
    {
        string problem = OneProblem("""{ "users": [{ "id": "u" }], "profiles": [{ "id": "p", "user": "u", "extensions": ["3001", "alice@example.com"] }] }""");

        Assert.StartsWith("profiles[0].extensions[1]: 'alice@example.com' is not a valid extension", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30 01")]
    [InlineData("")]
    [InlineData("+")]
    [InlineData("30+01")]
    [InlineData("3001;user=phone")]
    [InlineData("sip:3001")]
    [InlineData("012345678901234567890123456789012")]
    public void Validate_MalformedDeviceExtension_NamesLocationAndValue(string extension)
    {
        string problem = OneProblem($$"""{ "devices": [{ "id": "d", "extensions": ["3001", "{{extension}}"] }] }""");

        Assert.StartsWith($"devices[0].extensions[1]: '{extension}' is not a valid extension", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NullExtension()
    {
        string problem = OneProblem("""{ "devices": [{ "id": "d", "extensions": [null] }] }""");

        Assert.StartsWith("devices[0].extensions[0]: null is not a valid extension", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DuplicateExtensionInOneDevice()
    {
        string problem = OneProblem("""{ "devices": [{ "id": "d", "extensions": ["3001", "3002", "3001"] }] }""");

        Assert.Equal("devices[0].extensions[2]: '3001' is listed twice (also devices[0].extensions[0]).", problem);
    }

    [Fact]
    public void Validate_DuplicateExtensionInOneProfile()
    {
        string problem = OneProblem("""{ "users": [{ "id": "u" }], "profiles": [{ "id": "p", "user": "u", "extensions": ["3001", "3001"] }] }""");

        Assert.Equal("profiles[0].extensions[1]: '3001' is listed twice (also profiles[0].extensions[0]).", problem);
    }

    [Fact]
    public void Validate_EmptyProfileExtensionSet()
    {
        string problem = OneProblem("""{ "users": [{ "id": "u" }], "profiles": [{ "id": "p", "user": "u", "extensions": [] }] }""");

        Assert.Equal("profiles[0].extensions: profile 'p' has no extensions; its extension set is what identifies a login.", problem);
    }

    [Fact]
    public void Validate_ExtensionsDifferingOnlyByPrefix_AreDifferent()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""
            {
              "users": [{ "id": "u" }],
              "devices": [{ "id": "a", "extensions": ["5551212"] }, { "id": "b", "extensions": ["6175551212"] }],
              "profiles": [{ "id": "p", "user": "u", "extensions": ["+16175551212"] }]
            }
            """);

        Assert.Equal(2, c.Devices.Count);
    }

    // Ids and references.

    [Theory]
    [InlineData("recordingGroups", """{ "id": "x" }""", "recording group")]
    [InlineData("devices", """{ "id": "x" }""", "device")]
    [InlineData("users", """{ "id": "x" }""", "user")]
    [InlineData("profiles", """{ "id": "x", "user": "u", "extensions": ["1"] }, { "id": "x", "user": "u", "extensions": ["2"] }""", "profile")]
    public void Validate_DuplicateId(string list, string item, string kind)
    {
        string items = list == "profiles" ? item : $"{item}, {item}";
        string users = list == "users" ? "" : """ "users": [{ "id": "u" }], """;

        string problem = OneProblem($$"""{ {{users}} "{{list}}": [{{items}}] }""");

        Assert.Equal($"{list}[1].id: 'x' is already the id of {list}[0]; {kind} ids must be unique.", problem);
    }

    [Theory]
    [InlineData("""{ "devices": [{ "id": "" }] }""", "devices[0].id: every device needs an id, and this one's is empty ('').")]
    [InlineData("""{ "users": [{ "name": "No Id" }] }""", "users[0].id: every user needs an id, and this one's is missing.")]
    [InlineData("""{ "recordingGroups": [{ "id": "  " }] }""", "recordingGroups[0].id: every recording group needs an id, and this one's is empty ('  ').")]
    [InlineData("""{ "devices": [null] }""", "devices[0]: null is not a device.")]
    public void Validate_MissingOrEmptyId(string json, string expected)
    {
        Assert.Equal(expected, OneProblem(json));
    }

    [Theory]
    [InlineData("""{ "devices": [{ "id": "d", "recordingGroup": "sales" }] }""", "devices[0].recordingGroup: 'sales' is not the id of any recording group.")]
    [InlineData("""{ "devices": [{ "id": "d", "hotelingAgent": "nobody" }] }""", "devices[0].hotelingAgent: 'nobody' is not the id of any user.")]
    [InlineData("""{ "users": [{ "id": "u", "recordingGroup": "sales" }] }""", "users[0].recordingGroup: 'sales' is not the id of any recording group.")]
    [InlineData("""{ "users": [{ "id": "u" }], "profiles": [{ "id": "p", "user": "bob", "extensions": ["1"] }] }""", "profiles[0].user: 'bob' is not the id of any user.")]
    [InlineData("""{ "users": [{ "id": "u" }], "profiles": [{ "id": "p", "user": "u", "extensions": ["1"], "recordingGroup": "x" }] }""", "profiles[0].recordingGroup: 'x' is not the id of any recording group.")]
    [InlineData("""{ "profiles": [{ "id": "p", "extensions": ["1"] }] }""", "profiles[0].user: profile 'p' needs the id of the user it belongs to.")]
    public void Validate_UnresolvedReference(string json, string expected)
    {
        Assert.Equal(expected, OneProblem(json));
    }

    [Fact]
    public void Validate_IdsAreCaseSensitive()
    {
        Assert.Equal(
            "devices[0].hotelingAgent: 'JSmith' is not the id of any user.",
            OneProblem("""{ "users": [{ "id": "jsmith" }], "devices": [{ "id": "d", "hotelingAgent": "JSmith" }] }"""));
    }

    // PINs, addresses, time zone.

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("12345678")]
    public void Validate_Pin_ZeroToEightDigits(string pin)
    {
        DirectoryConfig c = DirectoryConfig.Parse($$"""{ "users": [{ "id": "u", "pin": "{{pin}}" }] }""");

        Assert.Equal(pin, c.Users[0].Pin);
    }

    [Theory]
    [InlineData("123456789", "it has 9 characters")]
    [InlineData("12a4", "it has 4 characters, not all digits")]
    [InlineData("١٢٣", "it has 3 characters, not all digits")]
    public void Validate_BadPin_NamesLocationButNotThePin(string pin, string detail)
    {
        string problem = OneProblem($$"""{ "users": [{ "id": "mpatel", "pin": "{{pin}}" }] }""");

        Assert.Equal($"users[0].pin: the PIN of user 'mpatel' is not 0 to 8 decimal digits ({detail}).", problem);
        Assert.DoesNotContain(pin, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.256")]
    [InlineData("10.1")]
    [InlineData("010.0.0.1")]
    [InlineData("0x0a.0.0.1")]
    [InlineData("10.0.0.1:5060")]
    [InlineData("[fe80::1]")]
    [InlineData("fe80::1%eth0")]
    [InlineData("phone-2-15.example.com")]
    [InlineData("")]
    public void Validate_MalformedIp_NamesLocationAndValue(string ip)
    {
        string problem = OneProblem($$"""{ "devices": [{ "id": "d" }, { "id": "e", "ips": ["10.0.0.1", "{{ip}}"] }] }""");

        Assert.Equal($"devices[1].ips[1]: '{ip}' is not an IP address (IPv4 dotted quad or IPv6).", problem);
    }

    [Fact]
    public void Validate_MalformedServerIp()
    {
        Assert.Equal("servers[0]: '10.0.0' is not an IP address (IPv4 dotted quad or IPv6).", OneProblem("""{ "servers": ["10.0.0"] }"""));
    }

    [Fact]
    public void Ips_AreNormalised()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""{ "devices": [{ "id": "d", "ips": ["FE80:0:0:0:021A:A0FF:FE07:32E0", "::ffff:10.0.0.9", "192.168.1.20"] }], "servers": ["2001:DB8::1"] }""");

        Assert.Equal(["fe80::21a:a0ff:fe07:32e0", "10.0.0.9", "192.168.1.20"], c.Devices[0].Ips);
        Assert.Equal(["2001:db8::1"], c.Servers);
    }

    [Theory]
    [InlineData("00:04:f2:a1:b2:c3")]
    [InlineData("00-04-F2-A1-B2-C3")]
    [InlineData("0004.f2a1.b2c3")]
    [InlineData("0004f2A1b2C3")]
    public void Mac_IsNormalisedToTwelveUpperCaseHexDigits(string mac)
    {
        Assert.Equal("0004F2A1B2C3", new DeviceConfig("d") { Mac = mac }.Mac);
    }

    [Theory]
    [InlineData("00:04:f2:a1:b2")]
    [InlineData("00:04-f2:a1:b2:c3")]
    [InlineData("00.04.f2.a1.b2.c3")]
    [InlineData("0004:f2a1:b2c3")]
    [InlineData("0004f2a1b2cg")]
    [InlineData("")]
    public void Validate_MalformedMac_NamesLocationAndValue(string mac)
    {
        string problem = OneProblem($$"""{ "devices": [{ "id": "d", "mac": "{{mac}}" }] }""");

        Assert.StartsWith($"devices[0].mac: '{mac}' is not a MAC address", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SameMacOnTwoDevices()
    {
        string problem = OneProblem("""{ "devices": [{ "id": "a", "mac": "00:04:f2:a1:b2:c3" }, { "id": "b", "mac": "0004.F2A1.B2C3" }] }""");

        Assert.Equal("devices[1].mac: '0004F2A1B2C3' is already the MAC of devices[0] 'a'.", problem);
    }

    [Fact]
    public void Validate_UnknownTimeZone()
    {
        Assert.Equal(
            "timeZone: 'Europe/Londn' is not a time zone known to this system (give an IANA id such as 'Europe/London', or leave it out for UTC).",
            OneProblem("""{ "timeZone": "Europe/Londn" }"""));
    }

    [Fact]
    public void Validate_IdleLogoutMustBePositive()
    {
        Assert.StartsWith("idleLogoutMinutes: the idle time must be more than 0 minutes (it is -5)", OneProblem("""{ "idleLogoutMinutes": -5 }"""), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DuplicateScheduleDay()
    {
        Assert.Equal(
            "logoutSchedules[0].days[2]: 'mon' is listed twice (also days[0]).",
            OneProblem("""{ "logoutSchedules": [{ "at": "19:00", "days": ["mon", "tue", "mon"] }] }"""));
    }

    // DESIGN section 2: profile sets, line 1, static IPs.

    [Fact]
    public void Validate_ProfileSetsMustBeUniqueAmongProfiles_OrderInsensitive()
    {
        string problem = OneProblem("""
            {
              "users": [{ "id": "alice" }, { "id": "bob" }],
              "profiles": [
                { "id": "alice-em", "user": "alice", "extensions": ["3001", "3002"] },
                { "id": "bob-em", "user": "bob", "extensions": ["3002", "3001"] }
              ]
            }
            """);

        Assert.Equal(
            "profiles[1].extensions: profiles[1] 'bob-em' has the same extension set {3002, 3001} as profiles[0] 'alice-em'; a profile's set must identify it among profiles.",
            problem);
    }

    [Fact]
    public void Validate_ProfileSetsThatOnlyOverlap_AreFine()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""
            {
              "users": [{ "id": "alice" }, { "id": "bob" }],
              "devices": [{ "id": "SEP001122334455", "extensions": ["3001"] }],
              "profiles": [
                { "id": "alice-em", "user": "alice", "extensions": ["3001", "3002"] },
                { "id": "bob-em", "user": "bob", "extensions": ["3001", "3002", "3003"] }
              ]
            }
            """);

        Assert.Equal(2, c.Profiles.Count);
    }

    [Fact]
    public void Validate_ProfileSetMustDifferFromEveryDevicesConfiguredSet()
    {
        string problem = OneProblem("""
            {
              "users": [{ "id": "alice" }],
              "devices": [
                { "id": "SEP001122334455", "extensions": ["3001"] },
                { "id": "SEP00112233445A", "extensions": ["3002", "3001", "3001"] }
              ],
              "profiles": [{ "id": "alice-em", "user": "alice", "extensions": ["3001", "3002"] }]
            }
            """.Replace("\"3001\", \"3001\"", "\"3001\"", StringComparison.Ordinal));

        Assert.Equal(
            "profiles[0].extensions: profiles[0] 'alice-em' has the extension set {3001, 3002}, which equals the configured extensions of device 'SEP00112233445A' (devices[1]); a login there could not be told from the device's own lines.",
            problem);
    }

    [Fact]
    public void Validate_LineOneExtensionOnTwoDevices()
    {
        string problem = OneProblem("""{ "devices": [{ "id": "SEP001122334455", "extensions": ["3001"] }, { "id": "desk-9", "extensions": ["3001", "3009"] }] }""");

        Assert.Equal(
            "devices[1].extensions[0]: line 1 extension '3001' of device 'desk-9' is already line 1 of devices[0] 'SEP001122334455'; an extension may be line 1 on one device only (a shared line goes on line 2 or later).",
            problem);
    }

    [Fact]
    public void Validate_SharedLineAsLineTwo_IsFine()
    {
        DirectoryConfig c = DirectoryConfig.Parse("""{ "devices": [{ "id": "a", "extensions": ["3001", "3900"] }, { "id": "b", "extensions": ["3002", "3900"] }, { "id": "c", "extensions": ["3900"] }] }""");

        Assert.Equal(3, c.Devices.Count);
    }

    [Fact]
    public void Validate_SameStaticIpOnTwoDevices()
    {
        string problem = OneProblem("""{ "devices": [{ "id": "a", "ips": ["10.20.4.15"] }, { "id": "b", "ips": ["10.20.4.16", "10.20.4.15"] }] }""");

        Assert.Equal("devices[1].ips[1]: '10.20.4.15' is already a static IP of devices[0] 'a'; a static IP belongs to one device.", problem);
    }

    [Fact]
    public void Validate_SameStaticIp_ComparedAfterNormalising()
    {
        string problem = OneProblem("""{ "devices": [{ "id": "a", "ips": ["2001:db8::15"] }, { "id": "b", "ips": ["2001:DB8:0:0:0:0:0:15"] }] }""");

        Assert.StartsWith("devices[1].ips[0]: '2001:db8::15' is already a static IP of devices[0] 'a'", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StaticIpOfAServer()
    {
        Assert.Equal(
            "devices[0].ips[0]: '10.20.0.10' is listed in servers[0]; a server's address is never bound as a phone.",
            OneProblem("""{ "servers": ["10.20.0.10"], "devices": [{ "id": "a", "ips": ["10.20.0.10"] }] }"""));
    }

    [Fact]
    public void Parse_ListsEveryProblemAtOnce()
    {
        ConfigurationException ex = Invalid("""
            {
              "timeZone": "Mars/Olympus",
              "devices": [{ "id": "a", "extensions": ["3001", "3001"], "mac": "nope" }],
              "users": [{ "id": "u", "pin": "123456789" }]
            }
            """);

        Assert.Equal(4, ex.Problems.Count);
        Assert.StartsWith("config: 4 problems:", ex.Message, StringComparison.Ordinal);
        foreach (string problem in ex.Problems)
        {
            Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
        }
    }

    // JSON shape.

    [Fact]
    public void Parse_UnknownProperty_NamesItAndWhereItIs()
    {
        ConfigurationException ex = Invalid("""{ "devices": [{ "id": "a", "extension": ["3001"] }], "recordbydefault": false }""");

        Assert.Equal(2, ex.Problems.Count);
        Assert.StartsWith("devices[0].extension: unknown property 'extension' (the properties here are: id, protocol, name, mac, ips, extensions,", ex.Problems[0], StringComparison.Ordinal);
        Assert.StartsWith("recordbydefault: unknown property 'recordbydefault' (the properties here are: ", ex.Problems[1], StringComparison.Ordinal);
        Assert.Contains("recordByDefault", ex.Problems[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RepeatedProperty()
    {
        Assert.Equal("devices[0].mac: the property is given more than once.", OneProblem("""{ "devices": [{ "id": "a", "mac": "001122334455", "mac": "001122334466" }] }"""));
    }

    [Fact]
    public void Parse_ScheduleWithoutTime()
    {
        Assert.Equal("logoutSchedules[0]: the required property 'at' is missing.", OneProblem("""{ "logoutSchedules": [{ "users": "all" }] }"""));
    }

    [Theory]
    [InlineData("""{ "logoutDuringCall": "pause" }""", "logoutDuringCall: 'pause' is not one of \"continue\", \"stop\". (line 1, position 29)")]
    [InlineData("""{ "logoutDuringCall": 1 }""", "logoutDuringCall: the number 1 is not one of \"continue\", \"stop\". (line 1, position 23)")]
    [InlineData("""{ "devices": [{ "id": "a", "protocol": "h323" }] }""", "devices[0].protocol: 'h323' is not one of \"unknown\", \"sip\", \"skinny\". (line 1, position 45)")]
    [InlineData("""{ "logoutSchedules": [{ "at": "7pm" }] }""", "logoutSchedules[0].at: '7pm' is not a time of day (\"HH:mm\" or \"HH:mm:ss\", 24-hour, e.g. \"19:00\"). (line 1, position 35)")]
    [InlineData("""{ "logoutSchedules": [{ "at": "19:00", "days": ["monday"] }] }""", "logoutSchedules[0].days[0]: 'monday' is not a day (\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\" or \"sun\"). (line 1, position 56)")]
    [InlineData("""{ "idleLogoutMinutes": "30" }""", "idleLogoutMinutes: '30' is not a number of minutes. (line 1, position 27)")]
    public void Parse_WrongValue_NamesLocationValueAndPosition(string json, string expected)
    {
        Assert.Equal(expected, OneProblem(json));
    }

    [Theory]
    [InlineData("""{ "recordByDefault": "yes" }""", "recordByDefault: expected true or false, not 'yes'.")]
    [InlineData("""{ "devices": { "id": "a" } }""", "devices: expected a list, not an object.")]
    [InlineData("""{ "devices": [{ "id": 7 }] }""", "devices[0].id: expected a string, not the number 7.")]
    [InlineData("""{ "recordingGroups": [{ "id": "g", "record": null }] }""", "recordingGroups[0].record: expected true or false, not null.")]
    [InlineData("""{ "users": [{ "id": "u", "pin": 1234 }] }""", "users[0].pin: expected a string, not the number 1234.")]
    [InlineData("""{ "devices": ["SEP001122334455"] }""", "devices[0]: expected an object, not 'SEP001122334455'.")]
    public void Parse_WrongKindOfValue_NamesLocationAndValue(string json, string expected)
    {
        Assert.Equal(expected, OneProblem(json));
    }

    [Fact]
    public void Parse_WrongKindsOfValue_AreAllListed()
    {
        ConfigurationException ex = Invalid("""{ "recordByDefault": "yes", "servers": "10.0.0.1", "devices": [{ "id": "a", "extensions": "3001" }] }""");

        Assert.Equal(
            ["recordByDefault: expected true or false, not 'yes'.", "servers: expected a list, not '10.0.0.1'.", "devices[0].extensions: expected a list, not '3001'."],
            ex.Problems);
    }

    [Fact]
    public void Parse_MalformedJson_GivesLineAndPosition()
    {
        ConfigurationException ex = Assert.Throws<ConfigurationException>(() => DirectoryConfig.Parse("{\n  \"devices\": [\n    { \"id\": \"a\" \"name\": \"b\" }\n  ]\n}", "appliance.json"));

        string problem = Assert.Single(ex.Problems);
        Assert.StartsWith("malformed JSON at line 3, position 17: ", problem, StringComparison.Ordinal);
        Assert.StartsWith("appliance.json: malformed JSON at line 3", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("null")]
    public void Parse_NotAnObject(string json)
    {
        Invalid(json);
    }

    [Fact]
    public void Parse_AllowsCommentsAndTrailingCommas()
    {
        DirectoryConfig c = DirectoryConfig.Parse("/* header */ { \"servers\": [\"10.0.0.1\",], // trailing\n }");

        Assert.Equal(["10.0.0.1"], c.Servers);
    }

    // Load.

    [Fact]
    public void Load_MissingFile_SaysSo()
    {
        string path = Path.Combine(Path.GetTempPath(), $"no-such-config-{Guid.NewGuid():N}.json");

        ConfigurationException ex = Assert.Throws<ConfigurationException>(() => DirectoryConfig.Load(path));

        Assert.Equal($"{path}: the configuration file does not exist (looked for {path}).", ex.Message);
    }

    [Fact]
    public void Load_ReadsTheFile_AndResolvesARelativeLicensePathAgainstIt()
    {
        string folder = Directory.CreateTempSubdirectory("dirconfig-").FullName;
        try
        {
            string path = Path.Combine(folder, "appliance.json");
            File.WriteAllText(path, ContactCentreJson.Replace("/etc/appliance/license.json", "license.json", StringComparison.Ordinal));

            DirectoryConfig c = DirectoryConfig.Load(path);

            Assert.Equal(Path.Combine(folder, "license.json"), c.LicenseFile);
            Assert.Equal(3, c.Devices.Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Load_InvalidFile_NamesTheFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{ "devices": [{ "id": "a", "extensions": ["30 01"] }] }""");

            ConfigurationException ex = Assert.Throws<ConfigurationException>(() => DirectoryConfig.Load(path));

            Assert.StartsWith($"{path}: devices[0].extensions[0]: '30 01'", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
