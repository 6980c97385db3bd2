using System.Diagnostics.CodeAnalysis;
using Capture.Interop;

namespace Capture.Recording;

/// <summary>libopus refused to create or configure a codec; <see cref="ErrorCode"/> is the OPUS_* code and the message libopus' own text.</summary>
public sealed class OpusException : Exception
{
    public OpusException() { }

    public OpusException(string message) : base(message) { }

    public OpusException(string message, Exception innerException) : base(message, innerException) { }

    public OpusException(string operation, int errorCode)
        : base($"{operation} failed: {Interop.Interop.Opus.StrError(errorCode)} ({errorCode})") => ErrorCode = errorCode;

    /// <summary>The negative OPUS_* error code (e.g. -1 OPUS_BAD_ARG).</summary>
    public int ErrorCode { get; }

    [DoesNotReturn]
    internal static void Throw(string operation, int errorCode) => throw new OpusException(operation, errorCode);
}
