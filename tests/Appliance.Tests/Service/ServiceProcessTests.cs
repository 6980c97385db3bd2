using System.Diagnostics;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>
/// `appliance run` as systemd runs it: a real NOTIFY_SOCKET listener, the bundled sample call replayed at its own pace
/// (a 10 s call), SIGTERM and kill -9 in the middle of the call.
/// </summary>
public sealed class ServiceProcessTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appl-service-" + Guid.NewGuid().ToString("N"));

    private string[] SampleArgs => ["--replay", Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"),
        "--recordings", Path.Combine(_dir, "rec"), "--state", Path.Combine(_dir, "state"), "--workers", "1"];

    [Fact]
    public void Run_NotifiesReadyAndWatchdog_ServesMetrics_AndOnSigtermFinalisesTheOpenCallAndExits0()
    {
        using var notify = new NotifyListener();
        using var service = ServiceProcess.Start(new Dictionary<string, string?>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = "1000000", // pings every 0.5 s
            ["INVOCATION_ID"] = "0123456789abcdef0123456789abcdef", // as under systemd: journald's console format
        }, SampleArgs);

        Assert.True(notify.WaitFor("READY=1", TimeSpan.FromSeconds(30)), "no READY=1: " + service.Log);
        Exposition.Document doc = service.WaitForMetrics(d => d.Sum("appliance_active_calls") >= 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, doc.Sum("appliance_active_calls"));
        Assert.Equal(1, doc.Sum("appliance_ready"));
        Assert.True(doc.Sum("appliance_capture_packets_total") > 0);
        Assert.True(doc.Sum("dotnet_process_memory_working_set_bytes") > 0);
        Assert.True(notify.WaitFor("WATCHDOG=1", TimeSpan.FromSeconds(3)));
        Assert.True(notify.WaitFor("WATCHDOG=1", TimeSpan.FromSeconds(3)));

        var stopping = Stopwatch.StartNew();
        service.Signal("TERM");
        Assert.True(notify.WaitFor("STOPPING=1", TimeSpan.FromSeconds(10)), "no STOPPING=1");
        Assert.True(service.Process.WaitForExit(TimeSpan.FromSeconds(25)), "did not stop within ShutdownSeconds");
        service.Process.WaitForExit();
        output.WriteLine($"SIGTERM to exit: {stopping.Elapsed.TotalSeconds:F2} s");
        output.WriteLine(string.Join("\n", notify.Received.Select(m => $"{m.At.TotalSeconds:F2} {m.Message.ReplaceLineEndings(" | ")}")));
        string log = service.Log;
        output.WriteLine(log);
        Assert.Equal(0, service.Process.ExitCode);

        // journald format under systemd: a <priority> prefix, no timestamp or colours; the log says what was flushed.
        Assert.Contains("<6>Appliance.Service.CaptureService", log, StringComparison.Ordinal);
        Assert.Contains("1 call(s) finalised, 1 recording(s) written, 0 failed, directory saved", log, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", log, StringComparison.Ordinal);

        // The call cut by the shutdown is a complete, playable recording.
        string sidecarFile = Assert.Single(Directory.GetFiles(Path.Combine(_dir, "rec"), "*.json", SearchOption.AllDirectories));
        CallSidecar sidecar = CallSidecar.Deserialize(File.ReadAllText(sidecarFile))!;
        Assert.Equal(CallEndReasons.CaptureEnded, sidecar.EndReason);
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(_dir, "rec", sidecar.File!));
        Assert.InRange(audio.DurationSeconds, sidecar.MediaDurationSeconds - 0.1, sidecar.MediaDurationSeconds + 0.1);
        Assert.True(audio.DurationSeconds > 0.5);
    }

    [Fact]
    public void Run_KilledMidCall_LeavesARecordingPlayableUpToAboutTheLastSecond()
    {
        var sinceStart = Stopwatch.StartNew();
        using var service = ServiceProcess.Start(new Dictionary<string, string?>(), SampleArgs);
        Exposition.Document doc = service.WaitForMetrics(d => d.Sum("appliance_rtp_packets_total") > 0, TimeSpan.FromSeconds(30));
        Assert.True(doc.Sum("appliance_rtp_packets_total") > 0, "no media: " + service.Log);
        var media = Stopwatch.StartNew();
        Thread.Sleep(3500);
        service.Signal("KILL");
        service.Process.WaitForExit();
        double elapsed = media.Elapsed.TotalSeconds; // media began before we saw it (capture starts before the API listens)
        double lifetime = sinceStart.Elapsed.TotalSeconds;

        string opus = Assert.Single(Directory.GetFiles(Path.Combine(_dir, "rec"), "*.opus", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "rec"), "*.json", SearchOption.AllDirectories)); // no sidecar: it died
        DecodedAudio audio = DecodedAudio.Decode(opus);
        output.WriteLine($"killed {elapsed:F2} s after the first media was seen, {lifetime:F2} s after start; the file plays {audio.DurationSeconds:F2} s");

        // Pages close every second and mixing runs 200 ms behind: at most ~1.5 s of the call is lost. (Media starts
        // 0.5 s into the sample, so the file cannot hold more than the process lived minus that.)
        Assert.InRange(audio.DurationSeconds, elapsed - 1.7, lifetime - 0.5);

        // Started again, the appliance finds the call it did not finalise, rebuilds its sidecar from the audio and lists it.
        string id = Path.GetFileNameWithoutExtension(opus);
        using var again = ServiceProcess.Start(new Dictionary<string, string?>(), SampleArgs);
        Assert.True(again.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + again.Log);
        string? listed = null;
        for (int i = 0; i < 100 && (listed is null || !listed.Contains(id, StringComparison.Ordinal)); i++)
        {
            Thread.Sleep(100);
            listed = again.Get("/api/recordings?extension=2001");
        }

        Assert.Contains(id, listed, StringComparison.Ordinal);
        CallSidecar recovered = CallSidecar.Deserialize(File.ReadAllText(Path.ChangeExtension(opus, ".json")))!;
        Assert.Equal(CallEndReasons.Interrupted, recovered.EndReason);
        Assert.Equal("2001", recovered.Parties[0].Extension);
        Assert.Equal("sip", recovered.Protocol);
        Assert.InRange(recovered.MediaDurationSeconds, audio.DurationSeconds - 0.1, audio.DurationSeconds + 0.1);
        Assert.Contains("recovered from their audio", again.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_KilledAfterARecording_LeavesItsIndexIntact_AndStartedAgainFindsTheRecordingInIt()
    {
        // Unpaced: the call is recorded within a second; once a search lists it, its row is committed (WAL).
        using (var service = ServiceProcess.Start(new Dictionary<string, string?>(), [.. SampleArgs, "--no-pacing"]))
        {
            Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + service.Log);
            string? listed = null;
            for (int i = 0; i < 200 && (listed is null || !listed.Contains("\"items\":[{", StringComparison.Ordinal) || listed.Contains("\"indexing\":true", StringComparison.Ordinal)); i++)
            {
                Thread.Sleep(100);
                listed = service.Get("/api/recordings?callId=1-12907%40127.0.0.1");
            }

            Assert.Contains("\"endReason\":\"bye\"", listed, StringComparison.Ordinal);
            service.Signal("KILL");
            service.Process.WaitForExit();
        }

        string sidecar = Assert.Single(Directory.GetFiles(Path.Combine(_dir, "rec"), "*.json", SearchOption.AllDirectories));
        string id = Path.GetFileNameWithoutExtension(sidecar);

        // The file as the kill left it (WAL beside it, not checkpointed): whole, and holding the recording.
        string index = Path.Combine(_dir, "state", "recordings.db");
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={index};Mode=ReadOnly;Pooling=False"))
        {
            db.Open();
            using Microsoft.Data.Sqlite.SqliteCommand check = db.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", check.ExecuteScalar());
            check.CommandText = $"SELECT count(*) FROM recordings WHERE id = '{id}'";
            Assert.Equal(1L, check.ExecuteScalar());
        }

        // Started again (nothing to replay this time): the index is used as it is, not set aside, and finds the recording.
        string empty = Api.ApiHost.EmptyCapture(Path.Combine(_dir, "empty.pcap"));
        string[] again = ["--replay", empty, "--recordings", Path.Combine(_dir, "rec"), "--state", Path.Combine(_dir, "state")];
        using var restarted = ServiceProcess.Start(new Dictionary<string, string?>(), again);
        Assert.True(restarted.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + restarted.Log);
        Assert.Contains(id, restarted.Get("/api/recordings?extension=2002"), StringComparison.Ordinal);
        Assert.Contains(id, restarted.Get($"/api/recordings/{id}"), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "state"), "recordings.db.damaged*"));
        Assert.DoesNotContain("rebuilding", restarted.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedRequests_Are400Problems_AndLeaveNoStackTraceInTheLog()
    {
        using var service = ServiceProcess.Start(new Dictionary<string, string?>(), SampleArgs);
        Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + service.Log);
        foreach (string body in new[] { "{ not json", "[1, 2", "{ \"user\": 42 }", new string('[', 5000) })
        {
            using HttpResponseMessage response = service.Send("/api/logins", r =>
            {
                r.Method = HttpMethod.Post;
                r.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            });
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        Thread.Sleep(300); // let the console catch up
        Assert.DoesNotContain("   at ", service.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("BadHttpRequestException", service.Log, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
