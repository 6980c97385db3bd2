using System.Buffers;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Packets;
using Capture.Skinny;
using Capture.Tests.Support;

namespace Capture.Tests.Skinny;

/// <summary>Bad input is counted, never thrown (STYLE: fuzz-ish inputs), and reading allocates nothing.</summary>
public sealed class SkinnyRobustnessTests
{
    private static readonly IpEndpoint16 Phone = new(IpAddress16.FromIPv4(0x0A000001), 50000);
    private static readonly IpEndpoint16 Server = new(IpAddress16.FromIPv4(0x0A0000FE), 2000);
    private static readonly uint[] s_ids =
    [
        0x0001, 0x0002, 0x0003, 0x000B, 0x0022, 0x0023, 0x0026, 0x0027, 0x0081, 0x008A, 0x008B, 0x008F, 0x0092, 0x0097,
        0x009D, 0x0105, 0x0106, 0x0111, 0x0118, 0x0147, 0x014A, 0x0154,
    ];

    private static readonly uint[] s_versions = [0x00, 0x11, 0x12, 0x14];

    private sealed class CountingSink : ISkinnyMessageSink
    {
        public int Count;

        public void OnMessage(SkinnyConnection connection, bool fromPhone, in SkinnyMessage message, long timestampNs)
        {
            Count++;
            SkinnyReaderProbe.ReadAll(message);
        }
    }

    [Fact]
    public void Readers_NeverThrow_OnRandomBodiesOfEveryIdAndVersion()
    {
        var random = new Random(20261120);
        for (int round = 0; round < 4000; round++)
        {
            byte[] body = new byte[random.Next(0, 300)];
            random.NextBytes(body);
            if (random.Next(3) == 0)
            {
                body.AsSpan(random.Next(body.Length + 1)).Clear(); // plenty of NULs and small values, like real bodies
            }

            byte[] m = SkinnyBytes.Message(s_versions[random.Next(s_versions.Length)], s_ids[random.Next(s_ids.Length)], body);
            Assert.Equal(OperationStatus.Done, SkinnyMessage.TryRead(m, out SkinnyMessage message, out _));
            Assert.NotEqual(OperationStatus.NeedMoreData, SkinnyReaderProbe.ReadAll(message));
        }
    }

    [Fact]
    public void StreamReaderAndLearner_NeverThrow_OnRandomBytes()
    {
        var random = new Random(7);
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
        var learner = new SkinnyDeviceLearner(d);
        for (int round = 0; round < 200; round++)
        {
            byte[] junk = new byte[random.Next(1, 2000)];
            random.NextBytes(junk);
            var c = new SkinnyConnection(Phone, Server);
            int consumed = learner.OnStream(c, random.Next(2) == 0, junk, round);
            Assert.InRange(consumed, 0, junk.Length);
            Assert.True(junk.Length - consumed < SkinnyFramer.MaxMessageBytes);
        }

        Assert.True(learner.Counters.InvalidTotal > 0);
    }

    [Fact]
    public void Learner_NeverThrows_OnBitFlippedRealSessions()
    {
        byte[][] phone = [.. new[] { nameof(SkinnySamples.CmCapRegister), nameof(SkinnySamples.Cm2KeypadButton), nameof(SkinnySamples.OpenReceiveChannelAckV20), nameof(SkinnySamples.StartMediaTransmissionAckV20), nameof(SkinnySamples.Cm2Unregister) }.Select(n => SkinnySamples.All[n])];
        byte[][] server = [.. new[] { nameof(SkinnySamples.CmCapRegisterAck), nameof(SkinnySamples.CmCapButtonTemplate), nameof(SkinnySamples.CmCapLineStatRes), nameof(SkinnySamples.CallInfoV2Outbound), nameof(SkinnySamples.Cm2CallInfo), nameof(SkinnySamples.StartMediaTransmissionV20), nameof(SkinnySamples.Cm2StartMediaTransmission), nameof(SkinnySamples.OpenReceiveChannelV20), nameof(SkinnySamples.CallStateV20) }.Select(n => SkinnySamples.All[n])];
        byte[] fromPhone = [.. phone.SelectMany(m => m)];
        byte[] fromServer = [.. server.SelectMany(m => m)];
        var random = new Random(42);
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
        var learner = new SkinnyDeviceLearner(d);
        for (int round = 0; round < 2000; round++)
        {
            byte[] a = Flip(fromPhone, random);
            byte[] b = Flip(fromServer, random);
            var c = new SkinnyConnection(Phone, Server);
            learner.OnStream(c, true, a, round);
            learner.OnStream(c, false, b, round);
            learner.Expire(round + 10_000_000_000L);
        }
    }

