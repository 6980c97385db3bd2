namespace Capture.Bindings.Config;

/// <summary>A person who may be logged in to devices (through a profile or the API).</summary>
public sealed record UserConfig(string Id)
{
    public string? Name { get; init; }

    /// <summary>0 to 8 decimal digits an API login must present; null when the user has no PIN.</summary>
    public string? Pin { get; init; }

    /// <summary>Marks the user for scheduled logouts scoped to <see cref="UserScope.External"/>.</summary>
    public bool External { get; init; }

    /// <summary>The id of a <see cref="RecordingGroupConfig"/>.</summary>
    public string? RecordingGroup { get; init; }

    // A PIN never appears in logs or exception messages.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Id = ").Append(Id)
            .Append(", Name = ").Append(Name)
            .Append(", Pin = ").Append(Pin is null ? "(none)" : "***")
            .Append(", External = ").Append(External)
            .Append(", RecordingGroup = ").Append(RecordingGroup);
        return true;
    }
}
