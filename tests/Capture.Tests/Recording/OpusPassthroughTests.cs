using System.Buffers.Binary;
using Capture.Calls;
using Capture.Interop;
using Capture.Packets;
using Capture.Recording;
using Capture.Rtp;
using Capture.Tests.Support;
using Xunit.Abstractions;
using Libraries = Capture.Interop.Interop.Libraries;
using O = Capture.Interop.Interop.Opus;
using Packet = Capture.Tests.Support.SentPacket;

namespace Capture.Tests.Recording;

/// <summary>
/// Opus legs go into the file as they came: real Opus captures recorded, the file read back page by page and split into
/// its two streams, and decoded by opusdec. What a listener notices (both voices, in sync, nothing lost) is checked
/// against the same call transcoded (<see cref="RecordingOptions.OpusPassthrough"/> off).
/// </summary>
public sealed unsafe class OpusPassthroughTests(ITestOutputHelper output) : IDisposable
{
    private const long T0 = 1_700_000_000_000_000_000;
    private const int OutRate = 48000;

    private readonly string _directory = Directory.CreateTempSubdirectory("passthru-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);


    private sealed record Result(CallSidecar Sidecar, byte[] File, List<byte[]> Left, List<byte[]> Right, AudioSignals.Wav Wav, MediaLeg[] Legs);

    /// <summary>opus-2013785496.pcap: Asterisk's Opus (PT 96, TOC 0x68: hybrid SWB 20 ms) with digits 0-9 (PT 101), 15 s.</summary>
    private static List<Packet> AsteriskOpus(Channel channel, long startNs) => Stream("opus-2013785496.pcap", 12906, channel, startNs);

    /// <summary>sip-rtp-opus.pcap: FreeSWITCH's Opus (PT 99, TOC 0x78: hybrid FB 20 ms), 425 packets of speech, 8.5 s.</summary>
    private static List<Packet> FreeSwitchOpus(Channel channel, long startNs) => Stream("sip-rtp-opus.pcap", 6000, channel, startNs);

    private static PayloadMap Map(byte opus)
    {
        var map = new PayloadMap();
        map.Set(opus, AudioCodec.Opus, 48000);
        map.Set(101, AudioCodec.TelephoneEvent, 8000);
        return map;
    }

    /// <summary>The UDP datagrams to <paramref name="port"/> in a shared capture, arriving from <paramref name="startNs"/> on as captured.</summary>
    private static List<Packet> Stream(string capture, int port, Channel channel, long startNs)
    {
        var packets = new List<Packet>();
        var decoder = new FrameDecoder();
        long first = -1;
        using var source = PcapSource.OpenOffline(Captures.PathOf(capture));
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            if (decoder.Decode(source.LinkType, ts, frame, out DecodedPacket p, out _) == DecodeResult.Packet && p.Protocol == TransportProtocol.Udp && p.Destination.Port == port)
            {
                first = first < 0 ? ts : first;
                packets.Add(new Packet(channel, startNs + (ts - first), p.Payload.ToArray()));
            }
        }

        return packets;
    }

    private static int PayloadType(Packet p) => p.Datagram[1] & 0x7F;

    private static byte[] Payload(Packet p) => p.Datagram[12..];

