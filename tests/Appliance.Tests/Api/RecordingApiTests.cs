using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>
/// Calls and recordings of the replayed samples/sipp-g711a-call.pcap (tshark: one SIP call, 2001 "Alice Caller" to
/// 2002, Call-ID 1-12907@127.0.0.1, PCMA both ways, ended by BYE).
/// </summary>
public sealed class RecordingApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private const string CallId = "1-12907@127.0.0.1";

    private ApiHost Host => fixture.Host;

    private string Id => fixture.RecordingId;

    private async Task<string[]> SearchIds(string query)
    {
        using JsonDocument doc = await Host.GetJsonAsync("/api/recordings" + query);
        Assert.Equal(doc.RootElement.GetProperty("count").GetInt32(), doc.RootElement.GetProperty("items").GetArrayLength());
        return [.. doc.RootElement.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetString()!)];
    }

    [Fact]
    public async Task Search_FindsTheCallByEveryFilter()
    {
        using JsonDocument doc = await Host.GetJsonAsync("/api/recordings");
        JsonElement call = Assert.Single(doc.RootElement.GetProperty("items").EnumerateArray());
        Assert.Equal((CallId, "bye", true), (call.GetProperty("callId").GetString(), call.GetProperty("endReason").GetString(), call.GetProperty("hasAudio").GetBoolean()));
        Assert.Equal(["2001", "2002"], call.GetProperty("parties").EnumerateArray().Select(p => p.GetProperty("extension").GetString()));
        Assert.Equal(["PCMA"], call.GetProperty("codecs").EnumerateArray().Select(c => c.GetString()));
        DateTimeOffset started = call.GetProperty("startedAt").GetDateTimeOffset();

        Assert.Equal([Id], await SearchIds("?extension=2002"));
        Assert.Equal([Id], await SearchIds("?extension=2001&callId=" + Uri.EscapeDataString(CallId)));
        Assert.Equal([Id], await SearchIds("?device=" + Uri.EscapeDataString("sip:127.0.0.1:5061")));
        Assert.Equal([Id], await SearchIds($"?from={Uri.EscapeDataString(started.ToString("O"))}&to={Uri.EscapeDataString(started.AddSeconds(1).ToString("O"))}&limit=1"));
        Assert.Empty(await SearchIds("?extension=200"));        // extensions are exact
        Assert.Empty(await SearchIds("?user=alice"));
        Assert.Empty(await SearchIds("?callId=other"));
        Assert.Empty(await SearchIds($"?from={Uri.EscapeDataString(started.AddSeconds(1).ToString("O"))}"));
        Assert.Empty(await SearchIds($"?to={Uri.EscapeDataString(started.ToString("O"))}"));
    }

    [Fact]
    public async Task Search_RefusesBadQueryValues()
    {
        JsonElement problem = await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recordings?from=last-tuesday"), 400);
        Assert.True(problem.GetProperty("errors").TryGetProperty("from", out _));
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recordings?limit=0"), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recordings?limit=1001"), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recordings?limit=many"), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recordings?extension=" + new string('1', 300)), 400);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/recordings?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"), 400);
    }

    [Fact]
    public async Task Sidecar_IsTheRecordingsJson_UnknownIs404_NotAUuidIs400()
    {
        using HttpResponseMessage response = await Host.Client.GetAsync($"/api/recordings/{Id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using JsonDocument sidecar = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(Id, sidecar.RootElement.GetProperty("id").GetString());
        Assert.Equal(CallId, sidecar.RootElement.GetProperty("callId").GetString());
        Assert.True(sidecar.RootElement.GetProperty("packets").GetInt64() > 600);

        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync($"/api/recordings/{Guid.NewGuid()}"), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync($"/api/recordings/{Guid.NewGuid()}/audio"), 404);
        foreach (string bad in (string[])["abc", "..%2F..%2Fetc%2Fpasswd", Id + ".json", Id.ToUpperInvariant() + "x", "%2Fetc%2Fpasswd"])
        {
            using HttpResponseMessage refused = await Host.Client.GetAsync($"/api/recordings/{bad}");
            Assert.True(refused.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{bad}: {(int)refused.StatusCode}");
            await ApiHost.AssertProblemAsync(refused, (int)refused.StatusCode);
        }
    }

    [Fact]
    public async Task Audio_IsOggOpus_WithRangeRequests()
    {
        using HttpResponseMessage full = await Host.Client.GetAsync($"/api/recordings/{Id}/audio");
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal("audio/ogg", full.Content.Headers.ContentType?.MediaType);
        Assert.Equal("bytes", full.Headers.AcceptRanges.Single());
        byte[] bytes = await full.Content.ReadAsByteArrayAsync();
        Assert.Equal("OggS"u8.ToArray(), bytes[..4]);
        Assert.True(bytes.Length > 10_000);

        using var range = new HttpRequestMessage(HttpMethod.Get, $"/api/recordings/{Id}/audio");
        range.Headers.Range = new RangeHeaderValue(100, 199);
        using HttpResponseMessage partial = await Host.Client.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal((100L, 199L, (long)bytes.Length), (partial.Content.Headers.ContentRange!.From!.Value, partial.Content.Headers.ContentRange.To!.Value, partial.Content.Headers.ContentRange.Length!.Value));
        Assert.Equal(bytes[100..200], await partial.Content.ReadAsByteArrayAsync());

        using var suffix = new HttpRequestMessage(HttpMethod.Get, $"/api/recordings/{Id}/audio");
        suffix.Headers.Range = new RangeHeaderValue(null, 10);
        using HttpResponseMessage tail = await Host.Client.SendAsync(suffix);
        Assert.Equal(HttpStatusCode.PartialContent, tail.StatusCode);
        Assert.Equal(bytes[^10..], await tail.Content.ReadAsByteArrayAsync());

        using var beyond = new HttpRequestMessage(HttpMethod.Get, $"/api/recordings/{Id}/audio");
        beyond.Headers.Range = new RangeHeaderValue(bytes.Length, null);
        using HttpResponseMessage unsatisfiable = await Host.Client.SendAsync(beyond);
        await ApiHost.AssertProblemAsync(unsatisfiable, 416);
        Assert.Equal($"bytes */{bytes.Length}", unsatisfiable.Content.Headers.ContentRange?.ToString());
    }

    [Fact]
    public async Task Calls_NoneInProgressAfterTheReplay()
    {
        using JsonDocument calls = await Host.GetJsonAsync("/api/calls");
        Assert.Empty(calls.RootElement.EnumerateArray());
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync($"/api/calls/{Id}"), 404);
        await ApiHost.AssertProblemAsync(await Host.Client.GetAsync("/api/calls/not-a-uuid"), 400);
    }
}
