using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

/// <summary>
/// Who a call's party is (DESIGN section 2): its device (host), the user logged in there at the call's start (guest),
/// else the device's hoteling agent, how the user logged in, and whether the recording groups record the call; and the
/// calls in progress on each device, which idle logout waits for. Used under the directory's lock.
/// </summary>
internal sealed class CallAttribution(DeviceRegistry devices, LineIndex lines, KnownServers servers, LoginBook logins, DirectorySettings settings)
{
    /// <summary>
    /// Who a call's party is: the device carrying <paramref name="extension"/> (the one at <paramref name="ip"/> when the
    /// line is shared, else the line-1 holder), else the device at <paramref name="ip"/>; and the user logged in there at
    /// <paramref name="at"/> (from the history), else the device's hoteling agent. Null when the party is not local.
    /// </summary>
    public PartyBinding? Attribute(string? extension, IpAddress16 ip, DateTimeOffset at)
    {
        DeviceState? d = null;
        if (extension is not null && lines.TryGetEntry(extension, out LineIndex.ExtensionEntry? entry))
        {
            foreach (string id in entry.Devices)
            {
                if (ip != default && devices.Resolve(id) is { } candidate && candidate.HasIp(ip))
                {
                    d = candidate;
                    break;
                }
            }

            d ??= devices.Resolve(entry.Line1Owner ?? entry.Devices[0]);
        }

        if (d is null && ip != default && !servers.IsServerAddress(ip) && devices.TryGetAtIp(ip, out DeviceState? atIp))
        {
            d = atIp;
        }

        if (d is null && extension is not null)
        {
            // A logged-in profile's extension that no line shows (the phone's REGISTER not seen yet).
            if (logins.FirstOpenWithGuest(extension) is { } open)
            {
                d = devices.Resolve(open.HostDevice);
            }
        }

        return d is null ? null : PartyOf(d, at);
    }

    private PartyBinding PartyOf(DeviceState d, DateTimeOffset at)
    {
        LoginEntry? login = logins.WhoWasAt(d.Id, at) ?? (d.Login?.Since <= at ? d.Login : null);
        string? user = login?.User;
        bool hoteling = false;
        if (user is null && d.Config?.HotelingAgent is { } agent)
        {
            user = agent;
            hoteling = true;
        }

        ProfileConfig? profile = login?.Profile is { } pid ? settings.Profile(pid) : null;
        UserConfig? u = user is null ? null : settings.User(user);

        // DESIGN section 2: recorded when the logged-in profile's, the device's or the user's group records; none: the default.
        string?[] groups = [profile?.RecordingGroup, d.Config?.RecordingGroup, u?.RecordingGroup];
        bool anyGroup = false, record = false;
        string? group = null;
        foreach (string? g in groups)
        {
            if (g is not null && settings.TryGetGroup(g, out RecordingGroupConfig? rg))
            {
                anyGroup = true;
                group ??= g;
                record |= rg.Record;
            }
        }

        return new PartyBinding(profile?.Id ?? d.Id, d.Id)
        {
            Extension = FirstLine(d),
            User = user,
            Profile = profile?.Id,
            LoginSeq = login?.Seq,
            LoginKind = login?.Kind switch
            {
                LoginKind.Mobility => "mobility",
                LoginKind.CrossCluster => "cross-cluster",
                LoginKind.Explicit => "explicit",
                _ => null,
            },
            HotelingAgent = hoteling,
            RecordingGroup = group,
            Record = anyGroup ? record : settings.Config.RecordByDefault,
        };
    }

    private static string? FirstLine(DeviceState d)
    {
        LearnedLine? first = null;
        foreach (LearnedLine l in d.Lines)
        {
            if (first is null || l.Number < first.Number)
            {
                first = l;
            }
        }

        return first?.Extension ?? (d.Config?.Extensions.Count > 0 ? d.Config.Extensions[0] : null);
    }

    /// <summary>A call started on the device (idle auto-logout counts from the last call).</summary>
    public void NoteCallStarted(string device, DateTimeOffset now)
    {
        if (devices.Resolve(device) is { } d)
        {
            d.ActiveCalls++;
            d.LastActivity = now;
        }
    }

    public void NoteCallEnded(string device, DateTimeOffset now)
    {
        if (devices.Resolve(device) is { } d)
        {
            d.ActiveCalls = Math.Max(0, d.ActiveCalls - 1);
            d.LastActivity = now;
        }
    }
}
