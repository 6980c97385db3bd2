using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Appliance.Service;
using Appliance.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Api;

/// <summary>
/// The real `appliance run` host in this process on 127.0.0.1 (a free port), replaying the bundled SIPp call
/// (samples/sipp-g711a-call.pcap, unpaced) into a temporary folder, with a directory configuration of its own.
/// </summary>
public sealed class ApiHost : IAsyncDisposable
{
    public const string Token = "test-token-0123456789abcdef";

    /// <summary>desk-1 {4001} and desk-2 {4002} configured; alice (profile {3001, 3002}), bob (PIN 1234), carol, dave.</summary>
    public const string Config = """
        {
          "recordingGroups": [ { "id": "agents" }, { "id": "quiet", "record": false } ],
          "devices": [
            { "id": "desk-1", "name": "Desk 1", "extensions": ["4001"], "recordingGroup": "agents" },
            { "id": "desk-2", "extensions": ["4002"] },
            { "id": "desk-3", "extensions": ["4003"] },
            { "id": "desk-4", "extensions": ["4004"] }
          ],
          "users": [
            { "id": "alice", "name": "Alice" },
            { "id": "bob", "name": "Bob", "pin": "1234" },
            { "id": "carol" },
            { "id": "dave" },
            { "id": "erin" }
          ],
          "profiles": [ { "id": "alice-em", "user": "alice", "extensions": ["3001", "3002"] } ]
        }
        """;

    private WebApplication? _app;
    private bool _generatedToken;

    private ApiHost(string folder) => Folder = folder;

    public string Folder { get; }

    public string State => Path.Combine(Folder, "state");

    public string Recordings => Path.Combine(Folder, "recordings");

    public string? ConfigFile { get; private set; }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>A client that sends the token.</summary>
    public HttpClient Client { get; private set; } = null!;

    /// <summary>A client that sends no token.</summary>
    public HttpClient Anonymous { get; private set; } = null!;

    /// <summary>
    /// Starts a host; <paramref name="config"/> null runs without a DirectoryConfig file (edits go to the state folder);
    /// <paramref name="replay"/> replaces the bundled call (<see cref="EmptyCapture"/>: no traffic at all);
    /// <paramref name="settings"/> are more `appliance run` arguments ("--Retention:DefaultKeepDays=90").
    /// </summary>
    public static async Task<ApiHost> StartAsync(string? config = Config, string? folder = null, bool withToken = true, string? replay = null,
        IEnumerable<string>? settings = null)
    {
        var host = new ApiHost(folder ?? Path.Combine(Path.GetTempPath(), "appliance-api-" + Guid.NewGuid().ToString("N"))) { _generatedToken = !withToken };
        Directory.CreateDirectory(host.Folder);
        var args = new List<string>
        {
            "--settings", "none",
            "--replay", replay ?? Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"), "--no-pacing",
            "--recordings", host.Recordings, "--state", host.State,
            "--listen", "http://127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
        };
        if (withToken)
        {
            args.Add("--Token=" + Token);
        }

        // These hosts answer hundreds of wrong tokens from 127.0.0.1 on purpose (every route's 401); the throttle would
        // turn them into 429s. FailedAuthApiTests start hosts with the default limit (their settings come after: they win).
        args.Add("--AuthThrottle:MaxFailures=1000000");
        args.AddRange(settings ?? []);

        if (config is not null)
        {
            host.ConfigFile = Path.Combine(host.Folder, "directory.json");
            if (!File.Exists(host.ConfigFile))
            {
                await File.WriteAllTextAsync(host.ConfigFile, config);
            }

            args.AddRange(["--config", host.ConfigFile]);
        }

        await host.StartAsync(args);
        return host;
    }

    private async Task StartAsync(List<string> args)
    {
        _app = ApplianceHost.Build([.. args]);
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Anonymous = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _generatedToken ? File.ReadAllText(TokenFile).Trim() : Token);
    }

    public string TokenFile => Path.Combine(State, "api-token");

    /// <summary>Writes a pcap file with no packet (its 24-byte header, Ethernet) to <paramref name="path"/>: a host that records nothing.</summary>
    public static string EmptyCapture(string path)
    {
        byte[] header = new byte[24];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header, 0xa1b2c3d4); // microsecond pcap
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 2);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), 4);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 65535);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 1); // LINKTYPE_ETHERNET
        File.WriteAllBytes(path, header);
        return path;
    }

    /// <summary>The running application (its endpoint data source lists every route).</summary>
    public WebApplication App => _app!;

    /// <summary>The host's services (the runtime, to play a pipeline's part in tests).</summary>
    public IServiceProvider Services => _app!.Services;

    /// <summary>Waits until the replayed call's recording is in the catalog; returns its id.</summary>
    public async Task<string> WaitForRecordingAsync()
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using JsonDocument list = await GetJsonAsync("/api/recordings");
            if (list.RootElement.GetProperty("items").EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } first)
            {
                return first.GetProperty("id").GetString()!;
            }

            Assert.True(DateTime.UtcNow < deadline, "the replayed call's recording did not reach the catalog in 30 s");
            await Task.Delay(50);
        }
    }

    public async Task<JsonDocument> GetJsonAsync(string path)
    {
        using HttpResponseMessage response = await Client.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body);
    }

    public Task<HttpResponseMessage> PutJsonAsync(string path, string json) =>
        Client.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PostAsync<T>(string path, T value) => Client.PostAsJsonAsync(path, value);

    /// <summary>Asserts an RFC 7807 answer with <paramref name="status"/>; returns its body.</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, int status)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    /// <summary>The sentences listed under a problem's errors, all locations together.</summary>
    public static List<string> Errors(JsonElement problem) =>
        [.. problem.GetProperty("errors").EnumerateObject().SelectMany(p => p.Value.EnumerateArray().Select(e => e.GetString()!))];

    /// <summary>Stops the host (as SIGTERM does: recordings finalised, directory checkpointed), keeping its folder.</summary>
    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }

        Client?.Dispose();
        Anonymous?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One host shared by the tests of a class (xunit class fixture).</summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    public ApiHost Host { get; private set; } = null!;

    public string RecordingId { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Host = await ApiHost.StartAsync();
        RecordingId = await Host.WaitForRecordingAsync();
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
