namespace Capture.Skinny;

/// <summary>Skinny device types (Register's deviceType) the learner treats specially.</summary>
public static class SkinnyDeviceTypes
{
    public const uint ConferenceBridge = 50;
    public const uint ConferenceBridgeDixieLand = 52;
    public const uint MusicOnHold = 70;
    public const uint MediaTerminationPoint = 110;

    /// <summary>
    /// Devices that register with a CallManager but are not phones and have no extensions of their own: digital
    /// access gateways (40-47), conference bridges (50-53, 85), H.225/H.323 (60, 62), music on hold (70),
    /// annunciators and software MTPs (82-84, 126), route lists (90), load simulators (100), MTPs and transcoders
    /// (110-113), MGCP trunks and RAS proxies (121, 122), trunks (125, 131), monitor bridges and recorders (127-129).
    /// Analog access (30) is not here: gateway ports carry real phone lines.
    /// </summary>
    public static bool IsMediaResource(uint deviceType) => deviceType switch
    {
        >= 40 and <= 53 => true,
        60 or 62 or 70 or (>= 82 and <= 85) or 90 or 100 => true,
        (>= 110 and <= 113) or 121 or 122 or (>= 125 and <= 129) or 131 => true,
        _ => false,
    };
}
