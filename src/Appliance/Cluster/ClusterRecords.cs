using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capture.Bindings;
using StackExchange.Redis;

namespace Appliance.Cluster;

/// <summary>
/// A user's latest state in the shared directory: logged in at a device (<see cref="In"/>), or out (a tombstone kept so
/// a late login older than the logout cannot come back). <see cref="At"/> is the event time in UTC ticks: the login's
/// start, the logout's end; the later one wins.
/// </summary>
internal sealed record UserState(string User, bool In, string Device, string? Profile, string? Kind, IReadOnlyList<string> Guest, string? Reason, long At, string Appliance, string? Site)
{
    public static UserState Of(LoginEntry e, string appliance, string? site) => e.IsOpen
        ? new UserState(e.User, true, e.HostDevice, e.Profile, e.Kind.ToString(), e.Guest, null, e.Since.UtcTicks, appliance, site)
        : new UserState(e.User, false, e.HostDevice, e.Profile, null, [], e.EndReason, e.Until!.Value.UtcTicks, appliance, site);

    public HashEntry[] ToHash() =>
    [
        new("state", In ? "in" : "out"), new("device", Device), new("profile", Profile ?? ""), new("kind", Kind ?? ""),
        new("guest", JsonSerializer.Serialize(Guest, ClusterJsonContext.Default.IReadOnlyListString)), new("reason", Reason ?? ""),
        new("at", At), new("appliance", Appliance), new("site", Site ?? ""),
    ];

    public static UserState? FromHash(string user, HashEntry[] hash)
    {
        Dictionary<string, string?> f = hash.ToDictionary(e => (string)e.Name!, e => (string?)e.Value, StringComparer.Ordinal);
        if (!f.TryGetValue("at", out string? at) || !long.TryParse(at, NumberStyles.Integer, CultureInfo.InvariantCulture, out long ticks)
            || f.GetValueOrDefault("device") is not { Length: > 0 } device)
        {
            return null;
        }

        IReadOnlyList<string> guest = [];
        if (f.GetValueOrDefault("guest") is { Length: > 0 } g)
        {
            try
            {
                guest = JsonSerializer.Deserialize(g, ClusterJsonContext.Default.IReadOnlyListString) ?? [];
            }
            catch (JsonException)
            {
                // written by something else: no guest set
            }
        }

        return new UserState(user, f.GetValueOrDefault("state") == "in", device, Empty(f, "profile"), Empty(f, "kind"), guest, Empty(f, "reason"), ticks,
            f.GetValueOrDefault("appliance") ?? "", Empty(f, "site"));
    }

    private static string? Empty(Dictionary<string, string?> f, string name) => f.GetValueOrDefault(name) is { Length: > 0 } v ? v : null;

    public ClusterMessage ToMessage() => new(In ? ClusterMessage.Login : ClusterMessage.Logout, Appliance)
    {
        Site = Site,
        User = User,
        Device = Device,
        Profile = Profile,
        Kind = Kind,
        Guest = Guest,
        Reason = Reason,
        At = At,
    };

    public static UserState FromMessage(ClusterMessage m) =>
        new(m.User!, m.Type == ClusterMessage.Login, m.Device!, m.Profile, m.Kind, m.Guest ?? [], m.Reason, m.At, m.Appliance, m.Site);
}

/// <summary>A user's latest state across the estate: logged in at a device of some appliance, or out (and why).</summary>
public sealed record EstateLogin(string User, bool LoggedIn, string? Device, string? Appliance, string? Site, string? Profile, string? Kind, string? EndReason, DateTimeOffset At);

/// <summary>What appliances publish on the shared channel.</summary>
internal sealed record ClusterMessage(string Type, string Appliance)
{
    public const string Login = "login";
    public const string Logout = "logout";
    public const string LineReleased = "line1-released";
    public const string LineTaken = "line1-taken";
    public const string DevicesChanged = "devices";

    public string? Site { get; init; }
    public string? User { get; init; }
    public string? Device { get; init; }
    public string? Profile { get; init; }
    public string? Kind { get; init; }
    public IReadOnlyList<string>? Guest { get; init; }
    public string? Reason { get; init; }
    public string? Extension { get; init; }
    public string? Holder { get; init; }

    /// <summary>The appliance whose line-1 claim was taken over.</summary>
    public string? Loser { get; init; }

    /// <summary>Devices changed: the version of the appliance's devices hash this change made.</summary>
    public string? Version { get; init; }

    /// <summary>Devices changed: the version it was made over; null when the whole hash was written again.</summary>
    public string? Previous { get; init; }

    /// <summary>Devices changed: the ids written (read them with HMGET) and the ids removed.</summary>
    public IReadOnlyList<string>? Devices { get; init; }

    public IReadOnlyList<string>? Removed { get; init; }

    public long At { get; init; }
}

/// <summary>One login of the estate's history, as kept on the server (field "appliance/seq").</summary>
internal sealed record SharedLoginEntry(string Appliance, string? Site, LoginEntry Login);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterMessage))]
[JsonSerializable(typeof(SharedLoginEntry))]
[JsonSerializable(typeof(SharedDevice))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
