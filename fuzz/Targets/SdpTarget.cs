using System.Buffers;
using Capture.Sip;
using Fuzz.Driver;
using Fuzz.Seeds;

namespace Fuzz.Targets;

/// <summary>An SDP body through <see cref="SdpSession"/>: every media line and codec it reports.</summary>
internal sealed class SdpTarget : FuzzTarget
{
    public override string Name => "sdp";

    public override string Description => "an SDP body: SdpSession.TryParse, every media description and codec";

    public override IReadOnlyList<byte[]> Dictionary => SipTokens.Dictionary;

    public override void Execute(ReadOnlySpan<byte> input) => Read(input);

    public static void Read(ReadOnlySpan<byte> sdp)
    {
        if (SdpSession.TryParse(sdp, out SdpSession session, out _) != OperationStatus.Done)
        {
            return;
        }

        Invariant.Check(session.MediaCount is >= 0 and <= SdpSession.MaxMedia, "at most MaxMedia media descriptions");
        for (int i = 0; i < session.MediaCount; i++)
        {
            SdpMedia media = session.GetMedia(i);
            Invariant.Check(media.CodecCount is >= 0 and <= SdpMedia.MaxCodecs, "at most MaxCodecs codecs per media");
            for (int c = 0; c < media.CodecCount; c++)
            {
                SdpCodec codec = media.GetCodec(c);
                Invariant.Check(media.TryGetCodec(codec.PayloadType, out _), "a listed codec is found by its payload type");
            }
        }

        _ = session.TryGetFirstAudio(out _);
    }

    public override IEnumerable<byte[]> Seeds(SeedCorpus corpus) => corpus.SdpBodies;
}
