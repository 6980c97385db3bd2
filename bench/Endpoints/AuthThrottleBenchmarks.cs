using System.Net;
using Appliance.Endpoints;
using Appliance.Service;
using BenchmarkDotNet.Attributes;

namespace Bench.Endpoints;

/// <summary>
/// What the failed-authentication throttle (README "Roles") adds to a request: the lookup every credential pays before
/// it is checked (an address with no failures, and a throttled one), and counting a failure against an address that is
/// tracked, or, at the MaxAddresses cap, one that is not (an attacker rotating addresses).
/// </summary>
[MemoryDiagnoser]
public class AuthThrottleBenchmarks
{
    private static readonly IPAddress s_clean = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress s_throttled = IPAddress.Parse("192.0.2.66");
    private static readonly IPAddress s_failing = IPAddress.Parse("192.0.2.77");
    private static readonly IPAddress s_rotating = IPAddress.Parse("198.51.100.1");

    private AuthThrottle _throttle = null!;
    private AuthThrottle _counting = null!; // never throttles: each failure is counted, not skipped as already throttled

    [GlobalSetup]
    public void Setup()
    {
        // A window long enough for nothing to expire during a run; both tables filled to the cap with other addresses.
        _throttle = new AuthThrottle(new AuthThrottleSettings { MaxFailures = 10, WindowSeconds = 86_400, MaxAddresses = 10_000 }, TimeProvider.System);
        for (int i = 0; i < 10; i++)
        {
            _throttle.RecordFailure(s_throttled, AuthKind.Bearer);
        }

        _counting = new AuthThrottle(new AuthThrottleSettings { MaxFailures = int.MaxValue, WindowSeconds = 86_400, MaxAddresses = 10_000 }, TimeProvider.System);
        _counting.RecordFailure(s_failing, AuthKind.Bearer);
        for (uint i = 0; _throttle.Tracked < 10_000 || _counting.Tracked < 10_000; i++)
        {
            _throttle.RecordFailure(new IPAddress(0x0A000000u + i), AuthKind.Bearer);
            _counting.RecordFailure(new IPAddress(0x0A000000u + i), AuthKind.Bearer);
        }
    }

    [Benchmark(Baseline = true)]
    public bool Check_AddressWithoutFailures() => _throttle.IsThrottled(s_clean, out _);

    [Benchmark]
    public bool Check_ThrottledAddress() => _throttle.IsThrottled(s_throttled, out _);

    [Benchmark]
    public AuthFailureOutcome Failure_TrackedAddress() => _counting.RecordFailure(s_failing, AuthKind.Bearer);

    [Benchmark]
    public AuthFailureOutcome Failure_NewAddressAtTheCap() => _counting.RecordFailure(s_rotating, AuthKind.Bearer);
}
