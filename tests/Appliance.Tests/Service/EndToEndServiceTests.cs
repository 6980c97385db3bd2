using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>
/// Issue 5 end to end, as a user runs it: `appliance run` captures the live rig's bridge (tests/live/netns.sh), SIPp places
/// real calls (REGISTER, INVITE, RTP both ways), and everything is checked through the control API and /metrics with the
/// bearer token: the phone and its extension while the call runs, the call in progress, then its recording (search,
/// sidecar, audio with a range request, decoded by opusdec). A second call is cut by SIGTERM: the service exits 0 and
/// that call's recording is finalised and playable. Needs root, sipp and ip (CI runs as root); otherwise it says why and
/// returns. Shares the rig's namespaces with <see cref="LiveCaptureTests"/>, hence the same collection (run serially).
/// </summary>
[Collection("live")]
public sealed class EndToEndServiceTests(ITestOutputHelper output)
{
    private const string Phone = "sip:10.77.0.10:5061";
    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);

    [Fact]
    public void Run_OnTheLiveBridge_ShowsTheCallInTheApi_RecordsIt_AndOnSigtermFinalisesTheCallInProgress()
    {
        if (SkipReason() is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        var total = Stopwatch.StartNew();
        string netns = LiveRig.Script;
        string dir = Path.Combine(Path.GetTempPath(), "appl-e2e-" + Guid.NewGuid().ToString("N"));
        string rec = Path.Combine(dir, "rec");
        Directory.CreateDirectory(dir);
        (int up, string upLog) = Repo.Run("bash", [netns, "up"], TimeSpan.FromSeconds(60));
        Assert.True(up == 0, "netns rig: " + upLog);
        ServiceProcess? service = null;
        BackgroundCall? call1 = null, call2 = null;
        try
        {
            service = ServiceProcess.Start(new Dictionary<string, string?>(),
                "--interface", LiveRig.Bridge, "--recordings", rec, "--state", Path.Combine(dir, "state"), "--workers", "1", "--checkpoint-seconds", "1");
            Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "/readyz never 200: " + service.Log);
            output.WriteLine($"{total.Elapsed.TotalSeconds:F1} s: ready");

            // 1. A whole call: 2001 registers from 10.77.0.10:5061, then calls 2002 for ~8.5 s.
            call1 = BackgroundCall.Start(netns, Path.Combine(dir, "call1"));

            // While it is in progress: the call, the phone and its extension, through the API. The call is listed as the INVITE
            // starts it and its SDP (addresses, codecs) is applied right after: wait for that, not for the first glimpse.
            JsonElement active = Poll(() => Json(service, "/api/calls").EnumerateArray().SingleOrDefault(c =>
                    c.GetProperty("left").GetProperty("extension").GetString() == "2001" && c.GetProperty("codecs").GetArrayLength() > 0),
                TimeSpan.FromSeconds(10), "call 2001 -> 2002 with its codecs in GET /api/calls", service);
            output.WriteLine($"{total.Elapsed.TotalSeconds:F1} s: active call {active}");
            string id1 = active.GetProperty("id").GetString()!;
            Assert.Equal("sip", active.GetProperty("protocol").GetString());
            Assert.Equal("2002", active.GetProperty("right").GetProperty("extension").GetString());
            Assert.Equal(Phone, active.GetProperty("left").GetProperty("device").GetString());
            Assert.Contains(active.GetProperty("codecs").EnumerateArray(), c => c.GetString()!.Contains("PCMA", StringComparison.OrdinalIgnoreCase));

            JsonElement phone = Assert.Single(Json(service, "/api/devices").EnumerateArray(), d => d.GetProperty("id").GetString() == Phone);
            Assert.Contains("10.77.0.10", phone.GetProperty("ips").EnumerateArray().Select(i => i.GetString()));
            Assert.Contains("2001", phone.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("extension").GetString()));
            Assert.True(phone.GetProperty("registered").GetBoolean(), "the phone registered: " + phone);

            JsonElement located = Json(service, "/api/locate/extension/2001");
            Assert.True(located.GetProperty("found").GetBoolean());
            Assert.Equal(Phone, located.GetProperty("hostDevice").GetString());
            Assert.Contains("10.77.0.10", located.GetProperty("ips").EnumerateArray().Select(i => i.GetString()));
            Assert.Equal(id1, Json(service, $"/api/calls/{id1}").GetProperty("id").GetString());

            (int code1, string log1) = call1.Wait(TimeSpan.FromSeconds(40));
            Assert.True(code1 == 0, "SIPp call 1 failed: " + log1);
            output.WriteLine($"{total.Elapsed.TotalSeconds:F1} s: call 1 done");

            // After it: the recording is found by extension, its sidecar and its audio are served.
            JsonElement found = Poll(() => Json(service, "/api/recordings?extension=2001").GetProperty("items").EnumerateArray().SingleOrDefault(r => r.GetProperty("id").GetString() == id1),
                TimeSpan.FromSeconds(10), "recording of call 1 in GET /api/recordings?extension=2001", service);
            Assert.Equal(CallEndReasons.Bye, found.GetProperty("endReason").GetString());
            Assert.True(found.GetProperty("hasAudio").GetBoolean());
            Assert.Empty(Json(service, "/api/calls").EnumerateArray());

            CallSidecar sidecar1 = CallSidecar.Deserialize(service.Get($"/api/recordings/{id1}"))!;
            Assert.Equal(id1, sidecar1.Id);
            Assert.Equal(CallEndReasons.Bye, sidecar1.EndReason);
            Assert.Equal(("2001", "2002"), (sidecar1.Parties[0].Extension, sidecar1.Parties[1].Extension));
            Assert.Equal(Phone, sidecar1.Parties[0].Device);
            Assert.InRange(sidecar1.MediaDurationSeconds, 7.8, 8.3); // speech 7.05 s and tone 7.98 s, starting together

            byte[] opus = GetBytes(service, $"/api/recordings/{id1}/audio", out HttpResponseMessage whole);
            Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
            Assert.Equal("audio/ogg", whole.Content.Headers.ContentType?.MediaType);
            Assert.Equal("OggS", Encoding.ASCII.GetString(opus, 0, 4));
            byte[] part = GetBytes(service, $"/api/recordings/{id1}/audio", out HttpResponseMessage partial, r => r.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 1099));
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal($"bytes 100-1099/{opus.Length}", partial.Content.Headers.ContentRange?.ToString());
            Assert.Equal(opus.AsSpan(100, 1000).ToArray(), part);

            string downloaded = Path.Combine(dir, "call1.opus");
            File.WriteAllBytes(downloaded, opus);
            DecodedAudio audio = DecodedAudio.Decode(downloaded);
            output.WriteLine($"call 1: {audio.DurationSeconds:F3} s (sidecar {sidecar1.MediaDurationSeconds:F3}), active L {audio.ActiveSeconds(0)} R {audio.ActiveSeconds(1)}, corr {audio.ChannelCorrelation():F3}");
            Assert.Equal(2, audio.Channels);
            Assert.InRange(audio.DurationSeconds, sidecar1.MediaDurationSeconds - 0.05, sidecar1.MediaDurationSeconds + 0.05);
            Assert.True(audio.ActiveSeconds(0) > 4, "caller's speech on the left");
            Assert.True(audio.ActiveSeconds(1) > 7, "callee's tone on the right");
            Assert.InRange(Math.Abs(audio.ChannelCorrelation()), 0, 0.2);

            Exposition.Document m = service.WaitForMetrics(d => d.Sum("appliance_recordings_written_total") >= 1, TimeSpan.FromSeconds(5));
            double rtpAfterCall1 = m.Sum("appliance_rtp_packets_total");
            output.WriteLine($"metrics after call 1: packets {m.Sum("appliance_capture_packets_total")}, calls {m.Sum("appliance_calls_started_total")}, recordings {m.Sum("appliance_recordings_written_total")}, rtp {rtpAfterCall1}");
            Assert.True(m.Sum("appliance_capture_packets_total") > 0);
            Assert.True(m.Sum("appliance_calls_started_total") >= 1);
            Assert.True(m.Sum("appliance_calls_ended_total", ("reason", "bye")) >= 1);
            Assert.True(m.Sum("appliance_recordings_written_total") >= 1);
            // The rig's call is 656 UDP frames (tests/live/README.md): 236 speech + 400 tone + 10 DTMF packets are RTP, the
            // other 10 are SIP. Every one of them, and not one twice (a little slack for a frame lost on the bridge).
            Assert.InRange(rtpAfterCall1, 620, 646);
            Assert.Equal(0, m.Sum("appliance_recordings_failed_total"));

            // 2. SIGTERM in the middle of a second call: exit 0 within ShutdownSeconds, the call finalised and playable.
            call2 = BackgroundCall.Start(netns, Path.Combine(dir, "call2"));
            JsonElement second = Poll(() => Json(service, "/api/calls").EnumerateArray().SingleOrDefault(c => c.GetProperty("id").GetString() != id1),
                TimeSpan.FromSeconds(10), "call 2 in GET /api/calls", service);
            string id2 = second.GetProperty("id").GetString()!;
            Exposition.Document flowing = service.WaitForMetrics(d => d.Sum("appliance_rtp_packets_total") >= rtpAfterCall1 + 150, TimeSpan.FromSeconds(10));
            Assert.True(flowing.Sum("appliance_rtp_packets_total") >= rtpAfterCall1 + 150, "no media in call 2: " + service.Log);
            Assert.Equal(1, flowing.Sum("appliance_active_calls"));
            output.WriteLine($"{total.Elapsed.TotalSeconds:F1} s: call 2 {id2} has media; SIGTERM");

            var stopping = Stopwatch.StartNew();
            service.Signal("TERM");
            Assert.True(service.Process.WaitForExit(TimeSpan.FromSeconds(20)), "did not stop within ShutdownSeconds (20 s): " + service.Log);
            service.Process.WaitForExit(); // the output readers drain
            output.WriteLine($"SIGTERM to exit: {stopping.Elapsed.TotalSeconds:F2} s");
            call2.Kill(); // SIPp is still in the call; the rig's teardown stops anything left
            string log = service.Log;
            output.WriteLine(log);
            Assert.Equal(0, service.Process.ExitCode);
            Assert.Contains("1 call(s) finalised, 1 recording(s) written, 0 failed, directory saved", log, StringComparison.Ordinal);

            string json2 = Assert.Single(Directory.GetFiles(rec, id2 + ".json", SearchOption.AllDirectories));
            CallSidecar sidecar2 = CallSidecar.Deserialize(File.ReadAllText(json2))!;
            Assert.Equal(CallEndReasons.CaptureEnded, sidecar2.EndReason);
            Assert.Equal(("2001", "2002"), (sidecar2.Parties[0].Extension, sidecar2.Parties[1].Extension));
            DecodedAudio cut = DecodedAudio.Decode(Path.Combine(rec, sidecar2.File!));
            output.WriteLine($"call 2: {cut.DurationSeconds:F3} s (sidecar {sidecar2.MediaDurationSeconds:F3})");
            Assert.Equal(2, cut.Channels);
            Assert.True(cut.DurationSeconds > 1, $"call 2 plays {cut.DurationSeconds:F2} s");
            Assert.InRange(cut.DurationSeconds, sidecar2.MediaDurationSeconds - 0.1, sidecar2.MediaDurationSeconds + 0.1);

            // 3. Started again on the same folders: both recordings are found through the API (the start-up scan), the cut
            // one's audio is served, and the phone learned before the restart is still in the directory.
            service.Dispose();
            service = ServiceProcess.Start(new Dictionary<string, string?>(),
                "--interface", LiveRig.Bridge, "--recordings", rec, "--state", Path.Combine(dir, "state"), "--workers", "1");
            Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "/readyz never 200 after the restart: " + service.Log);
            Poll(() => Json(service, "/api/recordings?extension=2001") is var list && !list.GetProperty("indexing").GetBoolean() ? list : default,
                TimeSpan.FromSeconds(10), "the end of the start-up scan", service);
            Assert.Equal([id2, id1], Json(service, "/api/recordings?extension=2001").GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
            Assert.Equal(CallEndReasons.CaptureEnded, CallSidecar.Deserialize(service.Get($"/api/recordings/{id2}"))!.EndReason);
            Assert.Equal(File.ReadAllBytes(Path.Combine(rec, sidecar2.File!)), GetBytes(service, $"/api/recordings/{id2}/audio", out HttpResponseMessage cutAudio));
            Assert.Equal(HttpStatusCode.OK, cutAudio.StatusCode);
            Assert.Contains(Json(service, "/api/devices").EnumerateArray(), d => d.GetProperty("id").GetString() == Phone);
            output.WriteLine($"test {total.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            call1?.Kill();
            call2?.Kill();
            service?.Dispose();
            Repo.Run("bash", [netns, "down"], TimeSpan.FromSeconds(60));
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string? SkipReason() => LiveRig.SkipReason("the live end-to-end test");

    private static JsonElement Json(ServiceProcess service, string path) => JsonSerializer.Deserialize<JsonElement>(service.Get(path), s_web);

    private static byte[] GetBytes(ServiceProcess service, string path, out HttpResponseMessage response, Action<HttpRequestMessage>? configure = null)
    {
        response = service.Send(path, configure);
        return response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
    }

    /// <summary>Polls until <paramref name="probe"/> gives a JSON value (not default), failing with the log when the time is up.</summary>
    private static JsonElement Poll(Func<JsonElement> probe, TimeSpan timeout, string what, ServiceProcess service)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            JsonElement e = probe();
            if (e.ValueKind != JsonValueKind.Undefined)
            {
                return e;
            }

            if (sw.Elapsed > timeout || service.Process.HasExited)
            {
                throw new TimeoutException($"no {what} within {timeout.TotalSeconds} s: {service.Log}");
            }

            Thread.Sleep(100);
        }
    }

    /// <summary>`netns.sh call LOGDIR` in the background (all its SIPps bounded by their own timeouts), with its output.</summary>
    internal sealed class BackgroundCall
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();

        private BackgroundCall(Process process) => _process = process;

        public static BackgroundCall Start(string netns, string logDir)
        {
            var psi = new ProcessStartInfo("bash", [netns, "call", logDir]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
            var call = new BackgroundCall(Process.Start(psi) ?? throw new InvalidOperationException("netns.sh call did not start"));
            call._process.OutputDataReceived += (_, e) => call.Append(e.Data);
            call._process.ErrorDataReceived += (_, e) => call.Append(e.Data);
            call._process.BeginOutputReadLine();
            call._process.BeginErrorReadLine();
            return call;
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(line);
                }
            }
        }

        public (int ExitCode, string Log) Wait(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
            {
                Kill();
                throw new TimeoutException($"netns.sh call did not finish in {timeout.TotalSeconds} s");
            }

            _process.WaitForExit();
            lock (_log)
            {
                return (_process.ExitCode, _log.ToString());
            }
        }

        /// <summary>Stops the script and the SIPps it started (its process tree, by pid), if still running.</summary>
        public void Kill()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
    }
}
