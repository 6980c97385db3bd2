using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Capture.Interop;
using O = Capture.Interop.Interop.Opus;

namespace Capture.Recording;

/// <summary>
/// Writes a stereo Ogg Opus file (RFC 7845) from two mono legs: local party left, remote party right.
/// Each leg is its own uncoupled mono Opus stream (channel mapping family 1, 2 streams, 0 coupled): a coupled
/// stereo stream at voice bitrates merges the legs into near-mono. libopus runs at the legs' native rate; only
/// the granule positions are in 48 kHz units. Steady-state <see cref="WriteFrame"/> allocates nothing.
/// </summary>
public sealed unsafe class OggOpusWriter : IDisposable
{
    private const int Channels = 2;
    private const int GranuleRate = 48000; // RFC 7845: granule positions always count 48 kHz samples
    private const int MaxPacketLength = Channels * O.MaxPacketBytesPerStream;

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly SafeOpusMultistreamEncoderHandle _encoder;
    private readonly int _sampleRate;
    private readonly int _granulePerSample;   // 48000 / SampleRate
    private readonly int _pageSampleLimit;    // samples (per channel, at SampleRate) after which a page is closed
    private readonly uint _serial;

    private readonly short[] _interleaved;
    private readonly byte[] _packet = new byte[MaxPacketLength];
    private readonly byte[] _header = new byte[OggPage.HeaderLength + OggPage.MaxSegments];
    private readonly byte[] _lacing = new byte[OggPage.MaxSegments];
    // Rented for the file's life and returned at Dispose: one page body (64 KB) per open recording, reused across calls.
    private readonly byte[] _body = ArrayPool<byte>.Shared.Rent(OggPage.MaxBodyLength);

    private uint _sequence;
    private int _segments;
    private int _bodyLength;
    private int _pageSamples;
    private long _encodedGranule;             // 48 kHz samples of all packets encoded so far, pre-skip included
    private bool _completed;
    private bool _disposed;

    public OggOpusWriter(Stream output, OggOpusWriterOptions options)
        : this(output, options, leaveOpen: false)
    {
    }

    public OggOpusWriter(Stream output, OggOpusWriterOptions options, bool leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);

        _output = output;
        _leaveOpen = leaveOpen;
        _sampleRate = options.SampleRate;
        _granulePerSample = GranuleRate / options.SampleRate;
        FrameSamples = options.SampleRate * options.FrameMs / 1000;
        long limitTicks = Math.Min(options.FlushInterval.Ticks, TimeSpan.TicksPerSecond);
        _pageSampleLimit = Math.Max(FrameSamples, (int)(limitTicks * options.SampleRate / TimeSpan.TicksPerSecond));
        _interleaved = new short[FrameSamples * Channels];
        _serial = options.SerialNumber ?? (uint)Random.Shared.Next();

