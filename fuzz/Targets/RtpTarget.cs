using System.Buffers;
using Capture.Calls;
using Capture.Recording;
using Capture.Rtp;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>
/// A call's media through <see cref="CallRecording"/>: RTP reading, both legs' ordering, duplicates, loss concealment,
/// DTMF, codec decoding (G.711, G.722, G.729, Opus), mixing and the Ogg Opus file with its sidecar. The first byte picks
/// the two legs' payload maps; then records: selector bit 0 = the channel, bit 1 = a tick first, bit 2 = the step is in
/// seconds (a clock jump), else in 100 microsecond units.
/// </summary>
internal sealed class RtpTarget : FuzzTarget, IDisposable
{
    private const int Maps = 6;
    private readonly string _directory = FuzzPaths.ScratchDirectory("rtp");
    private readonly RecordingOptions _options;
    private long _calls;

    public RtpTarget() => _options = new RecordingOptions { OutputDirectory = _directory, Complexity = 0 };

    public override string Name => "rtp";

    public override string Description => "RTP of both legs of a call through CallRecording: RtpPacket, MediaLeg (ordering, loss, DTMF), decoders, mixing, Ogg Opus writer, sidecar";

    public override int MaxInputLength => 16 * 1024;

    public override void Execute(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        string id = "fuzz-" + _calls++;
        var start = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000);
        var metadata = new CallMetadata
        {
            Protocol = "sip", CallId = id, StartedAt = start, Left = new PartyInfo { Extension = "1000" }, Right = new PartyInfo { Extension = "2000" },
        };
        long now = start.ToUnixTimeMilliseconds() * 1_000_000;
        string? opus = null;
        string? json = null;
        try
        {
            using var recording = new CallRecording(id, metadata, _options);
            opus = Path.Combine(_directory, recording.RelativeDirectory, id + ".opus");
            json = Path.Combine(_directory, recording.RelativeDirectory, id + ".json");
            recording.SetPayloadMap(Channel.Left, Map(input[0] % Maps));
            recording.SetPayloadMap(Channel.Right, Map(input[0] / Maps % Maps));
            var records = new RecordReader(input[1..]);
            int packets = 0;
            while (records.TryNext(out byte selector, out ushort step, out ReadOnlySpan<byte> datagram))
            {
                now += (selector & 4) != 0 ? step * 1_000_000_000L : step * 100_000L;
                _ = RtpPacket.TryRead(datagram, out _, out _);
                if ((selector & 2) != 0)
                {
                    recording.OnTick(now);
                }

                recording.OnRtp((selector & 1) == 0 ? Channel.Left : Channel.Right, now, datagram);
                packets++;
            }

            CallSidecar sidecar = recording.Finish(CallEndReasons.CaptureEnded, now + 500_000_000);
            // Each packet may add at most the silence gap limit (30 s) plus what one packet holds: a clock jump never
            // makes hours of silence.
            Invariant.Check(sidecar.MediaDurationSeconds >= 0 && sidecar.MediaDurationSeconds <= (packets * 35.0) + 1, $"media duration {sidecar.MediaDurationSeconds} s within 35 s per packet ({packets} packets)");
        }
        finally
        {
            File.Delete(opus ?? "");
            File.Delete(json ?? "");
        }
    }

    private static PayloadMap Map(int variant)
    {
        var map = new PayloadMap();
        switch (variant)
        {
            case 0: map.Set(8, AudioCodec.Pcma, 8000); break;
            case 1: map.Set(0, AudioCodec.Pcmu, 8000); break;
            case 2: map.Set(9, AudioCodec.G722, 8000); break;
            case 3: map.Set(18, AudioCodec.G729, 8000); break;
            case 4: map.Set(96, AudioCodec.Opus, 48000); map.Set(111, AudioCodec.Opus, 48000); break;
            default:
                map.Set(0, AudioCodec.Pcmu, 8000);
                map.Set(8, AudioCodec.Pcma, 8000);
                map.Set(9, AudioCodec.G722, 8000);
                map.Set(18, AudioCodec.G729, 8000);
                map.Set(96, AudioCodec.Opus, 48000);
                break;
        }

        map.Set(101, AudioCodec.TelephoneEvent, 8000);
        map.Set(13, AudioCodec.ComfortNoise, 8000);
        return map;
    }

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus)
    {
        foreach (List<(int Direction, long Ts, byte[] Datagram)> flow in corpus.RtpFlows)
        {
            int variant = RtpPacket.TryRead(flow[0].Datagram, out RtpPacket first, out _) != OperationStatus.Done ? 5 : first.PayloadType switch
            {
                8 => 0,
                0 => 1,
                9 => 2,
                18 => 3,
                >= 96 => 4,
                _ => 5,
            };
            for (int window = 0; window < flow.Count; window += 60)
            {
                var input = new List<byte> { (byte)(variant + (Maps * variant)) };
                long previous = flow[window].Ts;
                for (int i = window; i < Math.Min(flow.Count, window + 60) && input.Count + flow[i].Datagram.Length < MaxInputLength; i++)
                {
                    long step = Math.Clamp((flow[i].Ts - previous) / 100_000, 0, ushort.MaxValue);
                    previous = flow[i].Ts;
                    RecordReader.Append(input, (byte)(flow[i].Direction | (i % 10 == 0 ? 2 : 0)), (ushort)step, flow[i].Datagram);
                }

                yield return [.. input];
            }
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
