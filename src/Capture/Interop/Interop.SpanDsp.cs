using System.Runtime.InteropServices;

namespace Capture.Interop;

internal static partial class Interop
{
    /// <summary>spandsp 0.0.6 G.722 (spandsp/g722.h): bit-exact ITU-T G.722 at 64/56/48 kbit/s.</summary>
    internal static unsafe partial class SpanDsp
    {
        /// <summary>G.722 at 64 kbit/s: every byte carries two 16 kHz samples.</summary>
        internal const int G722Rate64000 = 64000;

        // enum { G722_SAMPLE_RATE_8000 = 0x0001, G722_PACKED = 0x0002 }; 0 = 16 kHz PCM, unpacked codewords.
        internal const int G722Options16kHz = 0;

        static SpanDsp() => Libraries.EnsureResolver();

        // g722_decode_state_t *g722_decode_init(g722_decode_state_t *s, int rate, int options);
        // s == NULL allocates; a non-NULL s is re-initialised in place (how Reset works without reallocating).
        [LibraryImport(Libraries.SpanDsp, EntryPoint = "g722_decode_init")]
        internal static partial SafeG722DecoderHandle g722_decode_init_new(nint s, int rate, int options);

        [LibraryImport(Libraries.SpanDsp)]
        internal static partial nint g722_decode_init(SafeG722DecoderHandle s, int rate, int options);

        // int g722_decode_free(g722_decode_state_t *s);
        [LibraryImport(Libraries.SpanDsp)]
        internal static partial int g722_decode_free(nint s);

        // int g722_decode(g722_decode_state_t *s, int16_t amp[], const uint8_t g722_data[], int len);  returns samples written.
        [LibraryImport(Libraries.SpanDsp)]
        internal static partial int g722_decode(SafeG722DecoderHandle s, short* amp, byte* g722_data, int len);

        // g722_encode_state_t *g722_encode_init(g722_encode_state_t *s, int rate, int options);
        [LibraryImport(Libraries.SpanDsp, EntryPoint = "g722_encode_init")]
        internal static partial SafeG722EncoderHandle g722_encode_init_new(nint s, int rate, int options);

        // int g722_encode_free(g722_encode_state_t *s);
        [LibraryImport(Libraries.SpanDsp)]
        internal static partial int g722_encode_free(nint s);

        // int g722_encode(g722_encode_state_t *s, uint8_t g722_data[], const int16_t amp[], int len);  returns bytes written.
        [LibraryImport(Libraries.SpanDsp)]
        internal static partial int g722_encode(SafeG722EncoderHandle s, byte* g722_data, short* amp, int len);

        internal static SafeG722DecoderHandle CreateG722Decoder()
        {
            SafeG722DecoderHandle handle = g722_decode_init_new(0, G722Rate64000, G722Options16kHz);
            if (handle.IsInvalid)
            {
                handle.Dispose();
                throw new InvalidOperationException("g722_decode_init failed (out of memory?)");
            }

            return handle;
        }

        internal static SafeG722EncoderHandle CreateG722Encoder()
        {
            SafeG722EncoderHandle handle = g722_encode_init_new(0, G722Rate64000, G722Options16kHz);
            if (handle.IsInvalid)
            {
                handle.Dispose();
                throw new InvalidOperationException("g722_encode_init failed (out of memory?)");
            }

            return handle;
        }
    }
}
