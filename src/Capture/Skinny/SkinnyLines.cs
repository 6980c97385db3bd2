using System.Buffers;

namespace Capture.Skinny;

/// <summary>LineStatReq (0x000B), device to CallManager: which line's directory number it wants.</summary>
public readonly ref struct SkinnyLineStatReq
{
    public uint LineNumber { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyLineStatReq value, out SkinnyInvalidReason reason)
    {
        value = default;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.LineStatReq, 4, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyLineStatReq { LineNumber = SkinnyWire.U32(message.Body, 0) };
        return OperationStatus.Done;
    }
}

/// <summary>
/// A line's directory number and display names, CallManager to device. LineStatRes (0x0092): line number, directory
/// number (24, null-padded), fully qualified display name (40), text label (40), display options; legacy
/// CallManagers stop after the directory number (cm2_register.pcapng: 28 bytes). LineStatResV2 (0x0147, dynamic
/// messages): line number, line type, then the three strings null-terminated.
/// </summary>
public readonly ref struct SkinnyLineStatRes
{
    private const int DirNumberSize = 24;
    private const int NameSize = 40;
    private const int MinBody = 4 + DirNumberSize;
    private const int DynamicDirNumberSize = 25;
    private const int DynamicNameSize = 121;

    public uint LineNumber { get; private init; }

    /// <summary>The directory number (extension) exactly as sent; empty for a line button with no number.</summary>
    public ReadOnlySpan<byte> DirectoryNumber { get; private init; }

    /// <summary>The caller-id style name (e.g. the full E.164 number or "Alice Smith").</summary>
    public ReadOnlySpan<byte> FullyQualifiedDisplayName { get; private init; }

    /// <summary>The label shown beside the line button.</summary>
    public ReadOnlySpan<byte> TextLabel { get; private init; }

    public uint DisplayOptions { get; private init; }

    /// <summary>The display name to bind: the fully qualified name, else the text label (empty when neither).</summary>
    public ReadOnlySpan<byte> DisplayName => FullyQualifiedDisplayName.IsEmpty ? TextLabel : FullyQualifiedDisplayName;

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyLineStatRes value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (message.Id == SkinnyMessageId.LineStatResV2)
        {
            return TryReadDynamic(b, out value, out reason);
        }

        if (!SkinnyReaders.Check(message, SkinnyMessageId.LineStatRes, MinBody, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyLineStatRes
        {
            LineNumber = SkinnyWire.U32(b, 0),
            DirectoryNumber = SkinnyWire.Fixed(b, 4, DirNumberSize),
            FullyQualifiedDisplayName = SkinnyWire.Fixed(b, 28, NameSize),
            TextLabel = SkinnyWire.Fixed(b, 68, NameSize),
            DisplayOptions = SkinnyWire.U32OrZero(b, 108),
        };
        return OperationStatus.Done;
    }

    private static OperationStatus TryReadDynamic(ReadOnlySpan<byte> b, out SkinnyLineStatRes value, out SkinnyInvalidReason reason)
    {
        value = default;
        reason = SkinnyInvalidReason.None;
        if (b.Length < 8)
        {
            reason = SkinnyInvalidReason.BodyTooShort;
            return OperationStatus.InvalidData;
        }

        ReadOnlySpan<byte> rest = b[8..];
        if (!SkinnyWire.TryTerminated(ref rest, DynamicDirNumberSize, out ReadOnlySpan<byte> number)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNameSize, out ReadOnlySpan<byte> name)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNameSize, out ReadOnlySpan<byte> label))
        {
            reason = SkinnyInvalidReason.BadString;
            return OperationStatus.InvalidData;
        }

        value = new SkinnyLineStatRes { LineNumber = SkinnyWire.U32(b, 0), DirectoryNumber = number, FullyQualifiedDisplayName = name, TextLabel = label };
        return OperationStatus.Done;
    }
}

/// <summary>
/// ButtonTemplateRes (0x0097), CallManager to device: button offset, count in this message, total count, then one
/// (instance, type) byte pair per button. The line buttons tell the learner how many LineStatRes to expect.
/// </summary>
public readonly ref struct SkinnyButtonTemplate
{
    /// <summary>Button type of a line appearance.</summary>
    public const byte LineButton = 0x09;

    private const int MinBody = 12;

    public uint ButtonOffset { get; private init; }
    public uint ButtonCount { get; private init; }
    public uint TotalButtonCount { get; private init; }
    public ReadOnlySpan<byte> Definitions { get; private init; }

    /// <summary>Line buttons among the definitions present in this message.</summary>
    public int LineCount
    {
        get
        {
            int lines = 0;
            for (int i = 1; i < Definitions.Length; i += 2)
            {
                lines += Definitions[i] == LineButton ? 1 : 0;
            }

            return lines;
        }
    }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyButtonTemplate value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.ButtonTemplateRes, MinBody, out reason))
        {
            return OperationStatus.InvalidData;
        }

        uint count = SkinnyWire.U32(b, 4);
        int bytes = (int)Math.Min(count, (uint)(b.Length - MinBody) / 2) * 2;
        value = new SkinnyButtonTemplate
        {
            ButtonOffset = SkinnyWire.U32(b, 0),
            ButtonCount = count,
            TotalButtonCount = SkinnyWire.U32(b, 8),
            Definitions = b.Slice(MinBody, bytes),
        };
        return OperationStatus.Done;
    }
}
