namespace Capture.Packets;

/// <summary>
/// Capture time that a bogus timestamp cannot move: packet time is data from the wire (a damaged pcap record, a
/// mutated file) or from a clock that can step (NTP on a live box). A timestamp more than the forward bound ahead of
/// the clock, or more than the backward bound behind it, is an outlier and is answered with the clock's own time;
/// when the next timestamp agrees with the outlier (a real gap in the traffic, or a clock step), the clock follows.
/// With <c>continuous</c> set (a recording's media timeline) a followed jump is absorbed instead: time goes on from
/// where it was, at most one forward bound later, so a call never gets more than that of silence for a jump.
/// One instance per stream of timestamps, single-threaded, no allocation.
/// </summary>
public struct CaptureClock(long forwardBoundNs, long backwardBoundNs, bool continuous)
{
    private long _offset;     // continuous mode: added to every timestamp once a jump was absorbed
    private long _candidate;  // an outlier waiting for the next timestamp to confirm it (raw time; 0: none)
    private bool _started;

    /// <summary>The clock (ns since the Unix epoch); 0 until the first timestamp.</summary>
    public long Now { get; private set; }

    /// <summary>Timestamps answered with the clock's time (outliers, and the first timestamp of each followed jump).</summary>
    public long Outliers { get; private set; }

    /// <summary>Jumps confirmed by the timestamp after them: followed (or, continuous, absorbed).</summary>
    public long Jumps { get; private set; }

    /// <summary>Time the continuous clock cut out of gaps (ns): what it did not fill with silence.</summary>
    public long CutNs { get; private set; }

    /// <summary>The time to use for a packet stamped <paramref name="rawNs"/>.</summary>
    public long Advance(long rawNs)
    {
        if (!_started)
        {
            _started = true; // (not Now == 0: a hostile first timestamp of 0 must not leave the clock unset)
            Now = rawNs;
            return rawNs;
        }

        long t = rawNs + _offset;
        long delta = t - Now;
        if (delta <= forwardBoundNs && delta >= -backwardBoundNs)
        {
            _candidate = 0;
            if (t > Now)
            {
                Now = t;
            }

            return t;
        }

        if (_candidate != 0 && Math.Abs(rawNs - _candidate) <= forwardBoundNs)
        {
            // The timestamp before said the same: the traffic really is there now.
            _candidate = 0;
            Jumps++;
            if (!continuous)
            {
                Now = rawNs;
                _offset = 0;
                return rawNs;
            }

            long kept = delta > 0 ? forwardBoundNs : 0; // a forward gap keeps at most the bound; a step back none
            CutNs += Math.Max(0, delta - kept);
            _offset += Now + kept - t;
            Now += kept;
            return Now;
        }

        _candidate = rawNs;
        Outliers++;
        return Now;
    }
}
