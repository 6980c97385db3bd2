using System.Buffers;
using Capture.Rtp;

namespace Capture.Recording;

/// <summary>Why an RTP packet on a known leg was not played.</summary>
public enum LegDropReason : byte
{
    Duplicate,
    Late,
    OtherSsrc,
    UnknownPayloadType,
    UnsupportedCodec,
    BadPayload,
    InvalidRtp,

    /// <summary>SRTP: the payload is encrypted (a mirror cannot hear it).</summary>
    Encrypted,

    /// <summary>Placed further ahead of the mix than a leg holds (after the checks that re-anchor such a sender: none expected).</summary>
    Early,
    Count,
}

/// <summary>
/// One direction of a call's media: orders RTP by sequence and timestamp, removes mirror duplicates,
/// conceals short losses, and writes decoded audio at its place on the call's timeline. Owned by one worker.
/// </summary>
internal sealed class MediaLeg : IDisposable
{
    // The ring holds what the mixer needs, no more: the mix runs the jitter delay (200 ms) behind the newest arrival, a
    // packet is placed at most LeadSeconds ahead of its arrival (a sender further ahead is re-anchored at its arrival
    // time), and the longest packet (120 ms) and frame (60 ms) on top: 8,192 samples (16 KiB) a leg at 8 kHz, 16,384 at
    // 16 kHz, where 4 s was 64 and 128 KiB.
    private const double LeadSeconds = 0.6;
    private const double PacketSeconds = 0.12;
    private const double FrameSeconds = 0.06;

    /// <summary>Samples of a leg's ring at <paramref name="rate"/> for a mix <paramref name="lagSamples"/> behind the newest arrival.</summary>
    public static int RingSamples(int rate, long lagSamples) =>
        (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(lagSamples + (long)(rate * (LeadSeconds + PacketSeconds + FrameSeconds))));

    /// <summary>How far behind a packet's arrival the mix must be for any packet placed by the rules to fit the ring (at least the lag and a frame).</summary>
    public static long MixReach(int rate, long lagSamples) => RingSamples(rate, lagSamples) - (long)(rate * (LeadSeconds + PacketSeconds));

    private long _lagSamples;

    // Largest decoded packet we accept: 120 ms at 48 kHz.
    private const int MaxPacketSamples = 5760;

    private short[] _ring = [];
    private int _ringMask;

    // Scratch for one packet's decoded and resampled audio, used only within one Accept: one pair per worker thread
    // (a leg belongs to one worker), not 32 KB per leg of every open call.
    [ThreadStatic]
    private static short[]? t_decoded;
    [ThreadStatic]
    private static short[]? t_resampled;

    private static short[] Decoded => t_decoded ??= new short[MaxPacketSamples];

    private static short[] Resampled => t_resampled ??= new short[MaxPacketSamples];
    private readonly long[] _drops = new long[(int)LegDropReason.Count];
    private readonly List<(char Digit, long Position)> _dtmf = [];

    private IAudioDecoder? _decoder;

    // Passthrough (see UsePassthrough): Opus packets held as they came, placed on the file's frame grid.
    private readonly OpusPacketWindow _window = new();
    private OpusRepairSettings _repair;
    private int _frameSamples;          // 0: this leg decodes everything
    private long _previousOffset = -1;  // where the window holds the last packet placed in order (primes a gap's repair)
    private int _previousLength;

    private bool _anchored;
    private uint _ssrc;
    private uint _anchorTimestamp;
    private long _anchorPosition;
    private int _anchorClock;
    private ushort _highestSeq;
    private ulong _seqWindow;
    private long _lastArrivalNs;
    private long _lastPacketSamples;
    private long _lastWrittenEnd;
    private uint _lastDtmfTimestamp;
    private uint _lastDtmfSsrc;
    private bool _hasDtmf;

    public PayloadMap Map { get; set; } = new();

    public long Packets { get; private set; }

    /// <summary>Opus packets placed to go into the file as they came (not decoded).</summary>
    public long PassedThrough { get; private set; }

    /// <summary>Frames of lost Opus packets rebuilt for the file (decoded around the gap and encoded again), and of those how many from FEC.</summary>
    public long RepairedFrames { get; private set; }

    public long FecFrames { get; private set; }

