using System.Buffers.Binary;
using Capture.Bindings;
using Capture.Interop;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;

namespace Capture.Tests.Support;

/// <summary>Real captures through an inline pipeline: frames as recorded, or with TCP cut into reordered pieces.</summary>
internal static class CaptureReplay
{
    public static (int LinkType, List<(long Ts, byte[] Frame)> Frames) ReadCapture(string file)
    {
        var frames = new List<(long, byte[])>();
        using var source = PcapSource.OpenOffline(Captures.PathOf(file));
        while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
        {
            frames.Add((ts, frame.ToArray()));
        }

        return (source.LinkType, frames);
    }

    /// <summary>
    /// Every IPv4 TCP segment with payload becomes frames of <paramref name="pieceSize"/> payload bytes (the same headers,
    /// IP length and TCP sequence adjusted), sent in the order 1, 0, 3, 2, ... with every third piece sent twice.
    /// </summary>
    public static List<(long Ts, byte[] Frame)> SplitTcp(int linkType, List<(long Ts, byte[] Frame)> frames, int pieceSize)
    {
        int ipAt = linkType switch
        {
            LinkTypes.Ethernet => 14,
            LinkTypes.LinuxSll => 16,
            _ => throw new ArgumentException($"link type {linkType}"),
        };
        var result = new List<(long, byte[])>();
        foreach ((long ts, byte[] frame) in frames)
        {
            int etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(ipAt - 2));
            if (etherType != 0x0800 || frame[ipAt + 9] != 6)
            {
                result.Add((ts, frame));
                continue;
            }

            int ipHeader = (frame[ipAt] & 0x0F) * 4;
            int tcpAt = ipAt + ipHeader;
            int payloadAt = tcpAt + ((frame[tcpAt + 12] >> 4) * 4);
            int payloadEnd = ipAt + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(ipAt + 2));
            if (payloadEnd - payloadAt <= pieceSize)
            {
                result.Add((ts, frame));
                continue;
            }

            uint seq = BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(tcpAt + 4));
            var pieces = new List<byte[]>();
            for (int at = payloadAt; at < payloadEnd; at += pieceSize)
            {
                int length = Math.Min(pieceSize, payloadEnd - at);
                byte[] piece = [.. frame.AsSpan(0, payloadAt), .. frame.AsSpan(at, length)];
                BinaryPrimitives.WriteUInt16BigEndian(piece.AsSpan(ipAt + 2), (ushort)(payloadAt - ipAt + length));
                BinaryPrimitives.WriteUInt32BigEndian(piece.AsSpan(tcpAt + 4), seq + (uint)(at - payloadAt));
                if (at + length < payloadEnd)
                {
                    piece[tcpAt + 13] &= unchecked((byte)~(TcpFlags.Fin | TcpFlags.Psh)); // FIN and PSH only on the last piece
                }

                pieces.Add(piece);
            }

            for (int i = 0; i < pieces.Count; i += 2)
            {
                if (i + 1 < pieces.Count)
                {
                    result.Add((ts, pieces[i + 1]));
                }

                result.Add((ts, pieces[i]));
                if (i % 3 == 0)
                {
                    result.Add((ts, pieces[i]));
                }
            }
        }

        return result;
    }

    /// <summary>Frames through an inline pipeline into a temporary folder.</summary>
    public sealed class PipelineRun : ICallResultSink, IDisposable
    {
        public string OutputDirectory { get; } = Path.Combine(Path.GetTempPath(), "capture-replay-" + Guid.NewGuid().ToString("N"));

        public List<CallSidecar> Calls { get; } = [];

        public List<string> Errors { get; } = [];

        public IReadOnlyDictionary<string, long> Counters { get; private set; } = new Dictionary<string, long>();

        public static PipelineRun Replay((int LinkType, List<(long Ts, byte[] Frame)> Frames) capture, BindingDirectory? directory = null)
        {
            var run = new PipelineRun();
            using (var pipeline = new CapturePipeline(new RecordingOptions { OutputDirectory = run.OutputDirectory }, new PipelineOptions { Workers = 0 }, results: run, directory: directory))
            {
                foreach ((long ts, byte[] frame) in capture.Frames)
                {
                    pipeline.ProcessFrame(capture.LinkType, ts, frame);
                }

                pipeline.Complete();
                run.Counters = pipeline.Snapshot();
            }

            return run;
        }

        public void OnCallFinished(CallSidecar sidecar) => Calls.Add(sidecar);

        public void OnRecordingError(string recordingId, Exception error) => Errors.Add($"{recordingId}: {error}");

        public void Dispose()
        {
            if (Directory.Exists(OutputDirectory))
            {
                Directory.Delete(OutputDirectory, recursive: true);
            }
        }
    }

    /// <summary>
    /// The RMS of each channel of a recording decoded by opusdec at 8 kHz; null (with a line to <paramref name="log"/>)
    /// when opus-tools is not installed.
    /// </summary>
    public static (double Left, double Right)? DecodeRms(string opusFile, Action<string> log)
    {
        string? opusdec = Capture.Tests.Recording.AudioSignals.FindTool("opusdec");
        if (opusdec is null)
        {
            log("opusdec is not installed (opus-tools); audio check skipped");
            return null;
        }

        string wav = Path.ChangeExtension(opusFile, ".wav");
        (int exitCode, string text) = Capture.Tests.Recording.AudioSignals.Run(opusdec, "--quiet", "--rate", "8000", "--no-dither", opusFile, wav);
        Assert.True(exitCode == 0, text);
        Capture.Tests.Recording.AudioSignals.Wav audio = Capture.Tests.Recording.AudioSignals.ReadWav(File.ReadAllBytes(wav));
        Assert.Equal(2, audio.Channels);
        double left = Capture.Tests.Recording.AudioSignals.Rms(audio.ChannelSamples[0]);
        double right = Capture.Tests.Recording.AudioSignals.Rms(audio.ChannelSamples[1]);
        log($"{audio.Seconds:0.00} s, RMS left {left:0} right {right:0}");
        return (left, right);
    }
}
