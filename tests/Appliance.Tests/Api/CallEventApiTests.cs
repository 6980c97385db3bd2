using System.Globalization;
using System.Net;
using System.Text.Json;
using Appliance.Service;
using Capture.Calls;
using Capture.Pipeline;
using Capture.Recording;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Api;

/// <summary>A call as the pipeline reports it (played here through the runtime's observer and result sink): listed while
/// in progress, streamed as call.started / call.ended / recording.written, then found in the catalog.</summary>
public sealed class CallEventApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private ApiHost Host => fixture.Host;

    [Fact]
    public async Task ACall_IsListedWhileInProgress_StreamedAndCataloguedWhenWritten()
    {
        var runtime = Host.Services.GetRequiredService<ApplianceRuntime>();
        string id = Guid.CreateVersion7().ToString("D");
        DateTimeOffset started = DateTimeOffset.UtcNow;
        var metadata = new CallMetadata
        {
            Protocol = "sip",
            CallId = "api-test@10.0.0.1",
            StartedAt = started,
            Left = new PartyInfo { Extension = "4001", Device = "desk-1", HostDevice = "desk-1" },
            Right = new PartyInfo { Extension = "+441234567890" },
            Codecs = ["PCMU"],
        };

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using HttpResponseMessage stream = await Host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/events?types=call,recording"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cts.Token));
        Assert.Equal("stream.open", (await Sse.ReadAsync(reader, cts.Token)).Name);

        long ns = (started - DateTimeOffset.UnixEpoch).Ticks * 100;
        ((ICallObserver)runtime).CallStarted(id, metadata, ns);

        using (JsonDocument calls = await Host.GetJsonAsync("/api/calls"))
        {
            JsonElement call = calls.RootElement.EnumerateArray().Single(c => c.GetProperty("id").GetString() == id);
            Assert.Equal(("4001", "desk-1"), (call.GetProperty("left").GetProperty("extension").GetString(), call.GetProperty("left").GetProperty("device").GetString()));
        }

        using (JsonDocument call = await Host.GetJsonAsync($"/api/calls/{id}"))
        {
            Assert.Equal("api-test@10.0.0.1", call.RootElement.GetProperty("callId").GetString());
        }

        ((ICallObserver)runtime).CallEnded(id, CallEndReasons.Bye, ns + 5_000_000_000);
        var sidecar = new CallSidecar
        {
            Id = id, Protocol = "sip", CallId = metadata.CallId, StartedAt = started, EndedAt = started.AddSeconds(5),
            Parties = [PartySidecar.From(metadata.Left, "left"), PartySidecar.From(metadata.Right, "right")],
            Codecs = ["PCMU"], Dtmf = [], Events = [], EndReason = CallEndReasons.NoMedia, SignalledEnd = CallEndReasons.Bye,
        };
        string folder = Path.Combine(Host.Recordings, started.UtcDateTime.ToString("yyyy/MM/dd", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, id + ".json"), CallSidecar.Serialize(sidecar));
        ((ICallResultSink)runtime).OnCallFinished(sidecar);

        (string Name, string Data, string? _) e = await Sse.ReadAsync(reader, cts.Token);
        Assert.Equal("call.started", e.Name);
        using (JsonDocument data = JsonDocument.Parse(e.Data))
        {
            Assert.Equal((id, "4001"), (data.RootElement.GetProperty("recordingId").GetString(), data.RootElement.GetProperty("call").GetProperty("left").GetProperty("extension").GetString()));
        }

        e = await Sse.ReadAsync(reader, cts.Token);
        Assert.Equal("call.ended", e.Name);
        using (JsonDocument data = JsonDocument.Parse(e.Data))
        {
            Assert.Equal("bye", data.RootElement.GetProperty("reason").GetString());
        }

        e = await Sse.ReadAsync(reader, cts.Token);
        Assert.Equal("recording.written", e.Name);
        using (JsonDocument data = JsonDocument.Parse(e.Data))
        {
            Assert.False(data.RootElement.GetProperty("recording").GetProperty("hasAudio").GetBoolean());
        }

        using (JsonDocument after = await Host.GetJsonAsync("/api/calls"))
        {
            Assert.DoesNotContain(after.RootElement.EnumerateArray(), c => c.GetProperty("id").GetString() == id);
        }

        using (JsonDocument found = await Host.GetJsonAsync("/api/recordings?extension=%2B441234567890"))
        {
            Assert.Equal(id, Assert.Single(found.RootElement.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        }

        using (JsonDocument byUser = await Host.GetJsonAsync("/api/recordings?device=desk-1&limit=5"))
        {
            Assert.Equal(id, Assert.Single(byUser.RootElement.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        }

        using (JsonDocument got = await Host.GetJsonAsync($"/api/recordings/{id}"))
        {
            Assert.Equal("no-media", got.RootElement.GetProperty("endReason").GetString());
        }

        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.Client.GetAsync($"/api/recordings/{id}/audio"), 404);
        Assert.Contains("no audio", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Host.Client.GetAsync($"/api/recordings/{fixture.RecordingId}/audio")).StatusCode);
    }
}

/// <summary>Reads Server-Sent Events as a browser's EventSource does (name, data, id).</summary>
internal static class Sse
{
    public static async Task<(string Name, string Data, string? Id)> ReadAsync(StreamReader reader, CancellationToken ct)
    {
        string name = "message", data = "";
        string? id = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0)
                {
                    return (name, data, id);
                }

                continue;
            }

            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data += line["data: ".Length..];
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line["id: ".Length..];
            }
        }

        throw new EndOfStreamException("the event stream ended");
    }
}