    /// <summary>Why this leg stopped passing its packets through and decodes them (None while it passes through, or never did).</summary>
    public PassthroughFallback Fallback { get; private set; }
    public long Lost { get; private set; }
    public long Concealed { get; private set; }

    /// <summary>Highest sample position (exclusive) this leg has written.</summary>
    public long WrittenEnd { get; private set; }

    /// <summary>Position of the first sample this leg wrote, or -1.</summary>
    public long FirstPosition { get; private set; } = -1;

    // One bit per AudioCodec value: which speech codecs this leg played (for the sidecar), without per-packet hashing.
    private int _codecsSeen;

    public IEnumerable<AudioCodec> CodecsSeen
    {
        get
        {
            foreach (AudioCodec codec in Enum.GetValues<AudioCodec>())
            {
                if ((_codecsSeen & (1 << (int)codec)) != 0)
                {
                    yield return codec;
                }
            }
        }
    }

    public IReadOnlyList<(char Digit, long Position)> Dtmf => _dtmf;

    public long DropCount(LegDropReason reason) => _drops[(int)reason];

    /// <summary>
    /// Places one RTP packet. <paramref name="arrivalPosition"/> is where the packet's arrival falls on the call
    /// timeline (in samples at <paramref name="rate"/>); <paramref name="emitted"/> is how far the mixer already went.
    /// </summary>
    public void Accept(ReadOnlySpan<byte> datagram, long arrivalNs, long arrivalPosition, int rate, long emitted, int maxConcealed)
    {
        if (RtpPacket.TryRead(datagram, out RtpPacket rtp, out _) != OperationStatus.Done)
        {
            _drops[(int)LegDropReason.InvalidRtp]++;
            return;
        }

        if (Map.Encrypted)
        {
            _drops[(int)LegDropReason.Encrypted]++;
            return;
        }

        AudioCodec codec = Map.CodecOf(rtp.PayloadType);
        if (codec == AudioCodec.Unknown)
        {
            _drops[(int)LegDropReason.UnknownPayloadType]++;
            return;
        }

        if (codec == AudioCodec.TelephoneEvent)
        {
            // Events are kept out of the audio and placed by arrival: some senders use their own SSRC for them.
            // With the speech SSRC they share its sequence numbers, so they fill the window (no false losses).
            if (_anchored && rtp.Ssrc == _ssrc)
            {
                SequenceResult eventSequence = TrackSequence(rtp.SequenceNumber);
                if (eventSequence is SequenceResult.Duplicate or SequenceResult.TooOld)
                {
                    _drops[(int)LegDropReason.Duplicate]++;
                    return;
                }

                if (eventSequence == SequenceResult.InOrder)
                {
                    _lastWrittenEnd = 0; // the digit replaces speech: the gap before the next speech is not a loss to conceal
                }
            }

            Packets++;
            RecordDtmf(rtp, arrivalPosition);
            return;
        }

        if (_anchored && rtp.Ssrc != _ssrc)
        {
            // A second SSRC on the same leg: a new source after a re-INVITE or transfer, or a stray copy.
            // Follow it only when the current source went quiet; otherwise keep the current one.
            if (arrivalNs - _lastArrivalNs < 200_000_000)
            {
                _drops[(int)LegDropReason.OtherSsrc]++;
                return;
            }

            _anchored = false;
        }

        if (codec == AudioCodec.ComfortNoise && !_anchored)
        {
            // Silence before the source's first speech: it must not anchor the leg (before media starts it would
            // anchor at position 0 while the timeline's origin is still to come, shifting the leg by that time).
            Packets++;
            return;
        }

        int clock = Map.ClockRateOf(rtp.PayloadType);
        if (!_anchored)
        {
            Anchor(rtp, arrivalPosition, clock);
        }
        else if (clock != _anchorClock)
        {
            Anchor(rtp, Math.Max(arrivalPosition, _lastWrittenEnd), clock);
        }

        SequenceResult sequence = TrackSequence(rtp.SequenceNumber);
        if (sequence == SequenceResult.Duplicate)
        {
            _drops[(int)LegDropReason.Duplicate]++;
            return;
        }

        if (sequence == SequenceResult.TooOld)
        {
            _drops[(int)LegDropReason.Late]++;
            return;
        }

        bool reordered = sequence == SequenceResult.Reordered;

        long position = _anchorPosition + ((long)(int)(rtp.Timestamp - _anchorTimestamp) * rate / _anchorClock);

        // A timestamp far from where the arrival time puts the packet means the sender jumped (restart, splice):
        // trust the arrival time and re-anchor rather than write the audio seconds away from where it belongs. Ahead,
        // far is more than the ring leads (LeadSeconds); behind, 2 s (what is behind the mix is late anyway).
        if (position - arrivalPosition > (long)(rate * LeadSeconds) || arrivalPosition - position > rate * 2L)
        {
            Anchor(rtp, arrivalPosition, clock);
            _highestSeq = rtp.SequenceNumber; // this packet is already through the window
            _seqWindow = 1;
            position = arrivalPosition;
        }

        // The newest packet the sender has sent, yet behind what is already mixed: not a straggler but a sender
        // whose timestamps stood still (a pause or hold that did not advance them, less than the 2 s above). Follow
        // the arrival time; dropping it as late would drop every packet after it too.
        if (position < emitted && sequence == SequenceResult.InOrder)
        {
            position = Math.Max(arrivalPosition, emitted);
            Rebase(rtp, position, clock);
        }

        _lastArrivalNs = arrivalNs;
        Packets++;

        if (codec == AudioCodec.ComfortNoise)
        {
            // Silence: the ring is already zero there. The sender stopped talking, so the gap before the next
            // talk spurt is not a loss: nothing to conceal up to it.
            if (!reordered)
            {
                _lastWrittenEnd = 0;
            }

            return;
        }

        if (position < emitted)
        {
            _drops[(int)LegDropReason.Late]++;
            return;
        }

        if (codec == AudioCodec.Opus && _frameSamples > 0 && TryPassThrough(rtp.Payload, position, emitted, maxConcealed, reordered))
        {
            _codecsSeen |= 1 << (int)codec;
            return;
        }

        IAudioDecoder? decoder = DecoderFor(codec);
        if (decoder is null)
        {
            _drops[(int)LegDropReason.UnsupportedCodec]++;
            return;
        }

        _codecsSeen |= 1 << (int)codec;
        EnsureBuffers(rate);

        // Conceal a short gap since the previous packet with the codec's own loss concealment.
        if (!reordered && _lastWrittenEnd > 0 && position > _lastWrittenEnd && _lastPacketSamples > 0)
        {
            long gap = position - _lastWrittenEnd;
            if (gap <= _lastPacketSamples * maxConcealed && _lastWrittenEnd >= emitted)
            {
                ConcealInto(decoder, _lastWrittenEnd, (int)gap, rate, rtp.Payload);
            }
        }

        short[] decoded = Decoded;
        int samples = decoder.Decode(rtp.Payload, decoded);
        if (samples <= 0)
        {
            _drops[(int)LegDropReason.BadPayload]++;
            return;
        }

        ReadOnlySpan<short> pcm = Resample(decoded.AsSpan(0, samples), decoder.SampleRate, rate);
        if (position + pcm.Length - emitted > _ringMask + 1)
        {
            _drops[(int)LegDropReason.Early]++;
            return;
        }

        Write(position, pcm);
        _lastPacketSamples = pcm.Length;
        if (!reordered)
        {
            _lastWrittenEnd = position + pcm.Length;
        }
    }

