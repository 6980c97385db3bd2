using System.Buffers.Binary;
using System.Text;
using Appliance.Tests.Support;
using Capture.Calls;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

/// <summary>
/// The topology rig's hold scenario (tests/live/topology.sh hold) as recorded in samples/sipp-topology-hold.pcap: 2001
/// calls 2002 through Kamailio and rtpengine, holds after 3 s (re-INVITE sendonly, answered recvonly), resumes 16 s
/// later, talks 3 s more. Every SIP message and RTP packet crosses the mirror twice (phone to proxy or relay, and on to
/// the other phone). Replayed without root, asserting what the live test asserts (<see cref="TopologyHoldTests"/>).
/// </summary>
public class TopologyHoldReplayTests(ITestOutputHelper output)
{
    private static string Sample => Path.Combine(Repo.Root, "samples", "sipp-topology-hold.pcap");

    [Fact]
    public void Replay_HeldAndResumedThroughProxyAndRelay_OneRecording_HoldAndResumeOnceAtTheirOffsets_ToneRight_ProxyAServer()
    {
        string dir = Path.Combine(Path.GetTempPath(), "topology-hold-" + Guid.NewGuid().ToString("N"));
        try
        {
            (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", Sample, "--out", dir, "--json"], TimeSpan.FromSeconds(120));
            Assert.True(code == 0, json);
            CallSidecar sidecar = CallSidecar.Deserialize(File.ReadAllText(Assert.Single(Directory.GetFiles(dir, "*.json", SearchOption.AllDirectories))))!;
            (long holdSentNs, long resumeSentNs, long firstCallerRtpNs) = WireTimes(Sample);

            // The recording starts with the call's media, as the wire shows it (not at some relayed copy or later).
            Assert.InRange((sidecar.MediaStartedAt!.Value - CaptureTime.ToDateTime(firstCallerRtpNs)).TotalSeconds, -0.05, 0.05);
            HoldCallExpectations.AssertRecording(sidecar, DecodedAudio.Decode(Path.Combine(dir, sidecar.File!)), holdSentNs, resumeSentNs, exactPackets: true, output);
            HoldCallExpectations.AssertDirectory(json);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>
    /// The same capture as an SBC that keeps the Call-ID would show it: on each hop its own side has tags and an SDP
    /// origin of its own (the caller's From tag and SDP origin are replaced on the proxy-to-callee hop, the callee's To tag
    /// and SDP origin on the caller-to-proxy hop; same lengths, so the frames stay valid). Before the hops were kept
    /// apart, the SBC's re-INVITEs on the callee's hop counted as the callee's own: hold and resume twice each.
    /// </summary>
    [Fact]
    public void Replay_TheSameCallWithAnSbcsOwnTagsAndSdpOriginOnEachHop_IsStillOneHoldAndOneResume_WithEachPartyAtItsOwnAddress()
    {
        string dir = Path.Combine(Path.GetTempPath(), "topology-hold-sbc-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(dir);
            (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(Sample);
            int rewritten = 0;
            string pcap = Path.Combine(dir, "sbc-hold.pcap");
            PcapFile.WriteClassic(pcap, linkType, frames.Select(f => (f.Ns, AsSeenAcrossAnSbc(f.Frame, ref rewritten))).ToList());
            // The call's 27 SIP messages but the caller's first INVITE and the proxy's 100 to it (no tag of the SBC's side yet).
            Assert.Equal(25, rewritten);

            (int code, string json) = Repo.Run("dotnet", [Repo.ApplianceDll, "replay", pcap, "--out", Path.Combine(dir, "rec"), "--json"], TimeSpan.FromSeconds(120));
            Assert.True(code == 0, json);
            CallSidecar sidecar = CallSidecar.Deserialize(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(dir, "rec"), "*.json", SearchOption.AllDirectories))))!;
            (long holdSentNs, long resumeSentNs, _) = WireTimes(pcap);
            HoldCallExpectations.AssertRecording(sidecar, DecodedAudio.Decode(Path.Combine(dir, "rec", sidecar.File!)), holdSentNs, resumeSentNs, exactPackets: true, output);
            HoldCallExpectations.AssertDirectory(json);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>A SIP frame of the sample with the SBC's side of its hop given its own tag and SDP origin (same length).</summary>
    private static byte[] AsSeenAcrossAnSbc(byte[] frame, ref int rewritten)
    {
        if (frame.Length < 42 || frame[23] != 17)
        {
            return frame;
        }

        string payload = Encoding.Latin1.GetString(frame, 42, frame.Length - 42);
        if (!payload.Contains("Call-ID:", StringComparison.Ordinal) || payload.Contains("REGISTER", StringComparison.Ordinal))
        {
            return frame;
        }

        bool callerToProxy = IsPair(frame, 10, 30), proxyToCallee = IsPair(frame, 30, 20);
        string changed = payload;
        if (proxyToCallee)
        {
            // The SBC calls the callee as itself: its own From tag, its own SDP origin (versions 7, 8, 9 for 1, 2, 3).
            changed = changed.Replace("SIPpTag09", "SBCbTag09", StringComparison.Ordinal);
            changed = System.Text.RegularExpressions.Regex.Replace(changed, @"o=2001 53655765 (\d) ", m => $"o=sbcb 77777777 {(char)(m.Groups[1].Value[0] + 6)} ");
        }
        else if (callerToProxy)
        {
            // And answers the caller as itself: its own To tag and SDP origin.
            changed = changed.Replace("SIPpTag01", "SBCaTag01", StringComparison.Ordinal);
            changed = System.Text.RegularExpressions.Regex.Replace(changed, @"o=2002 53655766 (\d) ", m => $"o=sbca 88888888 {(char)(m.Groups[1].Value[0] + 6)} ");
        }

        if (changed == payload)
        {
            return frame;
        }

        rewritten++;
        byte[] copy = (byte[])frame.Clone();
        Encoding.Latin1.GetBytes(changed).CopyTo(copy, 42);
        return copy;
    }

    /// <summary>Whether an IPv4 frame is between 10.77.0.<paramref name="a"/> and 10.77.0.<paramref name="b"/>, either way.</summary>
    private static bool IsPair(byte[] frame, byte a, byte b)
    {
        bool rig = frame[26] == 10 && frame[27] == 77 && frame[30] == 10 && frame[31] == 77;
        return rig && ((frame[29] == a && frame[33] == b) || (frame[29] == b && frame[33] == a));
    }

    /// <summary>
    /// Read from the capture itself: when the caller (10.77.0.10) sent its hold (CSeq 2) and resume (CSeq 3) re-INVITEs,
    /// and its first RTP packet (from its media port 6100).
    /// </summary>
    private static (long HoldNs, long ResumeNs, long FirstRtpNs) WireTimes(string pcap)
    {
        long hold = 0, resume = 0, firstRtp = 0;
        (int linkType, List<(long Ns, byte[] Frame)> frames) = PcapFile.Read(pcap);
        Assert.Equal(1, linkType); // Ethernet, IPv4 without options: UDP at 34, payload at 42
        foreach ((long ns, byte[] frame) in frames)
        {
            if (frame.Length < 42 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[23] != 17
                || !frame.AsSpan(26, 4).SequenceEqual(new byte[] { 10, 77, 0, 10 }))
            {
                continue;
            }

            ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34));
            string payload = Encoding.Latin1.GetString(frame, 42, frame.Length - 42);
            if (sourcePort == 6100 && firstRtp == 0)
            {
                firstRtp = ns;
            }
            else if (payload.StartsWith("INVITE ", StringComparison.Ordinal) && payload.Contains("CSeq: 2 INVITE", StringComparison.Ordinal))
            {
                hold = hold == 0 ? ns : hold;
            }
            else if (payload.StartsWith("INVITE ", StringComparison.Ordinal) && payload.Contains("CSeq: 3 INVITE", StringComparison.Ordinal))
            {
                resume = resume == 0 ? ns : resume;
            }
        }

        Assert.True(hold > 0 && resume > 0 && firstRtp > 0, "the sample holds both re-INVITEs and the caller's RTP");
        return (hold, resume, firstRtp);
    }
}

/// <summary>What a quality reviewer and an administrator expect of the hold scenario, live or replayed.</summary>
internal static class HoldCallExpectations
{
    /// <summary>
    /// One recording of 2001 (left, speech) and 2002 (right, 1 kHz tone) at their own addresses; one hold and one resume,
    /// each within 0.5 s of its re-INVITE on the wire (offsets from the recording's start); the hold kept as 16 s of
    /// silence in the audio; the relay's copies of the other hop not in the recording.
    /// </summary>
    public static void AssertRecording(CallSidecar sidecar, DecodedAudio audio, long holdSentNs, long resumeSentNs, bool exactPackets, ITestOutputHelper output)
    {
        DateTimeOffset mediaStart = sidecar.MediaStartedAt!.Value;
        double holdSent = (CaptureTime.ToDateTime(holdSentNs) - mediaStart).TotalSeconds;
        double resumeSent = (CaptureTime.ToDateTime(resumeSentNs) - mediaStart).TotalSeconds;
        output.WriteLine($"hold sent at {holdSent:0.000} s, resume at {resumeSent:0.000} s; events: "
            + string.Join(", ", sidecar.Events.Select(e => $"{e.Type} {e.OffsetSeconds} {e.Detail}")) + $"; media {sidecar.MediaDurationSeconds} s, {sidecar.Packets} packets, {sidecar.DuplicatesDropped} duplicates");

        Assert.Equal(("2001", "10.77.0.10", 6100, "left"), (sidecar.Parties[0].Extension, sidecar.Parties[0].Ip, sidecar.Parties[0].Port, sidecar.Parties[0].Channel));
        Assert.Equal(("2002", "10.77.0.20", 6000, "right"), (sidecar.Parties[1].Extension, sidecar.Parties[1].Ip, sidecar.Parties[1].Port, sidecar.Parties[1].Channel));
        Assert.Equal(CallEndReasons.Bye, sidecar.EndReason);

        CallEventSidecar hold = Assert.Single(sidecar.Events, e => e.Type == CallEventTypes.Hold);
        CallEventSidecar resume = Assert.Single(sidecar.Events, e => e.Type == CallEventTypes.Resume);
        Assert.Equal(("caller", "caller"), (hold.Detail, resume.Detail));
        Assert.InRange(hold.OffsetSeconds!.Value, holdSent - 0.5, holdSent + 0.5);
        Assert.InRange(resume.OffsetSeconds!.Value, resumeSent - 0.5, resumeSent + 0.5);
        Assert.InRange(holdSent, 2.5, 3.5); // the scenario: 3 s of talk, then 16 s on hold
        Assert.InRange(resumeSent - holdSent, 15.9, 16.5);

        // The hold is silence in the file, not cut out: the media runs on to the end of the 3 s after the resume.
        Assert.InRange(sidecar.MediaDurationSeconds, resume.OffsetSeconds.Value + 2.7, resume.OffsetSeconds.Value + 3.5);
        Assert.InRange(audio.DurationSeconds, sidecar.MediaDurationSeconds - 0.1, sidecar.MediaDurationSeconds + 0.1);

        // One copy of each packet: 100 + 100 speech packets from the caller, 150 + 150 tone packets from the callee, as the
        // caller's phone sends and receives them; the copies between the relay and the callee are not in the call.
        if (exactPackets)
        {
            Assert.Equal(500, sidecar.Packets);
        }
        else
        {
            Assert.InRange(sidecar.Packets, 490, 500);
        }

        Assert.Equal(0, sidecar.DuplicatesDropped);

        // Each voice on its own channel, by frequency, before the hold and after the resume; silence on hold.
        double h = hold.OffsetSeconds.Value, r = resume.OffsetSeconds.Value;
        foreach (double at in new[] { 0.8, 1.8, r + 0.5, r + 1.5 })
        {
            double right = audio.DominantFrequency(1, at), left = audio.DominantFrequency(0, at);
            output.WriteLine($"at {at:0.0} s: left {left} Hz (RMS {audio.Rms(0, at, at + 1):0}), right {right} Hz (RMS {audio.Rms(1, at, at + 1):0})");
            Assert.InRange(right, 990, 1010);
            Assert.NotInRange(left, 990, 1010);
            Assert.True(audio.Rms(0, at, at + 1) > 100, $"the caller's speech on the left at {at:0.0} s");
        }

        Assert.True(audio.Rms(0, h + 0.5, r - 0.5) < 30 && audio.Rms(1, h + 0.5, r - 0.5) < 30,
            $"on hold neither phone sends: silence (RMS {audio.Rms(0, h + 0.5, r - 0.5):0} / {audio.Rms(1, h + 0.5, r - 0.5):0})");
    }

    /// <summary>The directory (replay --json): the two phones are the devices, the proxy a server, no conflict.</summary>
    public static void AssertDirectory(string replayJson)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(replayJson);
        Assert.Equal(["10.77.0.10", "10.77.0.20"],
            doc.RootElement.GetProperty("devices").EnumerateArray().SelectMany(d => d.GetProperty("ips").EnumerateArray().Select(ip => ip.GetString())).Order());
        System.Text.Json.JsonElement server = Assert.Single(doc.RootElement.GetProperty("servers").EnumerateArray());
        Assert.Equal("10.77.0.30", server.GetProperty("ip").GetString());
        Assert.Empty(doc.RootElement.GetProperty("conflicts").EnumerateArray());
    }
}
