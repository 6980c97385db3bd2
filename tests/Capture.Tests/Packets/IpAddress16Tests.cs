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
