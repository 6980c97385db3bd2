using System.Runtime.InteropServices;

namespace Capture.Interop;

internal static partial class Interop
{
    /// <summary>
    /// libopus 1.3 (opus.h, opus_multistream.h, opus_defines.h). The variadic *_ctl functions are bound as
    /// fixed-argument overloads (one int, or one int*): <c>__arglist</c> does not work on x64 Linux, while a
    /// fixed-argument call passes the same registers a variadic int argument would use.
    /// </summary>
    internal static unsafe partial class Opus
    {
        // opus_defines.h error codes.
        internal const int OPUS_OK = 0;
        internal const int OPUS_BAD_ARG = -1;
        internal const int OPUS_BUFFER_TOO_SMALL = -2;
        internal const int OPUS_INVALID_PACKET = -4;

        // opus_defines.h applications and signals.
        internal const int OPUS_APPLICATION_VOIP = 2048;
        internal const int OPUS_APPLICATION_AUDIO = 2049;
        internal const int OPUS_SIGNAL_VOICE = 3001;

        // opus_defines.h ctl requests.
        internal const int OPUS_SET_BITRATE_REQUEST = 4002;
        internal const int OPUS_GET_BITRATE_REQUEST = 4003;
        internal const int OPUS_SET_VBR_REQUEST = 4006;
        internal const int OPUS_SET_COMPLEXITY_REQUEST = 4010;
        internal const int OPUS_SET_INBAND_FEC_REQUEST = 4012;
        internal const int OPUS_SET_PACKET_LOSS_PERC_REQUEST = 4014;
        internal const int OPUS_GET_COMPLEXITY_REQUEST = 4011;
        internal const int OPUS_SET_SIGNAL_REQUEST = 4024;
        internal const int OPUS_GET_LOOKAHEAD_REQUEST = 4027;
        internal const int OPUS_RESET_STATE = 4028;
        internal const int OPUS_GET_SAMPLE_RATE_REQUEST = 4029;

        /// <summary>Largest packet libopus produces for one stream and one frame (RFC 6716: 1275 bytes per 20 ms frame, up to 3 frames).</summary>
        internal const int MaxPacketBytesPerStream = 4000;

        static Opus() => Libraries.EnsureResolver();

        // const char *opus_strerror(int error); a static string, never freed.
        [LibraryImport(Libraries.Opus, EntryPoint = "opus_strerror")]
        private static partial nint opus_strerror_native(int error);

        // const char *opus_get_version_string(void);
        [LibraryImport(Libraries.Opus, EntryPoint = "opus_get_version_string")]
        private static partial nint opus_get_version_string_native();

        internal static string StrError(int error) => Marshal.PtrToStringUTF8(opus_strerror_native(error)) ?? $"opus error {error}";

        internal static string VersionString() => Marshal.PtrToStringUTF8(opus_get_version_string_native()) ?? "libopus";

        // ---- Multistream encoder ----

        // OpusMSEncoder *opus_multistream_encoder_create(opus_int32 Fs, int channels, int streams, int coupled_streams,
        //     const unsigned char *mapping, int application, int *error);
        [LibraryImport(Libraries.Opus)]
        internal static partial SafeOpusMultistreamEncoderHandle opus_multistream_encoder_create(
            int Fs, int channels, int streams, int coupled_streams, byte* mapping, int application, int* error);

        // void opus_multistream_encoder_destroy(OpusMSEncoder *st);
        [LibraryImport(Libraries.Opus)]
        internal static partial void opus_multistream_encoder_destroy(nint st);

        // int opus_multistream_encode(OpusMSEncoder *st, const opus_int16 *pcm, int frame_size,
        //     unsigned char *data, opus_int32 max_data_bytes);  pcm interleaved, frame_size per channel.
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_multistream_encode(
            SafeOpusMultistreamEncoderHandle st, short* pcm, int frame_size, byte* data, int max_data_bytes);

        // int opus_multistream_encoder_ctl(OpusMSEncoder *st, int request, ...);
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_multistream_encoder_ctl(SafeOpusMultistreamEncoderHandle st, int request, int value);

        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_multistream_encoder_ctl(SafeOpusMultistreamEncoderHandle st, int request, int* value);

        // ---- Single-stream decoder ----

        // OpusDecoder *opus_decoder_create(opus_int32 Fs, int channels, int *error);
        [LibraryImport(Libraries.Opus)]
        internal static partial SafeOpusDecoderHandle opus_decoder_create(int Fs, int channels, int* error);

        // void opus_decoder_destroy(OpusDecoder *st);
        [LibraryImport(Libraries.Opus)]
        internal static partial void opus_decoder_destroy(nint st);

