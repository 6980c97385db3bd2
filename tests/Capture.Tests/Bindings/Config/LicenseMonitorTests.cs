using Capture.Bindings.Config;

namespace Capture.Tests.Bindings.Config;

public class LicenseMonitorTests
{
    // Monday 2026-03-16, 08:00 UTC; tests move through the day and into the next in explicit steps.
    private static readonly DateTimeOffset s_start = new(2026, 3, 16, 8, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(int dayOffset, int hour, int minute = 0) => s_start.Date.AddDays(dayOffset).AddHours(hour).AddMinutes(minute);

    [Fact]
    public void Start_WithoutValidLicense_CreatesNoUsers()
    {
        using var files = new LicenseFiles();

        var monitor = new LicenseMonitor(files.Path, s_start);

        Assert.False(monitor.Valid);
        Assert.Equal(LicenseStatus.NoValidLicense, monitor.Status);
        Assert.Null(monitor.Seats);
        Assert.Null(monitor.License);
        Assert.False(monitor.CanCreateUsers);
        Assert.False(monitor.CanAddUser(0));
        Assert.Equal($"license file '{files.Path}' does not exist.", monitor.Problem);
        Assert.Equal(s_start, monitor.LastCheckedAt);
    }

    [Fact]
    public void Start_WithExpiredLicense_CreatesNoUsers()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50, validUntil: "2026-03-15");

        var monitor = new LicenseMonitor(files.Path, s_start);

        Assert.False(monitor.CanCreateUsers);
        Assert.Null(monitor.Seats);
        Assert.Contains("expired after 2026-03-15", monitor.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_WithValidLicense_AllowsUsersUpToTheSeats()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 2);

        var monitor = new LicenseMonitor(files.Path, s_start);

