namespace Capture.Skinny;

/// <summary>
/// The u32 after the length: which message layouts the sender uses. Only the values seen in real traffic are
/// accepted; anything else means the stream is not Skinny or is desynchronised.
/// </summary>
public static class SkinnyHeaderVersion
{
    /// <summary>Basic / legacy: fixed-size strings, IPv4 addresses in 4 bytes.</summary>
    public const uint Basic = 0x00;

    /// <summary>V17: addresses become an address type (0 = IPv4, 1 = IPv6) plus 16 bytes.</summary>
    public const uint V17 = 0x11;

    /// <summary>V18 ('V18' in Wireshark): directory numbers grow to 25 bytes in some messages.</summary>
    public const uint V18 = 0x12;

    /// <summary>V20.</summary>
    public const uint V20 = 0x14;

    /// <summary>
    /// V22: sent by 7970/8945-class phones (chan-sccp's protocol dumps); the messages we read keep their V20 layouts,
    /// except ConnectionStatisticsRes, which is packed differently and is not read from V22 headers.
    /// </summary>
    public const uint V22 = 0x16;

    public static bool IsValid(uint version) => version is Basic or V17 or V18 or V20 or V22;

    /// <summary>Whether addresses are the IPv4/IPv6 union (type + 16 bytes) rather than 4 bytes.</summary>
    public static bool HasIpv46Addresses(uint version) => version >= V17;
}
