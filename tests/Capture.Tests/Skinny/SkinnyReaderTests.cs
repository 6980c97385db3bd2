using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Capture.Packets;
using Capture.Skinny;

namespace Capture.Tests.Skinny;

/// <summary>The readers on real messages from the shared captures: values as tshark shows them (and where tshark is wrong, as the bytes say).</summary>
public sealed class SkinnyReaderTests
{
    private static SkinnyMessage Read(ReadOnlySpan<byte> data)
    {
        Assert.Equal(OperationStatus.Done, SkinnyMessage.TryRead(data, out SkinnyMessage m, out _));
        return m;
    }

    private static string Text(ReadOnlySpan<byte> s) => Encoding.Latin1.GetString(s);

    private static IpAddress16 Ip(string s) => IpAddress16.TryParse(Encoding.ASCII.GetBytes(s), out IpAddress16 a) ? a : throw new ArgumentException(s);

    [Fact]
    public void TryRead_ReadsRegister_OfTheReal7912_InCmCap()
    {
        SkinnyMessage m = Read(SkinnySamples.CmCapRegister);
        Assert.Equal((SkinnyHeaderVersion.Basic, SkinnyMessageId.Register), (m.HeaderVersion, m.Id));
        Assert.Equal(OperationStatus.Done, SkinnyRegister.TryRead(m, out SkinnyRegister r, out _));
        Assert.Equal("SEP001380AD9E5F", Text(r.DeviceName));
        Assert.Equal(Ip("10.102.10.209"), r.StationIp);
        Assert.Equal((30007u, (byte)7, 1u), (r.DeviceType, r.ProtocolVersion, r.Instance));
    }

    [Fact]
    public void TryRead_ReadsRegister_OfPyskinnyAndTheConferenceBridge()
    {
        Assert.Equal(OperationStatus.Done, SkinnyRegister.TryRead(Read(SkinnySamples.Cm2Register), out SkinnyRegister py, out _));
        Assert.Equal(("pyskinny01", 14u, (byte)5, 5u), (Text(py.DeviceName), py.DeviceType, py.ProtocolVersion, py.MaxStreams));
        Assert.Equal(Ip("10.102.172.11"), py.StationIp);

        Assert.Equal(OperationStatus.Done, SkinnyRegister.TryRead(Read(SkinnySamples.ConfRegister), out SkinnyRegister conf, out _));
        Assert.Equal(("NONSECURE_CONF", 52u, (byte)18), (Text(conf.DeviceName), conf.DeviceType, conf.ProtocolVersion));
        Assert.Equal(Ip("172.18.110.58"), conf.StationIp); // the bridge's own idea of its address; packets come from 10.180.110.58
        Assert.True(SkinnyDeviceTypes.IsMediaResource(conf.DeviceType));
        Assert.False(SkinnyDeviceTypes.IsMediaResource(py.DeviceType));
    }

    [Fact]
    public void TryRead_ReadsRegisterAck_NewAndLegacy()
    {
        Assert.Equal(OperationStatus.Done, SkinnyRegisterAck.TryRead(Read(SkinnySamples.CmCapRegisterAck), out SkinnyRegisterAck ack, out _));
        Assert.Equal((30u, "M/D/Y", 60u, (byte)6), (ack.KeepAliveInterval, Text(ack.DateTemplate), ack.SecondaryKeepAliveInterval, ack.ProtocolVersion));

        Assert.Equal(OperationStatus.Done, SkinnyRegisterAck.TryRead(Read(SkinnySamples.Cm2RegisterAck), out SkinnyRegisterAck legacy, out _));
        Assert.Equal((30u, (byte)0, 0u), (legacy.KeepAliveInterval, legacy.ProtocolVersion, legacy.SecondaryKeepAliveInterval));

        Assert.Equal(OperationStatus.Done, SkinnyRegisterAck.TryRead(Read(SkinnySamples.ConfRegisterAck), out SkinnyRegisterAck conf, out _));
        Assert.Equal((byte)18, conf.ProtocolVersion);
    }

    [Fact]
    public void TryRead_ReadsRegisterReject_TextUpToTheNul()
    {
        Assert.Equal(OperationStatus.Done, SkinnyRegisterReject.TryRead(Read(SkinnySamples.Cm2RegisterReject), out SkinnyRegisterReject reject, out _));
        Assert.Equal("Error: No License", Text(reject.Text));
    }

