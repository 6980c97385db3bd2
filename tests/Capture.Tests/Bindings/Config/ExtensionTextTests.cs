using System.Text;
using Capture.Bindings.Config;
using Capture.Tests.Support;

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
        void Check(int times)
        {
            for (int i = 0; i < times; i++)
            {
                _ = ExtensionText.IsValid(valid);
                _ = ExtensionText.IsValid(invalid);
            }
        }

        Assert.Equal(0, Allocations.Measure(() => Check(1), () => Check(1000)));
    }

    [Theory]
    [InlineData("anonymous", true)]
    [InlineData("Anonymous", true)]
    [InlineData("UNAVAILABLE", true)]
    [InlineData("unknown", true)]
    [InlineData("restricted", true)]
    [InlineData("Private", true)]
    [InlineData("withheld", true)]
    [InlineData("1001", false)]
    [InlineData("anon", false)]
    [InlineData("anonymous1", false)]
    [InlineData("voi18062", false)]
    public void Placeholders_AreValidSyntax_ButNeverLearnable(string text, bool placeholder)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        Assert.True(ExtensionText.IsValid(utf8));
        Assert.Equal(placeholder, ExtensionText.IsPlaceholder(utf8));
        Assert.Equal(!placeholder, ExtensionText.IsLearnable(utf8));
    }
}
