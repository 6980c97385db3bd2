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
/// <para>
/// Each leg has its own mono encoder and the two-stream packet is assembled here (the first stream self-delimited,
/// RFC 6716 Appendix B, as libopus' multistream encoder does): a leg whose frame is silent (every sample within
/// <see cref="SilenceThreshold"/> of zero: no media, hold, a listening party on a quiet line) gets, after
/// <see cref="SilenceWarmFrames"/> frames encoded as usual, a packet of silence encoded once per setting instead of a
/// run of the encoder's analysis. Most of a call is one party listening, so this is most of the encoding saved.
/// </para>
/// <para>
/// A page is wholly on the stream or not at all: each page goes out in one write at the offset where the last whole
/// page ended. A write that fails (disk full, I/O error) drops that page's audio: what it left behind is truncated (or
/// overwritten by the next page), the page sequence does not advance and the granule positions count only the audio
/// written, so the file stays valid and never plays longer than what was given; <see cref="LostSpans"/> says which
/// samples were lost. Writing resumes with the next page. Give it an unbuffered stream (a buffered one keeps the bytes
/// of a failed write and writes them again later).
/// </para>
/// </summary>
public sealed unsafe class OggOpusWriter : IDisposable
{
    private const int Channels = 2;
    private const int GranuleRate = 48000; // RFC 7845: granule positions always count 48 kHz samples
    /// <summary>
    /// Largest packet one stream may have: what our encoders are allowed to make (at most 256 kbit/s: a 20 ms frame is
    /// 640 bytes, so this binds only 60 ms frames above 200 kbit/s), and the largest Opus packet passed through as it came.
    /// </summary>
    public const int MaxStreamPacketBytes = 1500;

    private const int MaxPacketLength = (Channels * MaxStreamPacketBytes) + 2; // the first stream's self-delimiting length

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    /// <summary>A frame whose samples all lie within this of zero (-60 dBFS) is silence: encoded as the stock silent packet.</summary>
    public const short SilenceThreshold = 32;

    /// <summary>Silent frames of a leg still run through its encoder (so that it and the decoder settle on silence) before the stock packet.</summary>
    public const int SilenceWarmFrames = 3;

    private readonly SafeOpusEncoderHandle[] _encoders = new SafeOpusEncoderHandle[Channels];
    private readonly int[] _silentRun = new int[Channels];
    private readonly byte[] _silentPacket;
    private readonly bool _skipSilence;

    // One frame's packets are assembled in these and copied into the page at once: one pair per worker thread (a
    // recording belongs to one worker), not 4.5 KB per open recording.
    [ThreadStatic]
    private static byte[]? t_firstStream;
    [ThreadStatic]
    private static byte[]? t_packet;
    private readonly int _sampleRate;
    private readonly int _granulePerSample;   // 48000 / SampleRate
    private readonly int _pageSampleLimit;    // samples (per channel, at SampleRate) after which a page is closed
    private readonly uint _serial;

    // A page is assembled in one buffer: the body from BodyOffset on, its header written just before it, so that the
    // whole page goes out in one write.
    private const int BodyOffset = OggPage.HeaderLength + OggPage.MaxSegments;

    private readonly short[] _zeros;          // two frames of silence: the final frame of both legs
    private readonly byte[] _lacing = new byte[OggPage.MaxSegments];
    // Rented for the file's life and returned at Dispose, reused across calls: one page per open recording, sized for
    // half again what a page of the configured bitrate holds (8 KB at 16 kbit/s a leg, not the 64 KB an Ogg page may
    // reach); a page that would overflow it (a burst, a louder leg passed through) is closed early, still whole.
    private readonly byte[] _page;
    private readonly int _bodyCapacity;
    private readonly byte[] _headerPages;     // OpusHead and OpusTags pages, written before the first audio page
    private readonly List<LostSpan> _lost = [];

