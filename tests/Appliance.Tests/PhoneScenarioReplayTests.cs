using System.Text.Json;
using Appliance.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// The WebSocket-phone and phone-moves rig scenarios as recorded into samples/ (samples/README.md), replayed with
/// `appliance replay --json` as a user would: the same outcomes the live tests (<see cref="PhoneScenarioLiveTests"/>)
/// assert, without root or the rig.
/// </summary>
public sealed class PhoneScenarioReplayTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "appliance-phones-" + Guid.NewGuid().ToString("N"))).FullName;

    [Fact]
    public void Replay_AWebSocketPhoneCallingAndCalledThroughKamailio_IsADeviceByItsInstanceId_WithItsToneOnItsChannel()
    {
        using JsonDocument doc = Replay("kamailio-websocket-phone.pcap");
        PhoneScenarioOutcomes.AssertWebSocketPhoneCalls(Path.Combine(_dir, "rec"), doc.RootElement, output);
        JsonElement counters = doc.RootElement.GetProperty("counters");
        Assert.Equal(1, counters.GetProperty("websocket_connections").GetInt64());
        // tshark, on the phone's WebSocket: REGISTER, 200; its call: INVITE, 100, 180, 200, ACK, BYE, 200; the call to it:
        // INVITE, 180, 200, ACK, BYE, 200.
        Assert.Equal(15, counters.GetProperty("websocket_sip_messages").GetInt64());
        // The proxy forwards the phone's INVITE (its Via over the phone's), from its UDP port, a port it was not yet known
        // by: a proxy, not a back-to-back user agent relaying the call in a dialog of its own.
        Assert.Equal(0, counters.GetProperty("sip_relays_detected").GetInt64());
        Assert.DoesNotContain(doc.RootElement.GetProperty("servers").EnumerateArray(), server => server.GetProperty("evidence").GetString() == "RelaysCalls");

        // The relay's far side of each call (relay to the other phone) is that call's other hop: counted, not a third call.
        Assert.InRange(counters.GetProperty("rtp_other_hop_packets").GetInt64(), 1400, 1500);
        Assert.Equal(0, counters.GetProperty("rtp_unsignalled_streams").GetInt64());
    }

    [Fact]
    public void Replay_APhoneThatChangesItsAddressAndCallsAgain_IsOneDevice_ReboundToTheNewAddress_NoConflict()
    {
        using JsonDocument doc = Replay("kamailio-phone-moves.pcap");
        PhoneScenarioOutcomes.AssertPhoneMoved(Path.Combine(_dir, "rec"), doc.RootElement, output);
        Assert.Equal(1, doc.RootElement.GetProperty("counters").GetProperty("sip_phones_moved").GetInt64());
        JsonElement moved = Assert.Single(doc.RootElement.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "DeviceMoved");
        Assert.Equal(("10.77.0.11", "from 10.77.0.10"), (moved.GetProperty("ip").GetString(), moved.GetProperty("detail").GetString()));
    }

    [Fact]
    public void Replay_APhoneBehindNatCallingThroughKamailioAndRtpengine_IsThePartyAtTheNatsPublicAddress_EachVoiceOnItsChannel()
    {
        using JsonDocument doc = Replay("kamailio-nat-phone.pcap");
        PhoneScenarioOutcomes.AssertNatPhoneCall(Path.Combine(_dir, "rec"), doc.RootElement, output);
        JsonElement counters = doc.RootElement.GetProperty("counters");
        Assert.Equal(1, counters.GetProperty("rtp_parties_behind_nat").GetInt64());
        // The relay's far side (relay to callee): the call's other hop, counted, not a second call; nothing unsignalled.
        Assert.InRange(counters.GetProperty("rtp_other_hop_packets").GetInt64(), 600, 646);
        Assert.Equal(0, counters.GetProperty("rtp_unsignalled_streams").GetInt64());
    }

    private JsonDocument Replay(string sample)
    {
        (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Path.Combine(Repo.Root, "samples", sample), "--out", Path.Combine(_dir, "rec"), "--json"],
            TimeSpan.FromSeconds(120));
        Assert.True(code == 0, json);
        return JsonDocument.Parse(json);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