    [Fact]
    public void TryRead_ReadsUnregister_WithAndWithoutReason()
    {
        Assert.Equal(OperationStatus.Done, SkinnyUnregister.TryRead(Read(SkinnySamples.Cm2Unregister), out SkinnyUnregister legacy, out _));
        Assert.False(legacy.HasReason);
        Assert.Equal(OperationStatus.Done, SkinnyUnregister.TryRead(Read(SkinnyBytes.Message(0, 0x27, SkinnyBytes.U32(7))), out SkinnyUnregister newer, out _));
        Assert.Equal((true, 7u), (newer.HasReason, newer.Reason));
        Assert.Equal(OperationStatus.Done, SkinnyUnregisterAck.TryRead(Read(SkinnyBytes.Message(0, 0x118, SkinnyBytes.U32(2))), out SkinnyUnregisterAck nak, out _));
        Assert.False(nak.Accepted);
    }

    [Fact]
    public void TryRead_ReadsLineStatRes_FullAndLegacy()
    {
        Assert.Equal(OperationStatus.Done, SkinnyLineStatRes.TryRead(Read(SkinnySamples.CmCapLineStatRes), out SkinnyLineStatRes line, out _));
        Assert.Equal((1u, "1012", "8165551012", "1012"), (line.LineNumber, Text(line.DirectoryNumber), Text(line.FullyQualifiedDisplayName), Text(line.TextLabel)));
        Assert.Equal("8165551012", Text(line.DisplayName));

        Assert.Equal(OperationStatus.Done, SkinnyLineStatRes.TryRead(Read(SkinnySamples.Cm2LineStatRes), out SkinnyLineStatRes legacy, out _));
        Assert.Equal((1u, "1091", 0), (legacy.LineNumber, Text(legacy.DirectoryNumber), legacy.DisplayName.Length));
    }

    [Fact]
    public void TryRead_ReadsLineStatResV2_NullTerminated()
    {
        byte[] m = SkinnyBytes.Message(0x14, 0x0147, SkinnyBytes.U32(2), SkinnyBytes.U32(15), SkinnyBytes.Z("+4930123"), SkinnyBytes.Z("Ana Lima"), SkinnyBytes.Z("Sales"));
        Assert.Equal(OperationStatus.Done, SkinnyLineStatRes.TryRead(Read(m), out SkinnyLineStatRes line, out _));
        Assert.Equal((2u, "+4930123", "Ana Lima", "Sales"), (line.LineNumber, Text(line.DirectoryNumber), Text(line.FullyQualifiedDisplayName), Text(line.TextLabel)));
    }

    [Fact]
    public void TryRead_ReadsButtonTemplate_LineButtons()
    {
        Assert.Equal(OperationStatus.Done, SkinnyButtonTemplate.TryRead(Read(SkinnySamples.CmCapButtonTemplate), out SkinnyButtonTemplate t, out _));
        Assert.Equal((7u, 1), (t.ButtonCount, t.LineCount));
    }

    [Fact]
    public void TryRead_ReadsCallInfoV2_BothPhonesOfSkinnyPcap()
    {
        Assert.Equal(OperationStatus.Done, SkinnyCallInfo.TryRead(Read(SkinnySamples.CallInfoV2Outbound), out SkinnyCallInfo o, out _));
        Assert.True(o.IsV2);
        Assert.Equal((SkinnyCallType.Outbound, 1u, 19805770u), (o.CallType, o.LineInstance, o.CallReference));
        Assert.Equal(("321", "RIX Meeting Room", "307", "Ervins Gailiss"), (Text(o.CallingParty), Text(o.CallingPartyName), Text(o.CalledParty), Text(o.CalledPartyName)));
        Assert.Equal(("307", "Ervins Gailiss", "307"), (Text(o.OriginalCalledParty), Text(o.OriginalCalledPartyName), Text(o.LastRedirectingParty)));
        Assert.Equal(("321", "RIX Meeting Room"), (Text(o.LocalNumber), Text(o.LocalName)));

        Assert.Equal(OperationStatus.Done, SkinnyCallInfo.TryRead(Read(SkinnySamples.CallInfoV2Inbound), out SkinnyCallInfo i, out _));
        Assert.Equal((SkinnyCallType.Inbound, 19805771u), (i.CallType, i.CallReference));
        Assert.Equal(("307", "Ervins Gailiss"), (Text(i.LocalNumber), Text(i.LocalName)));
    }

