namespace Capture.Bindings.Config;

/// <summary>Which users a scheduled logout applies to (JSON <c>"all"</c> / <c>"internal"</c> / <c>"external"</c>).</summary>
public enum UserScope
{
    All,

    /// <summary>Users not marked <see cref="UserConfig.External"/>.</summary>
    Internal,

    /// <summary>Users marked <see cref="UserConfig.External"/>.</summary>
    External,
}
