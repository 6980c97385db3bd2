using System.Buffers;

namespace Capture.Skinny;

/// <summary>CallInfo's callType: which side of the call the device's own line is.</summary>
public enum SkinnyCallType : uint
{
    /// <summary>Not sent (the legacy CallInfo ends after the called party).</summary>
    Unknown = 0,

    /// <summary>The device is called: its line is the called party.</summary>
    Inbound = 1,

    /// <summary>The device calls: its line is the calling party.</summary>
    Outbound = 2,

    /// <summary>The call is forwarded by the device's line.</summary>
    Forward = 3,
}

/// <summary>
/// Calling and called party of a call on a line, CallManager to device. One reader for both forms:
/// CallInfo (0x008F, fixed-size null-padded fields: calling name 40, calling number 24, called name 40, called number
/// 24, then line instance, call reference, call type, original called name/number, last redirecting name/number...;
/// the legacy CallManager of cm2_register.pcapng stops after the called number, with uninitialised bytes after each
/// NUL) and CallInfoV2 (0x014A, dynamic: eight u32 - line instance, call reference, call type, redirect reasons,
/// call instance, security status, restriction bits - then null-terminated strings: calling, alternate calling,
/// called, original called, last redirecting, four voice-mail boxes, calling name, called name, original called
/// name, last redirecting name, hunt pilot number and name; trailing strings may be left out).
/// </summary>
public readonly ref struct SkinnyCallInfo
{
    private const int NumberSize = 24;
    private const int NameSize = 40;
    private const int LegacyBody = NameSize + NumberSize + NameSize + NumberSize;   // 128
    private const int BodyWithCall = LegacyBody + 12;                                // line, call reference, call type
    private const int DynamicFixed = 32;
    private const int DynamicNumberSize = 25;
    private const int DynamicNameSize = 121;

    /// <summary>Read from CallInfoV2 (0x014A).</summary>
    public bool IsV2 { get; private init; }

    /// <summary>Line instance, call reference and call type were present (all but the legacy layout).</summary>
    public bool HasCallReference { get; private init; }

    public uint LineInstance { get; private init; }
    public uint CallReference { get; private init; }
    public SkinnyCallType CallType { get; private init; }

    public ReadOnlySpan<byte> CallingParty { get; private init; }
    public ReadOnlySpan<byte> CallingPartyName { get; private init; }
    public ReadOnlySpan<byte> CalledParty { get; private init; }
    public ReadOnlySpan<byte> CalledPartyName { get; private init; }
    public ReadOnlySpan<byte> OriginalCalledParty { get; private init; }
    public ReadOnlySpan<byte> OriginalCalledPartyName { get; private init; }
    public ReadOnlySpan<byte> LastRedirectingParty { get; private init; }
    public ReadOnlySpan<byte> LastRedirectingPartyName { get; private init; }

    /// <summary>The device's own number on this call: calling party when outbound, called party when inbound; else empty.</summary>
    public ReadOnlySpan<byte> LocalNumber => CallType switch
    {
        SkinnyCallType.Outbound => CallingParty,
        SkinnyCallType.Inbound => CalledParty,
        _ => default,
    };

    /// <summary>The name that goes with <see cref="LocalNumber"/>.</summary>
    public ReadOnlySpan<byte> LocalName => CallType switch
    {
        SkinnyCallType.Outbound => CallingPartyName,
        SkinnyCallType.Inbound => CalledPartyName,
        _ => default,
    };

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyCallInfo value, out SkinnyInvalidReason reason)
    {
        if (message.Id == SkinnyMessageId.CallInfoV2)
        {
            return TryReadDynamic(message.Body, out value, out reason);
        }

        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.CallInfo, LegacyBody, out reason))
        {
            return OperationStatus.InvalidData;
        }

        bool hasCall = b.Length >= BodyWithCall;
        value = new SkinnyCallInfo
        {
            CallingPartyName = SkinnyWire.Fixed(b, 0, NameSize),
            CallingParty = SkinnyWire.Fixed(b, 40, NumberSize),
            CalledPartyName = SkinnyWire.Fixed(b, 64, NameSize),
            CalledParty = SkinnyWire.Fixed(b, 104, NumberSize),
            HasCallReference = hasCall,
            LineInstance = SkinnyWire.U32OrZero(b, 128),
            CallReference = SkinnyWire.U32OrZero(b, 132),
            CallType = (SkinnyCallType)SkinnyWire.U32OrZero(b, 136),
            OriginalCalledPartyName = SkinnyWire.Fixed(b, 140, NameSize),
            OriginalCalledParty = SkinnyWire.Fixed(b, 180, NumberSize),
            LastRedirectingPartyName = SkinnyWire.Fixed(b, 204, NameSize),
            LastRedirectingParty = SkinnyWire.Fixed(b, 244, NumberSize),
        };
        return OperationStatus.Done;
    }

    private static OperationStatus TryReadDynamic(ReadOnlySpan<byte> b, out SkinnyCallInfo value, out SkinnyInvalidReason reason)
    {
        value = default;
        reason = SkinnyInvalidReason.None;
        if (b.Length < DynamicFixed)
        {
            reason = SkinnyInvalidReason.BodyTooShort;
            return OperationStatus.InvalidData;
        }

        ReadOnlySpan<byte> rest = b[DynamicFixed..];
        if (!SkinnyWire.TryTerminated(ref rest, DynamicNumberSize, out ReadOnlySpan<byte> calling)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNumberSize, out _) // alternate calling party
            || !SkinnyWire.TryTerminated(ref rest, DynamicNumberSize, out ReadOnlySpan<byte> called)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNumberSize, out ReadOnlySpan<byte> originalCalled)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNumberSize, out ReadOnlySpan<byte> lastRedirecting)
            || !SkipTerminated(ref rest, DynamicNumberSize, 4) // calling, called, original called, last redirecting voice-mail boxes
            || !SkinnyWire.TryTerminated(ref rest, DynamicNameSize, out ReadOnlySpan<byte> callingName)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNameSize, out ReadOnlySpan<byte> calledName)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNameSize, out ReadOnlySpan<byte> originalCalledName)
            || !SkinnyWire.TryTerminated(ref rest, DynamicNameSize, out ReadOnlySpan<byte> lastRedirectingName))
        {
            reason = SkinnyInvalidReason.BadString;
            return OperationStatus.InvalidData;
        }

        value = new SkinnyCallInfo
        {
            IsV2 = true,
            HasCallReference = true,
            LineInstance = SkinnyWire.U32(b, 0),
            CallReference = SkinnyWire.U32(b, 4),
            CallType = (SkinnyCallType)SkinnyWire.U32(b, 8),
            CallingParty = calling,
            CalledParty = called,
            OriginalCalledParty = originalCalled,
            LastRedirectingParty = lastRedirecting,
            CallingPartyName = callingName,
            CalledPartyName = calledName,
            OriginalCalledPartyName = originalCalledName,
            LastRedirectingPartyName = lastRedirectingName,
        };
        return OperationStatus.Done;
    }

    private static bool SkipTerminated(scoped ref ReadOnlySpan<byte> rest, int maxSize, int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (!SkinnyWire.TryTerminated(ref rest, maxSize, out _))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>CallState values (Wireshark's DCallState).</summary>
public enum SkinnyCallStateKind : uint
{
    Idle = 0,
    OffHook = 1,
    OnHook = 2,
    RingOut = 3,
    RingIn = 4,
    Connected = 5,
    Busy = 6,
    Congestion = 7,
    Hold = 8,
    CallWaiting = 9,
    CallTransfer = 10,
    CallPark = 11,
    Proceed = 12,
    CallRemoteMultiline = 13,
    InvalidNumber = 14,
    HoldRevert = 15,
    Whisper = 16,
    RemoteHold = 17,
}

/// <summary>CallState (0x0111), CallManager to device: state, line instance, call reference; then privacy and precedence.</summary>
public readonly ref struct SkinnyCallState
{
    public SkinnyCallStateKind State { get; private init; }
    public uint LineInstance { get; private init; }
    public uint CallReference { get; private init; }
    public uint Privacy { get; private init; }
    public uint PrecedenceLevel { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyCallState value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.CallState, 12, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyCallState
        {
            State = (SkinnyCallStateKind)SkinnyWire.U32(b, 0),
            LineInstance = SkinnyWire.U32(b, 4),
            CallReference = SkinnyWire.U32(b, 8),
            Privacy = SkinnyWire.U32OrZero(b, 12),
            PrecedenceLevel = SkinnyWire.U32OrZero(b, 16),
        };
        return OperationStatus.Done;
    }
}

/// <summary>Soft key event ids of SoftKeyEvent (Wireshark's SoftKeyEvents).</summary>
public static class SkinnySoftKeyEvents
{
    public const uint Redial = 0x01;
    public const uint NewCall = 0x02;
    public const uint Hold = 0x03;
    public const uint Transfer = 0x04;
    public const uint ForwardAll = 0x05;
    public const uint ForwardBusy = 0x06;
    public const uint ForwardNoAnswer = 0x07;
    public const uint Backspace = 0x08;
    public const uint EndCall = 0x09;
    public const uint Resume = 0x0A;
    public const uint Answer = 0x0B;
    public const uint Info = 0x0C;
    public const uint Conference = 0x0D;
    public const uint Park = 0x0E;
    public const uint Join = 0x0F;
    public const uint MeetMe = 0x10;
    public const uint Pickup = 0x11;
    public const uint GroupPickup = 0x12;
}

/// <summary>SoftKeyEvent (0x0026), device to CallManager: event (see <see cref="SkinnySoftKeyEvents"/>), line instance, call reference.</summary>
public readonly ref struct SkinnySoftKeyEvent
{
    public uint Event { get; private init; }
    public uint LineInstance { get; private init; }
    public uint CallReference { get; private init; }

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnySoftKeyEvent value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.SoftKeyEvent, 4, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnySoftKeyEvent { Event = SkinnyWire.U32(b, 0), LineInstance = SkinnyWire.U32OrZero(b, 4), CallReference = SkinnyWire.U32OrZero(b, 8) };
        return OperationStatus.Done;
    }
}

/// <summary>KeypadButton (0x0003), device to CallManager: the key, then (newer versions) line instance and call reference.</summary>
public readonly ref struct SkinnyKeypadButton
{
    public uint Button { get; private init; }
    public uint LineInstance { get; private init; }
    public uint CallReference { get; private init; }

    /// <summary>The DTMF character: 0-9, A-D, * (0x0E), # (0x0F); '\0' for other keys.</summary>
    public char Digit => Button switch
    {
        <= 9 => (char)('0' + Button),
        >= 0x0A and <= 0x0D => (char)('A' + (Button - 0x0A)),
        0x0E => '*',
        0x0F => '#',
        _ => '\0',
    };

    public static OperationStatus TryRead(in SkinnyMessage message, out SkinnyKeypadButton value, out SkinnyInvalidReason reason)
    {
        value = default;
        ReadOnlySpan<byte> b = message.Body;
        if (!SkinnyReaders.Check(message, SkinnyMessageId.KeypadButton, 4, out reason))
        {
            return OperationStatus.InvalidData;
        }

        value = new SkinnyKeypadButton { Button = SkinnyWire.U32(b, 0), LineInstance = SkinnyWire.U32OrZero(b, 4), CallReference = SkinnyWire.U32OrZero(b, 8) };
        return OperationStatus.Done;
    }
}
