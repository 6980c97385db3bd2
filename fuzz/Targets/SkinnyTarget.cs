using System.Buffers;
using Capture.Skinny;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>One Skinny message through the framer and every per-message reader (each refuses other ids).</summary>
internal sealed class SkinnyTarget : FuzzTarget
{
    public override string Name => "skinny";

    public override string Description => "one Skinny message: SkinnyFramer, SkinnyMessage.TryRead and all twenty message readers";

    public override int MaxInputLength => 1024;

    public override void Execute(ReadOnlySpan<byte> input)
    {
        _ = SkinnyFramer.FindNextHeader(input);
        if (SkinnyMessage.TryRead(input, out SkinnyMessage m, out _) != OperationStatus.Done)
        {
            return;
        }

        Invariant.Check(m.TotalLength <= input.Length, "a framed Skinny message lies within its input");
        ReadAll(m);
    }

    /// <summary>Every reader on the message; returns how many accepted it.</summary>
    public static int ReadAll(in SkinnyMessage m)
    {
        int done = 0;
        done += Done(SkinnyRegister.TryRead(m, out _, out _));
        done += Done(SkinnyRegisterAck.TryRead(m, out _, out _));
        done += Done(SkinnyRegisterReject.TryRead(m, out _, out _));
        done += Done(SkinnyUnregister.TryRead(m, out _, out _));
        done += Done(SkinnyUnregisterAck.TryRead(m, out _, out _));
        done += Done(SkinnyIpPort.TryRead(m, out _, out _));
        done += Done(SkinnyLineStatReq.TryRead(m, out _, out _));
        done += Done(SkinnyLineStatRes.TryRead(m, out _, out _));
        done += Done(SkinnyButtonTemplate.TryRead(m, out _, out _));
        done += Done(SkinnyCallInfo.TryRead(m, out _, out _));
        done += Done(SkinnyCallState.TryRead(m, out _, out _));
        done += Done(SkinnySoftKeyEvent.TryRead(m, out _, out _));
        done += Done(SkinnyKeypadButton.TryRead(m, out _, out _));
        done += Done(SkinnyStartMediaTransmission.TryRead(m, out _, out _));
        done += Done(SkinnyStopMediaTransmission.TryRead(m, out _, out _));
        done += Done(SkinnyOpenReceiveChannel.TryRead(m, out _, out _));
        done += Done(SkinnyOpenReceiveChannelAck.TryRead(m, out _, out _));
        done += Done(SkinnyCloseReceiveChannel.TryRead(m, out _, out _));
        done += Done(SkinnyStartMediaTransmissionAck.TryRead(m, out _, out _));
        done += Done(SkinnyConnectionStatisticsRes.TryRead(m, out _, out _));
        Invariant.Check(done <= 1, "at most one reader accepts a message (the one that owns its id)");
        return done;
    }

    private static int Done(OperationStatus status) => status == OperationStatus.Done ? 1 : 0;

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus) => corpus.SkinnyMessages.DistinctBy(Convert.ToHexString);
}
