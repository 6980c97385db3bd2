using System.Buffers;

namespace Capture.Recording;

/// <summary>
/// One Opus leg's packets held as they came, one slot per frame of the file, from their arrival until the mixer takes
/// them: what a passthrough leg keeps instead of decoded audio. The bytes go round a ring in arrival order; a packet
/// whose bytes were written over before it was taken (held far longer than the jitter window at a high bitrate) is
/// gone, and <see cref="TryTake"/> says so. Owned by one leg on one worker.
/// </summary>
internal sealed class OpusPacketWindow : IDisposable
{
    /// <summary>
    /// Bytes of packets held: 200 ms (the default jitter window) at Opus' highest bitrate (510 kbit/s, 12.75 KB) fits;
    /// at voice bitrates (16-64 kbit/s) it holds seconds.
    /// </summary>
    public const int ByteCapacity = 16384;

    private struct Slot
    {
        public long Frame;   // frame index on the call's timeline; -1 when empty
        public long Offset;  // absolute offset of the packet's bytes among all bytes ever written
        public int Length;
        public bool Repair;  // made here for a lost packet (FEC or PLC, re-encoded): the real one replaces it if it turns up
    }

    private Slot[] _slots = [];
    private int _slotMask;
    private byte[] _bytes = [];
    private long _written;

    /// <summary>Frames the window spans: a packet further ahead of the mixer than this has no slot.</summary>
    public int Frames => _slots.Length == 0 ? 0 : _slotMask + 1;

    public enum PutResult
    {
        Stored,

        /// <summary>A repair packet found the real one already there: kept the real one.</summary>
        KeptReal,

        /// <summary>Another packet (not a repair) already holds this frame: the leg's packets do not fit the frame grid.</summary>
        Overlap,
    }

    /// <summary>Rented with the first packet (a leg that never passes through costs nothing), at least <paramref name="frames"/> slots.</summary>
    public void EnsureBuffers(int frames)
    {
        if (_slots.Length != 0)
        {
            return;
        }

        int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(frames, 2));
        _slots = ArrayPool<Slot>.Shared.Rent(size);
        _slots.AsSpan(0, size).Fill(new Slot { Frame = -1 });
        _slotMask = size - 1;
        _bytes = ArrayPool<byte>.Shared.Rent(ByteCapacity);
    }

    /// <summary>Holds <paramref name="packet"/> for <paramref name="frame"/>; the caller keeps frames within <see cref="Frames"/> of the mixer.</summary>
    public PutResult Put(long frame, ReadOnlySpan<byte> packet, bool repair, out long offset)
    {
        offset = -1;
        ref Slot slot = ref _slots[(int)(frame & _slotMask)];
        if (slot.Frame == frame)
        {
            if (repair && !slot.Repair)
            {
                return PutResult.KeptReal;
            }

            if (!repair && !slot.Repair)
            {
                return PutResult.Overlap;
            }
        }

        // Packets do not wrap round the ring's end: the tail too short for this one is skipped.
        int at = (int)(_written % ByteCapacity);
        if (at + packet.Length > ByteCapacity)
        {
            _written += ByteCapacity - at;
            at = 0;
        }

        packet.CopyTo(_bytes.AsSpan(at));
        offset = _written;
        slot = new Slot { Frame = frame, Offset = _written, Length = packet.Length, Repair = repair };
        _written += packet.Length;
        return PutResult.Stored;
    }

    /// <summary>The bytes written at <paramref name="offset"/> (from <see cref="Put"/>) if the ring has not come round over them.</summary>
    public bool TryRead(long offset, int length, out ReadOnlySpan<byte> packet)
    {
        if (offset < 0 || _written - offset > ByteCapacity)
        {
            packet = default;
            return false;
        }

        packet = _bytes.AsSpan((int)(offset % ByteCapacity), length);
        return true;
    }

    /// <summary>
    /// The packet for <paramref name="frame"/>, freeing its slot. False when there is none; <paramref name="overwritten"/>
    /// when there was one but its bytes were written over. The span lives until the next <see cref="Put"/>.
    /// </summary>
    public bool TryTake(long frame, out ReadOnlySpan<byte> packet, out bool overwritten)
    {
        packet = default;
        overwritten = false;
        if (_slots.Length == 0)
        {
            return false;
        }

        ref Slot slot = ref _slots[(int)(frame & _slotMask)];
        if (slot.Frame != frame)
        {
            return false;
        }

        slot.Frame = -1;
        overwritten = !TryRead(slot.Offset, slot.Length, out packet);
        return !overwritten;
    }

    public void Dispose()
    {
        if (_slots.Length != 0)
        {
            ArrayPool<Slot>.Shared.Return(_slots);
            ArrayPool<byte>.Shared.Return(_bytes);
            _slots = [];
            _bytes = [];
            _written = 0;
        }
    }
}
