using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Appliance.Service;
using Capture.Bindings;
using Capture.Bindings.Config;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Appliance.Endpoints;

/// <summary>
/// Edits the directory's configuration for the API: one edit at a time, each building a whole new
/// <see cref="DirectoryConfig"/> that is validated, written atomically to the configuration file (the settings'
/// DirectoryConfig, else &lt;State&gt;/directory.json, which `appliance run` loads at start), then applied.
/// </summary>
/// <remarks>
/// Edits go through the configuration's JSON so that a body is read exactly as the file is (unknown properties, wrong
/// kinds and every rule reported with its location). A problem the item has on its own is the client's (400); a
/// problem only with the rest of the directory (a profile set equal to another's, a line 1 another device has, a user
/// still referenced) is a conflict (409). PINs are write-only: a user sent without "pin" keeps the PIN it has.
/// </remarks>
internal sealed partial class DirectoryEditor(ApplianceRuntime runtime, ILogger<DirectoryEditor> log) : IDisposable
{
    public const string Devices = "devices";
    public const string Users = "users";
    public const string Profiles = "profiles";
    public const string RecordingGroups = "recordingGroups";

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 32,
        AllowDuplicateProperties = false, // {"a":1,"a":2} is refused as bad JSON (400), not left to fail later (it was a 500)
    };

    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Where edits are saved (and read from at the next start).</summary>
    public string ConfigPath { get; } = Path.GetFullPath(
        runtime.Settings.DirectoryConfig ?? Path.Combine(runtime.Settings.State, CaptureService.StateConfigFile));

    /// <summary>What an edit did: a problem to answer with, or whether it created the item.</summary>
    public readonly record struct EditResult(IResult? Problem, bool Created, DirectoryConfig? Config);

    /// <summary>Reads a request body as a JSON object, or says why it is not one (400).</summary>
    public static async Task<(JsonObject? Body, IResult? Problem)> ReadObjectAsync(HttpRequest request, CancellationToken ct)
    {
        // Read whole (the request size limit bounds it) so that invalid UTF-8 is refused as such: the parser would
        // turn it into U+FFFD in a value and fail with an InvalidOperationException (a 500) in a property name.
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        ReadOnlySpan<byte> bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (!Utf8.IsValid(bytes))
        {
            return (null, ApiProblems.BadRequest("The body is not valid UTF-8."));
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(bytes, documentOptions: s_documentOptions);
        }
        catch (JsonException ex)
        {
            string where = ex.LineNumber is { } line ? $" at line {line + 1}, position {ex.BytePositionInLine + 1}" : "";
            return (null, ApiProblems.BadRequest($"The body is not valid JSON{where}."));
        }

        return node is JsonObject o ? (o, null) : (null, ApiProblems.BadRequest("The body must be a JSON object ({ ... })."));
    }

    /// <summary>The configuration as JSON, PINs left out; and its entity tag.</summary>
    public (JsonObject Json, string ETag) Current(BindingDirectory directory)
    {
        DirectoryConfig config = directory.Config;
        JsonObject json = ToObject(config);
        if (json[Users] is JsonArray users)
        {
            foreach (JsonObject user in users.OfType<JsonObject>())
            {
                user.Remove("pin");
            }
        }

        return (json, ETagOf(config));
    }

    public static string ETagOf(DirectoryConfig config) =>
        "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(config.ToJson())).AsSpan(0, 12)) + "\"";

    /// <summary>Creates or replaces the item <paramref name="id"/> of <paramref name="list"/> with <paramref name="body"/>.</summary>
    public async Task<EditResult> PutAsync(BindingDirectory directory, string list, string id, JsonObject body, CancellationToken ct)
    {
        if (body["id"] is { } given && (given.GetValueKind() != JsonValueKind.String || given.GetValue<string>() != id))
        {
            return new(ApiProblems.Invalid("id", $"the body's id {given.ToJsonString()} differs from the id in the URL ('{id}'); leave it out or make them equal."), false, null);
        }

        await _gate.WaitAsync(ct);
        try
        {
            JsonObject current = ToObject(directory.Config);
            JsonArray items = ListOf(current, list);
            int index = IndexOf(items, id);

            // The id first, as a person would write it.
            var item = new JsonObject { ["id"] = id };
            foreach ((string name, JsonNode? value) in body)
            {
                if (name != "id" && !(list == Users && UserView.ReadOnlyProperties.Contains(name)))
                {
                    item[name] = value?.DeepClone();
                }
            }

            if (list == Users && !item.ContainsKey("pin") && index >= 0 && items[index]?["pin"] is { } pin)
            {
                item["pin"] = pin.DeepClone(); // write-only: not sent means unchanged
            }

            // The item on its own, with the lists it may refer to: its own problems are the client's.
            var alone = new JsonObject();
            if (list != RecordingGroups)
            {
                alone[RecordingGroups] = current[RecordingGroups]?.DeepClone();
            }

            if (list is Devices or Profiles)
            {
                alone[Users] = current[Users]?.DeepClone();
            }

            alone[list] = new JsonArray(item.DeepClone());
            try
            {
                DirectoryConfig.Parse(alone.ToJsonString(), "request");
            }
            catch (ConfigurationException ex)
            {
                return new(ApiProblems.Validation(Relative(ex.Problems, $"{list}[0]"), StatusCodes.Status400BadRequest, $"The {Singular(list)} is invalid."), false, null);
            }

            if (index >= 0)
            {
                items[index] = item;
            }
            else
            {
                items.Add(item);
            }

            EditResult result = await CommitAsync(directory, current, StatusCodes.Status409Conflict, $"The {Singular(list)} conflicts with the rest of the directory.", ct);
            return result with { Created = index < 0 };
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Removes the item <paramref name="id"/> of <paramref name="list"/>: 404 if there is none, 409 if others refer to it.</summary>
    public async Task<EditResult> DeleteAsync(BindingDirectory directory, string list, string id, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            JsonObject current = ToObject(directory.Config);
            JsonArray items = ListOf(current, list);
            int index = IndexOf(items, id);
            if (index < 0)
            {
                return new(ApiProblems.NotFound($"No configured {Singular(list)} '{id}'."), false, null);
            }

            items.RemoveAt(index);
            return await CommitAsync(directory, current, StatusCodes.Status409Conflict, $"Other parts of the directory still refer to {Singular(list)} '{id}'.", ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Replaces the whole configuration (users sent without "pin" keep theirs); <paramref name="ifMatch"/> guards lost updates.</summary>
    public async Task<EditResult> ReplaceAsync(BindingDirectory directory, JsonObject body, string? ifMatch, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (ifMatch is not null && ifMatch != "*" && ifMatch != ETagOf(directory.Config))
            {
                return new(TypedResults.Problem("The configuration changed since it was read (If-Match does not match its ETag); read it again.",
                    statusCode: StatusCodes.Status412PreconditionFailed, title: "Precondition failed"), false, null);
            }

            JsonObject current = ToObject(directory.Config);
            JsonObject next = (JsonObject)body.DeepClone();
            if (next[Users] is JsonArray users)
            {
                JsonArray existing = ListOf(current, Users);
                foreach (JsonObject user in users.OfType<JsonObject>())
                {
                    if (!user.ContainsKey("pin") && user["id"] is JsonValue v && v.TryGetValue(out string? id)
                        && IndexOf(existing, id) is >= 0 and int i && existing[i]?["pin"] is { } pin)
                    {
                        user["pin"] = pin.DeepClone();
                    }
                }
            }

            return await CommitAsync(directory, next, StatusCodes.Status400BadRequest, "The configuration is invalid.", ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    // Under the gate: validate the whole new configuration, save it, apply it.
    private async Task<EditResult> CommitAsync(BindingDirectory directory, JsonObject json, int problemStatus, string detail, CancellationToken ct)
    {
        DirectoryConfig next;
        try
        {
            next = DirectoryConfig.Parse(json.ToJsonString(), ConfigPath);
        }
        catch (ConfigurationException ex)
        {
            return new(ApiProblems.Validation(ex.Problems, problemStatus, detail), false, null);
        }

        if (next.LicenseFile is { } license && !Path.IsPathFullyQualified(license))
        {
            next = next with { LicenseFile = Path.GetFullPath(license, Path.GetDirectoryName(ConfigPath)!) }; // as DirectoryConfig.Load does
        }

        string? previousFile = File.Exists(ConfigPath) ? await File.ReadAllTextAsync(ConfigPath, ct) : null;
        try
        {
            await WriteAtomicallyAsync(ConfigPath, next.ToJson(), ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSaveFailed(ConfigPath, ex.Message);
            return new(TypedResults.Problem($"The change was not made: the configuration could not be saved to {ConfigPath} ({ex.Message}).",
                statusCode: StatusCodes.Status500InternalServerError, title: "Not saved"), false, null);
        }

        DirectoryOutcome outcome = directory.ApplyConfig(next, DateTimeOffset.UtcNow);
        if (!outcome.Ok)
        {
            // Validated above, so not expected; keep the file and the directory in step.
            if (previousFile is null)
            {
                File.Delete(ConfigPath);
            }
            else
            {
                await WriteAtomicallyAsync(ConfigPath, previousFile, CancellationToken.None);
            }

            return new(ApiProblems.Outcome(outcome), false, null);
        }

        LogSaved(ConfigPath, next.Devices.Count, next.Users.Count, next.Profiles.Count, next.RecordingGroups.Count);
        return new(null, false, next);
    }

    private static async Task WriteAtomicallyAsync(string path, string text, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string tmp = path + ".tmp";
        File.Delete(tmp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // The file holds PINs: keep the mode an administrator gave it, else owner-only.
            options.UnixCreateMode = File.Exists(path) ? File.GetUnixFileMode(path) : UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var stream = new FileStream(tmp, options))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(text), ct);
            stream.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
    }

    private static JsonObject ToObject(DirectoryConfig config) => (JsonObject)JsonNode.Parse(config.ToJson())!;

    private static JsonArray ListOf(JsonObject config, string list)
    {
        if (config[list] is JsonArray items)
        {
            return items;
        }

        var created = new JsonArray();
        config[list] = created;
        return created;
    }

    private static int IndexOf(JsonArray items, string? id)
    {
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i]?["id"] is JsonValue v && v.TryGetValue(out string? s) && s == id)
            {
                return i;
            }
        }

        return -1;
    }

    private static string Singular(string list) => list switch
    {
        Devices => "device",
        Users => "user",
        Profiles => "profile",
        _ => "recording group",
    };

    // "devices[0].extensions[1]: ..." about a body alone is "extensions[1]: ..." (a location in the body).
    private static List<string> Relative(IReadOnlyList<string> problems, string prefix) =>
        [.. problems.Select(p =>
            p.StartsWith(prefix + ".", StringComparison.Ordinal) ? p[(prefix.Length + 1)..]
            : p.StartsWith(prefix + ":", StringComparison.Ordinal) ? ApiProblems.WholeBody + p[prefix.Length..]
            : p)];

    public void Dispose() => _gate.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "directory configuration saved to {Path}: {Devices} device(s), {Users} user(s), {Profiles} profile(s), {Groups} recording group(s)")]
    private partial void LogSaved(string path, int devices, int users, int profiles, int groups);

    [LoggerMessage(Level = LogLevel.Error, Message = "directory configuration could not be saved to {Path}: {Error}")]
    private partial void LogSaveFailed(string path, string error);
}
