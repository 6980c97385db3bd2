using System.Diagnostics;
using System.Text.RegularExpressions;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>
/// Issue 13: `appliance run` with its state folder unwritable for a while. The folder is made immutable with
/// `chattr -R +i` (as root chmod changes nothing; the attribute refuses new files and writes to open ones alike).
/// </summary>
public sealed partial class StateFolderServiceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appl-statefolder-" + Guid.NewGuid().ToString("N"));

    private string State => Path.Combine(_dir, "state");

    private bool Chattr(string flag)
    {
        (int code, string text) = Repo.Run("chattr", ["-R", flag, State], TimeSpan.FromSeconds(10));
        if (code != 0)
        {
            output.WriteLine($"chattr -R {flag} {State}: {text.Trim()}");
        }

        return code == 0;
    }

    private static int Threads(Process p) => Directory.GetDirectories($"/proc/{p.Id}/task").Length;

    private static HttpResponseMessage Post(ServiceProcess service, string path, string json) =>
        service.Send(path, r =>
        {
            r.Method = HttpMethod.Post;
            r.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        });

    [Fact]
    public void UnwritableStateFolder_IsLoggedOnceAndCounted_RetriedWithoutLeakingThreads_SavedWhenWritable_AndSigtermStillExits()
    {
        if (!Repo.IsRoot)
        {
            output.WriteLine("SKIPPED: chattr +i needs root (CAP_LINUX_IMMUTABLE); CI runs as root");
            return;
        }

        Directory.CreateDirectory(State);
        string config = Path.Combine(_dir, "directory.json"); // outside the state folder: the API's edits do not write there
        File.WriteAllText(config, """
            { "users": [ { "id": "alice", "name": "Alice" } ],
              "devices": [ { "id": "desk-1", "ips": ["10.9.9.9"], "extensions": ["2901"] } ] }
            """);
        string[] args = ["--replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--no-pacing",
            "--recordings", Path.Combine(_dir, "rec"), "--state", State, "--config", config, "--checkpoint-seconds", "1", "--workers", "1"];

        using (var service = ServiceProcess.Start(new Dictionary<string, string?>(), args))
        {
            Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + service.Log);
            Thread.Sleep(1500); // the first checkpoint
            if (!Chattr("+i"))
            {
                output.WriteLine("SKIPPED: the file system of the temporary folder does not support the immutable attribute");
                return;
            }

            // A change while the folder refuses writes: alice logs in at desk-1.
            using (HttpResponseMessage login = Post(service, "/api/logins", """{ "user": "alice", "device": "desk-1" }"""))
            {
                Assert.Equal(System.Net.HttpStatusCode.Created, login.StatusCode);
            }

            Exposition.Document doc = service.WaitForMetrics(
                d => d.Sum("appliance_directory_persist_failing") == 1 && d.Sum("appliance_directory_persist_failures_total") >= 2, TimeSpan.FromSeconds(20));
            Assert.Equal(1, doc.Sum("appliance_directory_persist_failing"));
            double failures = doc.Sum("appliance_directory_persist_failures_total");
            int threadsBefore = Threads(service.Process);

            // Six more intervals: each one retried, none leaving a thread behind (before: one more blocked thread per interval).
            Thread.Sleep(6000);
            doc = service.WaitForMetrics(_ => true, TimeSpan.FromSeconds(5));
            int threadsAfter = Threads(service.Process);
            output.WriteLine($"threads {threadsBefore} -> {threadsAfter}; failures {failures} -> {doc.Sum("appliance_directory_persist_failures_total")}");
            Assert.True(doc.Sum("appliance_directory_persist_failures_total") >= failures + 4, "not retried every interval");
            Assert.True(doc.Sum("appliance_directory_checkpoint_age_seconds") >= 6, "the checkpoint age does not show the outage");
            Assert.InRange(threadsAfter, 0, threadsBefore + 2);
            Assert.Single(CannotBeSaved().Matches(service.Log)); // said once, not every interval
            Assert.Contains(State, service.Log, StringComparison.Ordinal);

            // Writable again: the kept change is saved, and the log says so once.
            Assert.True(Chattr("-i"));
            doc = service.WaitForMetrics(d => d.Sum("appliance_directory_persist_failing") == 0, TimeSpan.FromSeconds(15));
            Assert.Equal(0, doc.Sum("appliance_directory_persist_failing"));
            Assert.InRange(doc.Sum("appliance_directory_checkpoint_age_seconds"), 0, 5);
            Thread.Sleep(300);
            Assert.Single(SavedAgain().Matches(service.Log));

            // Unwritable again at SIGTERM: the final save fails, is logged, and the process still exits in time.
            Assert.True(Chattr("+i"));
            using (HttpResponseMessage logout = Post(service, "/api/devices/desk-1/logout", "{}"))
            {
                Assert.Equal(System.Net.HttpStatusCode.OK, logout.StatusCode);
            }

            var stopping = Stopwatch.StartNew();
            service.Signal("TERM");
            bool exited = service.Process.WaitForExit(TimeSpan.FromSeconds(25));
            output.WriteLine($"SIGTERM to exit: {stopping.Elapsed.TotalSeconds:F1} s\n{service.Log}");
            Assert.True(exited, "SIGTERM did not complete with the state folder unwritable");
            service.Process.WaitForExit();
            Assert.Contains("directory NOT saved", service.Log, StringComparison.Ordinal);
            Assert.True(Chattr("-i"));
        }

        // The next start recovers the state as of the last save that worked: alice's login made during the outage.
        using var again = ServiceProcess.Start(new Dictionary<string, string?>(), args);
        Assert.True(again.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + again.Log);
        string logins = again.Get("/api/logins");
        output.WriteLine(logins);
        Assert.Contains("\"alice\"", logins, StringComparison.Ordinal);
        Assert.Contains("\"desk-1\"", logins, StringComparison.Ordinal);
    }

    [GeneratedRegex("directory cannot be saved to ")]
    private static partial Regex CannotBeSaved();

    [GeneratedRegex("directory saved to .* again, after ")]
    private static partial Regex SavedAgain();

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Chattr("-i");
            Directory.Delete(_dir, recursive: true);
        }
    }
}
