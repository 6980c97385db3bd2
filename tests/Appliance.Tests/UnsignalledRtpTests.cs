using System.Text;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// RTP that no signalling claims (the SPAN port missed the SIP, it was encrypted, or it is a protocol we do not read):
/// real captures without signalling are recorded as calls with protocol <c>rtp</c>, by address pair, and what is not a
/// call of its own (a relay's other leg, a recording fork, trailing packets, video, unknown codecs) is not. Each count
/// below is what tshark's rtp,streams shows in the file (../shared/captures/MANIFEST.md).
/// </summary>
public class UnsignalledRtpTests(ITestOutputHelper output)
{
    [Fact]
    public void SippMediaFile_WithoutSignalling_IsRecordedAsOneRtpCall()
    {
        using var r = new Replayer().Run(Captures.PathOf("g711a.pcap"));
        Assert.Empty(r.Errors);

        // tshark: one stream 10.1.3.143:5000 -> 10.1.6.18:2006, PCMA, 236 packets over 7.05 s; the first 3 prove it is RTP.
        CallSidecar call = Assert.Single(r.Calls);
        Assert.Equal("rtp", call.Protocol);
        Assert.Equal(("10.1.3.143", 5000, "left"), (call.Parties[0].Ip, call.Parties[0].Port, call.Parties[0].Channel));
        Assert.Equal(("10.1.6.18", 2006, "right"), (call.Parties[1].Ip, call.Parties[1].Port, call.Parties[1].Channel));
        Assert.Equal(["PCMA"], call.Codecs);
        Assert.Equal(3, r.Counters["rtp_unsignalled_probe_packets"]);
        Assert.Equal(236 - 3, call.Packets);
        Assert.Equal(0, r.Counters["udp_unclassified"]);
        Assert.Equal(CallEndReasons.CaptureEnded, call.EndReason);
        Assert.InRange(call.MediaDurationSeconds, 6.9, 7.05);

        DecodedAudio audio = r.Decode(call);
        output.WriteLine($"active L {audio.ActiveSeconds(0)} s, R {audio.ActiveSeconds(1)} s");
        Assert.True(audio.ActiveSeconds(0) > 4, "the sender's speech on its channel");
        Assert.Equal(0, audio.ActiveSeconds(1));
    }

    [Fact]
    public void AsteriskOpusFile_LearnsOpusFromTheStream_AndRecordsItsDigits()
    {
        using var r = new Replayer().Run(Captures.PathOf("opus-2013785496.pcap"));
        Assert.Empty(r.Errors);

        // tshark: 10.0.0.51:4002 -> 10.0.0.45:12906, 725 packets of dynamic PT 96 (no SDP says it is Opus) and 40
        // telephone-event packets (PT 101) with the digits 0-9, over 15.28 s.
        CallSidecar call = Assert.Single(r.Calls);
        Assert.Equal("rtp", call.Protocol);
        Assert.Equal(["opus"], call.Codecs);
        Assert.Equal(16000, call.SampleRate);
        Assert.InRange(call.MediaDurationSeconds, 15.0, 15.3);
        Assert.Equal("0123456789", string.Concat(call.Dtmf.Select(d => d.Digit).Order()));
        Assert.True(r.Decode(call).ActiveSeconds(0) > 2, "the Opus sender's in-band tones are audible (3.1 s of the 15 s)");
    }

    [Fact]
    public void NdpiRtpFile_RecordsTheAudioStream_NotVideoNorAnUnknownCodec()
    {
        using var r = new Replayer().Run(Captures.PathOf("rtp.pcapng"));
        Assert.Empty(r.Errors);

        // tshark: a VLAN-tagged PT 111 stream 10.140.67.167:55402 -> 148.153.85.97:6008 (29 packets: WebRTC's Opus), PT 120
        // streams between 192.113.193.227 and 150.219.118.19 (no codec the recorder could name) and H.263 video (PT 34).
        CallSidecar call = Assert.Single(r.Calls);
        Assert.Equal(["opus"], call.Codecs);
        Assert.Equal(("10.140.67.167", "148.153.85.97"), (call.Parties[0].Ip, call.Parties[1].Ip));
        Assert.True(r.Counters["rtp_unsignalled_unrecordable_packets"] > 0, "the PT 120 stream is counted, not recorded");
        Assert.DoesNotContain(r.Calls, c => c.Parties.Any(p => p.Ip == "10.204.220.71")); // the video
    }

    [Fact]
    public void WhenTurnedOff_NothingIsRecorded_AndTheRtpIsCountedAsUnclassified()
    {
        using var r = new Replayer().Run(Captures.PathOf("g711a.pcap"), configure: o => o.UnsignalledRtp.Enabled = false);
        Assert.Empty(r.Calls);
        Assert.Equal(236, r.Counters["udp_unclassified"]);
    }

