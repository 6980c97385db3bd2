namespace Capture.Skinny;

/// <summary>Why Skinny input was rejected; the pipeline counts these per worker (index into a counter array).</summary>
public enum SkinnyInvalidReason : byte
{
    None,

    /// <summary>The length field is below 4 (no room for the message id) or above <see cref="SkinnyFramer.MaxDataLength"/>: the stream is desynchronised.</summary>
    BadLength,

    /// <summary>A header version other than 0, 0x11, 0x12, 0x14 or 0x16.</summary>
    BadHeaderVersion,

    /// <summary>The body is shorter than the fields the message's layout requires.</summary>
    BodyTooShort,

    /// <summary>An IPv4/IPv6 address-type field holding neither.</summary>
    BadAddressType,

    /// <summary>A value out of its range (a port above 65535, an empty device name).</summary>
    BadValue,

    /// <summary>A variable-length string longer than its maximum without a terminator.</summary>
    BadString,

    /// <summary>A reader was handed a message with another id (a caller's mistake, reported rather than thrown).</summary>
    WrongMessage,

    /// <summary>Number of reasons; size of the counters array.</summary>
    Count,
}
