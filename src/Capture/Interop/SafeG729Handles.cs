using Microsoft.Win32.SafeHandles;

namespace Capture.Interop;

/// <summary>A <c>bcg729DecoderChannelContextStruct*</c> from initBcg729DecoderChannel.</summary>
internal sealed class SafeG729DecoderHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeG729DecoderHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        Interop.Bcg729.closeBcg729DecoderChannel(handle);
        return true;
    }
}

/// <summary>A <c>bcg729EncoderChannelContextStruct*</c> from initBcg729EncoderChannel (tests make G.729 payloads with it).</summary>
internal sealed class SafeG729EncoderHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeG729EncoderHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        Interop.Bcg729.closeBcg729EncoderChannel(handle);
        return true;
    }
}
