using System.Text.Json.Nodes;
using Appliance.Service;
using Capture.Bindings;
using Capture.Bindings.Config;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Endpoints;

/// <summary>
/// The directory for telephony administrators: devices (what is known now, learned or configured) and the
/// configuration's devices, users, profiles and recording groups, each editable on its own or as a whole.
/// </summary>
internal static class DirectoryEndpoints
{
    /// <summary>A whole configuration may be larger than the 1 MB other requests are held to.</summary>
    private const long MaxConfigBytes = 16 * 1024 * 1024;

    public static void Map(RouteGroupBuilder api)
    {
        RouteGroupBuilder devices = api.MapGroup("/devices").WithTags("Devices");
        devices.MapGet("", ListDevices).WithSummary("Every device the directory knows (learned and configured), ordered by id.")
            .Produces<IReadOnlyList<DeviceView>>().ProducesValidationProblem();
        devices.MapGet("/{id}", GetDevice).WithSummary("One device: IPs, lines, registration, who is logged in, its configuration.")
            .Produces<DeviceView>().ProducesProblem(404);
        devices.MapPut("/{id}", PutDevice).WithSummary("Configure a device (create or replace its configuration).")
            .Accepts<DeviceConfig>("application/json").Produces<DeviceView>(200).Produces<DeviceView>(201)
            .ProducesValidationProblem().ProducesValidationProblem(409);
        devices.MapDelete("/{id}", DeleteDevice).WithSummary("Remove a device's configuration (a device seen in traffic stays known as learned).")
            .Produces(204).ProducesProblem(404);

        RouteGroupBuilder users = api.MapGroup("/users").WithTags("Users");
        users.MapGet("", ListUsers).WithSummary("Configured users, with their profiles and where they are logged in.")
            .Produces<IReadOnlyList<UserView>>();
        users.MapGet("/{id}", GetUser).WithSummary("One user.").Produces<UserView>().ProducesProblem(404);
        users.MapPut("/{id}", (string id, ApplianceRuntime rt, DirectoryEditor ed, HttpRequest rq, CancellationToken ct) => Put(DirectoryEditor.Users, id, rt, ed, rq, ct))
            .WithSummary("Create or replace a user. The PIN is write-only: leave \"pin\" out to keep the current one, send null to remove it.")
            .Accepts<UserConfigBody>("application/json").Produces<UserView>(200).Produces<UserView>(201)
            .ProducesValidationProblem().ProducesValidationProblem(409);
        users.MapDelete("/{id}", (string id, ApplianceRuntime rt, DirectoryEditor ed, CancellationToken ct) => Delete(DirectoryEditor.Users, id, rt, ed, ct))
            .WithSummary("Remove a user (409 while a profile or device refers to it).")
            .Produces(204).ProducesProblem(404).ProducesValidationProblem(409);

        RouteGroupBuilder profiles = api.MapGroup("/profiles").WithTags("Profiles");
        profiles.MapGet("", ListProfiles).WithSummary("Extension-mobility user profiles.").Produces<IReadOnlyList<ProfileConfig>>();
        profiles.MapGet("/{id}", GetProfile).WithSummary("One profile.").Produces<ProfileConfig>().ProducesProblem(404);
        profiles.MapPut("/{id}", (string id, ApplianceRuntime rt, DirectoryEditor ed, HttpRequest rq, CancellationToken ct) => Put(DirectoryEditor.Profiles, id, rt, ed, rq, ct))
            .WithSummary("Create or replace a profile; its extension set must differ from every other profile's and every device's (else 409).")
            .Accepts<ProfileConfig>("application/json").Produces<ProfileConfig>(200).Produces<ProfileConfig>(201)
            .ProducesValidationProblem().ProducesValidationProblem(409);
        profiles.MapDelete("/{id}", (string id, ApplianceRuntime rt, DirectoryEditor ed, CancellationToken ct) => Delete(DirectoryEditor.Profiles, id, rt, ed, ct))
            .WithSummary("Remove a profile (a login through it ends).").Produces(204).ProducesProblem(404).ProducesValidationProblem(409);

        RouteGroupBuilder groups = api.MapGroup("/recording-groups").WithTags("Recording groups");
        groups.MapGet("", ListGroups).WithSummary("Recording groups.").Produces<IReadOnlyList<RecordingGroupConfig>>();
        groups.MapGet("/{id}", GetGroup).WithSummary("One recording group.").Produces<RecordingGroupConfig>().ProducesProblem(404);
        groups.MapPut("/{id}", (string id, ApplianceRuntime rt, DirectoryEditor ed, HttpRequest rq, CancellationToken ct) => Put(DirectoryEditor.RecordingGroups, id, rt, ed, rq, ct))
            .WithSummary("Create or replace a recording group ({\"record\": false} to stop recording its members).")
            .Accepts<RecordingGroupConfig>("application/json").Produces<RecordingGroupConfig>(200).Produces<RecordingGroupConfig>(201)
            .ProducesValidationProblem().ProducesValidationProblem(409);
        groups.MapDelete("/{id}", (string id, ApplianceRuntime rt, DirectoryEditor ed, CancellationToken ct) => Delete(DirectoryEditor.RecordingGroups, id, rt, ed, ct))
            .WithSummary("Remove a recording group (409 while a device, user or profile is in it).")
            .Produces(204).ProducesProblem(404).ProducesValidationProblem(409);

        RouteGroupBuilder config = api.MapGroup("/config").WithTags("Configuration");
        config.MapGet("", GetConfig).WithSummary("The whole directory configuration (PINs left out), with an ETag.")
            .Produces<JsonObject>();
        config.MapPut("", PutConfig).WithSummary("Replace the whole configuration (If-Match: the ETag, to refuse a lost update with 412).")
            .Accepts<JsonObject>("application/json").Produces<JsonObject>().ProducesValidationProblem().ProducesProblem(412);

        api.MapGet("/servers", Servers).WithTags("Devices")
            .WithSummary("Infrastructure (registrars, proxies, PBXs and SBCs, CallManagers; configured or learned), with the evidence: never phones, lines or parties.")
            .Produces<IReadOnlyList<ServerBinding>>();
        api.MapGet("/conflicts", Conflicts).WithTags("Devices")
            .WithSummary("Line-1 conflicts: a second device claiming an extension another holds as line 1 (open=true: unresolved only).")
            .Produces<IReadOnlyList<LineConflict>>();
    }

