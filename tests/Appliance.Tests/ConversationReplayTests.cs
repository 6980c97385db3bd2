using System.Text.Json;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// One conversation across several dialogs, replayed from the live rig's samples (samples/README.md): a call through an
/// SBC that hides the Call-ID (Kamailio topoh, rtpengine relaying the media), the same call with the SBC's side
/// "transcoded" (so the media cannot be matched), and a blind transfer (REFER). What a quality reviewer and an admin see.
/// </summary>
public class ConversationReplayTests(ITestOutputHelper output)
{
    private static string Sample(string name) => Path.Combine(Repo.Root, "samples", name);

    [Fact]
    public void Replay_ACallThroughAnSbcHidingTheCallId_IsOneRecording_ListingBothCallIds_EachVoiceOnItsParty()
    {
        using var replay = new Replayer().Run(Sample("sipp-b2b-topoh.pcap"));

        // tshark: two dialogs (the caller's Call-ID, and the topoh-masked one on the callee's side), 4 + 2 RTP streams.
        CallSidecar call = Assert.Single(replay.Calls);
        Assert.Equal(2, call.CallIds.Count);
        Assert.Equal(call.CallId, call.CallIds[0]);
        Assert.StartsWith("!!:", call.CallIds[1], StringComparison.Ordinal); // topoh's encoding of the caller's Call-ID
        Assert.Equal([DialogEvidence.First, DialogEvidence.RelayedMedia], call.Dialogs.Select(d => d.Evidence));
        Assert.Equal(("10.77.0.10", "10.77.0.30"), (call.Dialogs[0].From, call.Dialogs[0].To));
        Assert.Equal(("10.77.0.30", "10.77.0.20"), (call.Dialogs[1].From, call.Dialogs[1].To));
        Assert.Null(call.CopyOf);

        // The parties are the phones, not the SBC: the callee's address comes from its own dialog.
        Assert.Equal(("2001", "10.77.0.10", "left"), (call.Parties[0].Extension, call.Parties[0].Ip, call.Parties[0].Channel));
        Assert.Equal(("2002", "10.77.0.20", "right"), (call.Parties[1].Extension, call.Parties[1].Ip, call.Parties[1].Channel));
        Assert.Equal(CallEndReasons.Bye, call.EndReason);

        // No doubled audio: one leg's packets (236 speech + 400 tone + 10 DTMF), the relayed copies never reach the file.
        Assert.Equal(646, call.Packets);
        Assert.Equal(646, replay.Counters["media_packets_not_recorded"]);
        Assert.Equal(1, replay.Counters["relayed_dialogs_confirmed"]);
        Assert.InRange(call.MediaDurationSeconds, 7.8, 8.3);
        DecodedAudio audio = replay.Decode(call);
        double left = audio.DominantFrequency(0, 1.0), right = audio.DominantFrequency(1, 1.0);
        output.WriteLine($"L {audio.ActiveSeconds(0)} s, {left} Hz; R {audio.ActiveSeconds(1)} s, {right} Hz");
        Assert.InRange(right, 990, 1010); // the callee's tone on the callee's channel
        Assert.NotInRange(left, 990, 1010);
        Assert.True(audio.ActiveSeconds(0) > 4, "the caller's speech on the left");
        Assert.Equal("1", Assert.Single(call.Dtmf).Digit); // the caller's DTMF 1 once, not once per dialog
    }

