using System.Text;
using Capture.Bindings.Config;

namespace Capture.Tests.Bindings.Config;

public class ExtensionTextTests
{
    [Theory]
    [InlineData("3001")]
    [InlineData("6175551212")]
    [InlineData("+442079460123")]
    [InlineData("voi18062")]
    [InlineData("*55#")]
    [InlineData("Sales.Desk_1-a")]
    [InlineData("0")]
    [InlineData("01234567890123456789012345678901")]
    public void IsValid_Accepts(string text)
    {
        Assert.True(ExtensionText.IsValid(text));
        Assert.True(ExtensionText.IsValid(Encoding.UTF8.GetBytes(text)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("+")]
    [InlineData("++3001")]
    [InlineData("30+01")]
    [InlineData("30 01")]
    [InlineData(" 3001")]
    [InlineData("alice@example.com")]
    [InlineData("sip:3001")]
    [InlineData("3001;user=phone")]
    [InlineData("3001?x")]
    [InlineData("3001\t")]
    [InlineData("Müller")]
    [InlineData("012345678901234567890123456789012")]
    public void IsValid_Rejects(string text)
    {
        Assert.False(ExtensionText.IsValid(text));
        Assert.False(ExtensionText.IsValid(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void IsValid_PlusCountsTowardsTheLength()
    {
        Assert.True(ExtensionText.IsValid("+" + new string('1', 31)));
        Assert.False(ExtensionText.IsValid("+" + new string('1', 32)));
    }

    [Fact]
    public void IsValid_Utf8_AllocatesNothing()
    {
        byte[] valid = "+442079460123"u8.ToArray();
        byte[] invalid = "alice@example.com"u8.ToArray();
        _ = ExtensionText.IsValid(valid);
        _ = ExtensionText.IsValid(invalid);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            _ = ExtensionText.IsValid(valid);
            _ = ExtensionText.IsValid(invalid);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
