namespace Capture.Bindings;

/// <summary>Tuning of the directory; the defaults suit a contact centre of some thousand phones.</summary>
public sealed class DirectoryOptions
{
    /// <summary>A registration is dropped this long after its expiry (a refresh may be in flight; RFC 3261 Timer F).</summary>
    public TimeSpan RegistrationGrace { get; init; } = TimeSpan.FromSeconds(32);

    /// <summary>How many recent events are kept for <see cref="BindingDirectory.RecentEvents"/>.</summary>
    public int RecentEventCapacity { get; init; } = 10_000;

    /// <summary>How often the licence file is synchronised (DESIGN section 2: daily re-check, every sync while invalid).</summary>
    public TimeSpan LicenseSyncInterval { get; init; } = TimeSpan.FromMinutes(1);
}
