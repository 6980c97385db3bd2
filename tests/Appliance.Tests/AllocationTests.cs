using Appliance.Tests.Support;
using Capture.Interop;
using Capture.Pipeline;
using Capture.Recording;
using Xunit.Abstractions;

namespace Appliance.Tests;

public class AllocationTests(ITestOutputHelper output)
{
    [Fact]
    public void Replay_AllocatesNothingPerPacketInSteadyState()
    {
        // SIP_CALL_RTP_G711.pcap: the answered call's media runs from 8.5 s to 34.9 s; between 12 s and 24 s there is
        // only its RTP, RTCP and unrelated traffic (SNMP, MGCP, H.225, TCP), the steady state the budget is about.
        // (At 24.67 s a second INVITE creates a call: allocation per call is expected, per packet is not.)
        (long media, long allocated) = MeasureWindow("SIP_CALL_RTP_G711.pcap", 12_000_000_000, 24_000_000_000);
        Assert.True(media > 700, $"the window must hold the call's RTP ({media})");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void SkinnyCallMedia_AllocatesNothingPerPacket()
    {
        // skinny.pcap: the 321 -> 307 call's media starts at 3.82 s and its first audio is mixed and written 200 ms later
        // (the file's first write is per call). From 4.06 s to 4.16 s there are only RTP frames (half of them the mirror's
        // second copies, some recording forks) and one bare TCP ACK: steady state.
        (long media, long allocated) = MeasureWindow("skinny.pcap", 4_060_000_000, 4_160_000_000);
        Assert.True(media >= 18, $"the window must hold the call's RTP ({media})");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void UnsignalledRtp_AllocatesNothingPerPacket()
    {
        // g711a.pcap: one RTP stream and no signalling; it is proved RTP and its call started in the first 100 ms, and its
        // recording's first page is written well before 2 s.
        (long media, long allocated) = MeasureWindow("g711a.pcap", 2_000_000_000, 6_000_000_000);
        Assert.True(media > 100, $"the window must hold the stream's RTP ({media})");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void ACallThroughAnSbcHidingTheCallId_AllocatesNothingPerPacket_WhileTheRelayedDialogsMediaIsDropped()
    {
        // samples/sipp-b2b-topoh.pcap: both dialogs' media from 0.50 s to 8.48 s; the relayed dialog is shown relayed by
        // its first packets, then every packet of both dialogs is classified, half of them dropped as relayed copies.
        (long media, long allocated) = MeasureWindow(Path.Combine(Repo.Root, "samples", "sipp-b2b-topoh.pcap"), 2_000_000_000, 7_000_000_000);
        Assert.True(media > 700, $"the window must hold both dialogs' RTP ({media})");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void OpusCallPassedThrough_AllocatesNothingPerPacket_NorWhenALostPacketIsRebuilt()
    {
        // sip-rtp-opus.pcap: FreeSWITCH's Opus (20 ms) from 0.02 s to 8.5 s goes into the file as it came. One packet is
        // lost in the warm-up (at 1.5 s: the worker's repair decoder and encoder are made) and one in the window (at 5 s).
        (long media, long allocated) = MeasureWindow("sip-rtp-opus.pcap", 2_000_000_000, 7_000_000_000, frames =>
        {
            long t0 = frames[0].Ts;
            int Rtp(long ns) => frames.FindIndex(f => f.Ts - t0 >= ns && f.Frame.Length > 100 && f.Frame[23] == 17); // IPv4 UDP: the media
            return [.. frames.Where((_, i) => i != Rtp(1_500_000_000) && i != Rtp(5_000_000_000))];
        });
        Assert.True(media > 200, $"the window must hold the call's RTP ({media})");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void PausedCall_AllocatesNothingPerPacket()
    {
        // SIP_CALL_RTP_G711.pcap as above, its call paused (through the pipeline's request inbox) at 11 s: from 12 s to 24 s
        // every frame it writes is silence, its packets still go through the legs, and the inbox is looked at per frame.
        var pauses = new PauseCount();
        (long media, long allocated) = MeasureWindow("SIP_CALL_RTP_G711.pcap", 12_000_000_000, 24_000_000_000, pause: (11_000_000_000, pauses));
        Assert.Equal(1, pauses.Paused);
        Assert.True(media > 700, $"the window must hold the call's RTP ({media})");
        Assert.Equal(0, allocated);
    }

    /// <summary>Keeps the recording ids of the calls started and counts the pauses that took effect.</summary>
    private sealed class PauseCount : Capture.Calls.ICallObserver
    {
        public List<string> Ids { get; } = [];

        public int Paused { get; private set; }

        public void CallStarted(string recordingId, Capture.Calls.CallMetadata metadata, long atNs) => Ids.Add(recordingId);

        public void CallUpdated(string recordingId, Capture.Calls.CallMetadata metadata)
        {
        }

        public void CallEnded(string recordingId, string reason, long atNs)
        {
        }

        public void CallPauseChanged(string recordingId, bool paused, long atNs, string by) => Paused += paused ? 1 : 0;
    }

    /// <summary>
    /// Replays a capture inline up to <paramref name="fromNs"/> (warm-up), then measures the window up to <paramref name="toNs"/>
    /// (<see cref="Allocations"/>). With <paramref name="pause"/>, the calls started by its time are paused then (in the warm-up).
    /// </summary>
    private (long Media, long Allocated) MeasureWindow(string capture, long fromNs, long toNs, Func<List<(long Ts, byte[] Frame)>, List<(long Ts, byte[] Frame)>>? edit = null,
        (long AtNs, PauseCount Calls)? pause = null)
    {
        List<(long Ts, byte[] Frame)> frames = [];
        int linkType;
        using (PcapSource source = PcapSource.OpenOffline(Path.IsPathRooted(capture) ? capture : Captures.PathOf(capture)))
        {
            linkType = source.LinkType;
            while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                frames.Add((ts, frame.ToArray()));
            }
        }

        frames = edit?.Invoke(frames) ?? frames;
        long t0 = frames[0].Ts;
        string dir = Path.Combine(Path.GetTempPath(), "appliance-alloc-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = dir }, new PipelineOptions { Workers = 0, QueueCapacity = 64 }) { Observer = pause?.Calls };
            int i = 0;
            void ReplayUpTo(long ns)
            {
                for (; i < frames.Count && frames[i].Ts - t0 < ns; i++)
                {
                    pipeline.ProcessFrame(linkType, frames[i].Ts, frames[i].Frame);
                }
            }

            long mediaBefore = 0;
            long allocated = Allocations.Measure(
                () =>
                {
                    if (pause is { } p)
                    {
                        ReplayUpTo(p.AtNs);
                        foreach (string id in p.Calls.Ids)
                        {
                            _ = pipeline.RequestPause(id, pause: true, "allocation-test");
                        }
                    }

                    ReplayUpTo(fromNs);
                    mediaBefore = pipeline.Counters.MediaPackets;
                },
                () => ReplayUpTo(toNs));
            long media = pipeline.Counters.MediaPackets - mediaBefore;
            output.WriteLine($"{Path.GetFileName(capture)}: {media} media packets, {allocated} bytes allocated");
            return (media, allocated);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
