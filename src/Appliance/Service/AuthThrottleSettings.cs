namespace Appliance.Service;

/// <summary>
/// Settings section <c>AuthThrottle</c> (README "Roles"): failed authentications (sign-in, bearer token, appliance
/// credential) counted per client address; after <see cref="MaxFailures"/> within <see cref="WindowSeconds"/> that
/// address's further attempts are answered 429 for one window, without checking the credential.
/// </summary>
public sealed class AuthThrottleSettings
{
    /// <summary>Failures from one address within the window that throttle it.</summary>
    public int MaxFailures { get; set; } = 10;

    /// <summary>The window failures are counted in, and how long an address then stays throttled.</summary>
    public int WindowSeconds { get; set; } = 300;

    /// <summary>
    /// Addresses tracked at once (about 150 bytes each). At the cap, failures from further addresses are still audited
    /// and counted but not throttled until expired entries make room (swept every window, at most every 30 s).
    /// </summary>
    public int MaxAddresses { get; set; } = 10_000;

    public TimeSpan Window => TimeSpan.FromSeconds(WindowSeconds);

    public void Validate(List<string> problems)
    {
        if (MaxFailures is < 1 or > 1_000_000)
        {
            problems.Add($"AuthThrottle:MaxFailures: must be 1-1000000, not {MaxFailures}");
        }

        if (WindowSeconds is < 1 or > 86_400)
        {
            problems.Add($"AuthThrottle:WindowSeconds: must be 1-86400, not {WindowSeconds}");
        }

        if (MaxAddresses is < 1 or > 10_000_000)
        {
            problems.Add($"AuthThrottle:MaxAddresses: must be 1-10000000, not {MaxAddresses}");
        }
    }
}
