using System.Net;
using Appliance.Endpoints;
using Appliance.Service;

namespace Appliance.Tests.Api;

/// <summary>
/// <see cref="AuthThrottle"/> on a clock the test moves: the window, the throttle's length, and the table's cap (an
/// attacker rotating addresses cannot grow it; at the cap new addresses are counted but not throttled).
/// </summary>
public sealed class AuthThrottleTests
{
    private sealed class ManualClock : TimeProvider
    {
        public long Now { get; set; } = 1_000_000;

        public override long TimestampFrequency => 1000; // milliseconds

        public override long GetTimestamp() => Now;

        public void Advance(TimeSpan by) => Now += (long)by.TotalMilliseconds;
    }

    private static readonly IPAddress s_one = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress s_two = IPAddress.Parse("192.0.2.2");

    [Fact]
    public void TheTenthFailureThrottles_ForOneWindowFromIt_ThenTheAddressStartsAfresh()
    {
        var clock = new ManualClock();
        var throttle = new AuthThrottle(new AuthThrottleSettings(), clock);
        for (int i = 1; i < 10; i++)
        {
            Assert.Equal(AuthFailureOutcome.Counted, throttle.RecordFailure(s_one, AuthKind.Bearer));
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.False(throttle.IsThrottled(s_one, out _));
        Assert.Equal(AuthFailureOutcome.Throttled, throttle.RecordFailure(s_one, AuthKind.SignIn));
        Assert.True(throttle.IsThrottled(s_one, out TimeSpan retryAfter));
        Assert.Equal(TimeSpan.FromMinutes(5), retryAfter);
        Assert.False(throttle.IsThrottled(s_two, out _)); // another address is unaffected

        clock.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1));
        Assert.True(throttle.IsThrottled(s_one, out retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(1), retryAfter);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(throttle.IsThrottled(s_one, out _));

        // Afresh: one failure after the throttle is the first of a new window.
        Assert.Equal(AuthFailureOutcome.Counted, throttle.RecordFailure(s_one, AuthKind.Bearer));
        Assert.False(throttle.IsThrottled(s_one, out _));
        Assert.Equal((1L, 10L), (throttle.Failures(AuthKind.SignIn), throttle.Failures(AuthKind.Bearer)));
    }

    [Fact]
    public void FailuresSpreadOverMoreThanTheWindow_DoNotThrottle()
    {
        var clock = new ManualClock();
        var throttle = new AuthThrottle(new AuthThrottleSettings { MaxFailures = 3, WindowSeconds = 60 }, clock);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(AuthFailureOutcome.Counted, throttle.RecordFailure(s_one, AuthKind.Bearer));
            clock.Advance(TimeSpan.FromSeconds(31)); // at most two failures in any window's count
        }

        Assert.False(throttle.IsThrottled(s_one, out _));
    }

    [Fact]
    public void AnIPv4ClientOnADualStackSocket_IsTheSameAddress()
    {
        var throttle = new AuthThrottle(new AuthThrottleSettings { MaxFailures = 2 }, new ManualClock());
        throttle.RecordFailure(s_one, AuthKind.Bearer);
        Assert.Equal(AuthFailureOutcome.Throttled, throttle.RecordFailure(s_one.MapToIPv6(), AuthKind.Bearer));
        Assert.True(throttle.IsThrottled(s_one, out _));
    }

    [Fact]
    public void AtTheCap_NewAddressesAreCountedNotThrottled_UntilExpiredEntriesAreSwept()
    {
        var clock = new ManualClock();
        var throttle = new AuthThrottle(new AuthThrottleSettings { MaxFailures = 2, WindowSeconds = 60, MaxAddresses = 100 }, clock);
        for (int i = 0; i < 10_000; i++) // an attacker rotating through 10,000 addresses
        {
            throttle.RecordFailure(new IPAddress(0x0A000000u + (uint)i), AuthKind.Bearer);
        }

        Assert.Equal(100, throttle.Tracked);
        Assert.Equal(10_000 - 100, throttle.Untracked);
        Assert.Equal(10_000, throttle.Failures(AuthKind.Bearer));

        // Tracked addresses keep their count; a new one is not held to account while the table is full.
        Assert.Equal(AuthFailureOutcome.Throttled, throttle.RecordFailure(new IPAddress(0x0A000000u), AuthKind.Bearer));
        Assert.Equal(AuthFailureOutcome.Untracked, throttle.RecordFailure(s_one, AuthKind.Bearer));
        Assert.Equal(AuthFailureOutcome.Untracked, throttle.RecordFailure(s_one, AuthKind.Bearer));
        Assert.False(throttle.IsThrottled(s_one, out _));

        // A window later the entries have expired (the throttled one too); the next failure's sweep frees the table.
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(AuthFailureOutcome.Counted, throttle.RecordFailure(s_one, AuthKind.Bearer));
        Assert.Equal(1, throttle.Tracked);
        Assert.Equal(AuthFailureOutcome.Throttled, throttle.RecordFailure(s_one, AuthKind.Bearer));
    }
}
