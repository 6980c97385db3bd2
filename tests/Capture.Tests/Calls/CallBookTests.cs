using System.Text;
using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;
using Xunit;

namespace Capture.Tests.Calls;

/// <summary>The call book on its own: what the sink hears, and handles reused without anything leaking between calls.</summary>
public sealed class CallBookTests
{
    private readonly CountingSink _sink = new();
    private readonly CallBook _book;

    public CallBookTests() => _book = new CallBook(_sink);

    [Fact]
    public void AHandle_IsReusedAfterItsCallEnded_WithNothingOfTheOldCallLeft()
    {
        Call first = _book.Start("sip", "one", 100, new PartyInfo { Extension = "1001" }, null, new PartyInfo { Extension = "2002" }, null);
        string firstId = first.Id;
        first.Route = new TestRoute();
        _book.Media.Map(first, Ep("10.0.0.10:4000"), Channel.Left);
        Assert.True(_book.Media.TryClassify(Ep("10.0.0.20:5000"), Ep("10.0.0.10:4000"), 200, out _, out _));
        _book.End(first, CallEndReasons.Bye, 300, "caller");

        Call second = _book.Start("skinny", "two", 400, new PartyInfo { Extension = "3003" }, null, new PartyInfo(), null);

        Assert.Same(first, second); // from the pool
        Assert.NotEqual(firstId, second.Id);
        Assert.Equal("two", second.Metadata.CallId);
        Assert.Equal(400, second.StartedNs);
        Assert.Equal(0, second.LastMediaNs);
        Assert.Null(second.Route);
        Assert.False(second.Ended);
        Assert.True(second.Recorded);
        Assert.False(_book.Media.TryClassify(Ep("10.0.0.20:5000"), Ep("10.0.0.10:4000"), 500, out _, out _)); // the old call's media is gone
        Assert.Equal(1, _book.ActiveCalls);
        Assert.Equal(2, _book.CallsStarted);
        Assert.Equal(1, _book.RecordingsEnded);
        Assert.Equal(["started one", "event bye", "ended one bye", "started two"], _sink.Log);
    }

    [Fact]
    public void Answer_SetsTheAnswerTimeAndOneAnsweredEvent_Once()
    {
        Call call = _book.Start("sip", "c", 0, new PartyInfo(), null, new PartyInfo(), null);
        Assert.True(_book.Answer(call, 2_000_000_000));
        Assert.False(_book.Answer(call, 3_000_000_000));
        Assert.Equal(DateTimeOffset.UnixEpoch.AddSeconds(2), call.Metadata.AnsweredAt);
        Assert.Equal(1, _sink.Log.Count(l => l == "event answered"));
    }

    private static IpEndpoint16 Ep(string s)
    {
        int colon = s.LastIndexOf(':');
        Assert.True(IpAddress16.TryParse(Encoding.ASCII.GetBytes(s[..colon]), out IpAddress16 address));
        return new IpEndpoint16(address, ushort.Parse(s[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private sealed class TestRoute : CallMediaRoute;

    private sealed class CountingSink : ICallSink
    {
        public List<string> Log { get; } = [];

        public void CallStarted(Call call, long atNs) => Log.Add("started " + call.Metadata.CallId);

        public void MetadataChanged(Call call)
        {
        }

        public void PayloadMapChanged(Call call, Channel speaker, PayloadMap map)
        {
        }

        public void CallEvent(Call call, string type, long atNs, string? detail) => Log.Add("event " + type);

        public void CallEnded(Call call, string reason, long atNs) => Log.Add($"ended {call.Metadata.CallId} {reason}");
    }
}
