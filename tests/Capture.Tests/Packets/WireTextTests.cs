using Capture.Packets;

namespace Capture.Tests.Packets;

public sealed class WireTextTests
{
    [Theory]
    [InlineData("a84b4c76e66710@pc33.example.com", "a84b4c76e66710@pc33.example.com")]
    [InlineData("Zoë 2001", "Zoë 2001")]
    [InlineData("x\u001b[31mred\r\nVia: forged\0", "x\\x1B[31mred\\x0D\\x0AVia: forged\\x00")]
    [InlineData("\u0085\u009b\u007f", "\\x85\\x9B\\x7F")]
    [InlineData("", "")]
    public void Printable_EscapesControlCharacters_AndKeepsEverythingElse(string wire, string printed) =>
        Assert.Equal(printed, WireText.Printable(wire));

    [Fact]
    public void Printable_ReturnsTheSameString_WhenThereIsNothingToEscape()
    {
        string s = "2001@pbx";
        Assert.Same(s, WireText.Printable(s));
    }
}
