using Microsoft.Win32.SafeHandles;

namespace Capture.Interop;

/// <summary>An <c>OpusMSEncoder*</c> from opus_multistream_encoder_create.</summary>
internal sealed class SafeOpusMultistreamEncoderHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeOpusMultistreamEncoderHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        Interop.Opus.opus_multistream_encoder_destroy(handle);
        return true;
    }
}

/// <summary>An <c>OpusDecoder*</c> from opus_decoder_create.</summary>
internal sealed class SafeOpusDecoderHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeOpusDecoderHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        Interop.Opus.opus_decoder_destroy(handle);
        return true;
    }
}

/// <summary>An <c>OpusEncoder*</c> from opus_encoder_create (tests and benchmarks make Opus payloads with it).</summary>
internal sealed class SafeOpusEncoderHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeOpusEncoderHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        Interop.Opus.opus_encoder_destroy(handle);
        return true;
    }
}
