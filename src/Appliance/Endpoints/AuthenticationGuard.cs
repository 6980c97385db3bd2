using System.Globalization;
using Appliance.Service;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Appliance.Endpoints;

/// <summary>
/// Where sign-in (<see cref="SessionEndpoints"/>), the bearer scheme (<see cref="BearerTokenHandler"/>) and the peer
/// scheme (<see cref="Cluster.PeerAuthHandler"/>) meet <see cref="AuthThrottle"/>: before a credential is checked,
/// <see cref="Refuses"/> says whether its address is throttled (then it is not checked at all and the answer is
/// <see cref="TooManyAttempts"/>); a credential that failed goes through <see cref="Failed"/> (audit entry, metric,
/// throttle count, and a warning the moment the address becomes throttled).
/// </summary>
internal sealed partial class AuthenticationGuard(ApplianceRuntime runtime, AuditLog audit, ILogger<AuthenticationGuard> log)
{
    // The request's remaining throttle in HttpContext.Items: set by the first scheme that refused it, so the request is
    // counted once and the bearer challenge knows to answer 429 rather than 401.
    private static readonly object RetryAfterKey = new();

    private readonly AuthThrottle _throttle = runtime.AuthThrottle;
    private long _lastFullWarning; // Environment.TickCount64 of the last "table full" warning; 0: none yet

    /// <summary>True when the request's address is throttled: its credential must not be checked.</summary>
    public bool Refuses(HttpContext context) => Refuses(context, out _);

    /// <summary>As <see cref="Refuses(HttpContext)"/>, with how long the throttle still holds.</summary>
    public bool Refuses(HttpContext context, out TimeSpan retryAfter)
    {
        if (WasRefused(context, out retryAfter))
        {
            return true;
        }

        if (!_throttle.IsThrottled(context.Connection.RemoteIpAddress, out retryAfter))
        {
            return false;
        }

        context.Items[RetryAfterKey] = retryAfter;
        _throttle.CountRefused();
        return true;
    }

    /// <summary>True when <see cref="Refuses"/> refused this request; <paramref name="retryAfter"/> is how long the throttle still holds.</summary>
    public static bool WasRefused(HttpContext context, out TimeSpan retryAfter)
    {
        if (context.Items.TryGetValue(RetryAfterKey, out object? value) && value is TimeSpan left)
        {
            retryAfter = left;
            return true;
        }

        retryAfter = default;
        return false;
    }

    /// <summary>
    /// A credential of <paramref name="kind"/> was wrong: audited as <paramref name="action"/> at the request's method
    /// and path with <paramref name="reason"/> (never the credential), counted, and held against the address.
    /// </summary>
    public void Failed(HttpContext context, AuthKind kind, string action, string reason)
    {
        string target = $"{context.Request.Method} {context.Request.Path}";
        audit.AppendFailure(context, action, target, StatusCodes.Status401Unauthorized, reason);
        switch (_throttle.RecordFailure(context.Connection.RemoteIpAddress, kind))
        {
            case AuthFailureOutcome.Throttled:
                string client = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
                int seconds = (int)_throttle.Window.TotalSeconds;
                LogThrottled(client, _throttle.MaxFailures, seconds);
                audit.AppendFailure(context, AuditActions.Throttled, target, StatusCodes.Status429TooManyRequests,
                    $"{_throttle.MaxFailures} failed authentications within {seconds} s: further attempts refused for {seconds} s");
                break;
            case AuthFailureOutcome.Untracked:
                // Once per window, not per failure: the log must not become the attacker's megaphone.
                long now = Environment.TickCount64;
                long last = Interlocked.Read(ref _lastFullWarning);
                if ((last == 0 || now - last >= (long)_throttle.Window.TotalMilliseconds)
                    && Interlocked.CompareExchange(ref _lastFullWarning, now, last) == last)
                {
                    LogFull(_throttle.Tracked);
                }

                break;
        }
    }

    /// <summary>429 with <c>Retry-After</c> (whole seconds, rounded up) and a problem body the sign-in page shows.</summary>
    public static IResult TooManyAttempts(HttpContext context, TimeSpan retryAfter)
    {
        long seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(
            $"Too many failed sign-ins or tokens from this address: try again in {seconds} s. The credential was not checked.",
            statusCode: StatusCodes.Status429TooManyRequests, title: "Too many attempts");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "authentication: {Client} throttled after {Failures} failed attempts; its sign-ins and tokens are refused (429) for {Seconds} s")]
    private partial void LogThrottled(string client, int failures, int seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "authentication: {Tracked} addresses tracked (AuthThrottle:MaxAddresses); failures from further addresses are audited but not throttled until entries expire")]
    private partial void LogFull(int tracked);
}
