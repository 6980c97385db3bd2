using Microsoft.Win32.SafeHandles;

namespace Capture.Interop;

/// <summary>A <c>g722_decode_state_t*</c> allocated by g722_decode_init(NULL, ...).</summary>
internal sealed class SafeG722DecoderHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeG722DecoderHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle() => Interop.SpanDsp.g722_decode_free(handle) == 0;
}

/// <summary>A <c>g722_encode_state_t*</c> allocated by g722_encode_init(NULL, ...) (tests make G.722 payloads with it).</summary>
internal sealed class SafeG722EncoderHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeG722EncoderHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle() => Interop.SpanDsp.g722_encode_free(handle) == 0;
}
