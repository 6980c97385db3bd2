namespace Capture.Bindings.Config;

/// <summary>
/// An extension-mobility user profile of <paramref name="User"/> (a user id). A device whose extension set
/// becomes exactly <see cref="Extensions"/> has this profile's user logged in.
/// </summary>
public sealed record ProfileConfig(string Id, string User)
{
    private readonly IReadOnlyList<string> _extensions = EquatableList<string>.Empty;

    /// <summary>The profile's extensions, exact strings; as a set they identify the profile.</summary>
    public IReadOnlyList<string> Extensions
    {
        get => _extensions;
        init => _extensions = EquatableList<string>.From(value);
    }

    /// <summary>The id of a <see cref="RecordingGroupConfig"/>; decides recording for a cross-cluster visitor.</summary>
    public string? RecordingGroup { get; init; }

    /// <summary>The profile may log in to a device this configuration does not know (EMCC phantom device).</summary>
    public bool CrossCluster { get; init; }
}
