using System.Text.Json.Serialization;

namespace Capture.Bindings;

/// <summary>JSON of the records the directory keeps in its store.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, WriteIndented = false)]
[JsonSerializable(typeof(StoredDevice))]
[JsonSerializable(typeof(LoginEntry))]
[JsonSerializable(typeof(LineConflict))]
internal sealed partial class DirectoryJsonContext : JsonSerializerContext;
