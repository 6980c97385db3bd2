using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Tests.Api;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests.Service;

/// <summary>
/// Issue 13 against `appliance run` as its own process, where its log can be read: hostile requests on every route, hostile
/// wire text replayed from a pcap built here, and hundreds of event-stream clients.
/// </summary>
[Collection(Support.HostileCollection.Name)]
public sealed partial class HostileServiceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "appl-hostile-" + Guid.NewGuid().ToString("N"));

    private string[] Args(string replay) =>
        ["--replay", replay, "--no-pacing", "--recordings", Path.Combine(_dir, "rec"), "--state", Path.Combine(_dir, "state"), "--workers", "1"];

    private string SampleReplay => Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap");

    private static readonly string[] s_hostileIds = ["..", "%2e%2e%2fx", "..%2F..%2Fetc%2Fpasswd", "..%5Cx", "a%1bb", "a%0d%0ab", "%c0%af", "%E2%80%AE", new string('a', 5000), new string('a', 20_000)];

    [Fact]
    public async Task HostileRequests_OnEveryRoute_NeverFail_AndLeaveNoTokenNoStackTraceAndNoLinePerRequestInTheLog()
    {
        Directory.CreateDirectory(_dir);
        List<ApiRoute> routes = await ApiRoutes.OfBuiltHostAsync();
        // Debug for every category of ours: whatever the appliance would say about these requests is in the log. Hundreds
        // of wrong tokens from 127.0.0.1 on purpose, each to be answered 401: the throttle (FailedAuthApiTests) held off.
        using var service = ServiceProcess.Start(new Dictionary<string, string?>(),
            [.. Args(SampleReplay), "--Logging:LogLevel:Default=Debug", "--AuthThrottle:MaxFailures=1000000"]);
        Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + service.Log);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{service.Port}"), Timeout = TimeSpan.FromSeconds(30) };
        const string T = ServiceProcess.Token;
        int answered = 0;

        async Task<int> SendAsync(ApiRoute route, string path, string? authorization, byte[]? body = null, string contentType = "application/json")
        {
            using var request = new HttpRequestMessage(new HttpMethod(route.Method), new Uri(http.BaseAddress!, new Uri(path, UriKind.Relative)));
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            if (route.TakesBody || body is not null)
            {
                request.Content = new ByteArrayContent(body ?? "{}"u8.ToArray());
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            }

            using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            int status = (int)response.StatusCode;
            Assert.True(status < 500, $"{route} {path[..Math.Min(path.Length, 80)]}: {status}");
            answered++;
            return status;
        }

        string Fill(ApiRoute r, string value) => r.Path(p => p == "documentName" ? "v1" : value);
        foreach (ApiRoute route in routes.Where(r => !r.Anonymous))
        {
            string path = Fill(route, "desk-1");
            foreach (string query in (string[])["?access_token=", "?token=", "?api_key="])
            {
                int status = await SendAsync(route, path + query + T, null);
                Assert.True(status == 401 || (route.QueryToken && query == "?access_token="), $"{route} {query}: {status}");
            }

            Assert.Equal(401, await SendAsync(route, path + "?access_token=" + T, "Bearer " + T + "x"));
            Assert.Equal(401, await SendAsync(route, path, "Bearer " + T[..^1]));
            Assert.Equal(401, await SendAsync(route, path, T));
            foreach (string id in route.Parameters.Count > 0 ? s_hostileIds : [])
            {
                await SendAsync(route, Fill(route, id), "Bearer " + T);
            }

            if (route.TakesBody)
            {
                foreach ((string _, byte[] body, string type, int _) in HostileInputTests.HostileBodies().Where(b => b.Body.Length < 64 * 1024))
                {
                    int status = await SendAsync(route, Fill(route, "hostile"), "Bearer " + T, body, type);
                    Assert.InRange(status, 400, 499);
                }
            }
        }

        output.WriteLine($"{answered} hostile requests on {routes.Count} routes answered");
        Thread.Sleep(300);
        int linesBefore = service.Log.Split('\n').Length;
        for (int i = 0; i < 300; i++)
        {
            using HttpResponseMessage r = await http.GetAsync("/api/devices?access_token=" + T);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        }

        Thread.Sleep(500); // let the console catch up
        string log = service.Log;
        output.WriteLine(log);
        Assert.True(log.Split('\n').Length - linesBefore <= 2, "300 unauthenticated requests added lines to the log:\n" + log);
        Assert.DoesNotContain(T, log, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", log, StringComparison.Ordinal);
        Assert.DoesNotContain(" fail: ", log, StringComparison.Ordinal);
        Assert.DoesNotContain(" crit: ", log, StringComparison.Ordinal);
        Assert.False(ControlCharacter().IsMatch(log.Replace("\n", "", StringComparison.Ordinal)), "a control character in the log");
    }

    // ---- Event-stream clients ----------------------------------------------------------------------------------

    [Fact]
    public async Task HundredsOfEventStreamClients_AreRefusedPastTheLimit_SlowOnesDropped_FastOnesServed_MemoryAndThreadsBounded()
    {
        Directory.CreateDirectory(_dir);
        string config = Path.Combine(_dir, "directory.json");
        await File.WriteAllTextAsync(config, ApiHost.Config);
        using var service = ServiceProcess.Start(new Dictionary<string, string?>(), [.. Args(SampleReplay), "--config", config]);
        Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + service.Log);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{service.Port}"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceProcess.Token);
        const int Limit = 100, Pairs = 800;

        // Warm up every path once (an event stream, a login and logout), then the baseline.
        using (HttpResponseMessage warm = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        await LoginLogoutAsync(http);
        (long rss0, int threads0) = Usage(service);

        // One fast client that reads everything.
        using HttpResponseMessage fast = await http.GetAsync("/api/events?types=login", HttpCompletionOption.ResponseHeadersRead);
        using var fastReader = new StreamReader(await fast.Content.ReadAsStreamAsync());
        int established = 0;
        Task reading = Task.Run(async () =>
        {
            while (await fastReader.ReadLineAsync() is { } line)
            {
                if (line == "event: login.established" && Interlocked.Increment(ref established) == Pairs)
                {
                    return;
                }
            }
        });

        // Limit - 1 slow clients that never read, with the smallest receive buffer the kernel allows.
        var slow = new List<Socket>();
        for (int i = 0; i < Limit - 1; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
            await socket.ConnectAsync(IPAddress.Loopback, service.Port);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ServiceProcess.Token}\r\n\r\n"));
            slow.Add(socket);
        }

        try
        {
            Exposition.Document doc = service.WaitForMetrics(d => d.Sum("appliance_api_event_clients") == Limit, TimeSpan.FromSeconds(20));
            Assert.Equal(Limit, doc.Sum("appliance_api_event_clients"));

            // Past the limit: 503 problems, at once.
            for (int i = 0; i < 150; i++)
            {
                using HttpResponseMessage refused = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
                Assert.NotNull(refused.Headers.RetryAfter);
                if (i == 0)
                {
                    Assert.Contains("MaxEventClients", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                }
            }

            // Events: the slow clients fall behind and are dropped; the fast one gets every one.
            long peakRss = 0;
            int peakThreads = 0;
            for (int i = 0; i < Pairs; i++)
            {
                await LoginLogoutAsync(http);
                if (i % 50 == 0)
                {
                    (long rss, int threads) = Usage(service);
                    (peakRss, peakThreads) = (Math.Max(peakRss, rss), Math.Max(peakThreads, threads));
                }
            }

            Assert.True(await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(30))) == reading, $"the fast client received {established} of {Pairs} logins");
            doc = service.WaitForMetrics(d => d.Sum("appliance_api_event_clients") == 1, TimeSpan.FromSeconds(30));
            doc = service.WaitForMetrics(d => d.Sum("appliance_api_event_clients_dropped_total") >= Limit - 1, TimeSpan.FromSeconds(3));
            (long rssEnd, int threadsEnd) = Usage(service);
            (peakRss, peakThreads) = (Math.Max(peakRss, rssEnd), Math.Max(peakThreads, threadsEnd));
            output.WriteLine($"RSS {rss0 / 1048576.0:F1} MB before, peak {peakRss / 1048576.0:F1} MB, {rssEnd / 1048576.0:F1} MB after; threads {threads0} before, peak {peakThreads}, {threadsEnd} after; "
                + $"dropped {doc.Sum("appliance_api_event_clients_dropped_total")}, refused {doc.Sum("appliance_api_event_clients_refused_total")}, connected {doc.Sum("appliance_api_event_clients")}");
            // Every slow client is gone; counted when the appliance dropped it (its queue full) or Kestrel aborted it for
            // too slow a read with events still queued for it. One in a run or two leaves uncounted (aborted by Kestrel
            // with nothing queued), hence the margin.
            Assert.Equal(1, doc.Sum("appliance_api_event_clients"));
            Assert.InRange(doc.Sum("appliance_api_event_clients_dropped_total"), Limit - 3, Limit - 1);
            Assert.True(doc.Sum("appliance_api_event_clients_refused_total") >= 150);
            Assert.True(peakThreads - threads0 <= 24, $"threads grew from {threads0} to {peakThreads}");
            Assert.True(peakRss - rss0 < 150L * 1024 * 1024, $"RSS grew from {rss0 / 1048576} MB to {peakRss / 1048576} MB");

            // The places of the dropped clients are free again.
            using HttpResponseMessage again = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }
        finally
        {
            foreach (Socket socket in slow)
            {
                socket.Dispose();
            }
        }
    }

    private static async Task LoginLogoutAsync(HttpClient http)
    {
        using HttpResponseMessage login = await http.PostAsync("/api/logins", new StringContent("{\"user\": \"alice\", \"device\": \"desk-3\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, login.StatusCode);
        using HttpResponseMessage logout = await http.PostAsync("/api/devices/desk-3/logout", null);
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
    }

    /// <summary>The process's resident memory and thread count (/proc).</summary>
    private static (long RssBytes, int Threads) Usage(ServiceProcess service)
    {
        string[] status = File.ReadAllLines($"/proc/{service.Process.Id}/status");
        long rss = long.Parse(status.Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        int threads = int.Parse(status.Single(l => l.StartsWith("Threads:", StringComparison.Ordinal)).Split('\t', ' ').Last(x => x.Length > 0), System.Globalization.CultureInfo.InvariantCulture);
        return (rss, threads);
    }

    // ---- Wire text ---------------------------------------------------------------------------------------------

    /// <summary>Text a phone or an attacker on the mirrored VLAN can put in SIP: terminal escapes, BEL, HTML, JSON quotes, backslashes.</summary>
    private const string HostileName = "<script>alert(1)</script>\u001b[2J\u001b]0;pwned\u0007 \\\"},{\"x\":\"";

    private const string HostileCallId = "\"};alert(1);//<img src=x onerror=alert(2)>\u001b[31m\u0007\u007f\\@10.9.0.10";

    private const string HostileUserAgent = "Evil\u001b[31mUA<script>x</script> \"quoted\" \\ </textarea>\u0008\u0008";

    [Fact]
    public async Task HostileWireText_ReplayedThroughTheService_IsEscapedInTheApi_AbsentFromTheLog_AndNeverInAPath()
    {
        Directory.CreateDirectory(_dir);
        string pcap = Path.Combine(_dir, "hostile.pcap");
        WriteHostileCall(pcap);
        using var service = ServiceProcess.Start(new Dictionary<string, string?>(), Args(pcap));
        Assert.True(service.WaitForReady(TimeSpan.FromSeconds(30)), "not ready: " + service.Log);

        // The recording: its Call-ID and names exactly as on the wire once JSON is decoded, never raw in the bytes.
        JsonElement recording = default;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            using JsonDocument list = JsonDocument.Parse(GetRaw(service, "/api/recordings"));
            if (list.RootElement.GetProperty("items").EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } first)
            {
                recording = first.Clone();
                break;
            }

            Thread.Sleep(100);
        }

        Assert.True(recording.ValueKind == JsonValueKind.Object, "the hostile call was not recorded: " + service.Log);
        Assert.Equal(HostileCallId, recording.GetProperty("callId").GetString());
        string id = recording.GetProperty("id").GetString()!;
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id);

        string[] documents =
        [
            GetRaw(service, "/api/recordings"), GetRaw(service, $"/api/recordings/{id}"), GetRaw(service, "/api/devices"),
            GetRaw(service, "/api/recordings?callId=" + Uri.EscapeDataString(HostileCallId)),
        ];
        foreach (string raw in documents)
        {
            using JsonDocument _ = JsonDocument.Parse(raw); // well-formed: no quote or backslash broke out of its string
            Assert.False(ControlCharacter().IsMatch(raw), "a raw control character in " + raw);
            Assert.False(raw.Contains("<script", StringComparison.OrdinalIgnoreCase) || raw.Contains("<img", StringComparison.OrdinalIgnoreCase), "markup left as is in " + raw);
        }

        using (HttpResponseMessage headers = service.Send("/api/devices"))
        {
            Assert.Equal("nosniff", headers.Headers.GetValues("X-Content-Type-Options").Single());
        }

        using (JsonDocument sidecar = JsonDocument.Parse(documents[1]))
        {
            Assert.Equal(HostileCallId, sidecar.RootElement.GetProperty("callId").GetString());
            // The display name as the quoted-string it is on the wire (quoted-pairs kept, as the SIP reader keeps them).
            Assert.Contains(sidecar.RootElement.GetProperty("parties").EnumerateArray(), p => p.GetProperty("name").GetString() == QuotedPairs(HostileName));
        }

        using (JsonDocument found = JsonDocument.Parse(documents[3]))
        {
            Assert.Equal(id, found.RootElement.GetProperty("items").EnumerateArray().Single().GetProperty("id").GetString());
        }

        using (JsonDocument devices = JsonDocument.Parse(documents[2]))
        {
            Assert.Contains(devices.RootElement.EnumerateArray(), d => d.GetProperty("userAgent").GetString() == HostileUserAgent);
        }

        // The event stream replays the directory's events (Last-Event-ID: 0): each data line is JSON, nothing raw.
        string stream = ReadEvents(service, TimeSpan.FromSeconds(2));
        Assert.Contains("event: device.registered", stream, StringComparison.Ordinal);
        foreach (string data in stream.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)))
        {
            using JsonDocument _ = JsonDocument.Parse(data[6..]);
        }

        Assert.False(ControlCharacter().IsMatch(stream.Replace("\n", "", StringComparison.Ordinal)), "a raw control character in the event stream");

        // Paths come from the generated id only.
        string[] files = [.. Directory.EnumerateFiles(Path.Combine(_dir, "rec"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Path.Combine(_dir, "rec"), f))];
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.Matches(@"^\d{4}/\d{2}/\d{2}/" + id + @"\.(opus|json)$", f));

        // The log says nothing of the wire text, and nothing raw.
        string log = service.Log;
        output.WriteLine(log);
        Assert.False(ControlCharacter().IsMatch(log.Replace("\n", "", StringComparison.Ordinal)), "a control character in the log");
        Assert.DoesNotContain("<script", log, StringComparison.Ordinal);
        Assert.DoesNotContain("onerror", log, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileWireText_ReplayedOnTheCommandLine_ReachesTheTerminalPrintable_AndTheJsonExact()
    {
        Directory.CreateDirectory(_dir);
        string pcap = Path.Combine(_dir, "hostile.pcap");
        WriteHostileCall(pcap);
        (int code, string table) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", pcap, "--out", Path.Combine(_dir, "table")], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, table);
        Assert.Contains("2001", table, StringComparison.Ordinal);
        Assert.False(ControlCharacter().IsMatch(table.Replace("\n", "", StringComparison.Ordinal)), "a control character reached the terminal: " + table);

        (code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", pcap, "--out", Path.Combine(_dir, "json"), "--json"], TimeSpan.FromSeconds(120));
        Assert.True(code == 0, json);
        Assert.False(ControlCharacter().IsMatch(json.Replace("\n", "", StringComparison.Ordinal)), "a control character reached the terminal: " + json);
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal(HostileCallId, doc.RootElement.GetProperty("calls").EnumerateArray().Single().GetProperty("callId").GetString());
        Assert.Contains(doc.RootElement.GetProperty("devices").EnumerateArray(), d => d.GetProperty("userAgent").GetString() == HostileUserAgent);
    }

    private static string GetRaw(ServiceProcess service, string path)
    {
        using HttpResponseMessage response = service.Send(path);
        string body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {body}");
        return body;
    }

    private static string ReadEvents(ServiceProcess service, TimeSpan time)
    {
        using var tcp = new TcpClient();
        tcp.Connect(IPAddress.Loopback, service.Port);
        NetworkStream stream = tcp.GetStream();
        stream.Write(Encoding.ASCII.GetBytes($"GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ServiceProcess.Token}\r\nLast-Event-ID: 0\r\n\r\n"));
        tcp.ReceiveTimeout = 300;
        var text = new StringBuilder();
        byte[] buffer = new byte[65536];
        var end = DateTime.UtcNow + time;
        while (DateTime.UtcNow < end)
        {
            try
            {
                int n = stream.Read(buffer);
                if (n == 0)
                {
                    break;
                }

                text.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
            catch (IOException)
            {
                // read timeout: keep reading until the time is up
            }
        }

        return text.ToString().Replace("\r", "", StringComparison.Ordinal);
    }

    /// <summary>
    /// A REGISTER (answered 200) and a call from 2001 to 2002 with RTP both ways and a BYE, every piece of wire text
    /// hostile: the display name, the Call-ID, the User-Agent. Ethernet/IPv4/UDP, classic pcap.
    /// </summary>
    private static void WriteHostileCall(string path)
    {
        const string Phone = "10.9.0.10", Far = "10.9.0.20", Registrar = "10.9.0.1";
        var frames = new List<(long Ns, byte[] Frame)>();
        long t = 1_780_000_000L * 1_000_000_000;
        void Sip(string from, string to, string message)
        {
            frames.Add((t, Udp(from, 5060, to, 5060, Encoding.UTF8.GetBytes(message))));
            t += 10_000_000;
        }

        string from = $"\"{QuotedPairs(HostileName)}\" <sip:2001@{Registrar}>";
        Sip(Phone, Registrar, Message($"REGISTER sip:{Registrar} SIP/2.0", Phone, $"{from};tag=r1", from, "reg-1@10.9.0.10", "1 REGISTER",
            [$"Contact: <sip:2001@{Phone}:5060>", "Expires: 3600"], null));
        Sip(Registrar, Phone, Message("SIP/2.0 200 OK", Phone, $"{from};tag=r1", $"{from};tag=r2", "reg-1@10.9.0.10", "1 REGISTER",
            [$"Contact: <sip:2001@{Phone}:5060>;expires=3600"], null));
        string to = $"<sip:2002@{Far}>";
        Sip(Phone, Far, Message($"INVITE sip:2002@{Far} SIP/2.0", Phone, $"{from};tag=c1", to, HostileCallId, "1 INVITE",
            [$"Contact: <sip:2001@{Phone}:5060>"], Sdp(Phone, 40000)));
        Sip(Far, Phone, Message("SIP/2.0 200 OK", Phone, $"{from};tag=c1", $"{to};tag=e1", HostileCallId, "1 INVITE",
            [$"Contact: <sip:2002@{Far}:5060>"], Sdp(Far, 50000)));
        Sip(Phone, Far, Message($"ACK sip:2002@{Far} SIP/2.0", Phone, $"{from};tag=c1", $"{to};tag=e1", HostileCallId, "1 ACK", [], null));
        byte[] payload = new byte[160];
        Array.Fill(payload, (byte)0xFF);
        for (ushort i = 0; i < 100; i++)
        {
            frames.Add((t, Udp(Phone, 40000, Far, 50000, Rtp(i, 0x1111, payload))));
            frames.Add((t + 1_000_000, Udp(Far, 50000, Phone, 40000, Rtp(i, 0x2222, payload))));
            t += 20_000_000;
        }

        Sip(Phone, Far, Message($"BYE sip:2002@{Far} SIP/2.0", Phone, $"{from};tag=c1", $"{to};tag=e1", HostileCallId, "2 BYE", [], null));
        Sip(Far, Phone, Message("SIP/2.0 200 OK", Phone, $"{from};tag=c1", $"{to};tag=e1", HostileCallId, "2 BYE", [], null));
        PcapFile.WriteClassic(path, 1, frames);
    }

    private static string QuotedPairs(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static string Message(string startLine, string via, string from, string to, string callId, string cseq, string[] headers, string? sdp)
    {
        var b = new StringBuilder();
        b.Append(startLine).Append("\r\n");
        b.Append($"Via: SIP/2.0/UDP {via}:5060;branch=z9hG4bK-{cseq.Replace(' ', '-')}\r\n");
        b.Append("Max-Forwards: 70\r\n");
        b.Append($"From: {from}\r\nTo: {to}\r\nCall-ID: {callId}\r\nCSeq: {cseq}\r\n");
        foreach (string h in headers)
        {
            b.Append(h).Append("\r\n");
        }

        b.Append($"User-Agent: {HostileUserAgent}\r\n");
        if (sdp is not null)
        {
            b.Append("Content-Type: application/sdp\r\n");
        }

        b.Append($"Content-Length: {Encoding.UTF8.GetByteCount(sdp ?? "")}\r\n\r\n").Append(sdp);
        return b.ToString();
    }

    private static string Sdp(string ip, int port) =>
        $"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

    private static byte[] Rtp(ushort sequence, uint ssrc, byte[] payload)
    {
        byte[] rtp = new byte[12 + payload.Length];
        rtp[0] = 0x80;
        BinaryPrimitives.WriteUInt16BigEndian(rtp.AsSpan(2), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(4), (uint)(sequence * 160));
        BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(8), ssrc);
        payload.CopyTo(rtp, 12);
        return rtp;
    }

    /// <summary>Ethernet II, IPv4 (header checksum computed), UDP (no checksum).</summary>
    private static byte[] Udp(string src, int srcPort, string dst, int dstPort, byte[] payload)
    {
        byte[] f = new byte[14 + 20 + 8 + payload.Length];
        f[5] = 1;
        f[11] = 2;
        f[12] = 0x08;
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload.Length));
        ip[8] = 64;
        ip[9] = 17;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(ip[12..]);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(ip[16..]);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        }

        sum = (sum & 0xFFFF) + (sum >> 16);
        sum += sum >> 16;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        Span<byte> udp = f.AsSpan(34, 8);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload.Length));
        payload.CopyTo(f, 42);
        return f;
    }

    /// <summary>C0 controls but LF, DEL, C1.</summary>
    [GeneratedRegex("[\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]")]
    private static partial Regex ControlCharacter();

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
