using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// Real captures replayed end to end; each assertion is something tshark also sees in the file
/// (see ../shared/captures/MANIFEST.md), checked on the decoded audio, not only on file existence.
/// </summary>
public class ReplayTests(ITestOutputHelper output)
{
    [Fact]
    public void SipCallRtpG711_RecordsTheAnsweredCallWithBothLegs()
    {
        using var r = new Replayer().Run(Captures.PathOf("SIP_CALL_RTP_G711.pcap"));
        Assert.Empty(r.Errors);

        // tshark: two INVITE dialogs; 12013223@200.57.7.195 answered (100/180/200/ACK), 12015624@... only 100/180; and 6
        // packets of an MGCP gateway's stream (200.57.7.202:30000, no SIP), recorded as RTP of its own after 3 proved it.
        Assert.Equal(3, r.Calls.Count);
        CallSidecar mgcp = Assert.Single(r.Calls, c => c.Protocol == "rtp");
        Assert.Equal(("200.57.7.202", 30000, 3L), (mgcp.Parties[0].Ip, mgcp.Parties[0].Port, mgcp.Packets));
        CallSidecar answered = Assert.Single(r.Calls, c => c.CallId == "12013223@200.57.7.195");
        Assert.Equal("francisco", answered.Parties[1].Extension);
        Assert.NotNull(answered.AnsweredAt);
        Assert.Contains("PCMA", answered.Codecs);

        // tshark rtp,streams: 200.57.7.196:40376 -> .204:8000 from 8.529 s to 34.909 s (891 packets) and back from 8.479 s (548).
        Assert.Equal(891 + 548, answered.Packets);
        Assert.Equal(0, answered.PacketsLost);
        Assert.InRange(answered.MediaDurationSeconds, 26.3, 26.5);

        DecodedAudio audio = r.Decode(answered);
        output.WriteLine($"duration {audio.DurationSeconds:0.000}s, RMS L {audio.Rms(0):0} R {audio.Rms(1):0}, active L {audio.ActiveSeconds(0)} R {audio.ActiveSeconds(1)}, corr {audio.ChannelCorrelation():0.000}");
        Assert.Equal(2, audio.Channels);
        Assert.InRange(audio.DurationSeconds, answered.MediaDurationSeconds - 0.03, answered.MediaDurationSeconds + 0.03);
        Assert.True(audio.ActiveSeconds(0) > 5, "the caller's leg (left) must be audible");
        Assert.True(audio.ActiveSeconds(1) > 5, "francisco's leg (right) must be audible");
        Assert.InRange(Math.Abs(audio.ChannelCorrelation()), 0, 0.3);

        CallSidecar ringing = Assert.Single(r.Calls, c => c.CallId == "12015624@200.57.7.195");
        Assert.Null(ringing.AnsweredAt);
        Assert.Equal("5514540002", ringing.Parties[0].Extension);
    }

    /// <summary>
    /// The bundled SIPp call with both SDPs saying RTP/SAVP (SDES-keyed SRTP; the o= version loses a digit so every length
    /// stays): what the mirror carries is encrypted. The call is recorded as what it is, a call whose audio cannot be
    /// heard: its sidecar, an `encrypted-media` event, every RTP packet counted as encrypted, and no file of noise.
    /// </summary>
    [Fact]
    public void SrtpCall_IsNotDecodedIntoNoise_ItsPacketsAreCountedAsEncrypted()
    {
        (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Path.Combine(Repo.Root, "samples", "sipp-g711a-call.pcap"));
        var srtp = frames.Select(f => (f.Ns, Replace(Replace(Replace(f.Frame, "2353687637 IN", "235368763 IN"), "2353687638 IN", "235368763 IN"), "RTP/AVP 8", "RTP/SAVP 8"))).ToList();
        Assert.Equal(2, srtp.Count(f => System.Text.Encoding.Latin1.GetString(f.Item2).Contains("RTP/SAVP", StringComparison.Ordinal)));
        string file = Path.Combine(Path.GetTempPath(), $"srtp-{Guid.NewGuid():N}.pcap");
        try
        {
            PcapFile.WriteClassic(file, linkType, srtp);
            using var r = new Replayer().Run(file);
            CallSidecar call = Assert.Single(r.Calls);
            Assert.Equal("sip", call.Protocol);
            Assert.Null(call.File);
            Assert.Equal(CallEndReasons.NoMedia, call.EndReason);
            Assert.Contains(call.Events, e => e.Type == CallEventTypes.EncryptedMedia);

            // tshark: 236 + 10 packets from the caller, 400 from the callee.
            Assert.Equal(236 + 10 + 400, call.PacketsDropped["encrypted"]);
            Assert.Equal(0, r.Counters["rtp_unsignalled_streams"]);
        }
        finally
        {
            File.Delete(file);
        }

        static byte[] Replace(byte[] frame, string from, string to)
        {
            string text = System.Text.Encoding.Latin1.GetString(frame);
            return text.Contains(from, StringComparison.Ordinal) ? System.Text.Encoding.Latin1.GetBytes(text.Replace(from, to, StringComparison.Ordinal)) : frame;
        }
    }

