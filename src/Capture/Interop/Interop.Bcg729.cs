using System.Runtime.InteropServices;

namespace Capture.Interop;

internal static partial class Interop
{
    /// <summary>bcg729 1.1 (bcg729/decoder.h, bcg729/encoder.h): G.729 / G.729 Annex A and B at 8 kHz.</summary>
    internal static unsafe partial class Bcg729
    {
        /// <summary>One G.729 frame: 10 ms, 80 samples, 10 bytes; an Annex B SID frame is 2 bytes.</summary>
        internal const int FrameSamples = 80;
        internal const int FrameBytes = 10;
        internal const int SidFrameBytes = 2;

        static Bcg729() => Libraries.EnsureResolver();

        // bcg729DecoderChannelContextStruct *initBcg729DecoderChannel(void);
        [LibraryImport(Libraries.Bcg729)]
        internal static partial SafeG729DecoderHandle initBcg729DecoderChannel();

        // void closeBcg729DecoderChannel(bcg729DecoderChannelContextStruct *decoderChannelContext);
        [LibraryImport(Libraries.Bcg729)]
        internal static partial void closeBcg729DecoderChannel(nint decoderChannelContext);

        // void bcg729Decoder(bcg729DecoderChannelContextStruct *ctx, const uint8_t bitStream[], uint8_t bitStreamLength,
        //     uint8_t frameErasureFlag, uint8_t SIDFrameFlag, uint8_t rfc3389PayloadFlag, int16_t signal[]);  signal: 80 samples.
        [LibraryImport(Libraries.Bcg729)]
        internal static partial void bcg729Decoder(SafeG729DecoderHandle ctx, byte* bitStream, byte bitStreamLength,
            byte frameErasureFlag, byte SIDFrameFlag, byte rfc3389PayloadFlag, short* signal);

        // bcg729EncoderChannelContextStruct *initBcg729EncoderChannel(uint8_t enableVAD);
        [LibraryImport(Libraries.Bcg729)]
        internal static partial SafeG729EncoderHandle initBcg729EncoderChannel(byte enableVAD);

        // void closeBcg729EncoderChannel(bcg729EncoderChannelContextStruct *encoderChannelContext);
        [LibraryImport(Libraries.Bcg729)]
        internal static partial void closeBcg729EncoderChannel(nint encoderChannelContext);

        // void bcg729Encoder(bcg729EncoderChannelContextStruct *ctx, const int16_t inputFrame[], uint8_t bitStream[], uint8_t *bitStreamLength);
        // bitStreamLength: 10 (voice), 2 (SID) or 0 (untransmitted) when VAD/DTX is on.
        [LibraryImport(Libraries.Bcg729)]
        internal static partial void bcg729Encoder(SafeG729EncoderHandle ctx, short* inputFrame, byte* bitStream, byte* bitStreamLength);

        internal static SafeG729DecoderHandle CreateDecoder()
        {
            SafeG729DecoderHandle handle = initBcg729DecoderChannel();
            if (handle.IsInvalid)
            {
                handle.Dispose();
                throw new InvalidOperationException("initBcg729DecoderChannel failed (out of memory?)");
            }

            return handle;
        }

        internal static SafeG729EncoderHandle CreateEncoder(bool enableVad)
        {
            SafeG729EncoderHandle handle = initBcg729EncoderChannel(enableVad ? (byte)1 : (byte)0);
            if (handle.IsInvalid)
            {
                handle.Dispose();
                throw new InvalidOperationException("initBcg729EncoderChannel failed (out of memory?)");
            }

            return handle;
        }
    }
}