        Assert.True(monitor.Valid);
        Assert.Equal(LicenseStatus.Valid, monitor.Status);
        Assert.Null(monitor.Problem);
        Assert.Equal(2, monitor.Seats);
        Assert.Equal("Leeds Contact Centre Ltd", monitor.License?.Customer);
        Assert.True(monitor.CanCreateUsers);
        Assert.True(monitor.CanAddUser(0));
        Assert.True(monitor.CanAddUser(1));
        Assert.False(monitor.CanAddUser(2));
        Assert.False(monitor.CanAddUser(3));
    }

    [Fact]
    public void ZeroSeats_IsAValidLicenseThatAdmitsNobody()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 0);

        var monitor = new LicenseMonitor(files.Path, s_start);

        Assert.True(monitor.CanCreateUsers);
        Assert.False(monitor.CanAddUser(0));
    }

    [Fact]
    public void InvalidAtStart_BecomesValidMidDay_NextSyncEnablesUsers()
    {
        using var files = new LicenseFiles();
        var monitor = new LicenseMonitor(files.Path, s_start);
        Assert.True(monitor.Sync(At(0, 9)));
        Assert.False(monitor.CanCreateUsers);

        files.Write(seats: 50);
        Assert.True(monitor.Sync(At(0, 9, 1)));

        Assert.True(monitor.Valid);
        Assert.True(monitor.CanCreateUsers);
        Assert.Equal(50, monitor.Seats);
        Assert.Null(monitor.Problem);
        Assert.Equal(At(0, 9, 1), monitor.LastCheckedAt);
    }

    [Fact]
    public void WhileValid_TheFileIsReadOnlyAtTheFirstSyncOfEachDay()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50);
        var monitor = new LicenseMonitor(files.Path, s_start);

        files.Write(seats: 10);
        Assert.False(monitor.Sync(At(0, 10)));
        Assert.False(monitor.Sync(At(0, 23, 59)));
        Assert.Equal(50, monitor.Seats);
        Assert.Equal(s_start, monitor.LastCheckedAt);

        Assert.True(monitor.Sync(At(1, 0, 1)));
        Assert.Equal(10, monitor.Seats);
        Assert.Equal(At(1, 0, 1), monitor.LastCheckedAt);

        files.Write(seats: 20);
        Assert.False(monitor.Sync(At(1, 0, 2)));
        Assert.False(monitor.Sync(At(1, 18)));
        Assert.Equal(10, monitor.Seats);
        Assert.True(monitor.Sync(At(2, 7)));
        Assert.Equal(20, monitor.Seats);
    }

    [Fact]
    public void TheDayIsTheUtcDay()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50);
        var sydney = TimeSpan.FromHours(11);
        // 09:00 in Sydney on the 17th is 22:00 UTC on the 16th.
        var monitor = new LicenseMonitor(files.Path, new DateTimeOffset(2026, 3, 17, 9, 0, 0, sydney));

        files.Write(seats: 10);
        Assert.False(monitor.Sync(new DateTimeOffset(2026, 3, 17, 10, 59, 0, sydney)));
        Assert.Equal(50, monitor.Seats);
        Assert.True(monitor.Sync(new DateTimeOffset(2026, 3, 17, 11, 0, 0, sydney)));
        Assert.Equal(10, monitor.Seats);
    }

    [Fact]
    public void ValidAtStart_FileDeletedLater_KeepsTheLastValidSeats()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50);
        var monitor = new LicenseMonitor(files.Path, s_start);

        files.Delete();
        Assert.True(monitor.Sync(At(1, 0, 5)));

        Assert.False(monitor.Valid);
        Assert.Equal(LicenseStatus.KeepingLastValid, monitor.Status);
        Assert.Equal($"license file '{files.Path}' does not exist.", monitor.Problem);
        Assert.Equal(50, monitor.Seats);
        Assert.True(monitor.CanCreateUsers);
        Assert.True(monitor.CanAddUser(49));
        Assert.False(monitor.CanAddUser(50));
    }

    [Fact]
    public void ValidAtStart_FileCorruptedLater_KeepsTheLastValidSeats()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50);
        var monitor = new LicenseMonitor(files.Path, s_start);

        files.Write("""{ "customer": "Leeds Contact Centre Ltd", "seats": 5""");
        Assert.True(monitor.Sync(At(1, 0, 5)));

        Assert.Equal(LicenseStatus.KeepingLastValid, monitor.Status);
        Assert.StartsWith($"license file '{files.Path}': malformed JSON", monitor.Problem, StringComparison.Ordinal);
        Assert.Equal(50, monitor.Seats);
        Assert.Equal(50, monitor.License?.Seats);
    }

    [Fact]
    public void LicenseExpiringWhileRunning_KeepsTheLastValidSeats()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50, validUntil: "2026-03-16");
        var monitor = new LicenseMonitor(files.Path, s_start);

        Assert.True(monitor.Sync(At(1, 0, 1)));

        Assert.Equal(LicenseStatus.KeepingLastValid, monitor.Status);
        Assert.Contains("expired after 2026-03-16 (today is 2026-03-17)", monitor.Problem, StringComparison.Ordinal);
        Assert.Equal(50, monitor.Seats);
    }

    [Fact]
    public void WhileInvalid_EverySyncReadsTheFile()
    {
        using var files = new LicenseFiles();
        files.Write("not json");
        var monitor = new LicenseMonitor(files.Path, s_start);

        for (int minute = 1; minute <= 3; minute++)
        {
            Assert.True(monitor.Sync(At(0, 8, minute)));
            Assert.Equal(At(0, 8, minute), monitor.LastCheckedAt);
            Assert.False(monitor.Valid);
        }

        files.Write(seats: -1);
        Assert.True(monitor.Sync(At(0, 8, 4)));
        Assert.Contains("seats is -1", monitor.Problem, StringComparison.Ordinal);

        files.Write(seats: 30);
        Assert.True(monitor.Sync(At(0, 8, 5)));
        Assert.Equal(30, monitor.Seats);
        Assert.False(monitor.Sync(At(0, 8, 6)));
    }

    [Fact]
    public void AfterFailingWhileRunning_EverySyncReadsUntilItIsValidAgain()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50);
        var monitor = new LicenseMonitor(files.Path, s_start);
        files.Delete();

        Assert.True(monitor.Sync(At(1, 0, 1)));
        Assert.True(monitor.Sync(At(1, 0, 2)));
        Assert.Equal(50, monitor.Seats);

        files.Write(seats: 60);
        Assert.True(monitor.Sync(At(1, 0, 3)));
        Assert.Equal(LicenseStatus.Valid, monitor.Status);
        Assert.Equal(60, monitor.Seats);
        Assert.Null(monitor.Problem);
        Assert.False(monitor.Sync(At(1, 0, 4)));
    }
}
