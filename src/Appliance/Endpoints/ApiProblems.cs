using Capture.Bindings;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Appliance.Endpoints;

/// <summary>RFC 7807 problem results for the API's errors (the framework fills <c>type</c>, <c>traceId</c>).</summary>
internal static class ApiProblems
{
    /// <summary>Where the configuration's problems have no location of their own.</summary>
    public const string WholeBody = "$";

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Bad request");

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    public static ProblemHttpResult Unavailable(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready");

    /// <summary>One invalid query value or body property: 400 with it under <c>errors</c>.</summary>
    public static ProblemHttpResult Invalid(string name, string problem) =>
        Validation([$"{name}: {problem}"], StatusCodes.Status400BadRequest, $"'{name}' is invalid.", "The request is invalid.");

    /// <summary>
    /// The directory's validation problems ("profiles[1].extensions: ...", each starting with its JSON location) as
    /// <c>errors</c>: location to the sentences about it. 400 when the request itself is wrong, 409 when it clashes
    /// with the rest of the directory.
    /// </summary>
    public static ProblemHttpResult Validation(IReadOnlyList<string> problems, int status, string detail, string? title = null)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (string problem in problems)
        {
            string key = LocationOf(problem);
            errors[key] = errors.TryGetValue(key, out string[]? existing) ? [.. existing, problem] : [problem];
        }

        var details = new HttpValidationProblemDetails(errors)
        {
            Status = status,
            Title = title ?? (status == StatusCodes.Status409Conflict ? "The change conflicts with the directory." : "The configuration is invalid."),
            Detail = detail,
        };
        return TypedResults.Problem(details);
    }

    /// <summary>The HTTP answer to a directory operation's outcome.</summary>
    public static ProblemHttpResult Outcome(DirectoryOutcome outcome) => outcome.Status switch
    {
        DirectoryStatus.NotFound => NotFound(outcome.Problem ?? "Not found."),
        DirectoryStatus.Forbidden => TypedResults.Problem(outcome.Problem, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden"),
        DirectoryStatus.Conflict => Conflict(outcome.Problem ?? "Conflict."),
        DirectoryStatus.Invalid => Validation(
            (outcome.Problem ?? "").Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), StatusCodes.Status400BadRequest, "The configuration is invalid."),
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome.Status, "not an error"),
    };

    // "devices[0].extensions[1]: ..." has the location "devices[0].extensions[1]"; a sentence without one is about the whole body.
    private static string LocationOf(string problem)
    {
        int colon = problem.IndexOf(": ", StringComparison.Ordinal);
        if (colon <= 0)
        {
            return WholeBody;
        }

        string head = problem[..colon];
        return head.Contains(' ', StringComparison.Ordinal) ? WholeBody : head; // "(top level)" too
    }
}