    /// <summary>
    /// From now on this leg's Opus packets go into the file as they came when they fit its frames of
    /// <see cref="OpusRepairSettings.FrameSamples"/> (see <see cref="TryPassThrough"/>); lost ones are rebuilt with
    /// <paramref name="repair"/>'s settings. Called once, when the file's rate and frame are known.
    /// </summary>
    public void UsePassthrough(OpusRepairSettings repair)
    {
        _repair = repair;
        _frameSamples = repair.FrameSamples;
    }

    /// <summary>
    /// Places an Opus packet on the file's frame grid to go into the file unchanged. It must last exactly one frame (the
    /// two streams of a file's packet last the same) and parse as Opus; its frame is the one nearest its timestamp's place
    /// on the timeline, at most half a frame from it (a sender's packets are a frame apart, so a talk spurt moves as a
    /// whole and stays in order). A short gap before it (what the decoding path would conceal) is rebuilt from the previous
    /// packet, PLC and this packet's FEC. False (and this leg decodes from now on, <see cref="Fallback"/>) when the packet
    /// does not fit: another duration than the frame (10/40/60 ms packets after 20 ms ones), or two packets on one frame
    /// (timestamps off the frame grid). A malformed packet is dropped as a bad payload, as a decoder would.
    /// </summary>
    private bool TryPassThrough(ReadOnlySpan<byte> payload, long position, long emitted, int maxConcealed, bool reordered)
    {
        if (Fallback != PassthroughFallback.None)
        {
            return false;
        }

        int frame = _frameSamples;
        if (!OpusPacket.IsWellFormed(payload))
        {
            _drops[(int)LegDropReason.BadPayload]++;
            return true;
        }

        if (OpusPacket.SamplesAt48Khz(payload) != (long)frame * 48000 / _repair.Rate)
        {
            FallBack(PassthroughFallback.PacketDuration);
            return false;
        }

        if (payload.Length > MaxPassthroughBytes)
        {
            FallBack(PassthroughFallback.PacketSize);
            return false;
        }

        _window.EnsureBuffers(RingSamples(_repair.Rate, LagSamples(_repair.Rate)) / frame);
        long index = (position + (frame / 2)) / frame;
        long emittedFrame = emitted / frame;
        if (index - emittedFrame >= _window.Frames)
        {
            _drops[(int)LegDropReason.Early]++; // further ahead of the mix than the window holds (as for decoded audio)
            return true;
        }

        long start = index * frame;
        if (!reordered && _lastWrittenEnd > 0 && start > _lastWrittenEnd && _lastPacketSamples > 0 && _lastWrittenEnd >= emitted
            && start - _lastWrittenEnd <= _lastPacketSamples * maxConcealed)
        {
            RepairGap(_lastWrittenEnd / frame, (int)((start - _lastWrittenEnd) / frame), payload);
        }

        if (_window.Put(index, payload, repair: false, out long offset) == OpusPacketWindow.PutResult.Overlap)
        {
            FallBack(PassthroughFallback.Overlap);
            return false;
        }

        PassedThrough++;
        Placed(start, frame);
        _lastPacketSamples = frame;
        if (!reordered)
        {
            _lastWrittenEnd = start + frame;
            _previousOffset = offset;
            _previousLength = payload.Length;
        }

        return true;
    }