    [Fact]
    public void Replay_ACallThroughAnSbcHidingTheCallId_LearnsThePhonesAsDevices_AndTheSbcAsAServer()
    {
        string dir = Path.Combine(Path.GetTempPath(), "appliance-b2b-" + Guid.NewGuid().ToString("N"));
        try
        {
            (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Sample("sipp-b2b-topoh.pcap"), "--out", Path.Combine(dir, "rec"),
                "--state", Path.Combine(dir, "state"), "--json"], TimeSpan.FromSeconds(120));
            Assert.True(code == 0, json);
            using var doc = JsonDocument.Parse(json);
            Assert.Single(doc.RootElement.GetProperty("calls").EnumerateArray());
            Assert.Equal(["10.77.0.10", "10.77.0.20"],
                doc.RootElement.GetProperty("devices").EnumerateArray().SelectMany(d => d.GetProperty("ips").EnumerateArray().Select(ip => ip.GetString())).Order());
            JsonElement server = Assert.Single(doc.RootElement.GetProperty("servers").EnumerateArray());
            Assert.Equal("10.77.0.30", server.GetProperty("ip").GetString());
            Assert.Empty(doc.RootElement.GetProperty("conflicts").EnumerateArray());
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Replay_AnSbcWhoseSideCannotBeMatched_KeepsBothRecordings_SharingOneInteraction_AndMarksTheCopy()
    {
        // The callee's side as a transcoding SBC would send it: another SSRC and other payload bytes (the lowest bit of
        // every A-law byte flipped: the tone is still a tone), so neither identity nor payload proves the relay.
        string transcoded = Path.Combine(Path.GetTempPath(), "appliance-b2b-transcoded-" + Guid.NewGuid().ToString("N") + ".pcap");
        try
        {
            (int link, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Sample("sipp-b2b-topoh.pcap"));
            int changed = frames.Count(f => TranscodeCalleeSide(f.Frame));
            Assert.Equal(646, changed);
            PcapFile.WriteClassic(transcoded, link, frames);
            using var replay = new Replayer().Run(transcoded);

            Assert.Equal(2, replay.Calls.Count);
            CallSidecar first = replay.Calls.Single(c => c.CopyOf is null), copy = replay.Calls.Single(c => c.CopyOf is not null);
            Assert.Equal(first.Id, copy.CopyOf);
            Assert.NotNull(first.InteractionId);
            Assert.Equal(first.InteractionId, copy.InteractionId);
            Assert.Equal([first.CallId], first.CallIds);
            Assert.Equal([copy.CallId], copy.CallIds);
            Assert.Equal(1, replay.Counters["relayed_dialogs_copied"]);

            // Each recording keeps each voice on its party's channel.
            foreach (CallSidecar call in replay.Calls)
            {
                DecodedAudio audio = replay.Decode(call);
                Assert.InRange(audio.DominantFrequency(1, 1.0), 990, 1010);
                Assert.NotInRange(audio.DominantFrequency(0, 1.0), 990, 1010);
            }

            // The copy starts recording once its media was compared (about half a second), the first from the start.
            Assert.InRange(first.MediaDurationSeconds, 7.8, 8.3);
            Assert.InRange(copy.MediaDurationSeconds, 6.5, 8.0);
        }
        finally
        {
            File.Delete(transcoded);
        }
    }

    [Fact]
    public void Replay_ABlindTransfer_IsTwoRecordings_SharingOneInteraction_TheFirstWithTheTransferEvent()
    {
        using var replay = new Replayer().Run(Sample("sipp-blind-transfer.pcap"));

        // tshark: 2001 calls 2002 through the proxy, 2002 REFERs 2001 to 2003 and hangs up; 2001 calls 2003.
        Assert.Equal(2, replay.Calls.Count);
        CallSidecar toTransferor = replay.Calls[0], toTarget = replay.Calls[1];
        Assert.Equal(("2001", "10.77.0.10", "2002", "10.77.0.20"),
            (toTransferor.Parties[0].Extension, toTransferor.Parties[0].Ip, toTransferor.Parties[1].Extension, toTransferor.Parties[1].Ip));
        Assert.Equal(("2001", "10.77.0.10", "2003", "10.77.0.21"),
            (toTarget.Parties[0].Extension, toTarget.Parties[0].Ip, toTarget.Parties[1].Extension, toTarget.Parties[1].Ip));
        Assert.NotEqual(toTransferor.CallId, toTarget.CallId);

        Assert.Equal(toTransferor.Id, toTransferor.InteractionId);
        Assert.Equal(toTransferor.InteractionId, toTarget.InteractionId);
        Assert.Equal(toTransferor.Id, toTarget.TransferredFrom);
        Assert.Null(toTransferor.TransferredFrom);

        // One transfer event (the REFER crossed the proxy twice), about 2.5 s into the first call, before its end.
        CallEventSidecar transfer = Assert.Single(toTransferor.Events, e => e.Type == CallEventTypes.Transfer);
        Assert.Equal("2002 referred 2001 to 2003 (callee, blind)", transfer.Detail);
        Assert.InRange(transfer.OffsetSeconds!.Value, 2.3, 2.8);
        Assert.True(transfer.At < toTransferor.EndedAt && transfer.At < toTarget.StartedAt);
        Assert.DoesNotContain(toTarget.Events, e => e.Type == CallEventTypes.Transfer);

        foreach (CallSidecar call in replay.Calls)
        {
            DecodedAudio audio = replay.Decode(call);
            Assert.InRange(audio.DominantFrequency(1, 0.5), 990, 1010); // the callee's tone (transferor, then target) on the right
            Assert.NotInRange(audio.DominantFrequency(0, 0.5), 990, 1010);
        }

        Assert.Equal(1, replay.Counters["transfers_joined"]);
    }

    [Fact]
    public void Replay_AnAttendedTransfer_IsThreeRecordings_SharingOneInteraction_EachVoiceOnItsParty()
    {
        using var replay = new Replayer().Run(Sample("sipp-attended-transfer.pcap"));

        // tshark: 2001 calls 2002; 2002 calls 2003 (consult-1-appliance); 2002 REFERs 2001 to 2003 replacing the
        // consultation and hangs up; the consultation ends; 2001 calls 2003 with Replaces.
        Assert.Equal(3, replay.Calls.Count);
        CallSidecar first = replay.Calls[0], consultation = replay.Calls[1], transferred = replay.Calls[2];
        Assert.Equal("consult-1-appliance", consultation.CallId);
        Assert.Equal(("2001", "2002"), (first.Parties[0].Extension, first.Parties[1].Extension));
        Assert.Equal(("2002", "10.77.0.20", "2003", "10.77.0.21"),
            (consultation.Parties[0].Extension, consultation.Parties[0].Ip, consultation.Parties[1].Extension, consultation.Parties[1].Ip));
        Assert.Equal(("2001", "2003", "10.77.0.21"), (transferred.Parties[0].Extension, transferred.Parties[1].Extension, transferred.Parties[1].Ip));
        Assert.All(replay.Calls, c => Assert.Equal(first.Id, c.InteractionId));
        Assert.Equal(first.Id, transferred.TransferredFrom);
        Assert.Equal("2002 referred 2001 to 2003 (callee, attended)", Assert.Single(first.Events, e => e.Type == CallEventTypes.Transfer).Detail);
        Assert.StartsWith("consultation of: ", Assert.Single(consultation.Events, e => e.Type == CallEventTypes.Transfer).Detail, StringComparison.Ordinal);

        foreach (CallSidecar call in replay.Calls)
        {
            DecodedAudio audio = replay.Decode(call);
            Assert.InRange(audio.DominantFrequency(1, 0.5), 990, 1010); // the called party's tone on the right
            Assert.NotInRange(audio.DominantFrequency(0, 0.5), 990, 1010); // the caller's speech on the left
        }
    }

    /// <summary>Flips an RTP packet's SSRC and payload bits when it is on the callee's side (10.77.0.20); true when it did.</summary>
    private static bool TranscodeCalleeSide(byte[] frame)
    {
        const int ip = 14; // Ethernet
        if (frame.Length < ip + 20 || frame[ip + 9] != 17)
        {
            return false;
        }

        int udp = ip + ((frame[ip] & 0x0F) * 4);
        bool calleeSide = frame.AsSpan(ip + 12, 4).SequenceEqual(new byte[] { 10, 77, 0, 20 }) || frame.AsSpan(ip + 16, 4).SequenceEqual(new byte[] { 10, 77, 0, 20 });
        int sourcePort = (frame[udp] << 8) | frame[udp + 1];
        int rtp = udp + 8;
        if (!calleeSide || sourcePort == 5060 || frame.Length < rtp + 13 || frame[rtp] >> 6 != 2)
        {
            return false;
        }

        frame[udp + 6] = frame[udp + 7] = 0; // no UDP checksum (IPv4 allows it)
        frame[rtp + 11] ^= 0x5A;
        for (int i = rtp + 12; i < frame.Length; i++)
        {
            frame[i] ^= 0x01;
        }

        return true;
    }
}
