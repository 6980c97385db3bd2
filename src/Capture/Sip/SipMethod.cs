namespace Capture.Sip;

/// <summary>SIP request methods the recorder tells apart; anything else is <see cref="Unknown"/> (its name stays available).</summary>
public enum SipMethod : byte
{
    Unknown,
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Update,
    Prack,
    Info,
    Refer,
    Notify,
    Subscribe,
    Message,
    Publish,
}

public static class SipMethods
{
    /// <summary>Maps a method token to <see cref="SipMethod"/>. Method names are case-sensitive (RFC 3261 7.1).</summary>
    public static SipMethod Parse(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 when name.SequenceEqual("ACK"u8) => SipMethod.Ack,
        3 when name.SequenceEqual("BYE"u8) => SipMethod.Bye,
        4 when name.SequenceEqual("INFO"u8) => SipMethod.Info,
        5 when name.SequenceEqual("PRACK"u8) => SipMethod.Prack,
        5 when name.SequenceEqual("REFER"u8) => SipMethod.Refer,
        6 when name.SequenceEqual("INVITE"u8) => SipMethod.Invite,
        6 when name.SequenceEqual("CANCEL"u8) => SipMethod.Cancel,
        6 when name.SequenceEqual("UPDATE"u8) => SipMethod.Update,
        6 when name.SequenceEqual("NOTIFY"u8) => SipMethod.Notify,
        7 when name.SequenceEqual("OPTIONS"u8) => SipMethod.Options,
        7 when name.SequenceEqual("MESSAGE"u8) => SipMethod.Message,
        7 when name.SequenceEqual("PUBLISH"u8) => SipMethod.Publish,
        8 when name.SequenceEqual("REGISTER"u8) => SipMethod.Register,
        9 when name.SequenceEqual("SUBSCRIBE"u8) => SipMethod.Subscribe,
        _ => SipMethod.Unknown,
    };
}