    private void FallBack(PassthroughFallback why)
    {
        Fallback = why;

        // The decoder starts from the last packet that went in as it came, so that the first one decoded continues its voice.
        if (_window.TryRead(_previousOffset, _previousLength, out ReadOnlySpan<byte> previous) && DecoderFor(AudioCodec.Opus) is { } decoder)
        {
            decoder.Decode(previous, Decoded);
        }
    }

    // A passthrough packet is at most what the writer takes as one stream; a larger one (above 600 kbit/s at 20 ms) is decoded.
    private const int MaxPassthroughBytes = OggOpusWriter.MaxStreamPacketBytes;

    private void RepairGap(long firstFrame, int frames, ReadOnlySpan<byte> next)
    {
        if (!_window.TryRead(_previousOffset, _previousLength, out ReadOnlySpan<byte> previous))
        {
            previous = default;
        }

        OpusGapRepair repair = OpusGapRepair.ForThread(_repair);
        long fecBefore = repair.FecFrames;
        var store = new RepairStore(this, firstFrame);
        if (repair.Repair(previous, next, frames, ref store))
        {
            RepairedFrames += frames;
            FecFrames += repair.FecFrames - fecBefore;
            Concealed += (long)frames * _frameSamples;
        }
    }

    private readonly struct RepairStore(MediaLeg leg, long firstFrame) : IRepairedFrameStore
    {
        public void Store(int index, ReadOnlySpan<byte> packet)
        {
            long frame = firstFrame + index;
            if (leg._window.Put(frame, packet, repair: true, out _) == OpusPacketWindow.PutResult.Stored)
            {
                leg.Placed(frame * leg._frameSamples, leg._frameSamples);
            }
        }
    }

    /// <summary>How far behind the newest arrival the mix runs (the recording's jitter delay), which sizes the ring; 200 ms unless told.</summary>
    public void UseLag(long samples) => _lagSamples = samples;

