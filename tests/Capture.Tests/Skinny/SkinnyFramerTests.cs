using System.Buffers;
using Capture.Skinny;
using Capture.Tests.Support;

namespace Capture.Tests.Skinny;

public sealed class SkinnyFramerTests
{
    [Theory]
    [MemberData(nameof(SkinnySamples.Names), MemberType = typeof(SkinnySamples))]
    public void TryFrame_ReturnsDone_WithTheWholeMessage(string name)
    {
        byte[] m = SkinnySamples.All[name];
        Assert.Equal(OperationStatus.Done, SkinnyFramer.TryFrame(m, out int length, out _));
        Assert.Equal(m.Length, length);
        Assert.Equal(OperationStatus.Done, SkinnyFramer.TryFrame([.. m, .. m], out length, out _));
        Assert.Equal(m.Length, length);
    }

    [Theory]
    [MemberData(nameof(SkinnySamples.Names), MemberType = typeof(SkinnySamples))]
    public void TryFrame_ReturnsNeedMoreData_WhenTruncatedAtAnyLength(string name)
    {
        byte[] m = SkinnySamples.All[name];
        for (int n = 0; n < m.Length; n++)
        {
            Assert.Equal(OperationStatus.NeedMoreData, SkinnyFramer.TryFrame(m.AsSpan(0, n), out int length, out _));
            Assert.Equal(0, length);
            Assert.Equal(OperationStatus.NeedMoreData, SkinnyMessage.TryRead(m.AsSpan(0, n), out _, out _));
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(SkinnyFramer.MaxDataLength + 1u)]
    [InlineData(0xFFFFFFFFu)]
    public void TryFrame_ReturnsInvalidData_WhenLengthIsAbsurd(uint length)
    {
        byte[] m = SkinnyBytes.Message(0, 0x0081);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(m, length);
        Assert.Equal(OperationStatus.InvalidData, SkinnyFramer.TryFrame(m.AsSpan(0, 4), out _, out SkinnyInvalidReason reason));
        Assert.Equal(SkinnyInvalidReason.BadLength, reason);
    }

    [Theory]
    [InlineData(0x01u)]
    [InlineData(0x10u)]
    [InlineData(0x13u)]
    [InlineData(0x15u)]
    [InlineData(0x47455420u)] // "GET " of an HTTP request on port 2000
    public void TryFrame_ReturnsInvalidData_WhenHeaderVersionUnknown(uint version)
    {
        byte[] m = SkinnyBytes.Message(version, 0x0000);
        Assert.Equal(OperationStatus.InvalidData, SkinnyFramer.TryFrame(m.AsSpan(0, 8), out _, out SkinnyInvalidReason reason));
        Assert.Equal(SkinnyInvalidReason.BadHeaderVersion, reason);
    }

    [Theory]
    [InlineData(0x00u)]
    [InlineData(0x11u)]
    [InlineData(0x12u)]
    [InlineData(0x14u)]
    [InlineData(0x16u)] // V22: 7970/8945-class phones
    public void TryFrame_AcceptsHeaderVersionsSeenInRealTraffic(uint version) =>
        Assert.Equal(OperationStatus.Done, SkinnyFramer.TryFrame(SkinnyBytes.Message(version, 0x0000), out _, out _));

    [Fact]
    public void FindNextHeader_FindsTheMessageAfterJunk()
    {
        byte[] junk = [0x13, 0x37, 0x00, 0x00, 0xFF, 0x01, 0x02, 0x00, 0x00, 0x00, 0x14];
        byte[] data = [.. junk, .. SkinnySamples.CmCapLineStatRes, .. SkinnySamples.CmCapCallState];
        Assert.Equal(junk.Length, SkinnyFramer.FindNextHeader(data));
        Assert.Equal(-1, SkinnyFramer.FindNextHeader(junk));
        Assert.Equal(0, SkinnyFramer.FindNextHeader(SkinnySamples.CmCapLineStatRes));
    }

    [Fact]
    public void FindNextHeader_SkipsALookalikeWhoseSuccessorIsNotAHeader()
    {
        // A plausible header (length 8, version 0, KeepAlive id) followed, where its successor should start, by junk.
        byte[] lookalike = [.. SkinnyBytes.Message(0, 0x0000, SkinnyBytes.U32(7)), 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE];
        byte[] data = [.. lookalike, .. SkinnySamples.CmCapCallState];
        Assert.Equal(lookalike.Length, SkinnyFramer.FindNextHeader(data));
    }

    [Theory]
    [InlineData("cm_cap.pcapng")]
    [InlineData("cm2_register.pcapng")]
    [InlineData("sccp_hw_conf_register.pcapng")]
    [InlineData("skinny.pcap")]
    public void TryFrame_FramesEveryDirectionOfARealCapture_ExactlyToItsEnd(string file)
    {
        int messages = 0;
        foreach (SkinnyCapture.Connection c in SkinnyCapture.Load(file).Connections)
        {
            foreach (bool fromPhone in new[] { true, false })
            {
                byte[] stream = c.Stream(fromPhone);
                int at = 0;
                while (at < stream.Length)
                {
                    Assert.Equal(OperationStatus.Done, SkinnyFramer.TryFrame(stream.AsSpan(at), out int length, out _));
                    at += length;
                    messages++;
                }
            }
        }

        Assert.True(messages > 0);
    }
}
