using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;

namespace Appliance.Endpoints;

/// <summary>
/// The API's JSON: camelCase properties, enums as kebab-case words (<c>"cross-cluster"</c>, <c>"login-established"</c>,
/// the style of the sidecar's values), source-generated so minimal APIs need no reflection.
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    Converters = [
        typeof(KebabEnumConverter<DeviceProtocol>),
        typeof(KebabEnumConverter<LineSource>),
        typeof(KebabEnumConverter<LoginKind>),
        typeof(KebabEnumConverter<DirectoryEventKind>),
        typeof(KebabEnumConverter<UserScope>),
        typeof(KebabEnumConverter<ServerEvidence>),
        typeof(KebabEnumConverter<ApiRole>)])]
[JsonSerializable(typeof(DeviceView))]
[JsonSerializable(typeof(IReadOnlyList<DeviceView>))]
[JsonSerializable(typeof(DeviceConfig))]
[JsonSerializable(typeof(UserView))]
[JsonSerializable(typeof(IReadOnlyList<UserView>))]
[JsonSerializable(typeof(ProfileConfig))]
[JsonSerializable(typeof(IReadOnlyList<ProfileConfig>))]
[JsonSerializable(typeof(RecordingGroupConfig))]
[JsonSerializable(typeof(IReadOnlyList<RecordingGroupConfig>))]
[JsonSerializable(typeof(LoginEntry))]
[JsonSerializable(typeof(IReadOnlyList<LoginEntry>))]
[JsonSerializable(typeof(IReadOnlyList<ServerBinding>))]
[JsonSerializable(typeof(LineConflict))]
[JsonSerializable(typeof(IReadOnlyList<LineConflict>))]
[JsonSerializable(typeof(Location))]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(LogoutAllRequest))]
[JsonSerializable(typeof(LogoutAllResult))]
[JsonSerializable(typeof(CallView))]
[JsonSerializable(typeof(IReadOnlyList<CallView>))]
[JsonSerializable(typeof(RecordingSummary))]
[JsonSerializable(typeof(RecordingList))]
[JsonSerializable(typeof(CallEventView))]
[JsonSerializable(typeof(DirectoryEvent))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(UserConfigBody))]
[JsonSerializable(typeof(IReadOnlyList<DirectoryEvent>))]
[JsonSerializable(typeof(StoredToken[]))]
[JsonSerializable(typeof(IReadOnlyList<TokenView>))]
[JsonSerializable(typeof(TokenRequest))]
[JsonSerializable(typeof(CreatedToken))]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(AuditPage))]
[JsonSerializable(typeof(SessionRequest))]
[JsonSerializable(typeof(SessionView))]
[JsonSerializable(typeof(HealthView))]
[JsonSerializable(typeof(RecordingCatalog.HoldMarker))]
internal sealed partial class ApiJsonContext : JsonSerializerContext
{
    /// <summary>Makes <paramref name="options"/> (ASP.NET Core's, for bodies and results) write what this context writes.</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.TypeInfoResolverChain.Insert(0, Default);
        // ASP.NET Core's web default is UnsafeRelaxedJsonEscaping: wire text such as a display name "<script>..." would
        // leave as is. Escaped, it cannot become markup in whatever page shows the JSON carelessly.
        options.Encoder = JavaScriptEncoder.Default;
        options.AllowDuplicateProperties = false; // {"user": "alice", "user": "bob"} is bad JSON (400), not silently bob
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow; // a misspelt property is a 400, as in the configuration
        options.Converters.Add(new KebabEnumConverter<DeviceProtocol>());
        options.Converters.Add(new KebabEnumConverter<LineSource>());
        options.Converters.Add(new KebabEnumConverter<LoginKind>());
        options.Converters.Add(new KebabEnumConverter<DirectoryEventKind>());
        options.Converters.Add(new KebabEnumConverter<UserScope>());
        options.Converters.Add(new KebabEnumConverter<ServerEvidence>());
        options.Converters.Add(new KebabEnumConverter<ApiRole>());
    }
}

/// <summary>An enum as its kebab-case name (<c>CrossCluster</c> is <c>"cross-cluster"</c>); numbers refused.</summary>
internal sealed class KebabEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false)
    where T : struct, Enum;
