namespace Capture.Bindings.Config;

/// <summary>Where a <see cref="LicenseMonitor"/> stands.</summary>
public enum LicenseStatus
{
    /// <summary>No valid license has been read since start: no new users.</summary>
    NoValidLicense,

    /// <summary>The last check found a valid license; its seats are in force.</summary>
    Valid,

    /// <summary>The last check failed (file unreadable or invalid): the seats of the last valid license stay in force.</summary>
    KeepingLastValid,
}
