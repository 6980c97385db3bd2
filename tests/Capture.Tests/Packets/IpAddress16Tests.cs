using Capture.Packets;

namespace Capture.Tests.Packets;

public class IpAddress16Tests
{
    [Theory]
    [InlineData("200.57.7.204")]
    [InlineData("10.0.2.20")]
    [InlineData("fe80::1")]
    [InlineData("2001:db8::42")]
    public void TryParse_RoundTripsTextualForm(string text)
    {
        Assert.True(IpAddress16.TryParse(System.Text.Encoding.ASCII.GetBytes(text), out IpAddress16 a));
        Assert.Equal(text, a.ToString());
    }

    [Theory]
    [InlineData("200.57.7.204")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("fe80::1")]
    [InlineData("2001:db8::42")]
    public void TryFormat_WritesWhatToStringSays_AndRefusesAShortBuffer(string text)
    {
        Assert.True(IpAddress16.TryParse(System.Text.Encoding.ASCII.GetBytes(text), out IpAddress16 a));
        Span<char> buffer = stackalloc char[64];
        Assert.True(a.TryFormat(buffer, out int written));
        Assert.Equal(text, buffer[..written].ToString());
        Assert.False(a.TryFormat(buffer[..(text.Length - 1)], out _));
    }

    /// <summary>The ranges a home or carrier NAT hides, each with the addresses just outside it.</summary>
    [Theory]
    [InlineData("10.0.0.1", true)]
    [InlineData("11.0.0.1", false)]
    [InlineData("172.16.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("172.15.255.255", false)]
    [InlineData("192.168.1.10", true)]
    [InlineData("192.169.1.10", false)]
    [InlineData("100.64.0.1", true)]
    [InlineData("100.127.255.255", true)]
    [InlineData("100.128.0.1", false)]
    [InlineData("100.63.255.255", false)]
    [InlineData("169.254.3.4", true)]
    [InlineData("203.0.113.5", false)]
    [InlineData("fd12:3456::1", true)]
    [InlineData("fc00::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("febf::1", true)]
    [InlineData("fec0::1", false)]
    [InlineData("2001:db8::42", false)]
    public void IsPrivateUse_IsTheRangesANatHides(string text, bool expected)
    {
        Assert.True(IpAddress16.TryParse(System.Text.Encoding.ASCII.GetBytes(text), out IpAddress16 a));
        Assert.Equal(expected, a.IsPrivateUse);
    }

    [Theory]
    [InlineData("256.1.1.1")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("")]
    [InlineData("abc")]
    public void TryParse_RejectsMalformed(string text)
    {
        Assert.False(IpAddress16.TryParse(System.Text.Encoding.ASCII.GetBytes(text), out _));
    }

    [Fact]
    public void IPv4_FromBytesEqualsParsed()
    {
        Assert.True(IpAddress16.TryParse("192.168.1.2"u8, out IpAddress16 parsed));
        Assert.Equal(parsed, IpAddress16.FromIPv4([192, 168, 1, 2]));
        Assert.True(parsed.IsIPv4);
    }
}