    private static byte[] Flip(byte[] source, Random random)
    {
        byte[] copy = (byte[])source.Clone();
        int flips = random.Next(1, 8);
        for (int i = 0; i < flips; i++)
        {
            int bit = random.Next(copy.Length * 8);
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        return copy;
    }

    /// <summary>Fuzz finds kept as byte literals: a CallInfoV2 whose strings run to the end of the body without terminators.</summary>
    [Fact]
    public void CallInfoV2_WithUnterminatedTrailingStrings_ReadsWhatIsThere()
    {
        byte[] m = SkinnyBytes.Message(0x14, 0x014A, new byte[32], [0x33, 0x32, 0x31]);
        Assert.Equal(OperationStatus.Done, SkinnyMessage.TryRead(m, out SkinnyMessage message, out _));
        Assert.Equal(OperationStatus.Done, SkinnyCallInfo.TryRead(message, out SkinnyCallInfo info, out _));
        Assert.Equal("321"u8.ToArray(), info.CallingParty.ToArray());
        Assert.True(info.CalledParty.IsEmpty);
    }

    [Fact]
    public void Reading_AllocatesNothing()
    {
        byte[] stream = [.. SkinnySamples.All.Values.SelectMany(m => m)];
        var sink = new CountingSink();
        var counters = new SkinnyCounters();
        var connection = new SkinnyConnection(Phone, Server);
        long checksum = 0;
        void Read(int times)
        {
            for (int i = 0; i < times; i++)
            {
                checksum += SkinnyStreamReader.Read(connection, false, stream, 0, sink, counters);
            }
        }

        Assert.Equal(0, Allocations.Measure(() => Read(100), () => Read(5000)));
        Assert.True(checksum > 0);
        Assert.Equal(0, counters.InvalidTotal);
        Assert.Equal(SkinnySamples.All.Count * 5100, sink.Count);
    }

    [Fact]
    public void LearnerSteadyState_KeepAlivesAndCallMessages_AllocateNothing()
    {
        using BindingDirectory d = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
        var learner = new SkinnyDeviceLearner(d);
        var c = new SkinnyConnection(Phone, Server);
        learner.OnStream(c, true, SkinnySamples.CmCapRegister, 1);
        learner.OnStream(c, false, [.. SkinnySamples.CmCapRegisterAck, .. SkinnySamples.CmCapButtonTemplate, .. SkinnySamples.CmCapLineStatRes], 2);
        Assert.Single(c.Lines);
        byte[] fromPhone = [.. SkinnyBytes.KeepAlive(), .. SkinnySamples.CmCapSoftKeyEvent, .. SkinnySamples.Cm2KeypadButton];
        byte[] fromServer = [.. SkinnySamples.CmCapCallState, .. SkinnySamples.StartMediaTransmissionV20];
        void Exchange(int times, long ts)
        {
            for (int i = 0; i < times; i++)
            {
                learner.OnStream(c, true, fromPhone, ts);
                learner.OnStream(c, false, fromServer, ts);
            }
        }

        Assert.Equal(0, Allocations.Measure(() => Exchange(100, 3), () => Exchange(5000, 4)));
    }
}
