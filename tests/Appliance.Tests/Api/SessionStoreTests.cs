using Appliance.Endpoints;
using Appliance.Service;

namespace Appliance.Tests.Api;

/// <summary>When a web-app session ends by itself: 30 minutes idle, 12 hours after sign-in, or its token revoked (README "Web app").</summary>
public sealed class SessionStoreTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "appl-sessions-" + Guid.NewGuid().ToString("N"));
    private readonly ManualClock _clock = new();
    private readonly ApiTokenStore _tokens;
    private readonly SessionStore _sessions;

    public SessionStoreTests()
    {
        var settings = new ApplianceSettings { Token = "session-store-test-token", State = _state };
        _tokens = new ApiTokenStore(ApiToken.Resolve(settings), settings);
        _sessions = new SessionStore(_tokens, _clock);
    }

    [Fact]
    public void ASession_EndsAfter30MinutesIdle_NotBefore()
    {
        BrowserSession s = _sessions.Create("admin", ApiRole.Administrator);
        _clock.Advance(TimeSpan.FromMinutes(29));
        Assert.True(_sessions.TryGet(s.Id, out _)); // a request: the idle clock starts again
        _clock.Advance(TimeSpan.FromMinutes(29));
        Assert.True(_sessions.TryGet(s.Id, out BrowserSession? same));
        Assert.Same(s, same);
        _clock.Advance(TimeSpan.FromMinutes(30));
        Assert.False(_sessions.TryGet(s.Id, out _));
        Assert.Equal(0, _sessions.Count); // removed, not only refused
    }

    [Fact]
    public void ABusySession_StillEnds12HoursAfterSignIn()
    {
        BrowserSession s = _sessions.Create("admin", ApiRole.Administrator);
        for (int i = 0; i < 12 * 4 - 1; i++)
        {
            _clock.Advance(TimeSpan.FromMinutes(15));
            Assert.True(_sessions.TryGet(s.Id, out _), $"ended after {(i + 1) * 15} minutes");
        }

        _clock.Advance(TimeSpan.FromMinutes(15));
        Assert.False(_sessions.TryGet(s.Id, out _));
    }

    [Fact]
    public void RevokingAToken_EndsItsSessionsOnly_AndEachSessionHasItsOwnIdAndCsrfToken()
    {
        Assert.NotNull(_tokens.Create("qa-1", ApiRole.Viewer, "admin"));
        BrowserSession a = _sessions.Create("qa-1", ApiRole.Viewer);
        BrowserSession b = _sessions.Create("qa-1", ApiRole.Viewer);
        BrowserSession other = _sessions.Create("admin", ApiRole.Administrator);
        Assert.Equal(3, new[] { a.Id, b.Id, other.Id }.Distinct().Count());
        Assert.Equal(3, new[] { a.Csrf, b.Csrf, other.Csrf }.Distinct().Count());
        Assert.NotEqual(a.Id, a.Csrf);

        Assert.True(_tokens.Revoke("qa-1"));
        Assert.False(_sessions.TryGet(a.Id, out _));
        Assert.False(_sessions.TryGet(b.Id, out _));
        Assert.True(_sessions.TryGet(other.Id, out _));
        Assert.False(_sessions.TryGet("no-such-session", out _));
    }

    public void Dispose()
    {
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 5, 9, 0, 0, TimeSpan.Zero);

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}
