using System.Text;
using Capture.Packets;
using Capture.Sip;
using Capture.Tests.Support;

namespace Capture.Tests.Packets;

public class IpAddressTextTests
{
    [Theory]
    [InlineData("fe80:0:0:0:21a:a0ff:fe07:32e0")]
    [InlineData("fe80::21a:a0ff:fe07:32e0")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("2001:db8::")]
    [InlineData("2001:DB8:0:0:8:800:200C:417A")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("64:ff9b::192.0.2.33")]
    [InlineData("[2001:db8::42]")]
    [InlineData("200.57.7.204")]
    [InlineData("0.0.0.0")]
    public void TryParse_AgreesWithIpAddress16(string text)
    {
        byte[] ascii = Encoding.ASCII.GetBytes(text);
        Assert.True(IpAddress16.TryParse(ascii, out IpAddress16 expected));
        Assert.True(IpAddress16.TryParse(ascii, out IpAddress16 actual));
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("1::2::3")]
    [InlineData("1:2:3:4:5:6:7")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("12345::1")]
    [InlineData("g::1")]
    [InlineData("1.2.3.4::1")]
    [InlineData("1:2:3:4:5:6:7::8")]
    [InlineData(":1")]
    public void TryParse_RejectsMalformedIPv6(string text)
    {
        Assert.False(IpAddress16.TryParse(Encoding.ASCII.GetBytes(text), out _));
    }

    [Fact]
    public void TryParse_IPv6_AllocatesNothing()
    {
        byte[] ascii = "fe80:0:0:0:21a:a0ff:fe07:32e0"u8.ToArray();
        long allocated = Allocations.Measure(
            () => _ = IpAddress16.TryParse(ascii, out _),
            () =>
            {
                for (int i = 0; i < 1000; i++)
                {
                    _ = IpAddress16.TryParse(ascii, out _);
                }
            });
        Assert.Equal(0, allocated);
    }
}
