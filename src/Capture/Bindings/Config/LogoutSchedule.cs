using System.Text.Json.Serialization;

namespace Capture.Bindings.Config;

/// <summary>Log out every user in <see cref="Users"/> at <paramref name="At"/> (local time of
/// <see cref="DirectoryConfig.TimeZone"/>) on <see cref="Days"/>.</summary>
public sealed record LogoutSchedule([property: JsonRequired] TimeOnly At)
{
    private readonly IReadOnlyList<DayOfWeek> _days = EquatableList<DayOfWeek>.Empty;

    public UserScope Users { get; init; } = UserScope.All;

    /// <summary>The days it applies; empty means every day. JSON <c>"mon"</c> to <c>"sun"</c>.</summary>
    public IReadOnlyList<DayOfWeek> Days
    {
        get => _days;
        init => _days = EquatableList<DayOfWeek>.From(value);
    }
}