    [Fact]
    public void RelayedLeg_OfASignalledCall_JoinsThatCall_InsteadOfASecondRecording()
    {
        using var r = new Replayer().Run(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        Assert.Empty(r.Errors);

        // tshark: the relay 200.57.7.196 forwards both SSRCs of the answered call unchanged onto its leg with 200.57.7.199
        // (whose signalling the mirror does not show): the same conversation, so the same recording.
        Assert.Equal(1, r.Counters["rtp_relay_legs_joined"]);
        Assert.DoesNotContain(r.Calls, c => c.Parties.Any(p => p.Ip == "200.57.7.199"));
        CallSidecar answered = Assert.Single(r.Calls, c => c.CallId == "12013223@200.57.7.195");
        Assert.Equal(891 + 548, answered.Packets);
        Assert.Equal(891 + 548, answered.DuplicatesDropped); // every relayed copy
    }

    [Fact]
    public void SkinnyRecordingForks_AreNotCallsOfTheirOwn()
    {
        using var r = new Replayer().Run(Captures.PathOf("skinny.pcap"));

        // tshark: besides the call 321 -> 307, each phone forks both directions to the recorder 192.168.193.24 (ports
        // 9395-9400: 18 + 16 + 17 + 15 packets), which CallManager ordered with StartMediaTransmission.
        CallSidecar call = Assert.Single(r.Calls);
        Assert.Equal("skinny", call.Protocol);
        Assert.Equal(18 + 16 + 17 + 15, r.Counters["rtp_unsignalled_fork_packets"]);
    }

    [Fact]
    public void TrailingRtpAfterARefusal_IsNotANewCall()
    {
        using var r = new Replayer().Run(Captures.PathOf("aaa.pcap"));

        // tshark: 11894297-4432a9f8 is refused (480) at 1443.49 s; the phone still sends 9 packets to the early-media address
        // from 1444.51 s.
        Assert.DoesNotContain(r.Calls, c => c.Protocol == "rtp");
        Assert.Equal(9, r.Counters["rtp_unsignalled_after_call_end_packets"]);
    }

    /// <summary>
    /// The bundled SIPp call with its INVITE transaction (INVITE, 180, 200, ACK) moved 3 s later, as when the mirror
    /// starts mid-call or the INVITE is lost and a re-INVITE names the media: the RTP is recorded from its first packets,
    /// and the INVITE takes that recording over. One call, one recording, the caller on its media's channel.
    /// </summary>
    [Fact]
    public void SdpSeenAfterTheMedia_TakesTheRecordingOver_WithoutASecondRecording()
    {
        (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"));
        long delayNs = 3_000_000_000;
        var moved = frames.Select(f => IsInviteTransaction(f.Frame) ? (f.Ns + delayNs, f.Frame) : f).OrderBy(f => f.Item1).ToList();
        Assert.Equal(4, frames.Count(f => IsInviteTransaction(f.Frame))); // INVITE, 180, 200, ACK
        string file = Path.Combine(Path.GetTempPath(), $"late-invite-{Guid.NewGuid():N}.pcap");
        try
        {
            PcapFile.WriteClassic(file, linkType, moved);
            using var r = new Replayer().Run(file);
            Assert.Empty(r.Errors);

            CallSidecar call = Assert.Single(r.Calls);
            Assert.Equal("sip", call.Protocol);
            Assert.EndsWith("@127.0.0.1", call.CallId, StringComparison.Ordinal);
            Assert.Equal(1, r.Counters["rtp_unsignalled_taken_over"]);
            Assert.Contains(call.Events, e => e.Type == CallEventTypes.Signalled && e.OffsetSeconds is > 2.5 and < 3.6);
            Assert.Equal(CallEndReasons.Bye, call.EndReason);
            Assert.InRange(call.MediaDurationSeconds, 7.8, 8.1); // from the first packets, not from the late INVITE

            // The caller 2001 plays speech, the callee 2002 a 1 kHz tone: each on the channel its party is named on.
            PartySidecar caller = Assert.Single(call.Parties, p => p.Extension == "2001");
            PartySidecar callee = Assert.Single(call.Parties, p => p.Extension == "2002");
            DecodedAudio audio = r.Decode(call);
            int calleeChannel = callee.Channel == "left" ? 0 : 1;
            output.WriteLine($"caller {caller.Channel}, callee {callee.Channel}: {audio.DominantFrequency(calleeChannel, 1.0)} Hz");
            Assert.NotEqual(caller.Channel, callee.Channel);
            Assert.InRange(audio.DominantFrequency(calleeChannel, 1.0), 990, 1010);
            Assert.True(audio.ActiveSeconds(1 - calleeChannel) > 4, "the caller's speech on the caller's channel");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static bool IsInviteTransaction(byte[] frame)
    {
        string text = Encoding.Latin1.GetString(frame);
        return text.Contains(" INVITE\r\n", StringComparison.Ordinal) || text.Contains("ACK sip:", StringComparison.Ordinal);
    }
}
