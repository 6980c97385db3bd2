namespace Capture.Packets;

/// <summary>Converts capture timestamps (ns since the Unix epoch) for metadata.</summary>
public static class CaptureTime
{
    public static DateTimeOffset ToDateTime(long unixNs) => DateTimeOffset.UnixEpoch.AddTicks(unixNs / 100);
}