    private uint _sequence;
    private int _segments;
    private int _bodyLength;
    private int _pageSamples;
    private long _pageStart;                  // input sample where the page being filled starts
    private long _encodedSamples;             // input samples of all packets encoded so far (the final silence frame included)
    private long _encodedGranule;             // 48 kHz samples of all packets encoded so far, pre-skip included
    private long _droppedGranule;             // 48 kHz samples of the packets on pages that could not be written
    private long _committed;                  // stream length of the whole pages written
    private bool _rewind;                     // a write failed: truncate back to _committed before the next one
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
        _zeros = new short[FrameSamples * Channels];
        long pageBytes = (long)options.BitratePerChannel * Channels / 8 * _pageSampleLimit / options.SampleRate;
        _page = ArrayPool<byte>.Shared.Rent((int)Math.Min(BodyOffset + OggPage.MaxBodyLength, BodyOffset + Math.Max(MaxPacketLength, pageBytes * 3 / 2)));
        _bodyCapacity = Math.Min(OggPage.MaxBodyLength, _page.Length - BodyOffset);
        _serial = options.SerialNumber ?? (uint)Random.Shared.Next();

        // Stream 0 carries channel 0 (left), stream 1 channel 1 (right); no coupled streams: one mono encoder per leg.
        _skipSilence = options.SkipSilentFrames;
        try
        {
            for (int i = 0; i < Channels; i++)
            {
                _encoders[i] = CreateLegEncoder(options);
            }

            int lookahead = O.Get(_encoders[0], O.OPUS_GET_LOOKAHEAD_REQUEST, "OPUS_GET_LOOKAHEAD");
            PreSkip = lookahead * _granulePerSample;
            _silentPacket = SilentPacket(options, FrameSamples);
            _headerPages = BuildHeaderPages(options);
        }
        catch
        {
            foreach (SafeOpusEncoderHandle? e in _encoders)
            {
                e?.Dispose();
            }

            ArrayPool<byte>.Shared.Return(_page);
            throw;
        }

