namespace Capture.Bindings.Config;

/// <summary>
/// Keeps the seat limit in force from a license file, with the rules of DESIGN section 2: the file is read at
/// start and at the first <see cref="Sync"/> of each day (UTC); while the last read failed, at every
/// <see cref="Sync"/>; when it fails after a valid read, the last valid seat count stays in force; with no valid
/// read since start, no new users are created. Thread-safe: readers see one consistent snapshot per property.
/// </summary>
public sealed class LicenseMonitor
{
    private readonly Lock _gate = new();
    private volatile Snapshot _state;

    /// <summary>Reads the license at <paramref name="path"/> now.</summary>
    public LicenseMonitor(string path, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        _state = Read(path, now, previous: null);
    }

    public string Path { get; }

    /// <summary>The seat limit in force: the last valid license's, or null when none has been valid since start.</summary>
    public int? Seats => _state.License?.Seats;

    /// <summary>The last license read that was valid (it may since have become unreadable or expired; see <see cref="Status"/>).</summary>
    public SeatLicense? License => _state.License;

    /// <summary>False until a valid license has been read: until then no new users are created.</summary>
    public bool CanCreateUsers => _state.License is not null;

    /// <summary>The result of the last check.</summary>
    public bool Valid => _state.Valid;

    /// <summary>Why the last check failed; null when it succeeded.</summary>
    public string? Problem => _state.Problem;

    public DateTimeOffset? LastCheckedAt => _state.CheckedAt;

    public LicenseStatus Status => _state switch
    {
        { Valid: true } => LicenseStatus.Valid,
        { License: not null } => LicenseStatus.KeepingLastValid,
        _ => LicenseStatus.NoValidLicense,
    };

    /// <summary>Whether one more user fits: a valid license has been read and <paramref name="currentUsers"/> is below its seats.</summary>
    public bool CanAddUser(int currentUsers) => _state.License is { } license && currentUsers < license.Seats;

    /// <summary>
    /// Called periodically (e.g. every minute). Reads the file again when the last check failed, or when this is
    /// the first call on a new UTC day since the last check.
    /// </summary>
    /// <returns>Whether the file was read.</returns>
    public bool Sync(DateTimeOffset now)
    {
        lock (_gate)
        {
            Snapshot state = _state;
            if (state.Valid && UtcDay(now) == UtcDay(state.CheckedAt))
            {
                return false;
            }

            _state = Read(Path, now, state);
            return true;
        }
    }

    private static Snapshot Read(string path, DateTimeOffset now, Snapshot? previous) =>
        SeatLicense.TryRead(path, UtcDay(now), out SeatLicense? license, out string problem)
            ? new Snapshot(license, Valid: true, Problem: null, now)
            : new Snapshot(previous?.License, Valid: false, problem, now);

    private static DateOnly UtcDay(DateTimeOffset time) => DateOnly.FromDateTime(time.UtcDateTime);

    // License is the last valid one (kept when a later read fails).
    private sealed record Snapshot(SeatLicense? License, bool Valid, string? Problem, DateTimeOffset CheckedAt);
}
