using System.Security.Cryptography;
using System.Text;
using Appliance.Service;
using Capture.Bindings;
using Capture.Bindings.Config;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Appliance.Endpoints;

/// <summary>Hot desking (explicit login, logout, remote logout, logout of everyone), locate and the login history.</summary>
internal static class HotDeskingEndpoints
{
    private const int MaxPinLength = 16;

    public static void Map(RouteGroupBuilder api)
    {
        RouteGroupBuilder logins = api.MapGroup("/logins").WithTags("Hot desking");
        logins.MapGet("", Current).WithSummary("Who is logged in where now (host device and guest extensions).")
            .Produces<IReadOnlyList<LoginEntry>>();
        logins.MapPost("", Login).WithSummary("Log a user in at a device. 409 when someone else is logged in there, unless \"replace\": true.")
            .Produces<LoginEntry>(201).Produces<LoginEntry>(200).ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);
        logins.MapPost("/logout-all", LogoutAll).WithSummary("Log out every explicit (hot-desk) login of users in a scope: all, internal or external.")
            .Produces<LogoutAllResult>().ProducesValidationProblem();
        logins.MapGet("/history", History)
            .WithSummary("Logins and logouts, newest first, for a device and/or user, overlapping [from, to) (from = to = T: who was there at T).")
            .Produces<IReadOnlyList<LoginEntry>>().ProducesValidationProblem();

        api.MapPost("/devices/{id}/logout", LogoutDevice).WithTags("Hot desking")
            .WithSummary("Log out whoever is logged in at a device; returns the ended login.")
            .Produces<LoginEntry>().ProducesProblem(404);
        api.MapPost("/users/{id}/logout", LogoutUser).WithTags("Hot desking")
            .WithSummary("Remote logout: log a user out wherever they are; returns the ended login.")
            .Produces<LoginEntry>().ProducesProblem(404);

