using System.Buffers;
using Capture.Sip;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>
/// A SIP-over-TCP byte stream through <see cref="SipStreamFramer"/> as <c>SipProtocol</c> drives it: arrivals cut where
/// the first input byte says, unconsumed bytes kept and offered again with the next arrival, resynchronising after
/// invalid data. Whatever the cuts, the framer must consume every byte it frames exactly once and never more than it has.
/// </summary>
internal sealed class SipStreamTarget : FuzzTarget
{
    public override string Name => "sip-stream";

    public override string Description => "a SIP-over-TCP stream cut into arrivals: SipStreamFramer.TryFrameNext with keep-alives, resynchronisation and buffering";

    public override int MaxInputLength => 16 * 1024;

    public override IReadOnlyList<byte[]> Dictionary => SipTokens.Dictionary;

    public override void Execute(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        int piece = 1 + input[0];
        ReadOnlySpan<byte> stream = input[1..];
        int consumed = 0; // bytes of the stream taken by the framer
        bool resync = false;
        for (int available = Math.Min(piece, stream.Length); ; available = Math.Min(available + piece, stream.Length))
        {
            while (true)
            {
                ReadOnlySpan<byte> data = stream[consumed..available];
                OperationStatus status = SipStreamFramer.TryFrameNext(data, resync, out int skip, out SipMessage message, out _);
                Invariant.Check(skip >= 0 && skip <= data.Length, "the framer skips only bytes it has");
                consumed += skip;
                if (status == OperationStatus.NeedMoreData)
                {
                    break;
                }

                if (status == OperationStatus.InvalidData)
                {
                    resync = true;
                    continue;
                }

                Invariant.Check(message.BytesConsumed > 0 && skip + message.BytesConsumed <= data.Length, "a framed message lies within the data");
                consumed += message.BytesConsumed;
                resync = false;
            }

            if (available == stream.Length)
            {
                break;
            }
        }
    }

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus)
    {
        foreach (byte[] stream in corpus.SipStreams.Concat(corpus.SipPayloads.Take(40)))
        {
            foreach (byte cut in (byte[])[0, 7, 99, 255])
            {
                yield return [cut, .. stream.AsSpan(0, Math.Min(stream.Length, MaxInputLength - 1))];
            }
        }
    }
}
