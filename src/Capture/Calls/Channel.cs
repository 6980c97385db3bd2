namespace Capture.Calls;

/// <summary>Which party of a call: the side of the stereo file its audio goes to.</summary>
public enum Channel : byte
{
    /// <summary>The local party (both or neither local: the caller).</summary>
    Left = 0,

    /// <summary>The remote party.</summary>
    Right = 1,
}

public static class Channels
{
    public static Channel Other(this Channel channel) => channel == Channel.Left ? Channel.Right : Channel.Left;
}
