using System.Buffers;
using Capture.Skinny;

namespace Capture.Tests.Skinny;

/// <summary>Runs every reader on a message (each refuses other ids with WrongMessage); returns the status of the one that owns the id.</summary>
internal static class SkinnyReaderProbe
{
    public static OperationStatus ReadAll(in SkinnyMessage m)
    {
        OperationStatus own = OperationStatus.Done;
        Take(ref own, m, SkinnyRegister.TryRead(m, out _, out SkinnyInvalidReason r), r);
        Take(ref own, m, SkinnyRegisterAck.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyRegisterReject.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyUnregister.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyUnregisterAck.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyIpPort.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyLineStatReq.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyLineStatRes.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyButtonTemplate.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyCallInfo.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyCallState.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnySoftKeyEvent.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyKeypadButton.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyStartMediaTransmission.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyStopMediaTransmission.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyOpenReceiveChannel.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyOpenReceiveChannelAck.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyCloseReceiveChannel.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyStartMediaTransmissionAck.TryRead(m, out _, out r), r);
        Take(ref own, m, SkinnyConnectionStatisticsRes.TryRead(m, out _, out r), r);
        return own;
    }

    private static void Take(ref OperationStatus own, in SkinnyMessage m, OperationStatus status, SkinnyInvalidReason reason)
    {
        if (reason != SkinnyInvalidReason.WrongMessage)
        {
            own = status;
        }
    }
}
