using Capture.Bindings.Config;

namespace Capture.Tests.Bindings.Config;

public class SeatLicenseTests
{
    private static readonly DateOnly s_today = new(2026, 3, 15);

    private static string ReadProblem(LicenseFiles files, DateOnly today)
    {
        Assert.False(SeatLicense.TryRead(files.Path, today, out SeatLicense? license, out string problem));
        Assert.Null(license);
        Assert.StartsWith($"license file '{files.Path}'", problem, StringComparison.Ordinal);
        return problem;
    }

    [Fact]
    public void TryRead_ValidLicense()
    {
        using var files = new LicenseFiles();
        files.Write("""
            // issued 2025-12-01
            { "customer": "Leeds Contact Centre Ltd", "seats": 50, "validFrom": "2026-01-01", "validUntil": "2027-12-31", "signature": "ignored", }
            """);

        Assert.True(SeatLicense.TryRead(files.Path, s_today, out SeatLicense? license, out string problem));

        Assert.Equal(new SeatLicense("Leeds Contact Centre Ltd", 50, new DateOnly(2026, 1, 1), new DateOnly(2027, 12, 31)), license);
        Assert.Equal("", problem);
    }

    [Fact]
    public void TryRead_ValidFromIsOptional_AndZeroSeatsIsALicense()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 0);

        Assert.True(SeatLicense.TryRead(files.Path, s_today, out SeatLicense? license, out _));

        Assert.Null(license.ValidFrom);
        Assert.Equal(0, license.Seats);
    }

    [Fact]
    public void TryRead_FirstAndLastDaysAreIncluded()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 5, validFrom: "2026-03-15", validUntil: "2026-03-16");

        Assert.True(SeatLicense.TryRead(files.Path, new DateOnly(2026, 3, 15), out _, out _));
        Assert.True(SeatLicense.TryRead(files.Path, new DateOnly(2026, 3, 16), out _, out _));
    }

    [Fact]
    public void TryRead_MissingFile()
    {
        using var files = new LicenseFiles();

        Assert.Equal($"license file '{files.Path}' does not exist.", ReadProblem(files, s_today));
    }

    [Fact]
    public void TryRead_UnreadableFile()
    {
        using var files = new LicenseFiles();
        Directory.CreateDirectory(files.Path);

        Assert.StartsWith($"license file '{files.Path}' cannot be read: ", ReadProblem(files, s_today), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "malformed JSON at line 1, position 1: ")]
    [InlineData("{ \"customer\": \"x\",\n  \"seats\": 5 \"validUntil\": \"2027-12-31\" }", "malformed JSON at line 2, position 14: ")]
    [InlineData("""{ "customer": "x", "seats": 5, "seats": 500, "validUntil": "2027-12-31" }""", "malformed JSON: Duplicate property 'seats'")]
    [InlineData("[]", "the license must be a JSON object.")]
    [InlineData("""{ "seats": 5, "validUntil": "2027-12-31" }""", "customer is missing.")]
    [InlineData("""{ "customer": "", "seats": 5, "validUntil": "2027-12-31" }""", "customer must be a non-empty string.")]
    [InlineData("""{ "customer": "x", "validUntil": "2027-12-31" }""", "seats is missing.")]
    [InlineData("""{ "customer": "x", "seats": "50", "validUntil": "2027-12-31" }""", "seats must be a whole number, not \"50\".")]
    [InlineData("""{ "customer": "x", "seats": 2.5, "validUntil": "2027-12-31" }""", "seats must be a whole number, not 2.5.")]
    [InlineData("""{ "customer": "x", "seats": 5 }""", "validUntil is missing.")]
    [InlineData("""{ "customer": "x", "seats": 5, "validUntil": "31/12/2027" }""", "validUntil must be a date as \"yyyy-MM-dd\", not \"31/12/2027\".")]
    [InlineData("""{ "customer": "x", "seats": 5, "validFrom": "2026-02-30", "validUntil": "2027-12-31" }""", "validFrom must be a date as \"yyyy-MM-dd\", not \"2026-02-30\".")]
    [InlineData("""{ "customer": "x", "seats": 5, "validFrom": "2027-01-01", "validUntil": "2026-12-31" }""", "validFrom 2027-01-01 is after validUntil 2026-12-31.")]
    [InlineData("""{ "seats": -1 }""", "customer is missing. seats is -1; it must be 0 or more. validUntil is missing.")]
    public void TryRead_MalformedLicense(string json, string expected)
    {
        using var files = new LicenseFiles();
        files.Write(json);

        Assert.StartsWith($"license file '{files.Path}': {expected}", ReadProblem(files, s_today), StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_NegativeSeats()
    {
        using var files = new LicenseFiles();
        files.Write(seats: -5);

        Assert.Equal($"license file '{files.Path}': seats is -5; it must be 0 or more.", ReadProblem(files, s_today));
    }

    [Fact]
    public void TryRead_Expired()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50, validUntil: "2026-03-14");

        Assert.Equal(
            $"license file '{files.Path}': the license for 'Leeds Contact Centre Ltd' expired after 2026-03-14 (today is 2026-03-15).",
            ReadProblem(files, s_today));
    }

    [Fact]
    public void TryRead_NotYetValid()
    {
        using var files = new LicenseFiles();
        files.Write(seats: 50, validFrom: "2026-04-01");

        Assert.Equal(
            $"license file '{files.Path}': the license for 'Leeds Contact Centre Ltd' is not valid until 2026-04-01 (today is 2026-03-15).",
            ReadProblem(files, s_today));
    }
}