    [Theory]
    [InlineData("sip-rtp-g722.pcap", "G722", 16000)]
    [InlineData("sip-rtp-g729a.pcap", "G729", 8000)]
    [InlineData("sip-rtp-opus.pcap", "opus", 16000)]
    public void FreeSwitchCaptures_RecordTheCalleesOneWayAudio(string file, string codec, int rate)
    {
        // tshark: one call sipp -> test, BYE from FreeSWITCH after 8.5 s; one RTP stream (425 packets, 20 ms)
        // from FreeSWITCH (10.0.2.15) to SIPp (10.0.2.20:6000): only the callee speaks, so only the right channel has audio.
        using var r = new Replayer().Run(Captures.PathOf(file));
        Assert.Empty(r.Errors);
        CallSidecar call = Assert.Single(r.Calls);
        Assert.Equal("sipp", call.Parties[0].Extension);
        Assert.Equal("test", call.Parties[1].Extension);
        Assert.Equal(CallEndReasons.Bye, call.EndReason);
        Assert.Contains(codec, call.Codecs);
        Assert.Equal(rate, call.SampleRate);
        Assert.Equal(425, call.Packets);
        Assert.Equal(0, call.PacketsLost);
        Assert.InRange(call.MediaDurationSeconds, 8.46, 8.52);

        DecodedAudio audio = r.Decode(call);
        output.WriteLine($"{file}: {audio.DurationSeconds:0.000}s RMS L {audio.Rms(0):0.0} R {audio.Rms(1):0.0} active R {audio.ActiveSeconds(1)}");
        Assert.Equal(2, audio.Channels);
        Assert.InRange(audio.DurationSeconds, call.MediaDurationSeconds - 0.03, call.MediaDurationSeconds + 0.03);
        Assert.True(audio.ActiveSeconds(1) > 4, "the callee's audio must be audible on the right");
        Assert.True(audio.Rms(0) < 30, "nobody spoke on the caller's leg: the left channel must stay silent");
    }

    [Fact]
    public void FaxCall_RecordsTheVoicePartAndMarksT38()
    {
        using var r = new Replayer().Run(Captures.PathOf("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"));
        Assert.Empty(r.Errors);

        // tshark: the gateway leg 00e9d4a5...@10.35.40.25 carries G.711 A-law between 10.23.1.52:16756 and
        // 10.35.60.100:15580; at 64.46 s a re-INVITE offers T.38 (m=image udptl t38), refused with 488, then audio again.
        CallSidecar fax = Assert.Single(r.Calls, c => c.CallId.StartsWith("00e9d4a500e9d48", StringComparison.Ordinal));
        Assert.NotNull(fax.File);
        Assert.Contains(fax.Events, e => e.Type == "t38");
        Assert.Contains(fax.Events, e => e.Type == "t38-refused" && e.Detail == "488");
        Assert.Equal(CallEndReasons.Bye, fax.EndReason);
        DecodedAudio audio = r.Decode(fax);
        Assert.True(audio.ActiveSeconds(0) > 5 && audio.ActiveSeconds(1) > 5, $"both legs carry the call's audio (L {audio.ActiveSeconds(0)} s, R {audio.ActiveSeconds(1)} s)");

        // The far B2BUA leg (SD4909701...) was signalled, but its media was not on this mirror: a sidecar says so.
        CallSidecar far = Assert.Single(r.Calls, c => c.CallId.StartsWith("SD4909701", StringComparison.Ordinal));
        Assert.Null(far.File);
        Assert.Equal(CallEndReasons.NoMedia, far.EndReason);
    }

