using System.Text;
using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;
using Capture.Tests.Support;
using Xunit;

namespace Capture.Tests.Calls;

/// <summary>The one media table both protocols map into: who speaks in a datagram, NAT latching, ports taken over.</summary>
public sealed class MediaFlowTableTests
{
    private readonly CallBook _book = new(new RecordingSink());

    private MediaFlowTable Table => _book.Media;

    [Fact]
    public void TryClassify_SentToAPartysEndpoint_IsTheOtherPartySpeaking_AndMarksMediaSeen()
    {
        Call call = Start("a");
        Table.Map(call, Ep("10.0.0.10:4000"), Channel.Left);
        Table.Map(call, Ep("10.0.0.20:5000"), Channel.Right);

        Assert.True(Table.TryClassify(Ep("10.0.0.10:4000"), Ep("10.0.0.20:5000"), 42, out Call? found, out Channel speaker));
        Assert.Same(call, found);
        Assert.Equal(Channel.Left, speaker);
        Assert.Equal(42, call.LastMediaNs);
        Assert.True(Table.TryClassify(Ep("10.0.0.20:5000"), Ep("10.0.0.10:4000"), 43, out _, out speaker));
        Assert.Equal(Channel.Right, speaker);
        Assert.False(Table.TryClassify(Ep("10.0.0.30:6000"), Ep("10.0.0.40:7000"), 44, out _, out _));
        Assert.Equal(43, call.LastMediaNs);
    }

    [Fact]
    public void ASpeakerBehindNat_IsLatched_SoPacketsBackToItsRealAddressAreClassified()
    {
        Call call = Start("a");
        Table.Map(call, Ep("10.0.0.10:4000"), Channel.Left); // the SDP's private address
        Table.Map(call, Ep("10.0.0.20:5000"), Channel.Right);

        Assert.True(Table.TryClassify(Ep("203.0.113.7:31000"), Ep("10.0.0.20:5000"), 1, out _, out Channel speaker));
        Assert.Equal(Channel.Left, speaker);

        // The callee answers to the NAT address, not to the SDP's: the latched address says who receives there.
        Assert.True(Table.TryClassify(Ep("10.0.0.20:5000"), Ep("203.0.113.7:31000"), 2, out Call? found, out speaker));
        Assert.Same(call, found);
        Assert.Equal(Channel.Right, speaker);
    }

    [Fact]
    public void ANewerCallReusingAPort_TakesItOver_AndTheOlderCallsLatchedAddressesGo()
    {
        Call old = Start("old");
        Table.Map(old, Ep("10.0.0.20:5000"), Channel.Right);
        Assert.True(Table.TryClassify(Ep("203.0.113.7:31000"), Ep("10.0.0.20:5000"), 1, out _, out _)); // latches the NAT address for old

        Call fresh = Start("new");
        Table.Map(fresh, Ep("10.0.0.20:5000"), Channel.Left);

        Assert.True(Table.TryClassify(Ep("10.0.0.99:7000"), Ep("10.0.0.20:5000"), 2, out Call? found, out Channel speaker));
        Assert.Same(fresh, found);
        Assert.Equal(Channel.Right, speaker);
        Assert.True(Table.TryClassify(Ep("10.0.0.20:5000"), Ep("203.0.113.7:31000"), 3, out found, out _));
        Assert.Same(fresh, found); // by its source now, not by the old call's latched destination
    }

    [Fact]
    public void Unmap_AndTheCallsEnd_FreeTheEndpoints()
    {
        Call call = Start("a");
        Table.Map(call, Ep("10.0.0.10:4000"), Channel.Left);
        Table.Map(call, Ep("10.0.0.20:5000"), Channel.Right);
        Table.Unmap(call, Ep("10.0.0.10:4000"));
        Assert.Equal(1, Table.Count);

        _book.End(call, CallEndReasons.Bye, 10);
        Assert.Equal(0, Table.Count);
        Assert.False(Table.TryClassify(Ep("10.0.0.10:4000"), Ep("10.0.0.20:5000"), 11, out _, out _));
        Assert.Equal(0, _book.ActiveCalls);
    }

    private Call Start(string id) => _book.Start("sip", id, 0, new PartyInfo(), null, new PartyInfo(), null);

    private static IpEndpoint16 Ep(string s)
    {
        int colon = s.LastIndexOf(':');
        Assert.True(IpAddress16.TryParse(Encoding.ASCII.GetBytes(s[..colon]), out IpAddress16 address));
        return new IpEndpoint16(address, ushort.Parse(s[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