    private long LagSamples(int rate) => _lagSamples > 0 ? _lagSamples : rate / 5;

    /// <summary>
    /// Buffers are rented with the first audio, so a call that never has media costs almost nothing, and returned at
    /// the end, so calls reuse each other's buffers (the ring would otherwise be a large-object allocation per leg).
    /// </summary>
    private void EnsureBuffers(int rate)
    {
        if (_ring.Length != 0)
        {
            return;
        }

        int size = RingSamples(rate, LagSamples(rate));
        _ring = ArrayPool<short>.Shared.Rent(size);
        _ring.AsSpan(0, size).Clear(); // silence: a rented array holds another call's audio
        _ringMask = size - 1;
    }

    private enum SequenceResult
    {
        InOrder,
        Reordered,
        Duplicate,
        TooOld,
    }

    /// <summary>
    /// 64-packet window behind the highest sequence number: mirror duplicates (both directions of a trunk) carry
    /// the same number; a gap counts as lost until the packet turns up late.
    /// </summary>
    private SequenceResult TrackSequence(ushort sequence)
    {
        int delta = (short)(sequence - _highestSeq);
        if (delta > 0)
        {
            if (delta > 1 && delta < 3000)
            {
                Lost += delta - 1;
            }

            _seqWindow = delta >= 64 ? 1UL : (_seqWindow << delta) | 1UL;
            _highestSeq = sequence;
            return SequenceResult.InOrder;
        }

        if (delta <= -64)
        {
            return SequenceResult.TooOld;
        }

        ulong bit = 1UL << -delta;
        if ((_seqWindow & bit) != 0)
        {
            return SequenceResult.Duplicate;
        }

        _seqWindow |= bit;
        if (Lost > 0)
        {
            Lost--; // counted lost when the gap opened; it arrived after all
        }

        return SequenceResult.Reordered;
    }

    private void Anchor(in RtpPacket rtp, long position, int clock)
    {
        _anchored = true;
        _ssrc = rtp.Ssrc;
        _highestSeq = (ushort)(rtp.SequenceNumber - 1);
        _seqWindow = 0;
        Rebase(rtp, position, clock);
    }

    /// <summary>Places <paramref name="rtp"/>'s timestamp at <paramref name="position"/>; the sequence window stays.</summary>
    private void Rebase(in RtpPacket rtp, long position, int clock)
    {
        _anchorTimestamp = rtp.Timestamp;
        _anchorPosition = position;
        _anchorClock = clock;
        _lastWrittenEnd = 0;
        _lastPacketSamples = 0;
    }

    private void RecordDtmf(in RtpPacket rtp, long position)
    {
        // RFC 4733: one event keeps its timestamp across its updates and the three end packets.
        if (_hasDtmf && rtp.Timestamp == _lastDtmfTimestamp && rtp.Ssrc == _lastDtmfSsrc)
        {
            return;
        }

        if (TelephoneEvent.TryRead(rtp.Payload, out TelephoneEvent ev) && ev.Digit != '\0')
        {
            _hasDtmf = true;
            _lastDtmfTimestamp = rtp.Timestamp;
            _lastDtmfSsrc = rtp.Ssrc;
            _dtmf.Add((ev.Digit, Math.Max(0, position)));
        }
    }

    private IAudioDecoder? DecoderFor(AudioCodec codec)
    {
        if (_decoder is not null && _decoder.Codec == codec)
        {
            return _decoder;
        }

        if (!AudioDecoders.IsSupported(codec))
        {
            return null;
        }

        _decoder?.Dispose();
        _decoder = AudioDecoders.Create(codec);
        return _decoder;
    }

    /// <summary>Conceals the gap before <paramref name="next"/>; its last chunk may be rebuilt from that packet (Opus FEC).</summary>
    private void ConcealInto(IAudioDecoder decoder, long from, int samples, int rate, ReadOnlySpan<byte> next)
    {
        int codecSamples = (int)((long)samples * decoder.SampleRate / rate);
        while (codecSamples > 0)
        {
            int chunk = Math.Min(codecSamples, MaxPacketSamples / 2);
            short[] decoded = Decoded;
            int made = chunk == codecSamples ? decoder.ConcealBefore(next, decoded, chunk) : decoder.Conceal(decoded, chunk);
            if (made <= 0)
            {
                return;
            }

            ReadOnlySpan<short> pcm = Resample(decoded.AsSpan(0, made), decoder.SampleRate, rate);
            Write(from, pcm);
            from += pcm.Length;
            codecSamples -= made;
            Concealed += made;
        }
    }