        // Stream 0 carries channel 0 (left), stream 1 channel 1 (right); no coupled streams.
        ReadOnlySpan<byte> mapping = [0, 1];
        _encoder = O.CreateMultistreamEncoder(options.SampleRate, Channels, streams: 2, coupledStreams: 0, mapping, O.OPUS_APPLICATION_VOIP);
        try
        {
            // The multistream bitrate is the total; libopus shares it equally between the two mono streams.
            O.Set(_encoder, O.OPUS_SET_BITRATE_REQUEST, options.BitratePerChannel * Channels, "OPUS_SET_BITRATE");
            O.Set(_encoder, O.OPUS_SET_COMPLEXITY_REQUEST, options.Complexity, "OPUS_SET_COMPLEXITY");
            O.Set(_encoder, O.OPUS_SET_SIGNAL_REQUEST, O.OPUS_SIGNAL_VOICE, "OPUS_SET_SIGNAL");
            int lookahead = O.Get(_encoder, O.OPUS_GET_LOOKAHEAD_REQUEST, "OPUS_GET_LOOKAHEAD");
            PreSkip = lookahead * _granulePerSample;

            WriteHeaders(options);
        }
        catch
        {
            _encoder.Dispose();
            throw;
        }
    }

    /// <summary>Samples per channel in one frame at the input rate.</summary>
    public int FrameSamples { get; }

    /// <summary>Samples per channel written so far, at the input rate.</summary>
    public long SamplesWritten { get; private set; }

    public TimeSpan Duration => TimeSpan.FromTicks(SamplesWritten * TimeSpan.TicksPerSecond / _sampleRate);

    /// <summary>Encoder lookahead in 48 kHz samples, written as OpusHead pre-skip.</summary>
    public int PreSkip { get; }

    /// <summary>Encodes one frame of both legs; each span holds exactly <see cref="FrameSamples"/> samples.</summary>
    public void WriteFrame(ReadOnlySpan<short> left, ReadOnlySpan<short> right)
    {
        if (_completed)
        {
            ThrowCompleted();
        }

        if (left.Length != FrameSamples || right.Length != FrameSamples)
        {
            ThrowWrongFrameLength(left.Length, right.Length);
        }

        Span<short> interleaved = _interleaved;
        for (int i = 0; i < left.Length; i++)
        {
            interleaved[2 * i] = left[i];
            interleaved[(2 * i) + 1] = right[i];
        }

        EncodeFrame();
        SamplesWritten += FrameSamples;
        if (_pageSamples >= _pageSampleLimit)
        {
            WritePage(OggPageFlags.None, _encodedGranule);
        }
    }

    /// <summary>Writes out the audio buffered in the current page (not the end of stream) and flushes the stream.</summary>
    public void Flush()
    {
        if (!_completed && _segments > 0)
        {
            WritePage(OggPageFlags.None, _encodedGranule);
        }
    }

    /// <summary>
    /// Ends the stream: one frame of silence pushes the encoder's lookahead out, then the last page is written with
    /// the EOS flag and a granule position of pre-skip + real samples, so players trim to the exact duration. Idempotent.
    /// </summary>
    public void Complete()
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        _interleaved.AsSpan().Clear();
        EncodeFrame();
        WritePage(OggPageFlags.EndOfStream, PreSkip + (SamplesWritten * _granulePerSample));
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            Complete();
        }
        finally
        {
            _encoder.Dispose();
            ArrayPool<byte>.Shared.Return(_body);
            if (!_leaveOpen)
            {
                _output.Dispose();
            }
        }
    }

    private void EncodeFrame()
    {
        int length;
        fixed (short* pcm = _interleaved)
        fixed (byte* packet = _packet)
        {
            length = O.opus_multistream_encode(_encoder, pcm, FrameSamples, packet, _packet.Length);
        }

        if (length < 0)
        {
            // Our own buffers and settings went in: a failure here is a bug, not bad input.
            OpusException.Throw("opus_multistream_encode", length);
        }

        // Packets never span pages: close the page first when this one would not fit.
        int lacing = OggPage.LacingCount(length);
        if (_segments + lacing > OggPage.MaxSegments || _bodyLength + length > OggPage.MaxBodyLength)
        {
            WritePage(OggPageFlags.None, _encodedGranule);
        }

        _segments += OggPage.WriteLacing(length, _lacing.AsSpan(_segments));
        _packet.AsSpan(0, length).CopyTo(_body.AsSpan(_bodyLength));
        _bodyLength += length;
        _pageSamples += FrameSamples;
        _encodedGranule += FrameSamples * _granulePerSample;
    }

    private void WritePage(OggPageFlags flags, long granulePosition)
    {
        ReadOnlySpan<byte> body = _body.AsSpan(0, _bodyLength);
        int headerLength = OggPage.WriteHeader(_header, flags, granulePosition, _serial, _sequence, _lacing.AsSpan(0, _segments), body);
        _output.Write(_header, 0, headerLength);
        _output.Write(_body, 0, _bodyLength);
        _output.Flush(); // a crash loses at most the page being filled
        _sequence++;
        _segments = 0;
        _bodyLength = 0;
        _pageSamples = 0;
    }

    private void WriteHeaders(OggOpusWriterOptions options)
    {
        // RFC 7845 5.1 identification header, with the family 1 mapping table (5.1.1).
        Span<byte> head = stackalloc byte[19 + 2 + Channels];
        "OpusHead"u8.CopyTo(head);
        head[8] = 1;                                                                   // version
        head[9] = Channels;                                                            // output channel count
        BinaryPrimitives.WriteUInt16LittleEndian(head[10..], checked((ushort)PreSkip));
        BinaryPrimitives.WriteUInt32LittleEndian(head[12..], (uint)options.SampleRate); // input sample rate (informational)
        BinaryPrimitives.WriteInt16LittleEndian(head[16..], 0);                        // output gain
        head[18] = 1;                                                                  // channel mapping family 1 (Vorbis order)
        head[19] = 2;                                                                  // stream count
        head[20] = 0;                                                                  // coupled stream count
        head[21] = 0;                                                                  // left  <- stream 0
        head[22] = 1;                                                                  // right <- stream 1
        WriteHeaderPage(OggPageFlags.BeginningOfStream, head);

        WriteHeaderPage(OggPageFlags.None, BuildTags(options));
        _output.Flush();
    }

    private void WriteHeaderPage(OggPageFlags flags, ReadOnlySpan<byte> packet)
    {
        // RFC 7845 section 3: each header packet alone on its page, granule position 0.
        byte[] page = new byte[OggPage.HeaderLength + OggPage.LacingCount(packet.Length) + packet.Length];
        int length = OggPage.WriteSinglePacketPage(page, flags, 0, _serial, _sequence, packet);
        _output.Write(page, 0, length);
        _sequence++;
    }

    private static byte[] BuildTags(OggOpusWriterOptions options)
    {
        // RFC 7845 5.2: "OpusTags", vendor string, then user comments, each a 32-bit LE length + UTF-8 "KEY=value".
        var comments = new List<string>(options.Tags.Count + 1) { $"ENCODER={options.Vendor} ({O.VersionString()})" };
        foreach (KeyValuePair<string, string> tag in options.Tags)
        {
            comments.Add($"{tag.Key}={tag.Value}");
        }

        byte[] vendor = Encoding.UTF8.GetBytes(options.Vendor);
        int length = 8 + 4 + vendor.Length + 4;
        var encoded = new List<byte[]>(comments.Count);
        foreach (string comment in comments)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(comment);
            encoded.Add(bytes);
            length += 4 + bytes.Length;
        }

        if (OggPage.LacingCount(length) > OggPage.MaxSegments)
        {
            throw new ArgumentException("Tags too long for one Ogg page (about 64 KB).", nameof(options));
        }

        byte[] tags = new byte[length];
        Span<byte> span = tags;
        "OpusTags"u8.CopyTo(span);
        int offset = 8;
        BinaryPrimitives.WriteInt32LittleEndian(span[offset..], vendor.Length);
        vendor.CopyTo(span[(offset + 4)..]);
        offset += 4 + vendor.Length;
        BinaryPrimitives.WriteInt32LittleEndian(span[offset..], encoded.Count);
        offset += 4;
        foreach (byte[] comment in encoded)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[offset..], comment.Length);
            comment.CopyTo(span[(offset + 4)..]);
            offset += 4 + comment.Length;
        }

        return tags;
    }

    private static void Validate(OggOpusWriterOptions options)
    {
        if (options.SampleRate is not (8000 or 12000 or 16000 or 24000 or 48000))
        {
            throw new ArgumentException($"SampleRate {options.SampleRate} is not an Opus rate (8000, 12000, 16000, 24000, 48000).", nameof(options));
        }

        if (options.FrameMs is not (10 or 20 or 40 or 60))
        {
            throw new ArgumentException($"FrameMs {options.FrameMs} is not 10, 20, 40 or 60.", nameof(options));
        }

        if (options.BitratePerChannel is < 6000 or > 256000)
        {
            throw new ArgumentException($"BitratePerChannel {options.BitratePerChannel} is outside 6000-256000.", nameof(options));
        }

        if (options.Complexity is < 0 or > 10)
        {
            throw new ArgumentException($"Complexity {options.Complexity} is outside 0-10.", nameof(options));
        }

        if (options.FlushInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("FlushInterval must be positive.", nameof(options));
        }

        ArgumentNullException.ThrowIfNull(options.Vendor, nameof(options));
        ArgumentNullException.ThrowIfNull(options.Tags, nameof(options));
        foreach (KeyValuePair<string, string> tag in options.Tags)
        {
            if (tag.Key.Length == 0 || !IsValidTagKey(tag.Key) || tag.Value is null)
            {
                throw new ArgumentException($"Tag key '{tag.Key}' must be non-empty ASCII 0x20-0x7D without '=' and have a value.", nameof(options));
            }
        }
    }

    private static bool IsValidTagKey(string key)
    {
        foreach (char c in key)
        {
            if (c is < (char)0x20 or > (char)0x7D or '=')
            {
                return false;
            }
        }

        return true;
    }

    private static void ThrowCompleted() => throw new InvalidOperationException("The recording was completed; no more frames can be written.");

    private void ThrowWrongFrameLength(int left, int right) =>
        throw new ArgumentException($"Each leg needs exactly {FrameSamples} samples per frame (got {left} and {right}).");
}