    [Fact]
    public void TryRead_ReadsLegacyCallInfo_IgnoringUninitialisedBytesAfterEachNul()
    {
        Assert.Equal(OperationStatus.Done, SkinnyCallInfo.TryRead(Read(SkinnySamples.Cm2CallInfo), out SkinnyCallInfo c, out _));
        Assert.Equal(("1091", "Line 1091", "1092", "Line 1092"), (Text(c.CallingParty), Text(c.CallingPartyName), Text(c.CalledParty), Text(c.CalledPartyName)));
        Assert.False(c.HasCallReference);
        Assert.Equal(SkinnyCallType.Unknown, c.CallType);
        Assert.True(c.LocalNumber.IsEmpty); // no call type: which side is the phone's is not said
    }

    [Fact]
    public void TryRead_ReadsFullCallInfo_WithLineCallTypeAndRedirection()
    {
        byte[] m = SkinnyBytes.Message(0, 0x008F,
            SkinnyBytes.Fixed("Ana", 40), SkinnyBytes.Fixed("2001", 24), SkinnyBytes.Fixed("Bo", 40), SkinnyBytes.Fixed("2002", 24),
            SkinnyBytes.U32(2), SkinnyBytes.U32(77), SkinnyBytes.U32(1),
            SkinnyBytes.Fixed("Hunt", 40), SkinnyBytes.Fixed("2999", 24), SkinnyBytes.Fixed("Cy", 40), SkinnyBytes.Fixed("2003", 24), SkinnyBytes.U32(0), SkinnyBytes.U32(0));
        Assert.Equal(OperationStatus.Done, SkinnyCallInfo.TryRead(Read(m), out SkinnyCallInfo c, out _));
        Assert.Equal((2u, 77u, SkinnyCallType.Inbound, "2002"), (c.LineInstance, c.CallReference, c.CallType, Text(c.LocalNumber)));
        Assert.Equal(("2999", "Hunt", "2003", "Cy"), (Text(c.OriginalCalledParty), Text(c.OriginalCalledPartyName), Text(c.LastRedirectingParty), Text(c.LastRedirectingPartyName)));
    }

    [Fact]
    public void TryRead_ReadsLegacyStartMediaTransmission_AsTheBytesSay_NotAsWiresharkDoes()
    {
        SkinnyMessage m = Read(SkinnySamples.Cm2StartMediaTransmission);
        Assert.Equal(OperationStatus.Done, SkinnyStartMediaTransmission.TryRead(m, out SkinnyStartMediaTransmission s, out _));
        Assert.Equal(SkinnyMediaLayout.Legacy, s.Layout);
        Assert.False(s.HasIds);
        Assert.Equal(Ip("10.102.172.11"), s.RemoteIp);
        Assert.Equal((5001, 30u, 4u), (s.RemotePort, s.PacketMs, s.CompressionType));
        Assert.NotEqual(Ip("30.0.0.0"), s.RemoteIp);
    }

    [Fact]
    public void TryRead_ReadsV20StartMediaTransmission_WithTheAddressUnion()
    {
        Assert.Equal(OperationStatus.Done, SkinnyStartMediaTransmission.TryRead(Read(SkinnySamples.StartMediaTransmissionV20), out SkinnyStartMediaTransmission s, out _));
        Assert.Equal(SkinnyMediaLayout.Ipv46, s.Layout);
        Assert.Equal(Ip("192.168.195.58"), s.RemoteIp);
        Assert.Equal((32144, 20u, 4u, 19805771u, 0x01000050u), (s.RemotePort, s.PacketMs, s.CompressionType, s.ConferenceId, s.PassThruPartyId));
        Assert.Equal((true, 19805771u, 0xB8u), (s.HasCallReference, s.CallReference, s.Precedence));
    }

    [Fact]
    public void TryRead_ReadsBasicStartMediaTransmission_WithIds()
    {
        byte[] m = SkinnyBytes.Message(0, 0x008A, SkinnyBytes.U32(1234), SkinnyBytes.U32(99), SkinnyBytes.Ip("10.1.2.3"), SkinnyBytes.U32(16384),
            SkinnyBytes.U32(20), SkinnyBytes.U32(2), SkinnyBytes.U32(0), SkinnyBytes.U32(0), SkinnyBytes.U32(0), SkinnyBytes.U32(0), SkinnyBytes.U32(1234));
        Assert.Equal(OperationStatus.Done, SkinnyStartMediaTransmission.TryRead(Read(m), out SkinnyStartMediaTransmission s, out _));
        Assert.Equal((SkinnyMediaLayout.Basic, 1234u, 99u, 16384, 2u, 1234u), (s.Layout, s.ConferenceId, s.PassThruPartyId, s.RemotePort, s.CompressionType, s.CallReference));
        Assert.Equal(Ip("10.1.2.3"), s.RemoteIp);
    }

