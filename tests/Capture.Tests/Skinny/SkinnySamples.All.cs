namespace Capture.Tests.Skinny;

internal static partial class SkinnySamples
{
    /// <summary>Every sample by name, as an array (theories name them; tests mutate copies).</summary>
    public static IReadOnlyDictionary<string, byte[]> All { get; } = new Dictionary<string, byte[]>
    {
        [nameof(CmCapRegister)] = CmCapRegister.ToArray(),
        [nameof(CmCapRegisterAck)] = CmCapRegisterAck.ToArray(),
        [nameof(CmCapButtonTemplate)] = CmCapButtonTemplate.ToArray(),
        [nameof(CmCapLineStatRes)] = CmCapLineStatRes.ToArray(),
        [nameof(CmCapSoftKeyEvent)] = CmCapSoftKeyEvent.ToArray(),
        [nameof(CmCapCallState)] = CmCapCallState.ToArray(),
        [nameof(Cm2Register)] = Cm2Register.ToArray(),
        [nameof(Cm2RegisterAck)] = Cm2RegisterAck.ToArray(),
        [nameof(Cm2LineStatRes)] = Cm2LineStatRes.ToArray(),
        [nameof(Cm2CallInfo)] = Cm2CallInfo.ToArray(),
        [nameof(Cm2StartMediaTransmission)] = Cm2StartMediaTransmission.ToArray(),
        [nameof(Cm2RegisterReject)] = Cm2RegisterReject.ToArray(),
        [nameof(Cm2KeypadButton)] = Cm2KeypadButton.ToArray(),
        [nameof(Cm2Unregister)] = Cm2Unregister.ToArray(),
        [nameof(ConfRegister)] = ConfRegister.ToArray(),
        [nameof(ConfRegisterAck)] = ConfRegisterAck.ToArray(),
        [nameof(CallInfoV2Outbound)] = CallInfoV2Outbound.ToArray(),
        [nameof(CallInfoV2Inbound)] = CallInfoV2Inbound.ToArray(),
        [nameof(StartMediaTransmissionV20)] = StartMediaTransmissionV20.ToArray(),
        [nameof(OpenReceiveChannelAckV20)] = OpenReceiveChannelAckV20.ToArray(),
        [nameof(OpenReceiveChannelV20)] = OpenReceiveChannelV20.ToArray(),
        [nameof(StartMediaTransmissionAckV20)] = StartMediaTransmissionAckV20.ToArray(),
        [nameof(CallStateV20)] = CallStateV20.ToArray(),
    };
}
