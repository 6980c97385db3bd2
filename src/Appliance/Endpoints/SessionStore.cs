using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Appliance.Endpoints;

/// <summary>
/// A signed-in browser: the name and role of the token it was exchanged for (so every policy holds unchanged), and the
/// CSRF token its state-changing requests must echo in <c>X-CSRF-Token</c>.
/// </summary>
public sealed class BrowserSession(string id, string name, ApiRole role, string csrf, DateTimeOffset created)
{
    public string Id { get; } = id;

    public string Name { get; } = name;

    public ApiRole Role { get; } = role;

    public string Csrf { get; } = csrf;

    public DateTimeOffset Created { get; } = created;

    /// <summary>Unix milliseconds of the last request (read and written without a lock: a stale value only shortens the idle time).</summary>
    internal long LastSeenMs;
}

/// <summary>
/// The web app's sessions, in memory only: a restart signs everyone out (nothing secret is written to the state
/// folder, and no data-protection keys are needed). A session ends at sign-out, after <see cref="IdleTimeout"/>
/// without a request, <see cref="AbsoluteTimeout"/> after sign-in, and at once when its token is revoked.
/// </summary>
public sealed class SessionStore
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);

    public static readonly TimeSpan AbsoluteTimeout = TimeSpan.FromHours(12);

    /// <summary>More sessions than this and the expired ones are swept before another is made (each needs a valid token anyway).</summary>
    private const int SweepAbove = 1000;

    private readonly ConcurrentDictionary<string, BrowserSession> _sessions = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public SessionStore(ApiTokenStore tokens, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        tokens.Revoked += EndAllOf;
    }

    public int Count => _sessions.Count;

    public BrowserSession Create(string name, ApiRole role)
    {
        if (_sessions.Count > SweepAbove)
        {
            foreach (BrowserSession s in _sessions.Values)
            {
                if (Expired(s, _time.GetUtcNow()))
                {
                    _sessions.TryRemove(s.Id, out _);
                }
            }
        }

        DateTimeOffset now = _time.GetUtcNow();
        var session = new BrowserSession(RandomId(), name, role, RandomId(), now) { LastSeenMs = now.ToUnixTimeMilliseconds() };
        _sessions[session.Id] = session;
        return session;
    }

    /// <summary>The live session of <paramref name="id"/> (and its idle clock restarted); an expired one is removed.</summary>
    public bool TryGet(string id, out BrowserSession? session)
    {
        if (!_sessions.TryGetValue(id, out session))
        {
            return false;
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (Expired(session, now))
        {
            _sessions.TryRemove(id, out _);
            session = null;
            return false;
        }

        session.LastSeenMs = now.ToUnixTimeMilliseconds();
        return true;
    }

    public bool End(string id) => _sessions.TryRemove(id, out _);

    /// <summary>Ends every session of the token <paramref name="name"/> (revoked).</summary>
    public void EndAllOf(string name)
    {
        foreach (BrowserSession s in _sessions.Values)
        {
            if (s.Name == name)
            {
                _sessions.TryRemove(s.Id, out _);
            }
        }
    }

    private static bool Expired(BrowserSession s, DateTimeOffset now) =>
        now - s.Created >= AbsoluteTimeout || now.ToUnixTimeMilliseconds() - Volatile.Read(ref s.LastSeenMs) >= (long)IdleTimeout.TotalMilliseconds;

    // 256 random bits: the cookie is the whole credential.
    private static string RandomId() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
}
