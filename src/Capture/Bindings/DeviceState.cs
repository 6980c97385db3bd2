using Capture.Bindings.Config;
using Capture.Packets;

namespace Capture.Bindings;

/// <summary>A line learned from traffic (not configured).</summary>
internal sealed class LearnedLine(string extension)
{
    public string Extension { get; } = extension;
    public int Number { get; set; }
    public string? DisplayName { get; set; }
    public LineSource Source { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>An expiry check for this line is waiting in the directory's queue.</summary>
    public bool ExpiryQueued { get; set; }
}

/// <summary>
/// The directory's mutable record of one device. Only the directory's parts touch it, under the directory's lock;
/// readers on other threads see <see cref="Binding"/>, an immutable snapshot swapped in after each change.
/// </summary>
internal sealed class DeviceState(string id)
{
    public string Id { get; } = id;
    public DeviceProtocol Protocol { get; set; }
    public DeviceConfig? Config { get; set; }

    /// <summary>Addresses, most recent first (at most one per family from traffic, plus configured static IPs).</summary>
    public List<IpAddress16> Ips { get; } = [];

    public List<LearnedLine> Lines { get; } = [];

    /// <summary>Learned identities (SIP instance, contact) that resolve to this configured device.</summary>
    public List<string> Aliases { get; } = [];

    public bool Phantom { get; set; }
    public bool Registered { get; set; }
    public DateTimeOffset? FirstSeen { get; set; }
    public DateTimeOffset? LastSeen { get; set; }
    public string? Contact { get; set; }
    public string? UserAgent { get; set; }
    public LoginEntry? Login { get; set; }

    /// <summary>Calls in progress on the device and the last call start or end (idle auto-logout).</summary>
    public int ActiveCalls { get; set; }

    public DateTimeOffset LastActivity { get; set; }

    /// <summary>The extension set last published (sorted, distinct) and its line 1.</summary>
    public string[] PublishedSet { get; set; } = [];

    public string? PublishedLine1 { get; set; }

    private DeviceBinding? _binding;

    public DeviceBinding Binding
    {
        get => Volatile.Read(ref _binding)!;
        set => Volatile.Write(ref _binding, value);
    }

    public LearnedLine? FindLine(string extension)
    {
        foreach (LearnedLine line in Lines)
        {
            if (line.Extension == extension)
            {
                return line;
            }
        }

        return null;
    }

    public LearnedLine? FindLine(ReadOnlySpan<char> extension)
    {
        foreach (LearnedLine line in Lines)
        {
            if (extension.SequenceEqual(line.Extension))
            {
                return line;
            }
        }

        return null;
    }

    /// <summary>What the device carries now: learned lines when traffic told us any, else the configured home set.</summary>
    public List<LineBinding> EffectiveLines()
    {
        var lines = new List<LineBinding>(Math.Max(Lines.Count, Config?.Extensions.Count ?? 0));
        if (Lines.Count > 0)
        {
            foreach (LearnedLine l in Lines)
            {
                lines.Add(new LineBinding(l.Number, l.Extension, l.DisplayName, l.Source, l.ExpiresAt));
            }

            lines.Sort(static (a, b) => a.Number.CompareTo(b.Number));
        }
        else if (Config is not null)
        {
            for (int i = 0; i < Config.Extensions.Count; i++)
            {
                lines.Add(new LineBinding(i + 1, Config.Extensions[i], null, LineSource.Configured, null));
            }
        }

        return lines;
    }

    /// <summary>The most recent address, as text (what events name).</summary>
    public string? PrimaryIp() => Ips.Count > 0 ? Ips[0].ToString() : null;

    public bool HasIp(IpAddress16 ip)
    {
        foreach (IpAddress16 a in Ips)
        {
            if (a == ip)
            {
                return true;
            }
        }

        return false;
    }
}
