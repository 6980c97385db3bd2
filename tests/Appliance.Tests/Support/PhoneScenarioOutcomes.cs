using System.Text.Json;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests.Support;

/// <summary>
/// What a user checks after the WebSocket-phone and the phone-moves scenarios (tests/live/websocket-phone.sh,
/// tests/live/phone-moves.sh), whether the appliance captured them live or replayed their samples: the recordings in a
/// folder, and the directory as `replay --json` prints it.
/// </summary>
public static class PhoneScenarioOutcomes
{
    /// <summary>ws_phone.py's default +sip.instance: the browser phone's identity.</summary>
    public const string WebSocketPhoneInstance = "urn:uuid:8f0a3c2e-5b1d-4c8e-9a7f-2d6e4b1c0a93";

    /// <summary>
    /// The WebSocket phone 2001 called 2002 through Kamailio and rtpengine, then 2002 called it: two recordings, one per
    /// call. In each the WebSocket phone is the party 2001 at its real address, identified by its instance id, with its
    /// 600 Hz tone on its own channel (left as the caller, right as the callee), named as it registered when it called;
    /// 2002's 1 kHz tone or speech on the other. The directory holds the phone as a device with 2001 as line 1 (never a
    /// device at the made-up .invalid host), the proxy as a server (its UDP and WebSocket ports), and no conflict.
    /// </summary>
    public static void AssertWebSocketPhoneCalls(string recordings, JsonElement directory, ITestOutputHelper output)
    {
        List<CallSidecar> calls = [.. Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories)
            .Select(f => CallSidecar.Deserialize(File.ReadAllText(f))!).OrderBy(c => c.StartedAt)];
        Assert.Equal(2, calls.Count);
        foreach (CallSidecar call in calls)
        {
            Assert.Equal(CallEndReasons.Bye, call.EndReason);
            // Each packet crosses the mirror twice through the relay: the recording follows the recorded party's hop, so
            // it holds each packet once (the relay's far side is the call's other hop, counted as rtp_other_hop_packets).
            Assert.True(call.DuplicatesDropped < call.Packets * 0.05, $"each packet once ({call.Packets} kept, {call.DuplicatesDropped} dropped as duplicates)");
        }

