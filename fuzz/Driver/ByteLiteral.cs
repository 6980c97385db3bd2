using System.Globalization;
using System.Text;

namespace Fuzz.Driver;

/// <summary>Formats an input as a C# collection expression of bytes, 24 a line, ready to paste into a regression test.</summary>
internal static class ByteLiteral
{
    public static string Format(ReadOnlySpan<byte> input)
    {
        var text = new StringBuilder("byte[] input =\n[\n");
        for (int i = 0; i < input.Length; i += 24)
        {
            text.Append("    ");
            int end = Math.Min(input.Length, i + 24);
            for (int j = i; j < end; j++)
            {
                text.Append(CultureInfo.InvariantCulture, $"0x{input[j]:X2},");
                if (j + 1 < end)
                {
                    text.Append(' ');
                }
            }

            text.Append('\n');
        }

        return text.Append("];").ToString();
    }
}