    private Result Record(IEnumerable<Packet> packets, string name, bool passthrough, PayloadMap? left, PayloadMap? right, (long FromNs, long ToNs)? pause = null)
    {
        var options = new RecordingOptions { OutputDirectory = _directory, OpusPassthrough = passthrough };
        string id = $"{name}-{Guid.NewGuid():N}";
        var metadata = new CallMetadata
        {
            Protocol = "sip",
            CallId = "passthrough@example.com",
            StartedAt = CaptureTime.ToDateTime(T0 - 1_000_000_000),
            Left = new PartyInfo { Extension = "1001" },
            Right = new PartyInfo { Extension = "1002" },
        };

        var recording = new CallRecording(id, metadata, options);
        if (left is not null)
        {
            recording.SetPayloadMap(Channel.Left, left);
        }

        if (right is not null)
        {
            recording.SetPayloadMap(Channel.Right, right);
        }

        long last;
        if (pause is { } p)
        {
            // Paused and resumed between packets, as the worker applies a command in queue order.
            last = RecordingFeed.Play(recording, packets.Where(x => x.ArrivalNs < p.FromNs), T0);
            Assert.True(recording.Pause(p.FromNs, "supervisor"));
            last = RecordingFeed.Play(recording, packets.Where(x => x.ArrivalNs >= p.FromNs && x.ArrivalNs < p.ToNs), last);
            Assert.True(recording.Resume(p.ToNs, "supervisor"));
            last = RecordingFeed.Play(recording, packets.Where(x => x.ArrivalNs >= p.ToNs), last);
        }
        else
        {
            last = RecordingFeed.Play(recording, packets, T0);
        }

        CallSidecar sidecar = recording.Finish(CallEndReasons.Bye, last + 500_000_000);
        byte[] file = File.ReadAllBytes(Path.Combine(_directory, sidecar.File!));
        OggPages.AssertValid(file, distinctBodies: false);
        var leftStream = new List<byte[]>();
        var rightStream = new List<byte[]>();
        foreach (byte[] packet in OggPages.AudioPackets(file))
        {
            (byte[] l, byte[] r) = OggPages.SplitStreams(packet);
            leftStream.Add(l);
            rightStream.Add(r);
        }

        AudioSignals.Wav? wav = AudioSignals.DecodeWithOpusdec(file, _directory, id, output.WriteLine, dither: false);
        Assert.NotNull(wav);
        Assert.Equal(2, wav.Channels);
        output.WriteLine($"{name}: packets {sidecar.Packets} lost {sidecar.PacketsLost} media {sidecar.MediaDurationSeconds} s, file {wav.Seconds:0.000} s, rate {sidecar.SampleRate}");
        return new Result(sidecar, file, leftStream, rightStream, wav, [.. recording.Legs]);
    }

    /// <summary>The payloads of <paramref name="sent"/> that are Opus, in the order of their sequence numbers.</summary>
    private static List<byte[]> OpusPayloads(List<Packet> sent, int payloadType) =>
        [.. sent.Where(p => PayloadType(p) == payloadType).OrderBy(p => BinaryPrimitives.ReadUInt16BigEndian(p.Datagram.AsSpan(2))).Select(Payload)];

    /// <summary>Every payload is in the stream, byte for byte, in order; what else the stream holds is not one of them.</summary>
    private static void AssertPassedThrough(List<byte[]> payloads, List<byte[]> stream, string what)
    {
        var sent = new HashSet<string>(payloads.Select(Convert.ToHexString), StringComparer.Ordinal);
        List<string> found = [.. stream.Select(Convert.ToHexString).Where(sent.Contains)];
        Assert.True(payloads.Count == found.Count, $"{what}: {found.Count} of {payloads.Count} payloads in the file as they came");
        Assert.Equal(payloads.Select(Convert.ToHexString), found);
    }

    /// <summary>The lag (seconds, within ±<paramref name="maxSeconds"/>) at which <paramref name="b"/> best matches <paramref name="a"/> over a window.</summary>
    private static double Lag(short[] a, short[] b, double fromSeconds, double seconds, double maxSeconds)
    {
        int from = (int)(fromSeconds * OutRate), length = (int)(seconds * OutRate), max = (int)(maxSeconds * OutRate);
        double best = double.MinValue;
        int bestLag = 0;
        for (int lag = -max; lag <= max; lag += 2)
        {
            double sum = 0;
            for (int i = from; i < from + length; i += 2)
            {
                int j = i + lag;
                if ((uint)j < (uint)b.Length && i < a.Length)
                {
                    sum += (double)a[i] * b[j];
                }
            }

            if (sum > best)
            {
                best = sum;
                bestLag = lag;
            }
        }

        return (double)bestLag / OutRate;
    }