    [Theory]
    [InlineData("aaa.pcap")]
    [InlineData("sip_hello.pcapng")]
    [InlineData("fuzz-2006-06-26-2594.pcap")]
    [InlineData("sip-junk-before-request.pcap")]
    [InlineData("rtp-seg-fault-1.pcapng")]
    [InlineData("crash-27382.pcap")]
    [InlineData("gre.pcapng")]
    [InlineData("ipv6frag.pcap")]
    [InlineData("sip_ipv6_udp.pcap")]
    [InlineData("rtp.pcapng")]
    public void MessyCaptures_ReplayWithoutCrashAndEveryCallGetsASidecar(string file)
    {
        using var r = new Replayer().Run(Captures.PathOf(file));
        Assert.Empty(r.Errors);
        Assert.Equal(r.Counters["calls_started"], r.Calls.Count);
        Assert.Equal(r.Counters["calls_started"], r.Counters["sidecars_written"]);
        foreach (CallSidecar c in r.Calls)
        {
            Assert.True(File.Exists(Path.Combine(r.OutputDirectory, SidecarPath(c))), $"sidecar of {c.CallId}");
        }
    }

    [Fact]
    public void FuzzedCapture_CountsBadSipByReasonAndMakesNoPhantomCalls()
    {
        using var clean = new Replayer().Run(Captures.PathOf("aaa.pcap"));
        using var fuzzed = new Replayer().Run(Captures.PathOf("fuzz-2006-06-26-2594.pcap"));
        long invalid = fuzzed.Counters.Where(kv => kv.Key.StartsWith("sip_invalid_", StringComparison.Ordinal)).Sum(kv => kv.Value);
        output.WriteLine(string.Join(", ", fuzzed.Counters.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.True(invalid > 0, "the fuzzed SIP must be counted as invalid by reason");
        Assert.True(fuzzed.Calls.Count <= clean.Calls.Count, $"fuzzing must not create calls ({fuzzed.Calls.Count} vs {clean.Calls.Count})");
    }

    [Fact]
    public void Ipv6Call_IsFollowedAndGetsASidecarWithoutMedia()
    {
        // tshark: INVITE/100/200/ACK/BYE/200 between fe80:: link-local addresses, PCMU offered, no RTP in the file.
        using var r = new Replayer().Run(Captures.PathOf("sip_ipv6_udp.pcap"));
        CallSidecar call = Assert.Single(r.Calls);
        Assert.Equal("9876", call.Parties[0].Extension);
        Assert.Equal("4321", call.Parties[1].Extension);
        Assert.Null(call.File);
        // The file is edited: its timestamps jump years between messages (INVITE 2012, 100 2018, 200 2018, ACK 2023,
        // BYE and its 200 unreadable by tshark). No two of them agree, so each is a timestamp outlier processed at the
        // capture clock's time (the INVITE's): the call is followed as the messages say, answered and ended by its BYE,
        // without media, and lasts no time instead of decades.
        Assert.Equal(call.StartedAt, call.AnsweredAt);
        Assert.Equal(CallEndReasons.NoMedia, call.EndReason);
        Assert.Equal(CallEndReasons.Bye, call.SignalledEnd);
        Assert.Equal(call.StartedAt, call.EndedAt);
        Assert.Equal(new DateTimeOffset(2012, 2, 7, 4, 36, 2, TimeSpan.Zero), call.StartedAt.AddTicks(-call.StartedAt.Ticks % TimeSpan.TicksPerSecond));
        Assert.Equal(5, r.Counters["clock_outliers"]);
        Assert.Equal(0, r.Counters["clock_jumps"]);
        Assert.StartsWith("fe80:", call.Parties[0].Ip, StringComparison.Ordinal);
    }

    private static string SidecarPath(CallSidecar c) =>
        Path.Combine(c.StartedAt.UtcDateTime.ToString("yyyy/MM/dd", System.Globalization.CultureInfo.InvariantCulture), c.Id + ".json");
}