        // int opus_decode(OpusDecoder *st, const unsigned char *data, opus_int32 len, opus_int16 *pcm, int frame_size, int decode_fec);
        // data == NULL asks for packet-loss concealment of frame_size samples (a multiple of 2.5 ms).
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_decode(SafeOpusDecoderHandle st, byte* data, int len, short* pcm, int frame_size, int decode_fec);

        // int opus_decoder_ctl(OpusDecoder *st, int request, ...);
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_decoder_ctl(SafeOpusDecoderHandle st, int request);

        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_decoder_ctl(SafeOpusDecoderHandle st, int request, int value);

        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_decoder_ctl(SafeOpusDecoderHandle st, int request, int* value);

        // ---- Single-stream encoder (tests and benchmarks produce Opus RTP payloads with it) ----

        // OpusEncoder *opus_encoder_create(opus_int32 Fs, int channels, int application, int *error);
        [LibraryImport(Libraries.Opus)]
        internal static partial SafeOpusEncoderHandle opus_encoder_create(int Fs, int channels, int application, int* error);

        // void opus_encoder_destroy(OpusEncoder *st);
        [LibraryImport(Libraries.Opus)]
        internal static partial void opus_encoder_destroy(nint st);

        // opus_int32 opus_encode(OpusEncoder *st, const opus_int16 *pcm, int frame_size, unsigned char *data, opus_int32 max_data_bytes);
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_encode(SafeOpusEncoderHandle st, short* pcm, int frame_size, byte* data, int max_data_bytes);

        // int opus_encoder_ctl(OpusEncoder *st, int request, ...);
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_encoder_ctl(SafeOpusEncoderHandle st, int request, int value);

        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_encoder_ctl(SafeOpusEncoderHandle st, int request, int* value);

        // int opus_packet_get_nb_samples(const unsigned char packet[], opus_int32 len, opus_int32 Fs);
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_packet_get_nb_samples(byte* packet, int len, int Fs);

        // int opus_packet_parse(const unsigned char *data, opus_int32 len, unsigned char *out_toc,
        //     const unsigned char *frames[48], opus_int16 size[48], int *payload_offset);  returns the frame count or an error.
        [LibraryImport(Libraries.Opus)]
        internal static partial int opus_packet_parse(byte* data, int len, byte* out_toc, byte** frames, short* size, int* payload_offset);

        /// <summary>Creates a multistream encoder or throws <see cref="Capture.Recording.OpusException"/> with libopus' text.</summary>
        internal static SafeOpusMultistreamEncoderHandle CreateMultistreamEncoder(int sampleRate, int channels, int streams, int coupledStreams, ReadOnlySpan<byte> mapping, int application)
        {
            int error;
            SafeOpusMultistreamEncoderHandle handle;
            fixed (byte* map = mapping)
            {
                handle = opus_multistream_encoder_create(sampleRate, channels, streams, coupledStreams, map, application, &error);
            }

            if (error != OPUS_OK || handle.IsInvalid)
            {
                handle.Dispose();
                Capture.Recording.OpusException.Throw("opus_multistream_encoder_create", error);
            }

            return handle;
        }

        internal static SafeOpusDecoderHandle CreateDecoder(int sampleRate, int channels)
        {
            int error;
            SafeOpusDecoderHandle handle = opus_decoder_create(sampleRate, channels, &error);
            if (error != OPUS_OK || handle.IsInvalid)
            {
                handle.Dispose();
                Capture.Recording.OpusException.Throw("opus_decoder_create", error);
            }

            return handle;
        }

        internal static SafeOpusEncoderHandle CreateEncoder(int sampleRate, int channels, int application)
        {
            int error;
            SafeOpusEncoderHandle handle = opus_encoder_create(sampleRate, channels, application, &error);
            if (error != OPUS_OK || handle.IsInvalid)
            {
                handle.Dispose();
                Capture.Recording.OpusException.Throw("opus_encoder_create", error);
            }

            return handle;
        }

        // Settings and queries of both encoder kinds; a refusal is a configuration error, so it throws with libopus' text.
        internal static void Set(SafeOpusEncoderHandle st, int request, int value, string what) => Check(opus_encoder_ctl(st, request, value), what);

        internal static void Set(SafeOpusMultistreamEncoderHandle st, int request, int value, string what) => Check(opus_multistream_encoder_ctl(st, request, value), what);

        internal static int Get(SafeOpusEncoderHandle st, int request, string what)
        {
            int value;
            Check(opus_encoder_ctl(st, request, &value), what);
            return value;
        }

        internal static int Get(SafeOpusMultistreamEncoderHandle st, int request, string what)
        {
            int value;
            Check(opus_multistream_encoder_ctl(st, request, &value), what);
            return value;
        }

        private static void Check(int rc, string what)
        {
            if (rc != OPUS_OK)
            {
                Capture.Recording.OpusException.Throw(what, rc);
            }
        }
    }
}