    // ---- Devices ------------------------------------------------------------------------------------------------

    private static IResult ListDevices(ApplianceRuntime runtime, string? after, int? limit, string? scope)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        if (!ApiArgs.Text("after", after, out IResult? problem) || !ApiArgs.Limit(limit, 1000, 10_000, out int take, out problem))
        {
            return problem!;
        }

        if (scope is not (null or "local" or "estate"))
        {
            return ApiProblems.Invalid("scope", "is local (this appliance's devices) or estate (also the other appliances' learned devices, the default).");
        }

        Dictionary<string, DeviceConfig> configured = directory.Config.Devices.ToDictionary(d => d.Id, StringComparer.Ordinal);
        IEnumerable<DeviceView> all = directory.Devices().Select(d => DeviceView.From(d, configured.GetValueOrDefault(d.Id)));
        if (scope != "local" && runtime.Cluster is { } cluster)
        {
            // Another appliance's learned devices, after the local ones of the same id (a local device keeps its id's place).
            all = all.Concat(cluster.RemoteDevices().Select(DeviceView.From))
                .OrderBy(d => d.Id, StringComparer.Ordinal).ThenBy(d => d.Appliance is not null).ThenBy(d => d.Appliance, StringComparer.Ordinal);
        }

        IReadOnlyList<DeviceView> views = [.. all
            .Where(d => after is null || string.CompareOrdinal(d.Id, after) > 0)
            .Take(take)];
        return TypedResults.Ok(views);
    }

    private static IResult GetDevice(string id, ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        if (!ApiArgs.Id("id", id, out IResult? problem))
        {
            return problem!;
        }

        // A local device first; else another appliance's learned device of that id.
        DeviceView? view = DeviceViewOf(directory, id) ?? (runtime.Cluster?.RemoteDevice(id) is { } remote ? DeviceView.From(remote) : null);
        return view is not null ? TypedResults.Ok(view) : ApiProblems.NotFound($"No device '{id}'.");
    }

    private static DeviceView? DeviceViewOf(BindingDirectory directory, string id)
    {
        DeviceBinding? binding = directory.GetDevice(id);
        DeviceConfig? config = directory.Config.Devices.FirstOrDefault(d => d.Id == (binding?.Id ?? id));
        return binding is not null ? DeviceView.From(binding, config) : config is not null ? DeviceView.From(config) : null;
    }

    private static Task<IResult> PutDevice(string id, ApplianceRuntime runtime, DirectoryEditor editor, HttpRequest request, CancellationToken ct) =>
        Put(DirectoryEditor.Devices, id, runtime, editor, request, ct);

    private static Task<IResult> DeleteDevice(string id, ApplianceRuntime runtime, DirectoryEditor editor, CancellationToken ct) =>
        Delete(DirectoryEditor.Devices, id, runtime, editor, ct);

    // ---- Users, profiles, groups ----------------------------------------------------------------------------------

    private static IResult ListUsers(ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        DirectoryConfig config = directory.Config;
        HashSet<string> waiting = [.. directory.UsersWaitingForSeats];
        IReadOnlyList<UserView> users = [.. config.Users.Select(u => UserViewOf(directory, config, u, waiting))];
        return TypedResults.Ok(users);
    }

    private static IResult GetUser(string id, ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        if (!ApiArgs.Id("id", id, out IResult? problem))
        {
            return problem!;
        }

        DirectoryConfig config = directory.Config;
        return config.Users.FirstOrDefault(u => u.Id == id) is { } user
            ? TypedResults.Ok(UserViewOf(directory, config, user, [.. directory.UsersWaitingForSeats]))
            : ApiProblems.NotFound($"No user '{id}'.");
    }

    private static UserView UserViewOf(BindingDirectory directory, DirectoryConfig config, UserConfig u, HashSet<string> waiting)
    {
        Location location = directory.LocateUser(u.Id);
        return new UserView(u.Id, u.Name, u.External, u.RecordingGroup, u.Pin is not null, waiting.Contains(u.Id),
            [.. config.Profiles.Where(p => p.User == u.Id).Select(p => p.Id)], location.LoggedIn ? location : null);
    }

    private static IResult ListProfiles(ApplianceRuntime runtime) =>
        runtime.Directory is { } directory ? TypedResults.Ok(directory.Config.Profiles) : NotReady();

    private static IResult GetProfile(string id, ApplianceRuntime runtime) =>
        runtime.Directory is not { } directory ? NotReady()
        : !ApiArgs.Id("id", id, out IResult? problem) ? problem!
        : directory.Config.Profiles.FirstOrDefault(p => p.Id == id) is { } profile ? TypedResults.Ok(profile)
        : ApiProblems.NotFound($"No profile '{id}'.");

    private static IResult ListGroups(ApplianceRuntime runtime) =>
        runtime.Directory is { } directory ? TypedResults.Ok(directory.Config.RecordingGroups) : NotReady();

    private static IResult GetGroup(string id, ApplianceRuntime runtime) =>
        runtime.Directory is not { } directory ? NotReady()
        : !ApiArgs.Id("id", id, out IResult? problem) ? problem!
        : directory.Config.RecordingGroups.FirstOrDefault(g => g.Id == id) is { } group ? TypedResults.Ok(group)
        : ApiProblems.NotFound($"No recording group '{id}'.");

    // ---- Edits ---------------------------------------------------------------------------------------------------

    private static async Task<IResult> Put(string list, string id, ApplianceRuntime runtime, DirectoryEditor editor, HttpRequest request, CancellationToken ct)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        if (!ApiArgs.Id("id", id, out IResult? problem))
        {
            return problem!;
        }

        (JsonObject? body, problem) = await DirectoryEditor.ReadObjectAsync(request, ct);
        if (body is null)
        {
            return problem!;
        }

        DirectoryEditor.EditResult result = await editor.PutAsync(directory, list, id, body, ct);
        if (result.Problem is not null)
        {
            return result.Problem;
        }

        DirectoryConfig config = result.Config!;
        object view = list switch
        {
            DirectoryEditor.Devices => DeviceViewOf(directory, id)!,
            DirectoryEditor.Users => UserViewOf(directory, config, config.Users.First(u => u.Id == id), [.. directory.UsersWaitingForSeats]),
            DirectoryEditor.Profiles => config.Profiles.First(p => p.Id == id),
            _ => config.RecordingGroups.First(g => g.Id == id),
        };
        string location = $"/api/{(list == DirectoryEditor.RecordingGroups ? "recording-groups" : list)}/{Uri.EscapeDataString(id)}";
        return view switch
        {
            DeviceView v => result.Created ? TypedResults.Created(location, v) : TypedResults.Ok(v),
            UserView v => result.Created ? TypedResults.Created(location, v) : TypedResults.Ok(v),
            ProfileConfig v => result.Created ? TypedResults.Created(location, v) : TypedResults.Ok(v),
            RecordingGroupConfig v => result.Created ? TypedResults.Created(location, v) : TypedResults.Ok(v),
            _ => throw new InvalidOperationException("unreachable"),
        };
    }

    private static async Task<IResult> Delete(string list, string id, ApplianceRuntime runtime, DirectoryEditor editor, CancellationToken ct)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        if (!ApiArgs.Id("id", id, out IResult? problem))
        {
            return problem!;
        }

        DirectoryEditor.EditResult result = await editor.DeleteAsync(directory, list, id, ct);
        return result.Problem ?? TypedResults.NoContent();
    }

    private static IResult GetConfig(ApplianceRuntime runtime, DirectoryEditor editor, HttpResponse response)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        (JsonObject json, string etag) = editor.Current(directory);
        response.Headers.ETag = etag;
        return TypedResults.Ok(json);
    }

    private static async Task<IResult> PutConfig(ApplianceRuntime runtime, DirectoryEditor editor, HttpContext context, CancellationToken ct)
    {
        if (runtime.Directory is not { } directory)
        {
            return NotReady();
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxConfigBytes;
        }

        (JsonObject? body, IResult? problem) = await DirectoryEditor.ReadObjectAsync(context.Request, ct);
        if (body is null)
        {
            return problem!;
        }

        string? ifMatch = context.Request.Headers.IfMatch.Count > 0 ? context.Request.Headers.IfMatch.ToString() : null;
        DirectoryEditor.EditResult result = await editor.ReplaceAsync(directory, body, ifMatch, ct);
        if (result.Problem is not null)
        {
            return result.Problem;
        }

        (JsonObject json, string etag) = editor.Current(directory);
        context.Response.Headers.ETag = etag;
        return TypedResults.Ok(json);
    }

    private static IResult Conflicts(ApplianceRuntime runtime, bool? open) =>
        runtime.Directory is { } directory ? TypedResults.Ok(directory.Conflicts(open ?? false)) : NotReady();

    private static IResult Servers(ApplianceRuntime runtime) =>
        runtime.Directory is { } directory ? TypedResults.Ok(directory.Servers()) : NotReady();

    internal static IResult NotReady() => ApiProblems.Unavailable("The directory is not open yet (capture is starting).");
}

/// <summary>The JSON of a user as PUT takes it (a <see cref="UserConfig"/>; "pin" write-only).</summary>
public sealed record UserConfigBody(string? Name, string? Pin, bool External, string? RecordingGroup);
