using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using Capture.Packets;
using Capture.Pipeline;
using Capture.Recording;
using Capture.Sip;
using Capture.Tests.Packets;
using Capture.Tests.Recording;

namespace Capture.Tests.Support;

/// <summary>
/// Drives a <see cref="CapturePipeline"/> inline (Workers = 0) with hand-built Ethernet/IPv4/UDP frames on a
/// capture clock the test controls, and collects the sidecars of finished calls.
/// </summary>
internal sealed class SipScenario : ICallResultSink, IDisposable
{
    /// <summary>2024-01-01T00:00:00Z in ns since the Unix epoch.</summary>
    public const long Epoch = 1_704_067_200_000_000_000;

    /// <summary>Linktype EN10MB.</summary>
    private const int Ethernet = 1;

    private const int SamplesPerPacket = 160; // 20 ms of G.711 at 8 kHz

    private readonly Dictionary<string, RtpStream> _streams = [];

    public SipScenario(SipTrackerOptions? sip = null, int queueCapacity = 256, Capture.Bindings.BindingDirectory? directory = null, Func<string, RecordingDisk>? disk = null)
    {
        OutputDirectory = Path.Combine(Path.GetTempPath(), "sip-scenario-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(OutputDirectory);
        Pipeline = new CapturePipeline(
            new RecordingOptions { OutputDirectory = OutputDirectory, Disk = disk?.Invoke(OutputDirectory) },
            new PipelineOptions { Workers = 0, QueueCapacity = queueCapacity },
            sip,
            this,
            directory);
    }

    public CapturePipeline Pipeline { get; }

    public string OutputDirectory { get; }

    /// <summary>Capture time of the next frame, ns since the Unix epoch.</summary>
    public long Now { get; private set; } = Epoch;

    public List<CallSidecar> Finished { get; } = [];

    public List<string> Errors { get; } = [];

    public static DateTimeOffset TimeAt(double seconds) => CaptureTime.ToDateTime(Epoch + (long)Math.Round(seconds * 1e9));

    public void At(double seconds) => Now = Epoch + (long)Math.Round(seconds * 1e9);

    public void Advance(double seconds) => Now += (long)Math.Round(seconds * 1e9);

    /// <summary>One SIP message in a UDP datagram from <paramref name="from"/> to <paramref name="to"/> ("ip:port").</summary>
    public void Sip(string from, string to, string message) => Udp(from, to, Encoding.UTF8.GetBytes(message));

    public void Udp(string from, string to, ReadOnlySpan<byte> payload) => Pipeline.ProcessFrame(Ethernet, Now, Frame(from, to, payload));

    public static byte[] Frame(string from, string to, ReadOnlySpan<byte> payload)
    {
        (byte[] srcIp, ushort srcPort) = Endpoint(from);
        (byte[] dstIp, ushort dstPort) = Endpoint(to);
        return FrameBuilder.Ethernet(0x0800, FrameBuilder.Ipv4(17, FrameBuilder.Udp(srcPort, dstPort, payload), src: srcIp, dst: dstIp));
    }

    /// <summary>
    /// The next G.711 u-law packet (20 ms of a <paramref name="frequency"/> tone) sent from <paramref name="from"/>: one SSRC
    /// and sequence per sending endpoint, RTP timestamps following capture time (as a real sender's clock does in silences).
    /// </summary>
    public byte[] RtpFrame(string from, string to, double frequency, byte payloadType = 0, long? atNs = null)
    {
        long now = atNs ?? Now;
        if (!_streams.TryGetValue(from, out RtpStream? stream))
        {
            stream = new RtpStream((uint)(0x1000 + _streams.Count), (ushort)(100 * (_streams.Count + 1)), now);
            _streams.Add(from, stream);
        }

        stream.Timestamp = (uint)(8000 + ((now - stream.StartNs) * 8000 / 1_000_000_000));

        byte[] rtp = new byte[12 + SamplesPerPacket];
        rtp[0] = 0x80;
        rtp[1] = payloadType;
        BinaryPrimitives.WriteUInt16BigEndian(rtp.AsSpan(2), stream.Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(4), stream.Timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(8), stream.Ssrc);
        for (int i = 0; i < SamplesPerPacket; i++)
        {
            double t = (double)(stream.Timestamp + (uint)i) / 8000;
            rtp[12 + i] = G711.EncodeULaw((short)Math.Round(8000 * Math.Sin(2 * Math.PI * frequency * t)));
        }

        stream.Sequence++;
        return Frame(from, to, rtp);
    }

    public void Rtp(string from, string to, double frequency, byte payloadType = 0) =>
        Pipeline.ProcessFrame(Ethernet, Now, RtpFrame(from, to, frequency, payloadType));

    /// <summary>
    /// <paramref name="packets"/> 20 ms steps of two-way G.711: <paramref name="a"/> sends a <paramref name="toneA"/> tone
    /// to <paramref name="b"/> and <paramref name="b"/> a <paramref name="toneB"/> tone back (from the given "from" endpoints).
    /// </summary>
    public void Talk(string a, string b, int packets, double toneA = 500, double toneB = 1300, string? aSendsTo = null, string? bSendsTo = null)
    {
        for (int i = 0; i < packets; i++)
        {
            Rtp(a, aSendsTo ?? b, toneA);
            Rtp(b, bSendsTo ?? a, toneB);
            Advance(0.020);
        }
    }

    /// <summary>One direction only.</summary>
    public void Stream(string from, string to, int packets, double tone)
    {
        for (int i = 0; i < packets; i++)
        {
            Rtp(from, to, tone);
            Advance(0.020);
        }
    }

    /// <summary>Ends open calls (capture-ended) and returns every finished call in start order.</summary>
    public List<CallSidecar> Complete()
    {
        Pipeline.Complete();
        return [.. Finished.OrderBy(c => c.StartedAt)];
    }

    public string PathOf(CallSidecar call) => Path.Combine(OutputDirectory, call.File ?? throw new InvalidOperationException($"call {call.CallId} has no recording"));

    /// <summary>Decodes a recording with opusdec (opus-tools) at 8 kHz; null when opusdec is not installed.</summary>
    public AudioSignals.Wav? Decode(CallSidecar call)
    {
        string? opusdec = AudioSignals.FindTool("opusdec");
        if (opusdec is null)
        {
            return null;
        }

        string wav = Path.Combine(OutputDirectory, call.Id + ".wav");
        (int exitCode, string text) = AudioSignals.Run(opusdec, "--quiet", "--rate", "8000", "--no-dither", PathOf(call), wav);
        Assert.True(exitCode == 0, text);
        return AudioSignals.ReadWav(File.ReadAllBytes(wav));
    }

    /// <summary>
    /// Asserts that the left channel carries <paramref name="leftTone"/> (and not <paramref name="rightTone"/>) and the right
    /// channel the other way round: each leg landed on its party's channel and nothing was cross-mixed.
    /// </summary>
    public void AssertLegs(CallSidecar call, double? leftTone, double? rightTone)
    {
        AudioSignals.Wav? wav = Decode(call);
        if (wav is null)
        {
            return; // opusdec missing: the sidecar assertions still ran
        }

        Assert.Equal(2, wav.Channels);
        AssertChannel(wav.ChannelSamples[0], leftTone, rightTone, "left");
        AssertChannel(wav.ChannelSamples[1], rightTone, leftTone, "right");

        static void AssertChannel(short[] pcm, double? expected, double? other, string name)
        {
            if (expected is double f)
            {
                Assert.True(AudioSignals.Rms(pcm) > 300, $"{name} channel must carry its party's tone (RMS {AudioSignals.Rms(pcm):0})");
                double dominant = AudioSignals.DominantFrequency(pcm, 8000);
                Assert.True(Math.Abs(dominant - f) < 40, $"{name} channel dominant {dominant:0} Hz, expected {f} Hz");
            }
            else if (other is double o)
            {
                double power = AudioSignals.Power(pcm, o, 8000);
                Assert.True(AudioSignals.Rms(pcm) < 100, $"{name} channel must be silent, RMS {AudioSignals.Rms(pcm):0} (power at {o} Hz {power:0.0})");
            }
        }
    }

    void ICallResultSink.OnCallFinished(CallSidecar sidecar) => Finished.Add(sidecar);

    void ICallResultSink.OnRecordingError(string recordingId, Exception error) => Errors.Add($"{recordingId}: {error}");

    public void Dispose()
    {
        Pipeline.Dispose();
        try
        {
            Directory.Delete(OutputDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static (byte[] Ip, ushort Port) Endpoint(string text)
    {
        int colon = text.LastIndexOf(':');
        return (IPAddress.Parse(text[..colon]).GetAddressBytes(), ushort.Parse(text[(colon + 1)..], CultureInfo.InvariantCulture));
    }

    private sealed class RtpStream(uint ssrc, ushort sequence, long startNs)
    {
        public uint Ssrc { get; } = ssrc;
        public ushort Sequence { get; set; } = sequence;
        public long StartNs { get; } = startNs;
        public uint Timestamp { get; set; }
    }
}

/// <summary>
/// SIP message text for one dialog between a caller and a callee, in the shape real UAs send it
/// (Via, From/To with tags, Call-ID, CSeq, Content-Type/Length computed).
/// </summary>
internal sealed class SipDialog(string callId, string callerAddr, string calleeAddr)
{
    public string CallId { get; } = callId;

    /// <summary>name-addr of the caller without tag, e.g. <c>"Alice" &lt;sip:1001@pbx&gt;</c>.</summary>
    public string CallerAddr { get; } = callerAddr;

    public string CalleeAddr { get; } = calleeAddr;

    public string CallerTag { get; set; } = "ctag-" + callId.GetHashCode(StringComparison.Ordinal).ToString("x8", CultureInfo.InvariantCulture);

    public string CalleeTag { get; set; } = "etag-" + callId.GetHashCode(StringComparison.Ordinal).ToString("x8", CultureInfo.InvariantCulture);

    public string RequestUri { get; set; } = "sip:callee@pbx.example.com";

    private string CallerHeader => $"{CallerAddr};tag={CallerTag}";

    private string CalleeHeader => $"{CalleeAddr};tag={CalleeTag}";

    public string Invite(uint cseq = 1, string? sdp = null, params string[] headers) =>
        Message($"INVITE {RequestUri} SIP/2.0", CallerHeader, CalleeAddr, cseq, "INVITE", sdp, headers);

    /// <summary>A response from the callee to a caller's request (<paramref name="method"/> with <paramref name="cseq"/>).</summary>
    public string Response(int status, string reason, uint cseq = 1, string method = "INVITE", string? sdp = null, params string[] headers) =>
        Message($"SIP/2.0 {status} {reason}", CallerHeader, status == 100 ? CalleeAddr : CalleeHeader, cseq, method, sdp, headers);

    /// <summary>A response from the caller to a callee's request.</summary>
    public string ResponseFromCaller(int status, string reason, uint cseq, string method, string? sdp = null) =>
        Message($"SIP/2.0 {status} {reason}", CalleeHeader, CallerHeader, cseq, method, sdp, []);

    public string Ack(uint cseq = 1, string? sdp = null) =>
        Message($"ACK {RequestUri} SIP/2.0", CallerHeader, CalleeHeader, cseq, "ACK", sdp, []);

    public string Cancel(uint cseq = 1) => Message($"CANCEL {RequestUri} SIP/2.0", CallerHeader, CalleeAddr, cseq, "CANCEL", null, []);

    /// <summary>An in-dialog request (BYE, re-INVITE, UPDATE) from the caller or from the callee.</summary>
    public string InDialog(string method, bool fromCaller, uint cseq, string? sdp = null, params string[] headers) => fromCaller
        ? Message($"{method} sip:callee@10.0.0.20 SIP/2.0", CallerHeader, CalleeHeader, cseq, method, sdp, headers)
        : Message($"{method} sip:caller@10.0.0.10 SIP/2.0", CalleeHeader, CallerHeader, cseq, method, sdp, headers);

    public static string Sdp(string ip, int port, ulong version = 1, string direction = "sendrecv", string? connection = null) =>
        "v=0\r\n" +
        $"o=- 4711 {version} IN IP4 {ip}\r\n" +
        "s=-\r\n" +
        $"c=IN IP4 {connection ?? ip}\r\n" +
        "t=0 0\r\n" +
        $"m=audio {port} RTP/AVP 0 101\r\n" +
        "a=rtpmap:0 PCMU/8000\r\n" +
        "a=rtpmap:101 telephone-event/8000\r\n" +
        "a=fmtp:101 0-15\r\n" +
        "a=ptime:20\r\n" +
        $"a={direction}\r\n";

    public static string T38Sdp(string ip, int port, ulong version) =>
        "v=0\r\n" +
        $"o=- 4711 {version} IN IP4 {ip}\r\n" +
        "s=-\r\n" +
        $"c=IN IP4 {ip}\r\n" +
        "t=0 0\r\n" +
        $"m=image {port} udptl t38\r\n" +
        "a=T38FaxVersion:0\r\n";

    private string Message(string startLine, string from, string to, uint cseq, string method, string? sdp, string[] headers)
    {
        var b = new StringBuilder();
        b.Append(startLine).Append("\r\n");
        b.Append("Via: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bK-").Append(CallId.Length).Append('-').Append(cseq).Append(method).Append("\r\n");
        b.Append("Max-Forwards: 70\r\n");
        b.Append("From: ").Append(from).Append("\r\n");
        b.Append("To: ").Append(to).Append("\r\n");
        b.Append("Call-ID: ").Append(CallId).Append("\r\n");
        b.Append("CSeq: ").Append(cseq.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(method).Append("\r\n");
        foreach (string h in headers)
        {
            b.Append(h).Append("\r\n");
        }

        b.Append("User-Agent: scenario-test\r\n");
        if (sdp is not null)
        {
            b.Append("Content-Type: application/sdp\r\n");
        }

        b.Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(sdp ?? string.Empty).ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
        b.Append(sdp);
        return b.ToString();
    }
}
