namespace Capture.Bindings.Config;

/// <summary>A recording group: a call is recorded when its local party's device (or, cross-cluster, its
/// logged-in profile) is in a group whose <paramref name="Record"/> is true.</summary>
/// <param name="KeepDays">
/// How many days the group's recordings are kept (the appliance's retention deletes them after); 0 keeps them forever,
/// null uses the appliance's default (setting Retention:DefaultKeepDays). Kept here, beside what decides whether the
/// group records at all, so one edit of the group (PUT /api/recording-groups/{id}) says both.
/// </param>
public sealed record RecordingGroupConfig(string Id, bool Record = true, int? KeepDays = null);
