namespace Capture.Bindings.Config;

/// <summary>A recording group: a call is recorded when its local party's device (or, cross-cluster, its
/// logged-in profile) is in a group whose <paramref name="Record"/> is true.</summary>
public sealed record RecordingGroupConfig(string Id, bool Record = true);
