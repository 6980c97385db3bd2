using System.Collections.Concurrent;
using System.Net;
using Appliance.Service;

namespace Appliance.Endpoints;

/// <summary>What kind of credential failed (the <c>kind</c> label of appliance_api_auth_failures_total).</summary>
public enum AuthKind
{
    /// <summary>POST /api/session: the web app's sign-in with a token.</summary>
    SignIn,

    /// <summary><c>Authorization: Bearer</c> (or <c>?access_token=</c> where a browser element needs it) on any route.</summary>
    Bearer,

    /// <summary><c>Authorization: Appliance name:secret</c> on the peer routes (README "Cluster").</summary>
    Appliance,
}

/// <summary>What a failure did to its address's standing.</summary>
public enum AuthFailureOutcome
{
    /// <summary>Counted; the address may go on trying.</summary>
    Counted,

    /// <summary>This failure was the address's MaxFailures-th in the window: it is throttled from now for one window.</summary>
    Throttled,

    /// <summary>The table was full (MaxAddresses): not counted against the address, so it is not throttled.</summary>
    Untracked,
}

/// <summary>
/// Failed authentications per client address (the connection's remote IP; no forwarded header is trusted) and the
/// decision to refuse an address's further attempts: after <see cref="AuthThrottleSettings.MaxFailures"/> failures
/// within a window, the address is throttled for one window from the failure that tripped it, then starts afresh.
/// One small immutable entry per address in a <see cref="ConcurrentDictionary{TKey,TValue}"/>, replaced by
/// compare-and-swap: no lock of ours, and a correct credential never touches the table. Bounded by
/// <see cref="AuthThrottleSettings.MaxAddresses"/>; expired entries are swept as failures arrive. Counters for metrics.
/// </summary>
public sealed class AuthThrottle
{
    // An address's failures in its current window, and until when it is refused (0: not refused). Timestamps of _time.
    private readonly record struct Attempts(long WindowStart, int Failures, long ThrottledUntil);

    private readonly ConcurrentDictionary<IPAddress, Attempts> _addresses = new();
    private readonly TimeProvider _time;
    private readonly int _maxFailures;
    private readonly int _maxAddresses;
    private readonly long _window;
    private readonly long _sweepInterval;
    private readonly long[] _failures = new long[Enum.GetValues<AuthKind>().Length];
    private long _refused;
    private long _untracked;
    private int _tracked;
    private long _nextSweep;

    public AuthThrottle(AuthThrottleSettings settings, TimeProvider time)
    {
        _time = time;
        _maxFailures = settings.MaxFailures;
        _maxAddresses = settings.MaxAddresses;
        Window = settings.Window;
        _window = (long)(Window.TotalSeconds * time.TimestampFrequency);

        // Often enough that a full table frees room soon after its entries expire, rarely enough that an attack's
        // failures do not each pay for a walk over the table.
        _sweepInterval = Math.Min(_window, 30 * time.TimestampFrequency);
        _nextSweep = time.GetTimestamp() + _sweepInterval;
    }

    public TimeSpan Window { get; }

    public int MaxFailures => _maxFailures;

    /// <summary>Addresses tracked now (at most MaxAddresses).</summary>
    public int Tracked => Volatile.Read(ref _tracked);

    /// <summary>Attempts refused unchecked because their address was throttled.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Failures not held against their address because the table was full.</summary>
    public long Untracked => Interlocked.Read(ref _untracked);

    public long Failures(AuthKind kind) => Interlocked.Read(ref _failures[(int)kind]);

    /// <summary>True while <paramref name="address"/> is throttled; <paramref name="retryAfter"/> is how long it still is.</summary>
    public bool IsThrottled(IPAddress? address, out TimeSpan retryAfter)
    {
        long now = _time.GetTimestamp();
        if (_addresses.TryGetValue(Key(address), out Attempts entry) && entry.ThrottledUntil != 0 && now < entry.ThrottledUntil)
        {
            retryAfter = _time.GetElapsedTime(now, entry.ThrottledUntil);
            return true;
        }

        retryAfter = default;
        return false;
    }

    /// <summary>Counts an attempt refused because its address was throttled (once per request).</summary>
    public void CountRefused() => Interlocked.Increment(ref _refused);

    /// <summary>Counts a failed authentication of <paramref name="kind"/> from <paramref name="address"/> against it.</summary>
    public AuthFailureOutcome RecordFailure(IPAddress? address, AuthKind kind)
    {
        Interlocked.Increment(ref _failures[(int)kind]);
        long now = _time.GetTimestamp();
        SweepIfDue(now);
        IPAddress key = Key(address);
        while (true)
        {
            if (_addresses.TryGetValue(key, out Attempts current))
            {
                Attempts next = Next(current, now);
                if (_addresses.TryUpdate(key, next, current))
                {
                    return Tripped(current, next);
                }

                continue; // another failure of the same address got there first
            }

            if (Interlocked.Increment(ref _tracked) > _maxAddresses)
            {
                Interlocked.Decrement(ref _tracked);
                Interlocked.Increment(ref _untracked);
                return AuthFailureOutcome.Untracked;
            }

            Attempts first = Next(default, now);
            if (_addresses.TryAdd(key, first))
            {
                return Tripped(default, first);
            }

            Interlocked.Decrement(ref _tracked);
        }
    }

    /// <summary>Removes the entries whose window or throttle has passed.</summary>
    public void Sweep()
    {
        long now = _time.GetTimestamp();
        foreach (KeyValuePair<IPAddress, Attempts> pair in _addresses)
        {
            // Removed only if unchanged: a failure counted meanwhile is not lost.
            if (Expired(pair.Value, now) && _addresses.TryRemove(pair))
            {
                Interlocked.Decrement(ref _tracked);
            }
        }
    }

    private void SweepIfDue(long now)
    {
        long due = Volatile.Read(ref _nextSweep);
        if (now >= due && Interlocked.CompareExchange(ref _nextSweep, now + _sweepInterval, due) == due)
        {
            Sweep(); // one caller per interval
        }
    }

    private Attempts Next(Attempts current, long now)
    {
        if (current.ThrottledUntil != 0 && now < current.ThrottledUntil)
        {
            return current; // an attempt checked just before the address was throttled: already refused for a window
        }

        if (current.Failures == 0 || Expired(current, now))
        {
            current = new Attempts(now, 0, 0);
        }

        int failures = current.Failures + 1;
        return new Attempts(current.WindowStart, failures, failures >= _maxFailures ? now + _window : 0);
    }

    private AuthFailureOutcome Tripped(Attempts before, Attempts after) =>
        after.ThrottledUntil != 0 && after != before ? AuthFailureOutcome.Throttled : AuthFailureOutcome.Counted;

    private bool Expired(Attempts entry, long now) =>
        entry.ThrottledUntil != 0 ? now >= entry.ThrottledUntil : now - entry.WindowStart >= _window;

    // An IPv4 client on a dual-stack socket is the same client as on an IPv4 one. No address (not a TCP connection):
    // one shared entry.
    private static IPAddress Key(IPAddress? address) =>
        address is null ? IPAddress.IPv6None : address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
