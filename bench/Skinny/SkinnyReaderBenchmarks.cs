using System.Buffers;
using BenchmarkDotNet.Attributes;
using Capture.Packets;
using Capture.Skinny;
using Capture.Tests.Skinny;

namespace Bench.Skinny;

/// <summary>
/// Skinny framing and readers over real messages (SkinnySamples: cm_cap.pcapng, cm2_register.pcapng,
/// sccp_hw_conf_register.pcapng, skinny.pcap): one V20 StartMediaTransmission, one CallInfoV2, and a mixed stream of
/// all 23 samples framed and dispatched to every reader.
/// </summary>
[MemoryDiagnoser]
public class SkinnyReaderBenchmarks
{
    private readonly byte[] _startMedia = SkinnySamples.StartMediaTransmissionV20.ToArray();
    private readonly byte[] _callInfoV2 = SkinnySamples.CallInfoV2Outbound.ToArray();
    private readonly byte[] _mix = [.. SkinnySamples.All.Values.SelectMany(m => m)];
    private readonly SkinnyConnection _connection = new(new IpEndpoint16(IpAddress16.FromIPv4(0x0A000001), 50000), new IpEndpoint16(IpAddress16.FromIPv4(0x0A0000FE), 2000));
    private readonly ReadingSink _sink = new();
    private readonly SkinnyCounters _counters = new();

    private sealed class ReadingSink : ISkinnyMessageSink
    {
        public long Checksum;

        public void OnMessage(SkinnyConnection connection, bool fromPhone, in SkinnyMessage message, long timestampNs) => Checksum += Read(message);
    }

    [Benchmark(Baseline = true)]
    public int FrameAndReadStartMediaTransmission() =>
        SkinnyMessage.TryRead(_startMedia, out SkinnyMessage m, out _) == OperationStatus.Done
        && SkinnyStartMediaTransmission.TryRead(m, out SkinnyStartMediaTransmission s, out _) == OperationStatus.Done
            ? s.RemotePort + (int)s.CompressionType
            : -1;

    [Benchmark]
    public int FrameAndReadCallInfoV2() =>
        SkinnyMessage.TryRead(_callInfoV2, out SkinnyMessage m, out _) == OperationStatus.Done
        && SkinnyCallInfo.TryRead(m, out SkinnyCallInfo c, out _) == OperationStatus.Done
            ? c.CallingParty.Length + c.CalledPartyName.Length + (int)c.CallType
            : -1;

    /// <summary>23 messages: framed by the stream reader, each read by the reader of its id.</summary>
    [Benchmark(OperationsPerInvoke = 23)]
    public long ReadMixedStream()
    {
        SkinnyStreamReader.Read(_connection, false, _mix, 0, _sink, _counters);
        return _sink.Checksum;
    }

    private static long Read(in SkinnyMessage m) => m.Id switch
    {
        SkinnyMessageId.Register => SkinnyRegister.TryRead(m, out SkinnyRegister r, out _) == OperationStatus.Done ? r.DeviceName.Length + r.DeviceType : 0,
        SkinnyMessageId.RegisterAck => SkinnyRegisterAck.TryRead(m, out SkinnyRegisterAck a, out _) == OperationStatus.Done ? a.ProtocolVersion : 0,
        SkinnyMessageId.RegisterReject => SkinnyRegisterReject.TryRead(m, out SkinnyRegisterReject j, out _) == OperationStatus.Done ? j.Text.Length : 0,
        SkinnyMessageId.Unregister => SkinnyUnregister.TryRead(m, out SkinnyUnregister u, out _) == OperationStatus.Done ? u.Reason : 0,
        SkinnyMessageId.ButtonTemplateRes => SkinnyButtonTemplate.TryRead(m, out SkinnyButtonTemplate t, out _) == OperationStatus.Done ? t.LineCount : 0,
        SkinnyMessageId.LineStatRes => SkinnyLineStatRes.TryRead(m, out SkinnyLineStatRes l, out _) == OperationStatus.Done ? l.DirectoryNumber.Length : 0,
        SkinnyMessageId.CallInfo or SkinnyMessageId.CallInfoV2 => SkinnyCallInfo.TryRead(m, out SkinnyCallInfo c, out _) == OperationStatus.Done ? c.CallingParty.Length : 0,
        SkinnyMessageId.CallState => SkinnyCallState.TryRead(m, out SkinnyCallState s, out _) == OperationStatus.Done ? s.CallReference : 0,
        SkinnyMessageId.SoftKeyEvent => SkinnySoftKeyEvent.TryRead(m, out SkinnySoftKeyEvent k, out _) == OperationStatus.Done ? k.Event : 0,
        SkinnyMessageId.KeypadButton => SkinnyKeypadButton.TryRead(m, out SkinnyKeypadButton b, out _) == OperationStatus.Done ? b.Button : 0,
        SkinnyMessageId.StartMediaTransmission => SkinnyStartMediaTransmission.TryRead(m, out SkinnyStartMediaTransmission t2, out _) == OperationStatus.Done ? t2.RemotePort : 0,
        SkinnyMessageId.OpenReceiveChannel => SkinnyOpenReceiveChannel.TryRead(m, out SkinnyOpenReceiveChannel o, out _) == OperationStatus.Done ? o.PassThruPartyId : 0,
        SkinnyMessageId.OpenReceiveChannelAck => SkinnyOpenReceiveChannelAck.TryRead(m, out SkinnyOpenReceiveChannelAck oa, out _) == OperationStatus.Done ? oa.Port : 0,
        SkinnyMessageId.StartMediaTransmissionAck => SkinnyStartMediaTransmissionAck.TryRead(m, out SkinnyStartMediaTransmissionAck sa, out _) == OperationStatus.Done ? sa.TransmitPort : 0,
        _ => 0,
    };
}