        // At once, so that a file exists with its headers from the start; if this fails, before the first audio page.
        HeadersWritten = TryWrite(_headerPages);
    }

    /// <summary>Samples per channel in one frame at the input rate.</summary>
    public int FrameSamples { get; }

    /// <summary>Samples per channel written so far, at the input rate.</summary>
    public long SamplesWritten { get; private set; }

    public TimeSpan Duration => TimeSpan.FromTicks(SamplesWritten * TimeSpan.TicksPerSecond / _sampleRate);

    /// <summary>Bytes of the page buffer this recording holds while open.</summary>
    public int PageBufferBytes => _page.Length;

    /// <summary>Leg frames written as the packet given (an Opus leg's RTP payload), without running the encoder.</summary>
    public long PassedThroughFrames { get; private set; }

    /// <summary>Leg frames written as the stock silent packet, without running the encoder.</summary>
    public long SilentFramesSkipped { get; private set; }

    /// <summary>Encoder lookahead in 48 kHz samples, written as OpusHead pre-skip.</summary>
    public int PreSkip { get; }

    /// <summary>The OpusHead and OpusTags pages are on the stream (until then no audio page is written).</summary>
    public bool HeadersWritten { get; private set; }

    /// <summary>Successful writes: each audio page, and the two header pages as one.</summary>
    public int PagesWritten { get; private set; }

    /// <summary>Audio pages that could not be written (their audio is lost), and their bytes.</summary>
    public int PagesDropped { get; private set; }

    public long BytesDropped { get; private set; }

    /// <summary>Samples per channel (input rate) of <see cref="SamplesWritten"/> whose pages could not be written.</summary>
    public long SamplesLost { get; private set; }

    /// <summary>The error of the last write that failed.</summary>
    public Exception? LastError { get; private set; }

    /// <summary>Runs of lost samples (input rate, positions among the samples given), in order; adjacent pages merged.</summary>
    public IReadOnlyList<LostSpan> LostSpans => _lost;

    /// <summary>Encodes one frame of both legs; each span holds exactly <see cref="FrameSamples"/> samples.</summary>
    public void WriteFrame(ReadOnlySpan<short> left, ReadOnlySpan<short> right) => WriteFrame(left, right, default, default);

    /// <summary>
    /// One frame of both legs: a leg with a packet (a mono Opus packet of exactly the frame's duration, well formed, as
    /// an Opus RTP payload is) goes into the file as it is, without the encoder; a leg without one is encoded from its
    /// <see cref="FrameSamples"/> samples (whose span is then not read for the other leg).
    /// </summary>
    public void WriteFrame(ReadOnlySpan<short> left, ReadOnlySpan<short> right, ReadOnlySpan<byte> leftPacket, ReadOnlySpan<byte> rightPacket)
    {
        if (_completed)
        {
            ThrowCompleted();
        }

        if ((leftPacket.IsEmpty && left.Length != FrameSamples) || (rightPacket.IsEmpty && right.Length != FrameSamples))
        {
            ThrowWrongFrameLength(left.Length, right.Length);
        }

        EncodeFrame(left, right, leftPacket, rightPacket);
        SamplesWritten += FrameSamples;
        if (_pageSamples >= _pageSampleLimit)
        {
            WritePage(OggPageFlags.None, _encodedGranule - _droppedGranule);
        }
    }

    /// <summary>Writes out the audio buffered in the current page (not the end of stream) and flushes the stream.</summary>
    public void Flush()
    {
        if (!_completed && _segments > 0)
        {
            WritePage(OggPageFlags.None, _encodedGranule - _droppedGranule);
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
        EncodeFrame(_zeros.AsSpan(0, FrameSamples), _zeros.AsSpan(FrameSamples, FrameSamples), default, default);
        WritePage(OggPageFlags.EndOfStream, PreSkip + ((SamplesWritten - SamplesLost) * _granulePerSample));
        if (_rewind)
        {
            TryRewind(); // the last write failed: leave no part of it behind
        }
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
            foreach (SafeOpusEncoderHandle e in _encoders)
            {
                e.Dispose();
            }

            ArrayPool<byte>.Shared.Return(_page);
            if (!_leaveOpen)
            {
                _output.Dispose();
            }
        }
    }

    /// <summary>One two-stream packet (RFC 7845 section 5.1.1): the left leg's packet self-delimited, then the right's.</summary>
    private void EncodeFrame(ReadOnlySpan<short> left, ReadOnlySpan<short> right, ReadOnlySpan<byte> leftPacket, ReadOnlySpan<byte> rightPacket)
    {
        byte[] firstStream = t_firstStream ??= new byte[MaxStreamPacketBytes];
        byte[] packet = t_packet ??= new byte[MaxPacketLength];
        ReadOnlySpan<byte> first = PassThrough(0, leftPacket, out bool passed) ? leftPacket : firstStream.AsSpan(0, EncodeLeg(0, left, firstStream));
        int at = Rtp.OpusPacket.WriteSelfDelimited(first, packet);
        if (at < 0)
        {
            if (passed)
            {
                ThrowBadPacket();
            }

            OpusException.Throw("self-delimiting framing", O.OPUS_INVALID_PACKET); // libopus' own packet: a bug, not bad input
        }

        int length;
        if (PassThrough(1, rightPacket, out _))
        {
            rightPacket.CopyTo(packet.AsSpan(at));
            length = at + rightPacket.Length;
        }
        else
        {
            length = at + EncodeLeg(1, right, packet.AsSpan(at));
        }

        // Packets never span pages: close the page first when this one would not fit.
        int lacing = OggPage.LacingCount(length);
        if (_segments + lacing > OggPage.MaxSegments || _bodyLength + length > _bodyCapacity)
        {
            WritePage(OggPageFlags.None, _encodedGranule - _droppedGranule);
        }

        _segments += OggPage.WriteLacing(length, _lacing.AsSpan(_segments));
        packet.AsSpan(0, length).CopyTo(_page.AsSpan(BodyOffset + _bodyLength));
        _bodyLength += length;
        _pageSamples += FrameSamples;
        _encodedSamples += FrameSamples;
        _encodedGranule += FrameSamples * _granulePerSample;
    }

    /// <summary>A leg's packet taken as it is: its encoder is skipped and its run of silent frames starts again.</summary>
    private bool PassThrough(int leg, ReadOnlySpan<byte> packet, out bool passed)
    {
        passed = !packet.IsEmpty;
        if (passed)
        {
            if (packet.Length > MaxStreamPacketBytes)
            {
                ThrowBadPacket(); // the caller checks what it hands in: a bug, not bad input
            }

            _silentRun[leg] = 0;
            PassedThroughFrames++;
        }

        return passed;
    }

    /// <summary>One leg's frame as a single-stream packet: the stock silent one once the leg has been silent a while.</summary>
    private int EncodeLeg(int leg, ReadOnlySpan<short> pcm, Span<byte> destination)
    {
        bool silent = _skipSilence && !pcm.ContainsAnyExceptInRange((short)-SilenceThreshold, SilenceThreshold);
        if (silent && _silentRun[leg] >= SilenceWarmFrames)
        {
            SilentFramesSkipped++;
            _silentPacket.CopyTo(destination);
            return _silentPacket.Length;
        }

        _silentRun[leg] = silent ? _silentRun[leg] + 1 : 0;
        int length;
        fixed (short* samples = pcm)
        fixed (byte* packet = destination)
        {
            length = O.opus_encode(_encoders[leg], samples, FrameSamples, packet, Math.Min(destination.Length, MaxStreamPacketBytes));
        }

        if (length < 0)
        {
            // Our own buffers and settings went in: a failure here is a bug, not bad input.
            OpusException.Throw("opus_encode", length);
        }

        return length;
    }

    private static SafeOpusEncoderHandle CreateLegEncoder(OggOpusWriterOptions options)
    {
        SafeOpusEncoderHandle encoder = O.CreateEncoder(options.SampleRate, 1, O.OPUS_APPLICATION_VOIP);
        try
        {
            O.Set(encoder, O.OPUS_SET_BITRATE_REQUEST, options.BitratePerChannel, "OPUS_SET_BITRATE");
            O.Set(encoder, O.OPUS_SET_COMPLEXITY_REQUEST, options.Complexity, "OPUS_SET_COMPLEXITY");
            O.Set(encoder, O.OPUS_SET_SIGNAL_REQUEST, O.OPUS_SIGNAL_VOICE, "OPUS_SET_SIGNAL");
            return encoder;
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    // The stock silent packet per (rate, frame, bitrate, complexity): what an encoder with these settings makes of
    // silence once settled. Made once per setting for the process, never per call.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int Rate, int Frame, int Bitrate, int Complexity), byte[]> s_silentPackets = new();

    private static byte[] SilentPacket(OggOpusWriterOptions options, int frameSamples) =>
        s_silentPackets.GetOrAdd((options.SampleRate, frameSamples, options.BitratePerChannel, options.Complexity), static (key, options) =>
        {
            using SafeOpusEncoderHandle encoder = CreateLegEncoder(options);
            short[] zeros = new short[key.Frame];
            byte[] packet = new byte[O.MaxPacketBytesPerStream];
            int length = 0;
            for (int i = 0; i < 10; i++)
            {
                fixed (short* pcm = zeros)
                fixed (byte* p = packet)
                {
                    length = O.opus_encode(encoder, pcm, key.Frame, p, packet.Length);
                }

                if (length < 0)
                {
                    OpusException.Throw("opus_encode", length);
                }
            }

            return packet.AsSpan(0, length).ToArray();
        }, options);

    private void WritePage(OggPageFlags flags, long granulePosition)
    {
        int headerLength = OggPage.HeaderLength + _segments;
        int start = BodyOffset - headerLength;
        OggPage.WriteHeader(_page.AsSpan(start, headerLength), flags, granulePosition, _serial, _sequence, _lacing.AsSpan(0, _segments), _page.AsSpan(BodyOffset, _bodyLength));

        // No audio page before the headers: while they cannot be written, the audio is dropped too.
        if ((HeadersWritten || (HeadersWritten = TryWrite(_headerPages))) && TryWrite(_page.AsSpan(start, headerLength + _bodyLength)))
        {
            _sequence++; // a crash loses at most the page being filled
        }
        else
        {
            // Dropped: the next page takes its sequence number, and granule positions leave its samples out.
            PagesDropped++;
            BytesDropped += headerLength + _bodyLength;
            _droppedGranule += (long)_pageSamples * _granulePerSample;
            long lost = Math.Clamp(SamplesWritten - _pageStart, 0, _pageSamples); // the final silence frame is no audio
            if (lost > 0)
            {
                SamplesLost += lost;
                if (_lost.Count > 0 && _lost[^1].End == _pageStart)
                {
                    _lost[^1] = _lost[^1] with { Samples = _lost[^1].Samples + lost };
                }
                else
                {
                    _lost.Add(new LostSpan(_pageStart, lost));
                }
            }
        }

        _segments = 0;
        _bodyLength = 0;
        _pageSamples = 0;
        _pageStart = _encodedSamples;
    }

    /// <summary>One write of whole pages at the end of the last whole page; false (nothing of it kept) when it fails.</summary>
    private bool TryWrite(ReadOnlySpan<byte> pages)
    {
        if (_rewind && !TryRewind())
        {
            return false;
        }

        try
        {
            _output.Write(pages);
            _output.Flush();
            _committed += pages.Length;
            PagesWritten++;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LastError = ex;
            _rewind = true;
            TryRewind(); // at once, so that a crash now leaves no partial page behind
            return false;
        }
    }

    /// <summary>Cuts what a failed write left after the last whole page and puts the position back there.</summary>
    private bool TryRewind()
    {
        if (!_output.CanSeek)
        {
            _rewind = false; // cannot undo: a reader skips the partial page by its capture pattern and CRC
            return true;
        }

        try
        {
            if (_output.Length != _committed)
            {
                _output.SetLength(_committed);
            }

            _output.Position = _committed;
            _rewind = false;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LastError = ex;
            return false;
        }
    }

    private byte[] BuildHeaderPages(OggOpusWriterOptions options)
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
        byte[] tags = BuildTags(options);

        // RFC 7845 section 3: each header packet alone on its page, granule position 0.
        int headLength = OggPage.HeaderLength + OggPage.LacingCount(head.Length) + head.Length;
        byte[] pages = new byte[headLength + OggPage.HeaderLength + OggPage.LacingCount(tags.Length) + tags.Length];
        OggPage.WriteSinglePacketPage(pages, OggPageFlags.BeginningOfStream, 0, _serial, _sequence++, head);
        OggPage.WriteSinglePacketPage(pages.AsSpan(headLength), OggPageFlags.None, 0, _serial, _sequence++, tags);
        return pages;
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

    private static void ThrowBadPacket() => throw new ArgumentException("A packet given to pass through is not a well-formed Opus packet of at most 1500 bytes.");

    private static void ThrowCompleted() => throw new InvalidOperationException("The recording was completed; no more frames can be written.");

    private void ThrowWrongFrameLength(int left, int right) =>
        throw new ArgumentException($"Each leg needs exactly {FrameSamples} samples per frame (got {left} and {right}).");
}

/// <summary>Samples (per channel, at the input rate) lost to pages that could not be written, from <see cref="Start"/> among the samples given.</summary>
public readonly record struct LostSpan(long Start, long Samples)
{
    public long End => Start + Samples;
}
