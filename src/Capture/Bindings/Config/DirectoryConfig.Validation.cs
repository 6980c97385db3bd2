using System.Globalization;

namespace Capture.Bindings.Config;

public sealed partial record DirectoryConfig
{
    // A century: beyond it a day count is a typo, not a policy.
    private const int MaxKeepDays = 36_500;

    private const string ExtensionSyntax =
        "1 to 32 characters: digits, letters, '*', '#', '.', '-', '_', and '+' only as the first character";

    /// <summary>
    /// Every problem in the configuration, each a sentence starting with its JSON location
    /// (<c>profiles[2].extensions[0]: ...</c>); empty when the configuration is usable.
    /// </summary>
    /// <remarks>
    /// Besides syntax (ids, extensions, PINs, IPs, MACs, time zone) and references (recording groups, users),
    /// the rules of DESIGN section 2: an extension is line 1 of one configured device at most; a profile's
    /// extension set is unique among profiles and differs from every configured device's set; a static IP
    /// belongs to one device. Ids and extensions are compared exactly (ordinal, case-sensitive).
    /// </remarks>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        Dictionary<string, int> groups = CheckIds(RecordingGroups, "recordingGroups", "recording group", g => g.Id, problems);
        for (int i = 0; i < RecordingGroups.Count; i++)
        {
            if (RecordingGroups[i]?.KeepDays is < 0 or > MaxKeepDays)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"recordingGroups[{i}].keepDays: {RecordingGroups[i].KeepDays} is not 0 (keep forever) to {MaxKeepDays} days; leave it out for the appliance's default."));
            }
        }

        Dictionary<string, int> users = CheckIds(Users, "users", "user", u => u.Id, problems);
        CheckIds(Devices, "devices", "device", d => d.Id, problems);
        CheckIds(Profiles, "profiles", "profile", p => p.Id, problems);

        Dictionary<string, int> servers = CheckServers(problems);
        CheckDevices(groups, users, servers, problems);
        CheckUsers(groups, problems);
        CheckProfiles(groups, users, problems);
        CheckSchedules(problems);
        CheckSettings(problems);
        return problems;
    }

    private static Dictionary<string, int> CheckIds<T>(IReadOnlyList<T> items, string list, string kind, Func<T, string?> idOf, List<string> problems)
        where T : class
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i] is not { } item)
            {
                problems.Add($"{list}[{i}]: null is not a {kind}.");
                continue;
            }

            string? id = idOf(item);
            if (string.IsNullOrWhiteSpace(id))
            {
                problems.Add($"{list}[{i}].id: every {kind} needs an id, and this one's is {(id is null ? "missing" : $"empty ('{id}')")}.");
            }
            else if (!first.TryAdd(id, i))
            {
                problems.Add($"{list}[{i}].id: '{id}' is already the id of {list}[{first[id]}]; {kind} ids must be unique.");
            }
        }

        return first;
    }

    private Dictionary<string, int> CheckServers(List<string> problems)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Servers.Count; i++)
        {
            string at = $"servers[{i}]";
            string? ip = Servers[i];
            if (ConfigValues.NormalizeIp(ip) is null)
            {
                problems.Add($"{at}: {Shown(ip)} is not an IP address (IPv4 dotted quad or IPv6).");
            }
            else if (!first.TryAdd(ip!, i))
            {
                problems.Add($"{at}: '{ip}' is listed twice (also servers[{first[ip!]}]).");
            }
        }

        return first;
    }

    private void CheckDevices(Dictionary<string, int> groups, Dictionary<string, int> users, Dictionary<string, int> servers, List<string> problems)
    {
        var lineOne = new Dictionary<string, int>(StringComparer.Ordinal);
        var staticIps = new Dictionary<string, int>(StringComparer.Ordinal);
        var macs = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Devices.Count; i++)
        {
            if (Devices[i] is not { } device)
            {
                continue;
            }

            string at = $"devices[{i}]";
            CheckDefined(device.Protocol, $"{at}.protocol", KeywordEnumConverter<DeviceProtocol>.Choices, problems);
            CheckExtensions(device.Extensions, $"{at}.extensions", problems);
            CheckReference(device.RecordingGroup, groups, $"{at}.recordingGroup", "recording group", problems);
            CheckReference(device.HotelingAgent, users, $"{at}.hotelingAgent", "user", problems);

            if (device.Mac is { } mac)
            {
                if (ConfigValues.NormalizeMac(mac) is null)
                {
                    problems.Add($"{at}.mac: '{mac}' is not a MAC address (12 hex digits, plain or as 00:11:22:33:44:55, 00-11-22-33-44-55 or 0011.2233.4455).");
                }
                else if (!macs.TryAdd(mac, i))
                {
                    problems.Add($"{at}.mac: '{mac}' is already the MAC of {Name("devices", macs[mac], Devices[macs[mac]].Id)}.");
                }
            }

            var ownIps = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int j = 0; j < device.Ips.Count; j++)
            {
                string? ip = device.Ips[j];
                string ipAt = $"{at}.ips[{j}]";
                if (ConfigValues.NormalizeIp(ip) is null)
                {
                    problems.Add($"{ipAt}: {Shown(ip)} is not an IP address (IPv4 dotted quad or IPv6).");
                }
                else if (!ownIps.TryAdd(ip!, j))
                {
                    problems.Add($"{ipAt}: '{ip}' is listed twice (also ips[{ownIps[ip!]}]).");
                }
                else if (!staticIps.TryAdd(ip!, i))
                {
                    problems.Add($"{ipAt}: '{ip}' is already a static IP of {Name("devices", staticIps[ip!], Devices[staticIps[ip!]].Id)}; a static IP belongs to one device.");
                }
                else if (servers.TryGetValue(ip!, out int server))
                {
                    problems.Add($"{ipAt}: '{ip}' is listed in servers[{server}]; a server's address is never bound as a phone.");
                }
            }

            // DESIGN: an extension may be line 1 on at most one device; as line 2+ it is a shared line.
            if (device.Extensions.Count > 0 && device.Extensions[0] is { } line1 && ExtensionText.IsValid(line1)
                && !lineOne.TryAdd(line1, i))
            {
                int other = lineOne[line1];
                problems.Add($"{at}.extensions[0]: line 1 extension '{line1}' of device '{device.Id}' is already line 1 of " +
                    $"{Name("devices", other, Devices[other].Id)}; an extension may be line 1 on one device only (a shared line goes on line 2 or later).");
            }
        }
    }

    private void CheckUsers(Dictionary<string, int> groups, List<string> problems)
    {
        for (int i = 0; i < Users.Count; i++)
        {
            if (Users[i] is not { } user)
            {
                continue;
            }

            // The PIN itself is never repeated: these messages end up in logs.
            if (user.Pin is { } pin && !ConfigValues.IsPin(pin))
            {
                problems.Add($"users[{i}].pin: the PIN of user '{user.Id}' is not 0 to 8 decimal digits " +
                    $"(it has {pin.Length} characters{(pin.AsSpan().ContainsAnyExceptInRange('0', '9') ? ", not all digits" : "")}).");
            }

            CheckReference(user.RecordingGroup, groups, $"users[{i}].recordingGroup", "recording group", problems);
        }
    }

    private void CheckProfiles(Dictionary<string, int> groups, Dictionary<string, int> users, List<string> problems)
    {
        // Extension sets by their canonical key, to find equal sets in one pass.
        var deviceSets = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Devices.Count; i++)
        {
            if (Devices[i] is { } device && SetKey(device.Extensions) is { } key)
            {
                deviceSets.TryAdd(key, i);
            }
        }

        var profileSets = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Profiles.Count; i++)
        {
            if (Profiles[i] is not { } profile)
            {
                continue;
            }

            string at = $"profiles[{i}]";
            if (string.IsNullOrWhiteSpace(profile.User))
            {
                problems.Add($"{at}.user: profile '{profile.Id}' needs the id of the user it belongs to.");
            }
            else
            {
                CheckReference(profile.User, users, $"{at}.user", "user", problems);
            }

            CheckReference(profile.RecordingGroup, groups, $"{at}.recordingGroup", "recording group", problems);
            if (profile.Extensions.Count == 0)
            {
                problems.Add($"{at}.extensions: profile '{profile.Id}' has no extensions; its extension set is what identifies a login.");
                continue;
            }

            CheckExtensions(profile.Extensions, $"{at}.extensions", problems);
            if (SetKey(profile.Extensions) is not { } set)
            {
                continue;
            }

            if (!profileSets.TryAdd(set, i))
            {
                int other = profileSets[set];
                problems.Add($"{at}.extensions: {Name("profiles", i, profile.Id)} has the same extension set {SetText(profile.Extensions)} as " +
                    $"{Name("profiles", other, Profiles[other].Id)}; a profile's set must identify it among profiles.");
            }

            if (deviceSets.TryGetValue(set, out int device))
            {
                problems.Add($"{at}.extensions: {Name("profiles", i, profile.Id)} has the extension set {SetText(profile.Extensions)}, which equals " +
                    $"the configured extensions of device '{Devices[device].Id}' (devices[{device}]); a login there could not be told from the device's own lines.");
            }
        }
    }

    private void CheckSchedules(List<string> problems)
    {
        for (int i = 0; i < LogoutSchedules.Count; i++)
        {
            if (LogoutSchedules[i] is not { } schedule)
            {
                problems.Add($"logoutSchedules[{i}]: null is not a logout schedule.");
                continue;
            }

            CheckDefined(schedule.Users, $"logoutSchedules[{i}].users", KeywordEnumConverter<UserScope>.Choices, problems);
            var seen = new Dictionary<DayOfWeek, int>();
            for (int j = 0; j < schedule.Days.Count; j++)
            {
                DayOfWeek day = schedule.Days[j];
                string at = $"logoutSchedules[{i}].days[{j}]";
                if (!Enum.IsDefined(day))
                {
                    problems.Add($"{at}: {(int)day} is not a day of the week.");
                }
                else if (!seen.TryAdd(day, j))
                {
                    problems.Add($"{at}: '{WeekdayJsonConverter.Name(day)}' is listed twice (also days[{seen[day]}]).");
                }
            }
        }
    }

    private void CheckSettings(List<string> problems)
    {
        CheckDefined(LogoutDuringCall, "logoutDuringCall", KeywordEnumConverter<LogoutPolicy>.Choices, problems);
        if (IdleLogout is { } idle && idle <= TimeSpan.Zero)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"idleLogoutMinutes: the idle time must be more than 0 minutes (it is {idle.TotalMinutes}); leave it out to turn idle logout off."));
        }

        if (TimeZone is { } zone && !TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _))
        {
            problems.Add($"timeZone: '{zone}' is not a time zone known to this system (give an IANA id such as 'Europe/London', or leave it out for UTC).");
        }

        if (LicenseFile is { } license && string.IsNullOrWhiteSpace(license))
        {
            problems.Add($"licenseFile: '{license}' is not a path (leave licenseFile out for no seat limit).");
        }
    }

    private static void CheckExtensions(IReadOnlyList<string> extensions, string location, List<string> problems)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < extensions.Count; i++)
        {
            string? extension = extensions[i];
            if (extension is null || !ExtensionText.IsValid(extension))
            {
                problems.Add($"{location}[{i}]: {Shown(extension)} is not a valid extension ({ExtensionSyntax}).");
            }
            else if (!first.TryAdd(extension, i))
            {
                problems.Add($"{location}[{i}]: '{extension}' is listed twice (also {location}[{first[extension]}]).");
            }
        }
    }

    private static void CheckReference(string? id, Dictionary<string, int> ids, string location, string kind, List<string> problems)
    {
        if (id is not null && !ids.ContainsKey(id))
        {
            problems.Add($"{location}: '{id}' is not the id of any {kind}.");
        }
    }

    private static void CheckDefined<T>(T value, string location, string choices, List<string> problems)
        where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            problems.Add($"{location}: {value} is not one of {choices}.");
        }
    }

    // Order-insensitive, exact: the sorted distinct extensions joined by a character no valid extension has.
    // Null when an extension is invalid (already reported) or the set is empty.
    private static string? SetKey(IReadOnlyList<string> extensions)
    {
        if (extensions.Count == 0 || extensions.Any(e => e is null || !ExtensionText.IsValid(e)))
        {
            return null;
        }

        return string.Join('\n', extensions.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
    }

    private static string SetText(IReadOnlyList<string> extensions) => "{" + string.Join(", ", extensions.Distinct(StringComparer.Ordinal)) + "}";

    private static string Name(string list, int index, string? id) => id is null ? $"{list}[{index}]" : $"{list}[{index}] '{id}'";

    private static string Shown(string? value) => value is null ? "null" : $"'{value}'";
}
