using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;
using Capture.Skinny;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>
/// One Skinny connection, both directions, through the real <see cref="SkinnyProtocol"/> (stream reader, framer, readers,
/// device learner and call tracker into a <see cref="CallBook"/>) as the pipeline drives it: each direction keeps its
/// unconsumed bytes. Records: selector bit 0 = from the phone, bit 1 = a gap before it; step = milliseconds.
/// </summary>
internal sealed class SkinnyStreamTarget : FuzzTarget, ICallSink
{
    private const int MaxHeld = 64 * 1024; // as TcpReassemblerOptions.MaxBytesPerStream
    private static readonly IpEndpoint16 s_phone = new(IpAddress16.FromIPv4(0x0A000001), 50000);
    private static readonly IpEndpoint16 s_server = new(IpAddress16.FromIPv4(0x0A0000FE), 2000);

    private readonly byte[][] _held = [new byte[MaxHeld], new byte[MaxHeld]];

    public override string Name => "skinny-stream";

    public override string Description => "a Skinny connection (both directions) through SkinnyProtocol: stream reader, framer, readers, learner, call tracker, call book";

    public override int MaxInputLength => 16 * 1024;

    public override void Execute(ReadOnlySpan<byte> input)
    {
        var book = new CallBook(this);
        var protocol = new SkinnyProtocol(book);
        var connection = new SkinnyConnection(s_phone, s_server);
        Span<int> heldLength = stackalloc int[2];
        long now = 1_600_000_000_000_000_000;
        var records = new RecordReader(input);
        while (records.TryNext(out byte selector, out ushort step, out ReadOnlySpan<byte> bytes))
        {
            now += step * 1_000_000L;
            int d = selector & 1;
            bool fromPhone = d == 1;
            if ((selector & 2) != 0)
            {
                heldLength[d] = 0; // bytes lost: what was held is dropped, the reader resynchronises
                connection.NoteGap(fromPhone);
            }

            int length = Math.Min(bytes.Length, MaxHeld - heldLength[d]);
            bytes[..length].CopyTo(_held[d].AsSpan(heldLength[d]));
            heldLength[d] += length;
            int consumed = protocol.OnStream(connection, fromPhone, _held[d].AsSpan(0, heldLength[d]), now);
            Invariant.Check(consumed >= 0 && consumed <= heldLength[d], "the stream reader consumes only bytes it has");
            _held[d].AsSpan(consumed, heldLength[d] - consumed).CopyTo(_held[d]);
            heldLength[d] -= consumed;
            if (heldLength[d] == MaxHeld)
            {
                heldLength[d] = 0; // the reassembler's per-stream limit: the unfinished message is dropped
                connection.NoteGap(fromPhone);
            }

            protocol.Expire(now);
        }

        protocol.OnConnectionClosed(connection, now);
        protocol.EndAll(now + 1, CallEndReasons.CaptureEnded);
    }

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus)
    {
        foreach (List<(bool FromPhone, long Ts, byte[] Payload)> segments in corpus.SkinnyConnections)
        {
            // Whole connections (as far as they fit), and each in windows of 24 segments.
            for (int first = 0; first < segments.Count; first += 24)
            {
                var input = new List<byte>();
                long previous = segments[first].Ts;
                for (int i = first; i < segments.Count && input.Count + segments[i].Payload.Length < MaxInputLength; i++)
                {
                    long stepMs = Math.Clamp((segments[i].Ts - previous) / 1_000_000, 0, ushort.MaxValue);
                    previous = segments[i].Ts;
                    RecordReader.Append(input, segments[i].FromPhone ? (byte)1 : (byte)0, (ushort)stepMs, segments[i].Payload);
                }

                yield return [.. input];
            }
        }
    }

    void ICallSink.CallStarted(Call call, long atNs)
    {
    }

    void ICallSink.MetadataChanged(Call call)
    {
    }

    void ICallSink.PayloadMapChanged(Call call, Channel speaker, PayloadMap map)
    {
    }

    void ICallSink.CallEvent(Call call, string type, long atNs, string? detail)
    {
    }

    void ICallSink.CallEnded(Call call, string reason, long atNs)
    {
    }
}