        RouteGroupBuilder locate = api.MapGroup("/locate").WithTags("Locate");
        locate.MapGet("/extension/{extension}", LocateExtension)
            .WithSummary("Where an extension is: host device, IPs, who is logged in there and since when.")
            .Produces<Location>().ProducesProblem(404);
        locate.MapGet("/user/{id}", LocateUser)
            .WithSummary("Where a user is logged in, if anywhere (loggedIn false: nowhere).")
            .Produces<Location>().ProducesProblem(404);
    }

    private static IResult Current(ApplianceRuntime runtime) =>
        runtime.Directory is { } directory
            ? TypedResults.Ok<IReadOnlyList<LoginEntry>>([.. directory.Devices().Select(d => d.Login).OfType<LoginEntry>().OrderBy(l => l.Since)])
            : DirectoryEndpoints.NotReady();

    private static IResult Login(LoginRequest? request, ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return DirectoryEndpoints.NotReady();
        }

        var problems = new List<string>();
        if (string.IsNullOrEmpty(request?.User) || request.User.Length > ApiArgs.MaxText)
        {
            problems.Add($"user: the user's id is required (1-{ApiArgs.MaxText} characters).");
        }

        if (string.IsNullOrEmpty(request?.Device) || request.Device.Length > ApiArgs.MaxText)
        {
            problems.Add($"device: the device's id is required (1-{ApiArgs.MaxText} characters).");
        }

        if (request?.Pin is { Length: > MaxPinLength })
        {
            problems.Add($"pin: at most {MaxPinLength} characters.");
        }

        if (problems.Count > 0)
        {
            return ApiProblems.Validation(problems, StatusCodes.Status400BadRequest, "The login request is invalid.", "The request is invalid.");
        }

        string user = request!.User!, device = request.Device!;
        if (directory.GetUser(user) is not { } account)
        {
            return ApiProblems.NotFound($"No user '{user}'.");
        }

        if (directory.GetDevice(device) is not { } host)
        {
            // Another appliance's learned device (README "Cluster"): the login goes through the shared directory, and
            // the appliance that sees the device applies it and attributes its calls (202: not applied here).
            if (runtime.Cluster?.RemoteDevice(device) is { } remote)
            {
                if (account.Pin is not null && !PinMatches(account.Pin, request.Pin))
                {
                    return TypedResults.Problem($"Wrong or missing PIN for user '{user}'.", statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
                }

                return runtime.Cluster.LoggedInAt(remote.Id) is { } there && there.User != user && !request.Replace
                    ? ApiProblems.Conflict($"User '{there.User}' is logged in at device '{remote.Id}' (at {remote.Appliance}) since {there.At:O}; send \"replace\": true to log them out and '{user}' in.")
                    : TypedResults.Accepted($"/api/cluster/users/{Uri.EscapeDataString(user)}", runtime.Cluster.LoginAtRemote(user, remote, DateTimeOffset.UtcNow));
            }

            return ApiProblems.NotFound($"No device '{device}'.");
        }

        // The PIN before anything about the device is told (the directory checks it again).
        if (account.Pin is not null && !PinMatches(account.Pin, request.Pin))
        {
            return TypedResults.Problem($"Wrong or missing PIN for user '{user}'.", statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
        }

        bool already = host.Login?.User == user;
        if (host.Login is { } other && !already && !request.Replace)
        {
            return ApiProblems.Conflict(
                $"User '{other.User}' is logged in at device '{host.Id}' since {other.Since:O}; send \"replace\": true to log them out and '{user}' in.");
        }

        DirectoryOutcome outcome = directory.Login(user, host.Id, request.Pin, DateTimeOffset.UtcNow);
        if (!outcome.Ok)
        {
            return ApiProblems.Outcome(outcome);
        }

        LoginEntry? login = directory.GetDevice(host.Id)?.Login;
        if (login is null)
        {
            return ApiProblems.Conflict($"The login of '{user}' at '{host.Id}' ended at once (the device changed meanwhile).");
        }

        return already ? TypedResults.Ok(login) : TypedResults.Created($"/api/devices/{Uri.EscapeDataString(host.Id)}", login);
    }

    private static bool PinMatches(string expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(presented));

    private static IResult LogoutAll(LogoutAllRequest? request, ApplianceRuntime runtime) =>
        runtime.Directory is not { } directory ? DirectoryEndpoints.NotReady()
        : request?.Scope is not { } scope ? ApiProblems.Invalid("scope", "is required: all, internal or external (an empty request logs nobody out).")
        : TypedResults.Ok(new LogoutAllResult(directory.LogoutAll(scope, DateTimeOffset.UtcNow, LogoutReasons.Logout)));

    private static IResult LogoutDevice(string id, ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return DirectoryEndpoints.NotReady();
        }

        if (!ApiArgs.Id("id", id, out IResult? problem))
        {
            return problem!;
        }

        LoginEntry? before = directory.GetDevice(id)?.Login;
        DirectoryOutcome outcome = directory.Logout(id, DateTimeOffset.UtcNow);
        return outcome.Ok ? TypedResults.Ok(Ended(directory, before, id, null)) : ApiProblems.Outcome(outcome);
    }

    private static IResult LogoutUser(string id, ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return DirectoryEndpoints.NotReady();
        }

        if (!ApiArgs.Id("id", id, out IResult? problem))
        {
            return problem!;
        }

        DirectoryOutcome outcome = directory.LogoutUser(id, DateTimeOffset.UtcNow);
        return outcome.Ok ? TypedResults.Ok(Ended(directory, null, null, id)) : ApiProblems.Outcome(outcome);
    }

    // The login just closed, as the history now has it (with its end and reason).
    private static LoginEntry? Ended(BindingDirectory directory, LoginEntry? before, string? device, string? user)
    {
        IReadOnlyList<LoginEntry> history = directory.History(device, user);
        return before is not null
            ? history.LastOrDefault(e => e.Seq == before.Seq) ?? before
            : history.Where(e => !e.IsOpen).MaxBy(e => e.Until);
    }

    private static IResult History(ApplianceRuntime runtime, string? device, string? user, string? from, string? to, int? limit)
    {
        if (runtime.Directory is not { } directory)
        {
            return DirectoryEndpoints.NotReady();
        }

        if (!ApiArgs.Text("device", device, out IResult? problem) || !ApiArgs.Text("user", user, out problem)
            || !ApiArgs.Time("from", from, out DateTimeOffset? since, out problem) || !ApiArgs.Time("to", to, out DateTimeOffset? until, out problem)
            || !ApiArgs.Limit(limit, 1000, 10_000, out int take, out problem))
        {
            return problem!;
        }

        // from = to = T asks who was logged in at the instant T.
        DateTimeOffset? end = since is not null && since == until ? until.Value.AddTicks(1) : until;
        IReadOnlyList<LoginEntry> entries = [.. directory.History(device, user, since, end).Reverse().Take(take)];
        return TypedResults.Ok(entries);
    }

    private static IResult LocateExtension(string extension, ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return DirectoryEndpoints.NotReady();
        }

        if (!ApiArgs.Id("extension", extension, out IResult? problem))
        {
            return problem!;
        }

        Location location = directory.LocateExtension(extension);
        return location.Found ? TypedResults.Ok(location) : ApiProblems.NotFound($"No device carries extension '{extension}' and no logged-in user has it.");
    }

    private static IResult LocateUser(string id, ApplianceRuntime runtime)
    {
        if (runtime.Directory is not { } directory)
        {
            return DirectoryEndpoints.NotReady();
        }

        if (!ApiArgs.Id("id", id, out IResult? problem))
        {
            return problem!;
        }

        Location location = directory.LocateUser(id);
        return location.Found ? TypedResults.Ok(location) : ApiProblems.NotFound($"No user '{id}'.");
    }
}