    [Fact]
    public void TwoOpusLegs_GoIntoTheFileAsTheyCame_InSyncWithTheTranscodedCall_DigitsUnchanged()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Opus))
        {
            return;
        }

        // Asterisk's stream on the left from T0, FreeSWITCH's on the right from T0 + 1 s.
        List<Packet> left = AsteriskOpus(Channel.Left, T0);
        List<Packet> right = FreeSwitchOpus(Channel.Right, T0 + 1_000_000_000);
        Result passed = Record([.. left, .. right], "passthrough", passthrough: true, Map(96), Map(99));
        Result transcoded = Record([.. left, .. right], "transcoded", passthrough: false, Map(96), Map(99));

        // tshark: 725 Opus packets on the left, 425 on the right, none lost; every one in the file as it came, nothing decoded.
        AssertPassedThrough(OpusPayloads(left, 96), passed.Left, "left");
        AssertPassedThrough(OpusPayloads(right, 99), passed.Right, "right");
        Assert.Equal((725L, 425L), (passed.Legs[0].PassedThrough, passed.Legs[1].PassedThrough));
        Assert.Equal((PassthroughFallback.None, PassthroughFallback.None), (passed.Legs[0].Fallback, passed.Legs[1].Fallback));
        Assert.Equal(0, passed.Legs[0].RepairedFrames + passed.Legs[1].RepairedFrames);
        Assert.Empty(transcoded.Left.Select(Convert.ToHexString).Intersect(OpusPayloads(left, 96).Select(Convert.ToHexString)));

        // The same call as the transcoded one: packets, digits (each at the same place), media duration, file duration
        // within one packet time of the media.
        Assert.Equal(transcoded.Sidecar.Packets, passed.Sidecar.Packets);
        Assert.Equal("2013785496", string.Concat(passed.Sidecar.Dtmf.Select(d => d.Digit))); // tshark: the file's name, dialled
        Assert.Equal(transcoded.Sidecar.Dtmf, passed.Sidecar.Dtmf);
        Assert.Equal(transcoded.Sidecar.MediaDurationSeconds, passed.Sidecar.MediaDurationSeconds);
        Assert.InRange(passed.Wav.Seconds, passed.Sidecar.MediaDurationSeconds - 0.02, passed.Sidecar.MediaDurationSeconds + 0.02);
        Assert.Equal(16000, passed.Sidecar.SampleRate);

        // Both voices, each on its side; the right one starts a second later.
        short[] l = passed.Wav.ChannelSamples[0], r = passed.Wav.ChannelSamples[1];
        double leftRms = AudioSignals.Rms(l), rightRms = AudioSignals.Rms(r.AsSpan(OutRate));
        output.WriteLine($"RMS left {leftRms:0} right {rightRms:0}; right in its first 0.9 s {AudioSignals.Rms(r.AsSpan(0, OutRate * 9 / 10)):0.0}");
        Assert.True(leftRms > 100 && rightRms > 100, "both legs audible");
        Assert.True(AudioSignals.Rms(r.AsSpan(0, OutRate * 9 / 10)) < 5, "nothing on the right before its first packet");

        // Where the voices are, to within one packet time of the transcoded call (the frame grid moves a packet by at
        // most half a frame; the sender's encoder delay differs from ours by a few ms).
        short[] tl = transcoded.Wav.ChannelSamples[0], tr = transcoded.Wav.ChannelSamples[1];
        double lagLeft = Lag(tl, l, 1.0, 2.0, 0.03), lagRight = Lag(tr, r, 2.0, 2.0, 0.03);
        output.WriteLine($"lag against the transcoded call: left {lagLeft * 1000:0.0} ms, right {lagRight * 1000:0.0} ms");
        Assert.InRange(lagLeft, -0.02, 0.02);
        Assert.InRange(lagRight, -0.02, 0.02);
    }

    [Fact]
    public void Paused_NoPacketOfThePausedSpanGoesIntoTheFile_BothChannelsSilent_ThePacketsAroundItAsTheyCame()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Opus))
        {
            return;
        }

        List<Packet> left = AsteriskOpus(Channel.Left, T0);
        List<Packet> right = FreeSwitchOpus(Channel.Right, T0);
        const long Second = 1_000_000_000;
        Result paused = Record([.. left, .. right], "paused", passthrough: true, Map(96), Map(99), (T0 + (2 * Second), T0 + (5 * Second)));

        // Within the pause (a frame in from each end), not one payload sent; well before and after it, every one.
        foreach ((List<Packet> sent, int pt, List<byte[]> stream, string side) in new[] { (left, 96, paused.Left, "left"), (right, 99, paused.Right, "right") })
        {
            var inFile = new HashSet<string>(stream.Select(Convert.ToHexString), StringComparer.Ordinal);
            List<Packet> opus = [.. sent.Where(x => PayloadType(x) == pt)];
            List<Packet> during = [.. opus.Where(x => x.ArrivalNs >= T0 + (2 * Second) + 20_000_000 && x.ArrivalNs < T0 + (5 * Second) - 20_000_000)];
            List<Packet> around = [.. opus.Where(x => x.ArrivalNs < T0 + (19 * Second / 10) || x.ArrivalNs >= T0 + (51 * Second / 10))];
            Assert.True(during.Count > 100, $"{side}: {during.Count} packets sent while paused");
            Assert.DoesNotContain(during, x => inFile.Contains(Convert.ToHexString(Payload(x))));
            Assert.All(around, x => Assert.Contains(Convert.ToHexString(Payload(x)), inFile));
        }

        foreach (short[] channel in paused.Wav.ChannelSamples)
        {
            Assert.True(AudioSignals.Rms(channel.AsSpan(OutRate * 21 / 10, OutRate * 28 / 10)) < 8, "silent while paused");
            Assert.True(AudioSignals.Rms(channel.AsSpan(OutRate * 52 / 10, OutRate * 3)) > 100, "voice after the pause");
        }

        Assert.Equal(3, paused.Sidecar.PausedSeconds);
    }

    [Fact]
    public void ALostPacket_IsRebuiltForItsFrame_TheOtherLegEncodedAsBefore()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Opus))
        {
            return;
        }

        // G.711 on the left (a tone), FreeSWITCH's Opus speech on the right with its 200th packet (4 s in) lost.
        var alaw = new PayloadMap();
        alaw.Set(8, AudioCodec.Pcma, 8000);
        List<Packet> tone = [];
        for (int i = 0; i < 400; i++)
        {
            var payload = new byte[160];
            for (int s = 0; s < 160; s++)
            {
                payload[s] = G711.EncodeALaw((short)Math.Round(8000 * Math.Sin(2 * Math.PI * 400 * ((i * 160) + s) / 8000)));
            }

            byte[] datagram = new byte[12 + 160];
            datagram[0] = 0x80;
            datagram[1] = 8;
            BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)(100 + i));
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), (uint)(1000 + (i * 160)));
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(8), 0x5555);
            payload.CopyTo(datagram, 12);
            tone.Add(new Packet(Channel.Left, T0 + (i * 20_000_000L), datagram));
        }

        List<Packet> speech = FreeSwitchOpus(Channel.Right, T0 + 5_000_000);
        const int Lost = 200;
        List<byte[]> payloads = OpusPayloads(speech, 99);
        Result whole = Record([.. tone, .. speech], "whole", passthrough: true, alaw, Map(99));
        Result repaired = Record([.. tone, .. speech.Where((_, i) => i != Lost)], "lost", passthrough: true, alaw, Map(99));

        // Every packet but the lost one as it came; the lost one's frame is a packet of ours (not a sent one, not silence).
        AssertPassedThrough([.. payloads.Where((_, i) => i != Lost)], repaired.Right, "right");
        Assert.Equal((1L, 1L), (repaired.Legs[1].RepairedFrames, repaired.Legs[1].FecFrames));
        Assert.Equal(1, repaired.Sidecar.PacketsLost);
        int frame = repaired.Right.FindIndex(p => p.AsSpan().SequenceEqual(payloads[Lost + 1])) - 1;
        Assert.Equal(whole.Right.FindIndex(p => p.AsSpan().SequenceEqual(payloads[Lost])), frame);
        byte[] rebuilt = repaired.Right[frame];
        Assert.DoesNotContain(Convert.ToHexString(rebuilt), payloads.Select(Convert.ToHexString));
        Assert.Equal(960, OpusPacket.SamplesAt48Khz(rebuilt));
        Assert.True(rebuilt.Length > 10, $"the rebuilt frame is {rebuilt.Length} bytes: silence?");

        // Heard: that 20 ms holds the voice at about its level, close to what was sent (the whole call's file), and
        // the left leg is the same tone either way.
        double at = ((frame * 0.02) - 0.0065) + 0.005; // the frame's place in the decoded file (pre-skip taken off), 5 ms in
        ReadOnlySpan<short> got = repaired.Wav.ChannelSamples[1].AsSpan((int)(at * OutRate), OutRate / 100);
        ReadOnlySpan<short> sent = whole.Wav.ChannelSamples[1].AsSpan((int)(at * OutRate), OutRate / 100);
        double error = 0, signal = 0;
        for (int i = 0; i < got.Length; i++)
        {
            signal += (double)sent[i] * sent[i];
            error += ((double)got[i] - sent[i]) * ((double)got[i] - sent[i]);
        }

        double snr = AudioSignals.Db(signal / Math.Max(error, 1));
        output.WriteLine($"rebuilt frame {frame}: {rebuilt.Length} bytes, RMS {AudioSignals.Rms(got):0} against {AudioSignals.Rms(sent):0} sent, SNR {snr:0.0} dB");
        Assert.True(AudioSignals.Rms(sent) > 300, "the lost packet carried voice");
        Assert.InRange(AudioSignals.Rms(got), 0.3 * AudioSignals.Rms(sent), 3 * AudioSignals.Rms(sent));
        Assert.True(snr > 0, $"the rebuilt frame follows the voice that was lost ({snr:0.0} dB)");
        Assert.Equal(AudioSignals.Rms(whole.Wav.ChannelSamples[0].AsSpan(OutRate, OutRate)), AudioSignals.Rms(repaired.Wav.ChannelSamples[0].AsSpan(OutRate, OutRate)), 1.0);
        Assert.Equal(0, repaired.Legs[0].PassedThrough);
    }

    /// <summary>Opus packets of a 440 Hz tone from a 48 kHz encoder: the first <paramref name="first"/> of 20 ms, then 10 ms ones.</summary>
    private static List<Packet> OpusTone(Channel channel, int first, int then, int channels = 1)
    {
        var packets = new List<Packet>();
        using SafeOpusEncoderHandle encoder = O.CreateEncoder(48000, channels, O.OPUS_APPLICATION_VOIP);
        Assert.Equal(0, O.opus_encoder_ctl(encoder, O.OPUS_SET_BITRATE_REQUEST, 32000));
        short[] pcm = new short[960 * channels];
        byte[] data = new byte[1500];
        long sample = 0;
        ushort sequence = 7;
        for (int i = 0; i < first + then; i++)
        {
            int size = i < first ? 960 : 480;
            for (int s = 0; s < size; s++)
            {
                for (int c = 0; c < channels; c++)
                {
                    pcm[(s * channels) + c] = (short)Math.Round(8000 * Math.Sin(2 * Math.PI * 440 * (sample + s) / 48000));
                }
            }

            int length;
            fixed (short* p = pcm)
            fixed (byte* d = data)
            {
                length = O.opus_encode(encoder, p, size, d, data.Length);
            }

            Assert.True(length > 0);
            byte[] datagram = new byte[12 + length];
            datagram[0] = 0x80;
            datagram[1] = 111;
            BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), sequence++);
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), (uint)(90_000 + sample));
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(8), 0x7777);
            data.AsSpan(0, length).CopyTo(datagram.AsSpan(12));
            packets.Add(new Packet(channel, T0 + (sample * 1_000_000_000 / 48000), datagram));
            sample += size;
        }

        return packets;
    }

    [Fact]
    public void PacketsThatChangeTheirDuration_FallBackToDecoding_WithoutAHole()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Opus))
        {
            return;
        }

        // 2 s of 20 ms packets, then 2 s of 10 ms ones: the first go in as they came, the rest are decoded and encoded.
        List<Packet> packets = OpusTone(Channel.Left, 100, 200);
        Result r = Record(packets, "fallback", passthrough: true, Map(111), null);
        Assert.Equal(PassthroughFallback.PacketDuration, r.Legs[0].Fallback);
        Assert.Equal(100, r.Legs[0].PassedThrough);
        AssertPassedThrough([.. packets.Take(100).Select(Payload)], r.Left, "left");

        // The tone all through (RMS 5657 sent). Where the leg switches from the sender's packets to our encoder's (at 2 s) the
        // decoder changes mode and our encoder starts cold: that one frame is quieter, not a hole.
        short[] left = r.Wav.ChannelSamples[0];
        for (double t = 0.1; t < 3.9; t += 0.02)
        {
            double rms = AudioSignals.Rms(left.AsSpan((int)(t * OutRate), OutRate / 50));
            bool atTheSwitch = Math.Abs(t - 2.0) < 0.03;
            Assert.True(rms > (atTheSwitch ? 2000 : 4000) && rms < 8000, $"RMS {rms:0} in the 20 ms at {t:0.00} s");
        }
    }

    [Fact]
    public void AStereoCodedPacket_InAnUncoupledStream_DecodesAsMono()
    {
        if (!DecoderTestSupport.Available(output, Libraries.Opus))
        {
            return;
        }

        // A sender whose encoder was stereo (opus/48000/2 with stereo=1): each packet's TOC says stereo; a stream of the
        // file is mono, and its decoder mixes such a packet down.
        List<Packet> packets = OpusTone(Channel.Left, 100, 0, channels: 2);
        Assert.All(packets, p => Assert.True((p.Datagram[12] & 0x4) != 0, "stereo TOC"));
        Result r = Record(packets, "stereo", passthrough: true, Map(111), null);
        Assert.Equal(100, r.Legs[0].PassedThrough);
        AssertPassedThrough([.. packets.Select(Payload)], r.Left, "left");
        double rms = AudioSignals.Rms(r.Wav.ChannelSamples[0].AsSpan(OutRate / 2, OutRate));
        Assert.InRange(rms, 4000, 7000);
        Assert.True(AudioSignals.Rms(r.Wav.ChannelSamples[1]) < 5, "the right leg had no media");
    }
}
