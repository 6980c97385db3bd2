using Capture.Packets;
using Capture.Skinny;
using Capture.Tests.Support;

namespace Capture.Tests.Skinny;

public sealed class SkinnyStreamReaderTests
{
    /// <summary>Records (direction, header version, id, body) of every message handed over.</summary>
    internal sealed class RecordingSink : ISkinnyMessageSink
    {
        public List<(bool FromPhone, uint Version, uint Id, byte[] Body)> Messages { get; } = [];

        public void OnMessage(SkinnyConnection connection, bool fromPhone, in SkinnyMessage message, long timestampNs) =>
            Messages.Add((fromPhone, message.HeaderVersion, message.Id, message.Body.ToArray()));
    }

    private static readonly IpEndpoint16 Phone = new(IpAddress16.FromIPv4(0x0A000001), 50000);
    private static readonly IpEndpoint16 Server = new(IpAddress16.FromIPv4(0x0A0000FE), 2000);

    /// <summary>Feeds <paramref name="chunks"/> as the pipeline will: unconsumed bytes are kept and come first next time.</summary>
    private static (RecordingSink Sink, SkinnyCounters Counters, int Left) Feed(IEnumerable<byte[]> chunks, SkinnyConnection? connection = null)
    {
        var sink = new RecordingSink();
        var counters = new SkinnyCounters();
        connection ??= new SkinnyConnection(Phone, Server);
        byte[] pending = [];
        foreach (byte[] chunk in chunks)
        {
            byte[] buffer = [.. pending, .. chunk];
            int consumed = SkinnyStreamReader.Read(connection, true, buffer, 0, sink, counters);
            Assert.InRange(consumed, 0, buffer.Length);
            pending = buffer[consumed..];
        }

        return (sink, counters, pending.Length);
    }

    public static TheoryData<string> Files() => ["cm_cap.pcapng", "cm2_register.pcapng", "sccp_hw_conf_register.pcapng", "skinny.pcap"];

