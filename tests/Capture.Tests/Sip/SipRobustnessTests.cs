using System.Buffers;
using Capture.Sip;
using Capture.Tests.Support;

namespace Capture.Tests.Sip;

/// <summary>Truncation at every length, stream splits at every position, mutated-input fuzzing and the allocation budget.</summary>
public class SipRobustnessTests
{
    private static readonly byte[][] s_samples =
    [
        SipSamples.G711Invite.ToArray(),
        SipSamples.G711Ringing.ToArray(),
        SipSamples.G711Ok.ToArray(),
        SipSamples.G711Register.ToArray(),
        SipSamples.AaaRegister.ToArray(),
        SipSamples.AaaRegisterOk.ToArray(),
        SipSamples.AaaSessionProgress.ToArray(),
        SipSamples.OpusInvite.ToArray(),
        SipSamples.IPv6Invite.ToArray(),
        SipSamples.FaxT38ReInvite.ToArray(),
        SipSamples.JunkRegister.ToArray(),
        SipSamples.TcpTrying.ToArray(),
        SipSamples.TcpRinging.ToArray(),
        SipSamples.TcpOk.ToArray(),
    ];

    public static TheoryData<int> SampleIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < s_samples.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SampleIndexes))]
    public void TryRead_TruncatedAtEveryLength_NeverDone(int sample)
    {
        byte[] full = s_samples[sample];
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(full, out SipMessage whole, out _));
        Assert.Equal(full.Length, whole.BytesConsumed);
        for (int length = 0; length < full.Length; length++)
        {
            OperationStatus status = SipMessage.TryRead(full.AsSpan(0, length), out _, out SipInvalidReason reason);
            Assert.True(status is OperationStatus.NeedMoreData or OperationStatus.InvalidData, $"length {length}: {status}");
            Assert.True(status == OperationStatus.InvalidData || reason == SipInvalidReason.None);

            // A proper prefix of a valid message is never junk once it holds a whole start line.
            if (status == OperationStatus.InvalidData)
            {
                Assert.Equal(SipInvalidReason.NotSip, reason);
            }

            // Whatever SDP reader sees of a cut body must not throw either.
            _ = SdpSession.TryParse(full.AsSpan(0, length), out _, out _);
        }
    }

    [Theory]
    [MemberData(nameof(SampleIndexes))]
    public void TryFrame_TruncatedAtEveryLength_NeedsMoreData(int sample)
    {
        byte[] full = s_samples[sample];
        if (SipMessage.TryRead(full, out SipMessage m, out _) != OperationStatus.Done || m.ContentLength < 0)
        {
            return; // framing needs Content-Length
        }

        for (int length = 0; length < full.Length; length++)
        {
            OperationStatus status = SipMessage.TryFrame(full.AsSpan(0, length), out SipMessage frame, out _);
            Assert.NotEqual(OperationStatus.Done, status);
            Assert.Equal(0, frame.BytesConsumed);
        }

        Assert.Equal(OperationStatus.Done, SipMessage.TryFrame(full, out SipMessage framed, out _));
        Assert.Equal(full.Length, framed.BytesConsumed);
    }

    [Fact]
    public void TryFrame_ThreeMessageTcpStream_SplitAtEveryPosition_FindsSameBoundaries()
    {
        // sip_ipv4_tcp.pcap frames 5, 7 and 9 as one TCP byte stream, with a CRLF keep-alive between two of them.
        byte[] stream = [.. SipSamples.TcpTrying, .. "\r\n\r\n"u8, .. SipSamples.TcpRinging, .. SipSamples.TcpOk];
        int[] expected = [SipSamples.TcpTrying.Length, 4 + SipSamples.TcpRinging.Length, SipSamples.TcpOk.Length];

        for (int split = 0; split <= stream.Length; split++)
        {
            Assert.Equal(expected, FrameAll(stream, [split]));
        }

        // One byte at a time.
        int[] everyByte = Enumerable.Range(1, stream.Length).ToArray();
        Assert.Equal(expected, FrameAll(stream, everyByte));
    }

    /// <summary>Feeds the stream in chunks ending at <paramref name="cuts"/>, framing as much as each arrival allows.</summary>
    private static List<int> FrameAll(byte[] stream, int[] cuts)
    {
        var frames = new List<int>();
        int consumed = 0;
        foreach (int available in cuts.Append(stream.Length))
        {
            while (true)
            {
                OperationStatus status = SipMessage.TryFrame(stream.AsSpan(consumed, available - consumed), out SipMessage framed, out SipInvalidReason reason);
                int length = framed.BytesConsumed;
                Assert.NotEqual(OperationStatus.InvalidData, status);
                if (status != OperationStatus.Done)
                {
                    break;
                }

                Assert.Equal(OperationStatus.Done, SipMessage.TryRead(stream.AsSpan(consumed, length), out SipMessage m, out _));
                Assert.Equal(length, m.BytesConsumed);
                Assert.Equal(SipInvalidReason.None, reason);
                frames.Add(length);
                consumed += length;
            }
        }

        Assert.Equal(stream.Length, consumed);
        return frames;
    }

    [Fact]
    public void Fuzz_MutatedRealMessages_NeverThrow()
    {
        var random = new Random(20240521);
        byte[] interesting = "\r\n:;,<>\"@ =/\t0123456789*-"u8.ToArray();
        byte[] buffer = new byte[4096];
        int done = 0;
        for (int iteration = 0; iteration < 10_000; iteration++)
        {
            byte[] source = s_samples[random.Next(s_samples.Length)];
            int length = source.Length;
            source.CopyTo(buffer, 0);
            int mutations = random.Next(1, 9);
            for (int k = 0; k < mutations; k++)
            {
                int at = random.Next(length);
                switch (random.Next(5))
                {
                    case 0:
                        buffer[at] = (byte)random.Next(256);
                        break;
                    case 1:
                        buffer[at] = interesting[random.Next(interesting.Length)];
                        break;
                    case 2 when length < buffer.Length - 1:
                        Array.Copy(buffer, at, buffer, at + 1, length - at);
                        buffer[at] = interesting[random.Next(interesting.Length)];
                        length++;
                        break;
                    case 3 when length > 1:
                        Array.Copy(buffer, at + 1, buffer, at, length - at - 1);
                        length--;
                        break;
                    default:
                        length = Math.Max(1, at);
                        break;
                }
            }

            done += Exercise(buffer.AsSpan(0, length));
        }

        Assert.True(done > 1000, $"only {done} mutated messages still parsed");
    }

    [Fact]
    public void Fuzz_RandomBytes_NeverThrow()
    {
        var random = new Random(7);
        byte[] buffer = new byte[512];
        for (int iteration = 0; iteration < 2_000; iteration++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            _ = Exercise(buffer.AsSpan(0, length));
        }
    }

    /// <summary>Every reader over one input; returns 1 when the SIP reader accepted it.</summary>
    private static int Exercise(ReadOnlySpan<byte> data)
    {
        _ = SipSniffer.LooksLikeSip(data);
        _ = SipMessage.TryFrame(data, out SipMessage frame, out _);
        Assert.InRange(frame.BytesConsumed, 0, data.Length);
        _ = SdpSession.TryParse(data, out _, out _);
        if (SipMessage.TryRead(data, out SipMessage m, out _) != OperationStatus.Done)
        {
            return 0;
        }

        Assert.InRange(m.BytesConsumed, 1, data.Length);
        Assert.True(m.Body.Length <= data.Length);
        _ = SipNameAddr.TryParse(m.From, out _);
        _ = SipNameAddr.TryParse(m.To, out _);
        if (SipNameAddr.TryParse(m.Contact, out SipNameAddr contact))
        {
            _ = contact.TryGetUriParameter("line"u8, out _);
            _ = contact.TryGetHeaderParameter("expires"u8, out _);
        }

        _ = m.TryGetHeader("Max-Forwards"u8, out _);
        foreach (ReadOnlySpan<byte> c in m.EnumerateHeaders("m"u8))
        {
            _ = SipNameAddr.TryParse(c, out _);
        }

        if (SipBody.TryFindSdp(m.ContentType, m.Body, out ReadOnlySpan<byte> sdp)
            && SdpSession.TryParse(sdp, out SdpSession session, out _) == OperationStatus.Done)
        {
            for (int i = 0; i < session.MediaCount; i++)
            {
                SdpMedia media = session.GetMedia(i);
                for (int c = 0; c < media.CodecCount; c++)
                {
                    _ = media.GetCodec(c);
                }
            }
        }

        return 1;
    }

    [Fact]
    public void Fuzz_Regressions()
    {
        // Shapes the mutator is prone to produce, kept as literals.
        _ = Exercise("INVITE sip:a@b SIP/2.0\r\nContact: <\r\n\r\n"u8);
        _ = Exercise("INVITE sip:a@b SIP/2.0\r\nContact: \"\\\r\n\r\n"u8);
        _ = Exercise("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:@:>;tag\r\n\r\n"u8);
        _ = Exercise("INVITE sip:a@b SIP/2.0\r\nc: multipart/mixed;boundary=-\r\n\r\n---\r\n--"u8);
        _ = Exercise("SIP/2.0 200 OK\r\nc: application/sdp\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 127 128 -1\r\na=rtpmap:127\r\na=rtpmap:127 x/\r\na=ptime:\r\n"u8);
    }

    [Fact]
    public void ParseInviteWithSdp_AllocatesNothing()
    {
        byte[] invite = SipSamples.G711Ok.ToArray();
        byte[] ipv6 = SipSamples.IPv6Invite.ToArray();
        int checksum = 0;
        void Parse(int times)
        {
            for (int i = 0; i < times; i++)
            {
                checksum += ParseAll(invite) + ParseAll(ipv6);
            }
        }

        Assert.Equal(0, Allocations.Measure(() => Parse(100), () => Parse(5000)));
        Assert.True(checksum > 0);
    }

    private static int ParseAll(ReadOnlySpan<byte> data)
    {
        if (!SipSniffer.LooksLikeSip(data)
            || SipMessage.TryRead(data, out SipMessage m, out _) != OperationStatus.Done
            || !SipNameAddr.TryParse(m.From, out SipNameAddr from)
            || !SipNameAddr.TryParse(m.To, out SipNameAddr to)
            || !SipNameAddr.TryParse(m.Contact, out SipNameAddr contact)
            || !SipBody.TryFindSdp(m.ContentType, m.Body, out ReadOnlySpan<byte> sdp)
            || SdpSession.TryParse(sdp, out SdpSession session, out _) != OperationStatus.Done
            || !session.TryGetFirstAudio(out SdpMedia audio))
        {
            return 0;
        }

        int n = 0;
        foreach (ReadOnlySpan<byte> via in m.EnumerateHeaders("Via"u8))
        {
            n += via.Length;
        }

        return n + from.Tag.Length + to.Tag.Length + contact.Port + audio.Port + audio.CodecCount;
    }
}