        // Placed: the phone is the caller, on the left; it hangs up after 8 s of media.
        CallSidecar placed = calls[0];
        PartySidecar phone = placed.Parties[0], callee = placed.Parties[1];
        Assert.Equal(("2001", "WebRTC 2001", "10.77.0.10", WebSocketPhoneInstance, "left"), (phone.Extension, phone.Name, phone.Ip, phone.Device, phone.Channel));
        Assert.Equal(("2002", "10.77.0.20", "right"), (callee.Extension, callee.Ip, callee.Channel));
        Assert.InRange(placed.MediaDurationSeconds, 7.8, 8.3);
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(recordings, placed.File!));
        double left = audio.DominantFrequency(0, 2.0), right = audio.DominantFrequency(1, 2.0);
        output.WriteLine($"websocket phone calling: L dominant {left} Hz, R dominant {right} Hz");
        Assert.InRange(left, 590, 610); // the WebSocket phone's tone, on its channel
        Assert.InRange(right, 990, 1010); // the callee's

        // Received: 2002 (SIPp's speech) calls it; the phone is the callee, on the right, until 2002 hangs up at ~8.5 s.
        CallSidecar received = calls[1];
        PartySidecar caller = received.Parties[0];
        phone = received.Parties[1];
        Assert.Equal(("2002", "10.77.0.20", "left"), (caller.Extension, caller.Ip, caller.Channel));
        Assert.Equal(("2001", "10.77.0.10", WebSocketPhoneInstance, "right"), (phone.Extension, phone.Ip, phone.Device, phone.Channel));
        Assert.InRange(received.MediaDurationSeconds, 8.0, 9.0);
        audio = DecodedAudio.Decode(Path.Combine(recordings, received.File!));
        left = audio.DominantFrequency(0, 2.0);
        right = audio.DominantFrequency(1, 2.0);
        output.WriteLine($"websocket phone called: L {audio.ActiveSeconds(0)} s active, dominant {left} Hz; R dominant {right} Hz");
        Assert.InRange(right, 590, 610); // the WebSocket phone's tone, on its channel
        Assert.True(audio.ActiveSeconds(0) > 4, "the caller's speech on the left");
        Assert.NotInRange(left, 590, 610);

        JsonElement device = Assert.Single(DevicesWithLine(directory, "2001"));
        Assert.Equal(WebSocketPhoneInstance, device.GetProperty("id").GetString());
        Assert.Equal(["10.77.0.10"], Strings(device.GetProperty("ips")));
        Assert.Equal(("2001", 1, "Registered"), Line1(device));
        Assert.EndsWith(".invalid;transport=ws", device.GetProperty("contact").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(directory.GetProperty("devices").EnumerateArray(), d => d.GetProperty("id").GetString()!.Contains(".invalid", StringComparison.Ordinal));
        Assert.Equal(["10.77.0.10", "10.77.0.20"], [.. directory.GetProperty("devices").EnumerateArray().SelectMany(d => Strings(d.GetProperty("ips"))).Order()]);
        AssertTheProxyIsTheOnlyServer(directory);
        Assert.Empty(directory.GetProperty("conflicts").EnumerateArray());
    }

    /// <summary>
    /// Phone 2001 called 2002 from 10.77.0.10, moved to 10.77.0.11, re-registered and called again: both recordings name
    /// one device, each with the address it had then; the directory holds that one device for 2001, at the new address,
    /// 2001 its line 1 and nothing left at the old address; no conflict; the proxy a server.
    /// </summary>
    public static void AssertPhoneMoved(string recordings, JsonElement directory, ITestOutputHelper output)
    {
        List<CallSidecar> calls = [.. Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories)
            .Select(f => CallSidecar.Deserialize(File.ReadAllText(f))!).OrderBy(c => c.StartedAt)];
        Assert.Equal(2, calls.Count);
        Assert.Equal(("2001", "10.77.0.10"), (calls[0].Parties[0].Extension, calls[0].Parties[0].Ip));
        Assert.Equal(("2001", "10.77.0.11"), (calls[1].Parties[0].Extension, calls[1].Parties[0].Ip));
        string? device = calls[0].Parties[0].Device;
        Assert.NotNull(device);
        Assert.Equal(device, calls[1].Parties[0].Device);
        foreach (CallSidecar call in calls)
        {
            Assert.Equal(("2002", "10.77.0.20"), (call.Parties[1].Extension, call.Parties[1].Ip));
            Assert.Equal(CallEndReasons.Bye, call.EndReason);
            DecodedAudio audio = DecodedAudio.Decode(Path.Combine(recordings, call.File!));
            double left = audio.DominantFrequency(0, 2.0), right = audio.DominantFrequency(1, 2.0);
            output.WriteLine($"{call.Parties[0].Ip}: L {audio.ActiveSeconds(0)} s active, dominant {left} Hz; R dominant {right} Hz");
            Assert.InRange(right, 990, 1010); // the callee's tone on the callee's channel
            Assert.True(audio.ActiveSeconds(0) > 4, "the caller's speech on the left");
            Assert.NotInRange(left, 990, 1010);
        }

        JsonElement phone = Assert.Single(DevicesWithLine(directory, "2001"));
        Assert.Equal(device, phone.GetProperty("id").GetString());
        Assert.Equal(["10.77.0.11"], Strings(phone.GetProperty("ips")));
        Assert.Equal(("2001", 1, "Registered"), Line1(phone));
        Assert.Equal(["10.77.0.11", "10.77.0.20"], [.. directory.GetProperty("devices").EnumerateArray().SelectMany(d => Strings(d.GetProperty("ips"))).Order()]);
        AssertTheProxyIsTheOnlyServer(directory);
        Assert.Empty(directory.GetProperty("conflicts").EnumerateArray());
    }

    /// <summary>
    /// Phone 2001 behind a NAT router (private 192.168.77.10, public 10.77.0.40) registered and called 2002 through
    /// Kamailio and rtpengine: one recording; the caller is 2001 at the NAT's public address and the port its media came
    /// from (never its private address), its speech on the left, 2002's 1 kHz tone on the right, 8 s of media, each packet
    /// once. The directory holds the phone at the public address only (no device at an address the mirror never sees),
    /// the proxy as the only server (not a party), no conflict.
    /// </summary>
    public static void AssertNatPhoneCall(string recordings, JsonElement directory, ITestOutputHelper output)
    {
        CallSidecar call = CallSidecar.Deserialize(File.ReadAllText(Assert.Single(Directory.GetFiles(recordings, "*.json", SearchOption.AllDirectories))))!;
        PartySidecar phone = call.Parties[0], callee = call.Parties[1];
        Assert.Equal(("2001", "10.77.0.40", "left"), (phone.Extension, phone.Ip, phone.Channel));
        Assert.InRange(phone.Port!.Value, 40000, 40999); // the NAT's port for the phone's RTP, not the SDP's 6100
        Assert.Equal(("2002", "10.77.0.20", 6000, "right"), (callee.Extension, callee.Ip, callee.Port, callee.Channel));
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.InRange(call.MediaDurationSeconds, 7.8, 8.3);
        // 236 speech + 10 DTMF + 400 tone packets cross the mirror twice (phone-relay, relay-callee): each is kept once.
        Assert.InRange(call.Packets, 600, 646);
        Assert.True(call.DuplicatesDropped < call.Packets * 0.05, $"each packet once ({call.Packets} kept, {call.DuplicatesDropped} dropped as duplicates)");
        Assert.Equal("1", Assert.Single(call.Dtmf).Digit);
        DecodedAudio audio = DecodedAudio.Decode(Path.Combine(recordings, call.File!));
        double left = audio.DominantFrequency(0, 2.0), right = audio.DominantFrequency(1, 2.0);
        output.WriteLine($"phone behind NAT: L {audio.ActiveSeconds(0)} s active, dominant {left} Hz; R {audio.ActiveSeconds(1)} s active, dominant {right} Hz");
        Assert.InRange(right, 990, 1010); // the callee's tone on the callee's channel
        Assert.True(audio.ActiveSeconds(0) > 4, "the caller's speech on the left");
        Assert.NotInRange(left, 990, 1010);

        JsonElement device = Assert.Single(directory.GetProperty("devices").EnumerateArray(), d => d.GetProperty("id").GetString() == phone.Device);
        Assert.Equal(["10.77.0.40"], Strings(device.GetProperty("ips")));
        Assert.Equal(phone.Device, phone.HostDevice);
        Assert.Equal(["10.77.0.20", "10.77.0.40"], [.. directory.GetProperty("devices").EnumerateArray().SelectMany(d => Strings(d.GetProperty("ips"))).Order()]);
        AssertTheProxyIsTheOnlyServer(directory);
        Assert.Empty(directory.GetProperty("conflicts").EnumerateArray());
    }

    private static IEnumerable<JsonElement> DevicesWithLine(JsonElement directory, string extension) =>
        directory.GetProperty("devices").EnumerateArray().Where(d => d.GetProperty("lines").EnumerateArray().Any(l => l.GetProperty("extension").GetString() == extension));

    private static (string?, int, string?) Line1(JsonElement device)
    {
        JsonElement line = device.GetProperty("lines").EnumerateArray().First();
        return (line.GetProperty("extension").GetString(), line.GetProperty("number").GetInt32(), line.GetProperty("source").GetString());
    }

    private static void AssertTheProxyIsTheOnlyServer(JsonElement directory)
    {
        string?[] servers = [.. directory.GetProperty("servers").EnumerateArray().Select(s => s.GetProperty("ip").GetString())];
        Assert.NotEmpty(servers);
        Assert.All(servers, ip => Assert.Equal("10.77.0.30", ip));
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
