using Capture.Interop;
using Capture.Packets;

namespace Capture.Tests.Packets;

/// <summary>Capture time that one bogus timestamp cannot move, and pcap seconds past 2038.</summary>
public sealed class CaptureClockTests
{
    private const long S = 1_000_000_000;
    private const long T0 = 1_700_000_000 * S;

    [Fact]
    public void AnIsolatedOutlier_IsAnsweredWithTheClock_AndCounted()
    {
        var clock = new CaptureClock(60 * S, 60 * S, continuous: false);
        Assert.Equal(T0, clock.Advance(T0));
        Assert.Equal(T0 + S, clock.Advance(T0 + S));
        Assert.Equal(T0 + S, clock.Advance(T0 + (62 * S))); // more than a minute ahead, alone
        Assert.Equal(T0 + (2 * S), clock.Advance(T0 + (2 * S)));
        Assert.Equal(T0 + (2 * S), clock.Advance(T0 - (14 * 86_400 * S))); // two weeks back, alone
        Assert.Equal(T0 + (3 * S), clock.Advance(T0 + (3 * S)));
        Assert.Equal((2, 0), (clock.Outliers, clock.Jumps));
    }

    [Fact]
    public void AJumpConfirmedByTheNextTimestamp_IsFollowed()
    {
        var clock = new CaptureClock(60 * S, 60 * S, continuous: false);
        clock.Advance(T0);
        Assert.Equal(T0, clock.Advance(T0 + (2000 * S))); // a real gap: the first packet after it waits for a second opinion
        Assert.Equal(T0 + (2001 * S), clock.Advance(T0 + (2001 * S)));
        Assert.Equal(T0 + (2001 * S), clock.Now);
        Assert.Equal((1, 1), (clock.Outliers, clock.Jumps));
    }

    [Fact]
    public void Continuous_AbsorbsAConfirmedJump_KeepingAtMostTheBoundOfSilence()
    {
        var clock = new CaptureClock(30 * S, 2 * S, continuous: true);
        clock.Advance(T0);
        Assert.Equal(T0, clock.Advance(T0 + (45 * S))); // 45 s later: an outlier until the next packet agrees
        Assert.Equal(T0 + (30 * S), clock.Advance(T0 + (45 * S))); // it does: the gap is kept at 30 s
        Assert.Equal(T0 + (31 * S), clock.Advance(T0 + (46 * S))); // the timeline goes on 15 s earlier
        Assert.Equal(15 * S, clock.CutNs);

        clock.Advance(T0 - (3600 * S)); // the capture clock stepped an hour back
        Assert.Equal(T0 + (31 * S), clock.Advance(T0 - (3599 * S))); // absorbed: no time goes backwards
        Assert.Equal(T0 + (32 * S), clock.Advance(T0 - (3598 * S)));
    }

    [Fact]
    public void AFirstTimestampOfZero_StartsTheClock_LikeAnyOther()
    {
        var clock = new CaptureClock(60 * S, 60 * S, continuous: false);
        Assert.Equal(0, clock.Advance(0)); // a damaged first record
        Assert.Equal(0, clock.Advance(T0)); // an outlier, not a second start
        Assert.Equal(T0 + S, clock.Advance(T0 + S)); // confirmed: the clock follows the real timeline
        Assert.Equal((1, 1), (clock.Outliers, clock.Jumps));
    }

    [Theory]
    [InlineData(-2_000_000_000L, 2_294_967_296L)] // a classic pcap after January 2038, sign-extended by libpcap
    [InlineData(1_700_000_000L, 1_700_000_000L)]
    [InlineData(long.MaxValue, (long.MaxValue / 1_000_000_000) - 1)] // a hostile record: clamped, never wrapped
    public void PcapSeconds_AreUnsigned32BitInClassicFiles_AndClamped(long seconds, long expected)
    {
        Assert.Equal(expected * S, PcapSource.ToNanoseconds(seconds, 0, 1));
    }
}