    private ReadOnlySpan<short> Resample(ReadOnlySpan<short> input, int fromRate, int toRate)
    {
        if (fromRate == toRate)
        {
            return input;
        }

        short[] resampled = Resampled;
        int outLength = (int)Math.Min((long)input.Length * toRate / fromRate, resampled.Length);
        Span<short> output = resampled.AsSpan(0, outLength);

        // Linear interpolation: adequate for 8 <-> 16 kHz speech legs in one file.
        for (int i = 0; i < outLength; i++)
        {
            long srcNum = (long)i * fromRate;
            int idx = (int)(srcNum / toRate);
            int frac = (int)(srcNum % toRate);
            int a = input[Math.Min(idx, input.Length - 1)];
            int b = input[Math.Min(idx + 1, input.Length - 1)];
            output[i] = (short)(a + ((long)(b - a) * frac / toRate));
        }

        return output;
    }

    private void Write(long position, ReadOnlySpan<short> pcm)
    {
        Placed(position, pcm.Length);
        for (int i = 0; i < pcm.Length; i++)
        {
            _ring[(int)((position + i) & _ringMask)] = pcm[i];
        }
    }

    /// <summary>Audio of <paramref name="samples"/> from <paramref name="position"/> is on the leg (decoded, or a packet held).</summary>
    private void Placed(long position, int samples)
    {
        if (FirstPosition < 0 || position < FirstPosition)
        {
            FirstPosition = position;
        }

        if (position + samples > WrittenEnd)
        {
            WrittenEnd = position + samples;
        }
    }

    /// <summary>
    /// The frame at <paramref name="position"/>: the packet held for it, to go into the file as it is, or (when there is
    /// none: the result is empty) its decoded audio copied into <paramref name="frame"/>. Either way the ring is cleared
    /// there for the next lap.
    /// </summary>
    public ReadOnlySpan<byte> Take(long position, Span<short> frame)
    {
        ReadOnlySpan<byte> packet = default;
        if (_frameSamples > 0 && position % _frameSamples == 0 && !_window.TryTake(position / _frameSamples, out packet, out bool overwritten) && overwritten)
        {
            _drops[(int)LegDropReason.Late]++; // held so long that newer packets' bytes came round over it
        }

        TakePcm(position, frame);
        return packet;
    }

    /// <summary>Copies one frame out of the ring and clears it for the next lap.</summary>
    private void TakePcm(long position, Span<short> frame)
    {
        if (_ring.Length == 0)
        {
            frame.Clear(); // this leg never had audio
            return;
        }

        int start = (int)(position & _ringMask);
        int first = Math.Min(frame.Length, _ringMask + 1 - start);
        _ring.AsSpan(start, first).CopyTo(frame);
        _ring.AsSpan(start, first).Clear();
        if (first < frame.Length)
        {
            _ring.AsSpan(0, frame.Length - first).CopyTo(frame[first..]);
            _ring.AsSpan(0, frame.Length - first).Clear();
        }
    }

    public void Dispose()
    {
        _decoder?.Dispose();
        _decoder = null;
        _window.Dispose();
        if (_ring.Length != 0)
        {
            ArrayPool<short>.Shared.Return(_ring);
            _ring = [];
        }
    }
}

/// <summary>Why an Opus leg stopped going into the file as it came and is decoded and encoded instead (for the rest of the call).</summary>
public enum PassthroughFallback : byte
{
    None,

    /// <summary>A packet lasted other than the file's frame (the sender changed its packet time, or never had the file's).</summary>
    PacketDuration,

    /// <summary>Two packets fell on one frame: the sender's timestamps are off the frame grid.</summary>
    Overlap,

    /// <summary>A packet larger than a stream of the file may be (<see cref="OggOpusWriter.MaxStreamPacketBytes"/>).</summary>
    PacketSize,
}