    [Fact]
    public void TryRead_ReadsIpv6StartMediaTransmission()
    {
        byte[] v6 = System.Net.IPAddress.Parse("2001:db8::42").GetAddressBytes();
        byte[] m = SkinnyBytes.Message(0x12, 0x008A, SkinnyBytes.U32(1), SkinnyBytes.U32(2), SkinnyBytes.U32(1), v6, SkinnyBytes.U32(20000), SkinnyBytes.U32(20), SkinnyBytes.U32(4));
        Assert.Equal(OperationStatus.Done, SkinnyStartMediaTransmission.TryRead(Read(m), out SkinnyStartMediaTransmission s, out _));
        Assert.Equal(IpAddress16.FromIPv6(v6), s.RemoteIp);
        Assert.Equal(20000, s.RemotePort);
    }

    [Fact]
    public void TryRead_ReturnsInvalidData_WhenAddressTypeOrPortIsBad()
    {
        byte[] m = SkinnySamples.All[nameof(SkinnySamples.StartMediaTransmissionV20)];
        byte[] badType = (byte[])m.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(badType.AsSpan(12 + 8), 7);
        Assert.Equal(OperationStatus.InvalidData, SkinnyStartMediaTransmission.TryRead(Read(badType), out _, out SkinnyInvalidReason reason));
        Assert.Equal(SkinnyInvalidReason.BadAddressType, reason);

        byte[] badPort = (byte[])m.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(badPort.AsSpan(12 + 28), 70000);
        Assert.Equal(OperationStatus.InvalidData, SkinnyStartMediaTransmission.TryRead(Read(badPort), out _, out reason));
        Assert.Equal(SkinnyInvalidReason.BadValue, reason);
    }

    [Fact]
    public void TryRead_ReadsOpenReceiveChannelAndItsAck_V20()
    {
        Assert.Equal(OperationStatus.Done, SkinnyOpenReceiveChannel.TryRead(Read(SkinnySamples.OpenReceiveChannelV20), out SkinnyOpenReceiveChannel o, out _));
        Assert.Equal((19805771u, 0x01000050u, 20u, 4u, 19805771u), (o.ConferenceId, o.PassThruPartyId, o.PacketMs, o.CompressionType, o.CallReference));
        Assert.True(o.HasSource);
        Assert.Equal((Ip("192.168.195.58"), (ushort)4000), (o.SourceIp, o.SourcePort));

        Assert.Equal(OperationStatus.Done, SkinnyOpenReceiveChannelAck.TryRead(Read(SkinnySamples.OpenReceiveChannelAckV20), out SkinnyOpenReceiveChannelAck a, out _));
        Assert.Equal((0u, Ip("192.168.195.50"), (ushort)17718, 0x01000050u), (a.Status, a.Ip, a.Port, a.PassThruPartyId));
        Assert.Equal((true, 19805771u), (a.HasCallReference, a.CallReference));
    }

    [Fact]
    public void TryRead_ReadsBasicOpenReceiveChannelAck()
    {
        byte[] m = SkinnyBytes.Message(0, 0x0022, SkinnyBytes.U32(0), SkinnyBytes.Ip("10.0.0.7"), SkinnyBytes.U32(24580), SkinnyBytes.U32(55));
        Assert.Equal(OperationStatus.Done, SkinnyOpenReceiveChannelAck.TryRead(Read(m), out SkinnyOpenReceiveChannelAck a, out _));
        Assert.Equal((Ip("10.0.0.7"), (ushort)24580, 55u, false), (a.Ip, a.Port, a.PassThruPartyId, a.HasCallReference));
    }

    [Fact]
    public void TryRead_ReadsStartMediaTransmissionAck_V20()
    {
        Assert.Equal(OperationStatus.Done, SkinnyStartMediaTransmissionAck.TryRead(Read(SkinnySamples.StartMediaTransmissionAckV20), out SkinnyStartMediaTransmissionAck a, out _));
        Assert.Equal((Ip("192.168.195.58"), (ushort)32150, 0x01000052u, 0u), (a.TransmitIp, a.TransmitPort, a.PassThruPartyId, a.Status));
    }