    [Theory]
    [MemberData(nameof(Files))]
    public void Read_GivesTheSameMessages_WhenTheStreamIsSplitAtEveryPosition(string file)
    {
        SkinnyCapture capture = SkinnyCapture.Load(file);
        foreach (SkinnyCapture.Connection c in capture.Connections.Take(4))
        {
            byte[] stream = c.Stream(fromPhone: false);
            if (stream.Length > 4000)
            {
                stream = stream[..4000]; // cm2's long sessions: the first few kilobytes have every message kind
            }

            (RecordingSink whole, SkinnyCounters counters, int left) = Feed([stream]);
            Assert.Equal(0, counters.InvalidTotal);
            int expectedLeft = left;
            for (int split = 1; split < stream.Length; split++)
            {
                (RecordingSink parts, _, left) = Feed([stream[..split], stream[split..]]);
                Assert.Equal(expectedLeft, left);
                Assert.Equal(whole.Messages.Count, parts.Messages.Count);
                for (int i = 0; i < whole.Messages.Count; i++)
                {
                    Assert.Equal(whole.Messages[i].Id, parts.Messages[i].Id);
                    Assert.Equal(whole.Messages[i].Body, parts.Messages[i].Body);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Read_GivesTheSameMessages_WhenFedOneByteAtATime(string file)
    {
        SkinnyCapture.Connection c = SkinnyCapture.Load(file).Connections[0];
        byte[] stream = c.Stream(fromPhone: true);
        (RecordingSink whole, _, _) = Feed([stream]);
        (RecordingSink bytes, SkinnyCounters counters, int left) = Feed(stream.Select(b => new[] { b }));
        Assert.Equal(0, left);
        Assert.Equal(0, counters.InvalidTotal);
        Assert.Equal(whole.Messages.Select(m => m.Id), bytes.Messages.Select(m => m.Id));
    }

    [Fact]
    public void Read_KeepsAPartialMessage_AndConsumesWholeOnes()
    {
        byte[] a = SkinnySamples.All[nameof(SkinnySamples.CmCapRegister)];
        byte[] b = SkinnySamples.All[nameof(SkinnySamples.CmCapRegisterAck)];
        var sink = new RecordingSink();
        int consumed = SkinnyStreamReader.Read(new SkinnyConnection(Phone, Server), true, [.. a, .. b[..5]], 0, sink, new SkinnyCounters());
        Assert.Equal(a.Length, consumed);
        Assert.Single(sink.Messages);
    }

    [Fact]
    public void Read_Resynchronises_AfterJunkBetweenMessages()
    {
        byte[] junk = [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03, 0x99, 0x98, 0x97, 0x96, 0x95];
        byte[] stream = [.. SkinnySamples.CmCapRegister, .. junk, .. SkinnySamples.CmCapLineStatRes, .. SkinnySamples.CmCapCallState];
        (RecordingSink sink, SkinnyCounters counters, int left) = Feed([stream]);
        Assert.Equal([SkinnyMessageId.Register, SkinnyMessageId.LineStatRes, SkinnyMessageId.CallState], sink.Messages.Select(m => m.Id));
        Assert.Equal(1, counters.Resyncs);
        Assert.Equal(junk.Length, counters.BytesSkipped);
        Assert.Equal(0, left);
    }

    [Fact]
    public void Read_Resynchronises_AcrossCalls_WhenTheNextHeaderArrivesLater()
    {
        byte[] junk = new byte[40];
        Array.Fill(junk, (byte)0xFF);
        (RecordingSink sink, SkinnyCounters counters, int left) = Feed([junk, [.. SkinnySamples.CmCapLineStatRes[..7]], [.. SkinnySamples.CmCapLineStatRes[7..]]]);
        Assert.Equal([SkinnyMessageId.LineStatRes], sink.Messages.Select(m => m.Id));
        Assert.Equal((1, 0), (counters.Resyncs, left));
    }

    [Fact]
    public void Read_SearchesForABoundary_AfterAGapNotedByThePipeline()
    {
        var connection = new SkinnyConnection(Phone, Server);
        connection.NoteGap(fromPhone: true);
        byte[] tail = SkinnySamples.CmCapRegister[20..].ToArray(); // the rest of a message whose start was lost
        (RecordingSink sink, _, _) = Feed([[.. tail, .. SkinnySamples.CmCapLineStatRes]], connection);
        Assert.Equal([SkinnyMessageId.LineStatRes], sink.Messages.Select(m => m.Id));
    }

    [Fact]
    public void Read_SkipsAndCountsUnknownIds()
    {
        byte[] unknown = SkinnyBytes.Message(0, 0x7777, SkinnyBytes.U32(1));
        (RecordingSink sink, SkinnyCounters counters, _) = Feed([[.. unknown, .. SkinnySamples.CmCapCallState]]);
        Assert.Equal([SkinnyMessageId.CallState], sink.Messages.Select(m => m.Id));
        Assert.Equal((2, 1), (counters.Messages, counters.UnknownMessages));
    }

    [Fact]
    public void Read_HandsOverLegacyReceptionMessages_AsKnown()
    {
        SkinnyCapture capture = SkinnyCapture.Load("cm2_register.pcapng");
        var sink = new RecordingSink();
        var counters = new SkinnyCounters();
        foreach (SkinnyCapture.Connection c in capture.Connections)
        {
            SkinnyStreamReader.Read(new SkinnyConnection(c.Phone, c.Server), false, c.Stream(false), 0, sink, counters);
        }

        Assert.Equal(12, sink.Messages.Count(m => m.Id == SkinnyMessageId.StartMediaReceptionLegacy));
        Assert.Equal(9, sink.Messages.Count(m => m.Id == SkinnyMessageId.StopMediaReceptionLegacy));
        Assert.Equal(0, counters.UnknownMessages);
    }
}
