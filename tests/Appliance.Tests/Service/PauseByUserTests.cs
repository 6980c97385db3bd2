using System.Net;
using System.Text.Json;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;
using static Appliance.Tests.Cluster.ServiceProbes;

namespace Appliance.Tests.Service;

/// <summary>
/// Pause and resume by user (README "Pause and resume"), as an agent desktop asks while its user reads out a card
/// number: bob is logged in through the API at desk-b before a call to desk-b starts (sip-rtp-g722.pcap replayed at
/// its pace, desk-b the callee at 10.0.2.15, whose G.722 audio is the right channel); POST /api/users/bob/pause
/// finds his call and pauses it, /resume ends the pause. The file is silent in both channels over that span only, the
/// sidecar, the audit log and the metrics say so; a user in no call, and a user the directory does not know, are 404.
/// </summary>
public sealed class PauseByUserTests(ITestOutputHelper output)
{
    private const string Config = """
        {
          "devices": [ { "id": "desk-b", "ips": ["10.0.2.15"], "extensions": ["test"] } ],
          "users": [ { "id": "bob" }, { "id": "alice" } ]
        }
        """;

    [Fact]
    public void PausedByUser_HisCallIsSilentOverTheSpan_AndTheSidecarAuditAndMetricsSaySo()
    {
        using var dir = new Cluster.Estate(Config);
        string pcap = dir.Delayed(Captures.PathOf("sip-rtp-g722.pcap"), TimeSpan.FromSeconds(10));
        string rec = Path.Combine(dir.Path, "rec");
        using ServiceProcess service = ServiceProcess.Start(new Dictionary<string, string?>(),
            "--replay", pcap, "--recordings", rec, "--state", Path.Combine(dir.Path, "state"), "--config", dir.ConfigFile, "--workers", "1");
        Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "never ready: " + service.Log);
        Created(Post(service, "/api/logins", new { user = "bob", device = "desk-b" }));
        Assert.Empty(Json(service, "/api/calls").EnumerateArray()); // else the call began before the login

        // bob's call, with about a second of its media before the pause (50 packets a second, one way).
        JsonElement call = Poll(() => Json(service, "/api/calls").EnumerateArray().Where(c => c.GetProperty("right").GetProperty("user").GetString() == "bob"
                && c.GetProperty("codecs").GetArrayLength() > 0).Select(c => (JsonElement?)c).FirstOrDefault(),
            TimeSpan.FromSeconds(30), "bob's call in GET /api/calls", service);
        string id = call.GetProperty("id").GetString()!;
        service.WaitForMetrics(d => d.Sum("appliance_rtp_packets_total") >= 50, TimeSpan.FromSeconds(10));

        JsonElement paused = Assert.Single(PostJson(service, "/api/users/bob/pause", HttpStatusCode.OK).EnumerateArray());
        Assert.Equal((id, true, "admin"), (paused.GetProperty("id").GetString(), paused.GetProperty("paused").GetBoolean(), paused.GetProperty("pausedBy").GetString()));
        Thread.Sleep(2000);
        Assert.False(Assert.Single(PostJson(service, "/api/users/bob/resume", HttpStatusCode.OK).EnumerateArray()).GetProperty("paused").GetBoolean());
        PostJson(service, "/api/users/alice/pause", HttpStatusCode.NotFound); // known, in no call
        PostJson(service, "/api/users/nobody/pause", HttpStatusCode.NotFound);

        // The recording: one pause by admin, silent in both channels over it, bob's audio right before and after.
        Poll(() => Ids(Json(service, "/api/recordings?user=bob")).Contains(id) ? "ok" : null, TimeSpan.FromSeconds(30), "bob's recording", service);
        CallSidecar sidecar = CallSidecar.Deserialize(service.Get($"/api/recordings/{id}"))!;
        CallEventSidecar pause = Assert.Single(sidecar.Events, e => e.Type == CallEventTypes.Pause);
        CallEventSidecar end = Assert.Single(sidecar.Events, e => e.Type == CallEventTypes.PauseEnd);
        Assert.Equal(("admin", "admin"), (pause.By, end.By));
        Assert.InRange(sidecar.PausedSeconds, 1.9, 4); // 2 s, plus the requests' time on a loaded machine
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(rec, sidecar.File!));
        double from = pause.OffsetSeconds!.Value, to = end.OffsetSeconds!.Value;
        double left = audio.Rms(0, from + 0.05, to - 0.05), right = audio.Rms(1, from + 0.05, to - 0.05); // an Opus frame straddles each edge
        double before = audio.Rms(1, 0, from - 0.05), after = audio.Rms(1, to + 0.05, audio.DurationSeconds);
        output.WriteLine($"paused {from:0.000} s to {to:0.000} s: rms L {left:0.0} R {right:0.0}; bob (right) before {before:0}, after {after:0}");
        Assert.True(left < PausedAudio.Silent && right < PausedAudio.Silent, $"silent while paused: rms L {left:0.0} R {right:0.0}");
        Assert.True(before > PausedAudio.Heard && after > PausedAudio.Heard, $"bob heard outside the pause (speech with gaps, so whole spans): {before:0}, {after:0}");

        string[] audited = [.. Audit(service).Where(e => e.Action is "pause" or "resume").Select(e => $"{e.Token} {e.Action} {e.Target}")];
        Assert.Equal(["admin pause user:bob", "admin resume user:bob", "admin pause user:alice", "admin pause user:nobody"], audited);
        Exposition.Document m = service.WaitForMetrics(d => d.Sum("appliance_calls_paused_seconds_total") > 0, TimeSpan.FromSeconds(5));
        Assert.Equal((1, 0), (m.Sum("appliance_calls_pauses_total"), m.Sum("appliance_calls_paused")));
    }

    private static JsonElement PostJson(ServiceProcess s, string path, HttpStatusCode expected)
    {
        using HttpResponseMessage r = Post(s, path, null);
        string body = r.Content.ReadAsStringAsync().Result;
        Assert.True(r.StatusCode == expected, $"{path}: {(int)r.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