    [Fact]
    public void TryRead_ReadsCallStateSoftKeyAndKeypad()
    {
        Assert.Equal(OperationStatus.Done, SkinnyCallState.TryRead(Read(SkinnySamples.CallStateV20), out SkinnyCallState cs, out _));
        Assert.Equal((SkinnyCallStateKind.OffHook, 1u, 19805770u, 4u), (cs.State, cs.LineInstance, cs.CallReference, cs.PrecedenceLevel));

        Assert.Equal(OperationStatus.Done, SkinnySoftKeyEvent.TryRead(Read(SkinnySamples.CmCapSoftKeyEvent), out SkinnySoftKeyEvent sk, out _));
        Assert.Equal((SkinnySoftKeyEvents.EndCall, 1u, 0x0100001Au), (sk.Event, sk.LineInstance, sk.CallReference));

        Assert.Equal(OperationStatus.Done, SkinnyKeypadButton.TryRead(Read(SkinnySamples.Cm2KeypadButton), out SkinnyKeypadButton kp, out _));
        Assert.Equal(('1', 1u), (kp.Digit, kp.LineInstance));
    }

    [Fact]
    public void TryRead_ReadsStopMediaAndCloseReceiveChannel()
    {
        byte[] legacy = SkinnyBytes.Message(0, 0x008B, [0x5C, 0xFE, 0x8E, 0x09]); // cm2_register.pcapng: 4 uninitialised bytes
        Assert.Equal(OperationStatus.Done, SkinnyStopMediaTransmission.TryRead(Read(legacy), out SkinnyStopMediaTransmission stop, out _));
        Assert.False(stop.HasIds);

        byte[] close = SkinnyBytes.Message(0x14, 0x0106, SkinnyBytes.U32(5), SkinnyBytes.U32(6), SkinnyBytes.U32(7), SkinnyBytes.U32(0));
        Assert.Equal(OperationStatus.Done, SkinnyCloseReceiveChannel.TryRead(Read(close), out SkinnyCloseReceiveChannel c, out _));
        Assert.Equal((5u, 6u, 7u), (c.ConferenceId, c.PassThruPartyId, c.CallReference));
    }

    [Theory]
    [InlineData(0x00u, 24)]
    [InlineData(0x14u, 28)]
    public void TryRead_ReadsConnectionStatisticsRes_ByHeaderVersion(uint version, int dirNumberField)
    {
        byte[] m = SkinnyBytes.Message(version, 0x0023, SkinnyBytes.Fixed("137", dirNumberField), SkinnyBytes.U32(3), SkinnyBytes.U32(0),
            SkinnyBytes.U32(153), SkinnyBytes.U32(41055), SkinnyBytes.U32(145), SkinnyBytes.U32(41050), SkinnyBytes.U32(2), SkinnyBytes.U32(5), SkinnyBytes.U32(9));
        Assert.Equal(OperationStatus.Done, SkinnyConnectionStatisticsRes.TryRead(Read(m), out SkinnyConnectionStatisticsRes s, out _));
        Assert.Equal(("137", 3u, 153u, 145u, 2u, 5u, 9u), (Text(s.DirectoryNumber), s.CallReference, s.PacketsSent, s.PacketsReceived, s.PacketsLost, s.Jitter, s.Latency));
    }

    [Fact]
    public void TryRead_ReturnsWrongMessage_WhenGivenAnotherId()
    {
        Assert.Equal(OperationStatus.InvalidData, SkinnyRegister.TryRead(Read(SkinnySamples.CmCapLineStatRes), out _, out SkinnyInvalidReason reason));
        Assert.Equal(SkinnyInvalidReason.WrongMessage, reason);
    }

    [Fact]
    public void TryRead_ReturnsBadString_WhenV2StringHasNoTerminatorWithinItsMaximum()
    {
        byte[] m = SkinnyBytes.Message(0x14, 0x014A, new byte[32], Enumerable.Repeat((byte)'9', 40).ToArray());
        Assert.Equal(OperationStatus.InvalidData, SkinnyCallInfo.TryRead(Read(m), out _, out SkinnyInvalidReason reason));
        Assert.Equal(SkinnyInvalidReason.BadString, reason);
    }

    /// <summary>Every sample with its body cut at every length (and the length field fixed up): Done or InvalidData, never an exception.</summary>
    [Theory]
    [MemberData(nameof(SkinnySamples.Names), MemberType = typeof(SkinnySamples))]
    public void TryRead_NeverThrows_WhenBodyTruncatedAtAnyLength(string name)
    {
        byte[] full = SkinnySamples.All[name];
        for (int bodyLength = 0; bodyLength <= full.Length - 12; bodyLength++)
        {
            byte[] m = full[..(12 + bodyLength)];
            BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)(4 + bodyLength));
            OperationStatus status = SkinnyMessage.TryRead(m, out SkinnyMessage message, out _);
            Assert.Equal(OperationStatus.Done, status);
            Assert.NotEqual(OperationStatus.NeedMoreData, SkinnyReaderProbe.ReadAll(message));
        }
    }
}
