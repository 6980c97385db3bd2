using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>
/// Issue 13: hostile request bodies on every route that takes one, hostile path values on every route with a parameter,
/// and Range abuse on the audio download. Never a 5xx, always a problem body from the API, never a byte from outside the
/// recordings folder.
/// </summary>
[Collection(Support.HostileCollection.Name)]
public sealed class HostileInputTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private const string Canary = "CANARY-outside-the-recordings-folder";

    private ApiHost Host => fixture.Host;

    private List<ApiRoute> Routes => ApiRoutes.Of(Host.App);

    /// <summary>Bodies no route may answer with a 5xx: each with the status every JSON body route must give it.</summary>
    public static IEnumerable<(string Name, byte[] Body, string ContentType, int Status)> HostileBodies()
    {
        static byte[] U(string s) => Encoding.UTF8.GetBytes(s);
        yield return ("empty", [], "application/json", 400);
        yield return ("malformed", U("{ not json"), "application/json", 400);
        yield return ("unterminated", U("[1, 2"), "application/json", 400);
        yield return ("a bare value", U("42"), "application/json", 400);
        yield return ("NUL", U("\0"), "application/json", 400);
        yield return ("invalid UTF-8", [(byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}'], "application/json", 400);
        yield return ("UTF-16 with a BOM", Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("{}")).ToArray(), "application/json", 400);
        yield return ("deep objects", U(string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100)), "application/json", 400);
        yield return ("deep arrays", U(new string('[', 100_000)), "application/json", 400);
        yield return ("duplicate keys", U("{\"user\": \"alice\", \"user\": \"bob\", \"device\": \"desk-1\", \"extensions\": [\"5\"], \"scope\": \"all\"}"), "application/json", 400);
        yield return ("a number too large", U("{\"record\": 1e400, \"replace\": 1e400, \"extensions\": 1e400, \"scope\": 1e400, \"user\": 1e400}"), "application/json", 400);
        yield return ("text/plain", U("{}"), "text/plain", 415);
        yield return ("XML", U("<a/>"), "application/xml", 415);
        yield return ("form", U("a=1"), "application/x-www-form-urlencoded", 415);
        yield return ("over 1 MB", U("{\"name\": \"" + new string('x', 1_100_000) + "\"}"), "application/json", 413);
    }

    [Fact]
    public async Task EveryBodyRoute_AnswersHostileBodies_WithTheRight4xxProblem()
    {
        List<ApiRoute> routes = [.. Routes.Where(r => r.TakesBody)];
        Assert.True(routes.Count >= 7, "PUT devices/users/profiles/recording-groups/config, POST logins and logout-all take a body: " + string.Join(", ", routes));
        foreach (ApiRoute route in routes)
        {
            string path = route.Path(_ => "hostile-body-item");
            foreach ((string name, byte[] body, string contentType, int expected) in HostileBodies())
            {
                int status = name == "over 1 MB" && route.Pattern == "/api/config" ? 400 : expected; // it takes 16 MB: read, and refused as a configuration
                if (body.Length > 64 * 1024)
                {
                    // The answer may come before the body is sent: on a socket (HttpClient would report the broken pipe).
                    (int rawStatus, string rawType) = await SendRawAsync($"{route.Method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n", body);
                    Assert.True((rawStatus, rawType) == (status, "application/problem+json"), $"{route} with {name}: {rawStatus} {rawType}");
                    continue;
                }

                using var request = new HttpRequestMessage(new HttpMethod(route.Method), path) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
                using HttpResponseMessage response = await Host.Client.SendAsync(request);
                string text = await response.Content.ReadAsStringAsync();
                Assert.True((int)response.StatusCode == status, $"{route} with {name}: expected {status}, got {(int)response.StatusCode} {text[..Math.Min(300, text.Length)]}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(status, JsonDocument.Parse(text).RootElement.GetProperty("status").GetInt32());
            }
        }

        // None of it reached the directory.
        using JsonDocument users = await Host.GetJsonAsync("/api/users");
        Assert.DoesNotContain(users.RootElement.EnumerateArray(), u => u.GetProperty("id").GetString() == "hostile-body-item");
    }

    [Fact]
    public async Task ABodyOverTheLimit_SentChunkedOrWithItsLength_Is413()
    {
        // No Content-Length: the limit bites while reading.
        string chunk = "{\"user\": \"" + new string('x', 1_200_000) + "\"}";
        (int status, string type) = await SendRawAsync(
            "POST /api/logins HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
            Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n{chunk}\r\n0\r\n\r\n"));
        Assert.Equal((413, "application/problem+json"), (status, type));

        // PUT /api/config takes 16 MB, not more; its length is refused before the body is read.
        byte[] big = Encoding.UTF8.GetBytes("{\"users\": [{\"id\": \"" + new string('x', 17 * 1024 * 1024) + "\"}]}");
        (status, type) = await SendRawAsync($"PUT /api/config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {big.Length}\r\n", big);
        Assert.Equal((413, "application/problem+json"), (status, type));
    }

    /// <summary>
    /// A request written on a socket while its answer is read: the server may answer 413 and close before the body is
    /// sent (HttpClient then reports only the broken pipe).
    /// </summary>
    private async Task<(int Status, string ContentType)> SendRawAsync(string head, byte[] body)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(Host.BaseAddress.Host, Host.BaseAddress.Port);
        System.Net.Sockets.NetworkStream stream = tcp.GetStream();
        string auth = $"Authorization: Bearer {ApiHost.Token}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + auth));
        Task send = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(body);
            }
            catch (IOException)
            {
                // closed after the answer: expected
            }
        });
        using var reader = new StreamReader(stream, Encoding.ASCII);
        string status = await reader.ReadLineAsync() ?? "";
        string type = "";
        for (string? line = await reader.ReadLineAsync(); !string.IsNullOrEmpty(line); line = await reader.ReadLineAsync())
        {
            if (line.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))
            {
                type = line["Content-Type:".Length..].Split(';')[0].Trim();
            }
        }

        tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        await send;
        return (int.Parse(status.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), type);
    }

    /// <summary>Path values: traversal raw and percent-encoded, separators, NUL and other controls, bad and overlong encodings, unicode, huge.</summary>
    private static readonly string[] s_hostileValues =
    [
        "..", ".", "%2e%2e", "%2E%2E%2F%2E%2E%2Fsecret.txt", "..%2F..%2Fsecret.txt", "..%2f..%2f..%2fsecret.txt", "..%5C..%5Csecret.txt",
        "%2e%2e%5c%2e%2e%5csecret.txt", "%252e%252e%252fsecret.txt", "..;%2Fsecret.txt", "%2Fetc%2Fpasswd", "%5Cetc%5Cpasswd", "C:%5Cwindows",
        "a%00b", "%00", "a%0d%0aSet-Cookie:%20x=1", "%1b%5b2J%1b%5d0;pwned%07", "%7f", "%c2%85", "%c0%af", "%c0%ae%c0%ae%c0%af", "%ff%fe",
        "%zz", "%", "%E2%80%AE", "%F0%9F%98%80", "%EF%BF%BF", "%ED%A0%80", "a%20b", "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        new string('a', 257), new string('a', 4000), new string('a', 10_000), new string('a', 100_000), string.Concat(Enumerable.Repeat("%2e%2e%2f", 2000)),
    ];

    [Fact]
    public async Task EveryPathValue_FromTraversalToHugeLengths_IsAProblemAndServesNothingOutside()
    {
        // Files a traversal would reach: beside the recordings folder and inside the state folder.
        await File.WriteAllTextAsync(Path.Combine(Host.Folder, "secret.txt"), Canary);
        await File.WriteAllTextAsync(Path.Combine(Host.State, "secret.txt"), Canary);
        List<ApiRoute> routes = [.. Routes.Where(r => r.Parameters.Count > 0 && !r.Pattern.StartsWith("/openapi", StringComparison.Ordinal))];
        Assert.True(routes.Count >= 15, string.Join(", ", routes));
        using var http = new HttpClient { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = Host.Client.DefaultRequestHeaders.Authorization;
        foreach (ApiRoute route in routes)
        {
            foreach (string value in s_hostileValues)
            {
                string path = route.Path(_ => value);
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), new Uri(Host.BaseAddress, new Uri(path, UriKind.Relative)))
                {
                    Content = route.TakesBody ? new StringContent("{\"record\": true}", Encoding.UTF8, "application/json") : null,
                };
                using HttpResponseMessage response = await http.SendAsync(request);
                byte[] body = await response.Content.ReadAsByteArrayAsync();
                string what = $"{route} with '{(value.Length > 60 ? value[..60] + "..." : value)}'";
                int status = (int)response.StatusCode;
                Assert.True(status < 500, $"{what}: {status}");
                Assert.DoesNotContain(Canary, Encoding.UTF8.GetString(body), StringComparison.Ordinal);
                if (route.Method == "GET" && route.ByRecordingId && value is not ("." or "..")) // dot segments are removed: another route
                {
                    Assert.True(status is 400 or 404 or 414, $"{what}: {status}");
                }

                if (body.Length == 0)
                {
                    // Refused by Kestrel before the API sees it: a NUL or an invalid escape in the request line (400), a
                    // request line over its 8 KB (414).
                    Assert.True(status is 400 or 414 or 204, $"{what}: {status} without a body");
                    Assert.True(status != 204 || route.Method == "DELETE", $"{what}: 204");
                }
                else if (status >= 400)
                {
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                }
            }
        }

        // Control characters in an id are refused by the API itself.
        foreach (string id in (string[])["a%1bb", "a%0db", "a%7fb", "%c2%9b31m"])
        {
            JsonElement problem = await ApiHost.AssertProblemAsync(await Host.Client.PutAsync($"/api/users/{id}", new StringContent("{}", Encoding.UTF8, "application/json")), 400);
            Assert.Contains("control characters", ApiHost.Errors(problem).Single(), StringComparison.Ordinal);
            await ApiHost.AssertProblemAsync(await Host.Client.GetAsync($"/api/devices/{id}"), 400);
        }
    }

    [Fact]
    public async Task RangeAbuse_OnTheAudio_IsAnsweredPerRfc9110_WithoutAmplification()
    {
        string url = $"/api/recordings/{fixture.RecordingId}/audio";
        byte[] file = await Host.Client.GetByteArrayAsync(url);
        long n = file.Length;
        string many = "bytes=" + string.Join(',', Enumerable.Range(0, 2000).Select(i => $"0-{i}"));
        (string Range, int Status, long? From, long? To)[] cases =
        [
            ("bytes=0-0", 206, 0, 0),
            ($"bytes={n - 1}-", 206, n - 1, n - 1),
            ("bytes=0-99999999999", 206, 0, n - 1),          // a last position past the end is the end
            ("bytes=-5", 206, n - 5, n - 1),                   // suffix
            ("bytes=-99999999999", 206, 0, n - 1),            // a suffix longer than the file is the file
            ("BYTES=0-5", 206, 0, 5),                          // the unit is case-insensitive
            ($"bytes={n}-", 416, null, null),                  // first position at the end
            ($"bytes={n + 1000}-{n + 2000}", 416, null, null),
            ("bytes=-0", 416, null, null),                     // an empty suffix
            ($"bytes={n}-,{n + 5}-,-0", 416, null, null),    // every range unsatisfiable
            ("bytes=0-1,5-6", 200, null, null),                // several ranges: the whole file (RFC 9110 allows ignoring Range)
            ("bytes=0-10,5-20", 200, null, null),              // overlapping
            (many, 200, null, null),                            // 2,000 ranges: one copy, no amplification
            ($"bytes=1-2,{n}-", 200, null, null),
            ("bytes=5-1", 200, null, null),                    // reversed: invalid, ignored
            ("bytes=99999999999999999999-", 200, null, null), // past Int64: invalid, ignored
            ("bytes=abc", 200, null, null),
            ("bytes=", 200, null, null),
            ("bytes=0--5", 200, null, null),
            ("bytes=--5", 200, null, null),
            ("bytes=0-5;x", 200, null, null),
            ("items=0-5", 200, null, null),                    // a unit the server does not know is ignored
            ("0-5", 200, null, null),
        ];
        foreach ((string range, int status, long? from, long? to) in cases)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            Assert.True(request.Headers.TryAddWithoutValidation("Range", range));
            using HttpResponseMessage response = await Host.Client.SendAsync(request);
            byte[] body = await response.Content.ReadAsByteArrayAsync();
            string what = $"Range: {(range.Length > 40 ? range[..40] + "..." : range)}";
            Assert.True((int)response.StatusCode == status, $"{what}: expected {status}, got {(int)response.StatusCode}");
            switch (status)
            {
                case 206:
                    ContentRangeHeaderValue cr = response.Content.Headers.ContentRange!;
                    Assert.Equal((from, to, n), (cr.From, cr.To, cr.Length));
                    Assert.Equal(file[(int)from!.Value..((int)to!.Value + 1)], body);
                    break;
                case 200:
                    Assert.Equal(file, body);
                    Assert.Null(response.Content.Headers.ContentRange);
                    break;
                default:
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                    Assert.Equal($"bytes */{n}", response.Content.Headers.ContentRange?.ToString());
                    break;
            }
        }

        // If-Range that does not match serves the whole file (RFC 9110 13.1.5), garbage or not.
        foreach (string ifRange in (string[])["\"not-the-etag\"", "garbage", "Wed, 21 Oct 2015 07:28:00 GMT"])
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Range", "bytes=0-5");
            request.Headers.TryAddWithoutValidation("If-Range", ifRange);
            using HttpResponseMessage response = await Host.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(n, (await response.Content.ReadAsByteArrayAsync()).Length);
        }
    }
}
