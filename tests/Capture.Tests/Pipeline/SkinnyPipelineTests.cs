using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Calls;
using Capture.Recording;
using Capture.Tests.Recording;
using Capture.Tests.Support;
using Xunit.Abstractions;
using static Capture.Tests.Support.CaptureReplay;

namespace Capture.Tests.Pipeline;

/// <summary>Skinny through the whole pipeline (TCP reassembly, readers, learner, call tracker, recording) on the shared captures.</summary>
public sealed class SkinnyPipelineTests(ITestOutputHelper output)
{
    [Fact]
    public void SkinnyPcap_RecordsTheCall321To307_BothChannelsAudible_NoDuplicatedAudio()
    {
        // MANIFEST/tshark: 321 "RIX Meeting Room" (192.168.195.58) calls 307 "Ervins Gailiss" (192.168.195.50), G.711
        // u-law; the phone-to-phone streams are captured twice (36 and 33 frames, half of them copies) and each phone also
        // sends two recording forks to 192.168.193.24.
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
        using var run = PipelineRun.Replay(ReadCapture("skinny.pcap"), directory);
        CallSidecar call = AssertTheCall(run);
        Assert.Equal(4, run.Counters["skinny_media_forks_ignored"]);
        Assert.Equal(0, run.Counters["skinny_resyncs"]);
        Assert.Equal("skinny:192.168.195.58", call.Parties[0].Device);
        Assert.Equal("skinny:192.168.195.50", call.Parties[1].Device);
        AssertAudible(run, call);
    }

    [Fact]
    public void SkinnyPcap_TcpCutIntoSmallReorderedDuplicatedPieces_RecordsTheSameCall()
    {
        (int linkType, List<(long Ts, byte[] Frame)> frames) = ReadCapture("skinny.pcap");
        using var whole = PipelineRun.Replay((linkType, frames));
        using var pieces = PipelineRun.Replay((linkType, SplitTcp(linkType, frames, pieceSize: 23)));
        CallSidecar expected = AssertTheCall(whole);
        CallSidecar call = AssertTheCall(pieces);
        Assert.True(pieces.Counters["tcp_segments_out_of_order"] > 50, "pieces must really arrive out of order");
        // The capture joins both connections mid-stream (no SYN): the first piece seen fixes where each direction starts,
        // so when the pieces of a direction's first segment arrive swapped, its first message is lost (at most one per
        // direction, 4 here; for 307's phone that is the RingIn, so its call starts with the next message, 0.8 ms later).
        // Everything after that is reassembled whole.
        Assert.InRange(whole.Counters["skinny_messages"] - pieces.Counters["skinny_messages"], 0, 4);
        Assert.InRange((call.StartedAt - expected.StartedAt).TotalMilliseconds, 0, 1);
        Assert.Equal(
            (expected.AnsweredAt, expected.EndedAt, expected.Packets, expected.DuplicatesDropped, expected.MediaDurationSeconds),
            (call.AnsweredAt, call.EndedAt, call.Packets, call.DuplicatesDropped, call.MediaDurationSeconds));
    }

    [Fact]
    public void CmCap_BindsLine1012_ToThe7912_ThroughThePipeline()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
        using var run = PipelineRun.Replay(ReadCapture("cm_cap.pcapng"), directory);
        DeviceBinding phone = Assert.Single(directory.Devices());
        Assert.Equal("SEP001380AD9E5F", phone.Id);
        Assert.Equal(["10.102.10.209"], phone.Ips);
        Assert.Equal(["1012"], phone.Lines.Select(l => l.Extension));
        Assert.Empty(run.Calls); // off-hook with dial tone, nothing dialled: no call
    }

    [Fact]
    public void Cm2Register_LearnsThreeDevices_CountsRejections_AndKeepsItsUnansweredCalls()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
        using var run = PipelineRun.Replay(ReadCapture("cm2_register.pcapng"), directory);
        Assert.Equal(["pyskinny01", "pyskinny02", "pyskinny03"], directory.Devices().Select(d => d.Id).Order());
        Assert.Equal(35, run.Counters["skinny_registers"]);
        Assert.Equal(28, run.Counters["skinny_registers_acked"]);
        Assert.Equal(7, run.Counters["skinny_registers_rejected"]);
        Assert.Empty(run.Errors);
        output.WriteLine(string.Join("\n", run.Calls.Select(c => $"{c.CallId} {c.Parties[0].Extension}->{c.Parties[1].Extension} {c.EndReason} answered={c.AnsweredAt is not null}")));
        Assert.NotEmpty(run.Calls);
        Assert.All(run.Calls, c =>
        {
            Assert.Equal("skinny", c.Protocol);
            Assert.Equal(["1091", "1092"], c.Parties.Select(p => p.Extension));
            Assert.Null(c.File); // the emulator sends no RTP: a sidecar without media
        });
    }

    [Fact]
    public void SccpHwConfRegister_ConferenceBridge_MakesNoExtensionsAndNoCalls()
    {
        using BindingDirectory directory = BindingDirectory.Open(null, DirectoryConfig.Empty, DateTimeOffset.UnixEpoch);
        using var run = PipelineRun.Replay(ReadCapture("sccp_hw_conf_register.pcapng"), directory);
        Assert.Empty(directory.Devices().SelectMany(d => d.Lines));
        Assert.Empty(run.Calls);
        Assert.Equal(1, run.Counters["skinny_media_resource_registrations"]);
        Assert.Equal(0, run.Counters["skinny_bytes_skipped"]);
    }

    private static CallSidecar AssertTheCall(PipelineRun run)
    {
        Assert.Empty(run.Errors);
        CallSidecar call = Assert.Single(run.Calls);
        Assert.Equal("skinny", call.Protocol);
        Assert.Equal(("321", "RIX Meeting Room", "192.168.195.58"), (call.Parties[0].Extension, call.Parties[0].Name, call.Parties[0].Ip));
        Assert.Equal(("307", "Ervins Gailiss", "192.168.195.50"), (call.Parties[1].Extension, call.Parties[1].Name, call.Parties[1].Ip));
        Assert.Equal(["PCMU"], call.Codecs);
        Assert.NotNull(call.AnsweredAt);
        Assert.NotNull(call.File);

        // 69 phone-to-phone frames, 34 of them the mirror's second copy: every copy dropped, every original kept.
        Assert.Equal(35, call.Packets);
        Assert.Equal(34, call.DuplicatesDropped);
        Assert.InRange(call.MediaDurationSeconds, 0.3, 0.4);

        // The file has no OnHook, CloseReceiveChannel or StopMediaTransmission and its TCP connections are not closed:
        // the call is still up when the capture ends (the connections' end of capture is not a hangup).
        Assert.Equal(CallEndReasons.CaptureEnded, call.EndReason);
        return call;
    }

    private void AssertAudible(PipelineRun run, CallSidecar call)
    {
        if (DecodeRms(Path.Combine(run.OutputDirectory, call.File!), output.WriteLine) is not (double left, double right))
        {
            return;
        }

        Assert.True(left > 30, $"321's leg must be audible on the left (RMS {left:0})");
        Assert.True(right > 30, $"307's leg must be audible on the right (RMS {right:0})");
    }
}
