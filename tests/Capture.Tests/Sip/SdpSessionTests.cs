using System.Buffers;
using System.Text;
using Capture.Packets;
using Capture.Rtp;
using Capture.Sip;

namespace Capture.Tests.Sip;

public class SdpSessionTests
{
    private static IpAddress16 Ip(string s)
    {
        Assert.True(IpAddress16.TryParse(Encoding.ASCII.GetBytes(s), out IpAddress16 a));
        return a;
    }

    private static SdpSession ParseSdpOf(ReadOnlySpan<byte> sipMessage)
    {
        Assert.Equal(OperationStatus.Done, SipMessage.TryRead(sipMessage, out SipMessage m, out _));
        Assert.True(SipBody.TryFindSdp(m.ContentType, m.Body, out ReadOnlySpan<byte> sdp));
        Assert.Equal(OperationStatus.Done, SdpSession.TryParse(sdp, out SdpSession session, out SdpInvalidReason reason));
        Assert.Equal(SdpInvalidReason.None, reason);
        return session;
    }

    [Fact]
    public void TryParse_G711Ok_CodecListInOrderWithLowerCaseRtpmap()
    {
        SdpSession s = ParseSdpOf(SipSamples.G711Ok);
        Assert.Equal(13004970UL, s.OriginSessionId);
        Assert.Equal(13013442UL, s.OriginVersion);
        Assert.True(s.HasSessionConnection);
        Assert.Equal(Ip("200.57.7.204"), s.SessionConnection);
        Assert.Equal(1, s.MediaCount);
        Assert.True(s.TryGetFirstAudio(out SdpMedia audio));
        Assert.Equal(SdpMediaKind.Audio, audio.Kind);
        Assert.Equal(8000, audio.Port);
        Assert.True(audio.IsRtp);
        Assert.False(audio.IsT38);
        Assert.True(audio.HasConnection);
        Assert.Equal(Ip("200.57.7.204"), audio.Connection);
        Assert.Equal(MediaDirection.SendRecv, audio.Direction);
        Assert.Equal(0, audio.PtimeMs);
        Assert.Equal(6, audio.CodecCount);
        byte[] pts = [8, 0, 3, 98, 97, 101];
        AudioCodec[] codecs = [AudioCodec.Pcma, AudioCodec.Pcmu, AudioCodec.Unknown, AudioCodec.Unknown, AudioCodec.Unknown, AudioCodec.TelephoneEvent];
        for (int i = 0; i < pts.Length; i++)
        {
            SdpCodec c = audio.GetCodec(i);
            Assert.Equal(pts[i], c.PayloadType);
            Assert.Equal(codecs[i], c.Codec);
            Assert.Equal(8000, c.ClockRate);
            Assert.Equal(1, c.Channels);
            Assert.True(c.HasRtpMap);
        }

        Assert.True(audio.TryGetCodec(101, out SdpCodec dtmf));
        Assert.Equal(AudioCodec.TelephoneEvent, dtmf.Codec);
        Assert.False(audio.TryGetCodec(18, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => audio.GetCodec(6));
    }

    [Fact]
    public void TryParse_G711Invite_SendRecvAttributeIsCaseInsensitive()
    {
        SdpSession s = ParseSdpOf(SipSamples.G711Invite);
        SdpMedia m = s.GetMedia(0);
        Assert.Equal(40376, m.Port);
        Assert.Equal(Ip("200.57.7.196"), m.Connection);
        Assert.Equal(4, m.CodecCount);
        Assert.Equal(AudioCodec.G729, m.GetCodec(1).Codec);
        Assert.Equal(MediaDirection.SendRecv, m.Direction);
    }

    [Fact]
    public void TryParse_SessionProgress_PtimeAndChannels()
    {
        SdpSession s = ParseSdpOf(SipSamples.AaaSessionProgress);
        Assert.Equal(112047106116UL, s.OriginSessionId);
        Assert.True(s.TryGetFirstAudio(out SdpMedia m));
        Assert.Equal(40392, m.Port);
        Assert.Equal(20, m.PtimeMs);
        Assert.Equal(Ip("212.242.33.36"), m.Connection);
        Assert.Equal(2, m.CodecCount);
        Assert.Equal(AudioCodec.Pcma, m.GetCodec(0).Codec);
        Assert.Equal(1, m.GetCodec(0).Channels);
    }

    [Fact]
    public void TryParse_OpusInvite_DynamicPayloadTypeAndRecvOnly()
    {
        SdpSession s = ParseSdpOf(SipSamples.OpusInvite);
        Assert.True(s.TryGetFirstAudio(out SdpMedia m));
        Assert.Equal(6000, m.Port);
        Assert.Equal(MediaDirection.RecvOnly, m.Direction);
        Assert.Equal(MediaDirection.SendRecv, s.SessionDirection);
        Assert.True(m.TryGetCodec(99, out SdpCodec opus));
        Assert.Equal(AudioCodec.Opus, opus.Codec);
        Assert.Equal(48000, opus.ClockRate);
        Assert.Equal(2, opus.Channels);
    }

    [Fact]
    public void TryParse_IPv6Invite_ConnectionIsIPv6()
    {
        SdpSession s = ParseSdpOf(SipSamples.IPv6Invite);
        Assert.Equal(Ip("fe80::21a:a0ff:fe07:32e0"), s.SessionConnection);
        Assert.False(s.SessionConnection.IsIPv4);
        Assert.True(s.TryGetFirstAudio(out SdpMedia m));
        Assert.Equal(5008, m.Port);
        Assert.Equal(AudioCodec.Pcmu, m.GetCodec(0).Codec);
        Assert.Equal(1, m.GetCodec(0).Channels);
    }

    [Fact]
    public void TryParse_FaxReInvite_T38Image()
    {
        SdpSession s = ParseSdpOf(SipSamples.FaxT38ReInvite);
        Assert.Equal(1, s.MediaCount);
        SdpMedia m = s.GetMedia(0);
        Assert.Equal(SdpMediaKind.Image, m.Kind);
        Assert.True(m.IsT38);
        Assert.False(m.IsRtp);
        Assert.Equal(15580, m.Port);
        Assert.Equal(0, m.CodecCount);
        Assert.Equal(Ip("138.132.169.101"), m.Connection);
        Assert.False(s.TryGetFirstAudio(out _));
    }

    [Fact]
    public void TryParse_TcpOk_StaticPayloadTypesWithoutRtpmap()
    {
        SdpSession s = ParseSdpOf(SipSamples.TcpOk);
        Assert.True(s.TryGetFirstAudio(out SdpMedia m));
        Assert.Equal(6050, m.Port);
        Assert.Equal(3, m.CodecCount);
        SdpCodec cn = m.GetCodec(1);
        Assert.Equal(13, cn.PayloadType);
        Assert.Equal(AudioCodec.ComfortNoise, cn.Codec);
        Assert.Equal(8000, cn.ClockRate);
        Assert.False(cn.HasRtpMap);
        Assert.Equal(20, m.PtimeMs);
    }

    [Fact]
    public void TryParse_HoldAndDirectionOverride_LfOnly()
    {
        ReadOnlySpan<byte> sdp =
            "v=0\n"u8 +
            "o=- 1 2 IN IP4 10.0.0.1\n"u8 +
            "s=-\n"u8 +
            "c=IN IP4 0.0.0.0\n"u8 +
            "t=0 0\n"u8 +
            "a=sendonly\n"u8 +
            "m=audio 4000 RTP/SAVP 0\n"u8 +
            "m=audio 4002 RTP/AVP 8\n"u8 +
            "a=inactive\n"u8 +
            "m=video 0 RTP/AVPF 96\n"u8 +
            "a=rtpmap:96 H264/90000\n"u8 +
            "c=IN IP4 10.9.9.9/127\n"u8 +
            "x-unknown line\n"u8 +
            "m=application 5000 UDP/BFCP *"u8;
        Assert.Equal(OperationStatus.Done, SdpSession.TryParse(sdp, out SdpSession s, out _));
        Assert.Equal(4, s.MediaCount);
        Assert.Equal(MediaDirection.SendOnly, s.SessionDirection);
        SdpMedia first = s.GetMedia(0);
        Assert.True(first.IsRtp);
        Assert.True(first.IsSecure); // RTP/SAVP: encrypted payloads
        Assert.False(s.GetMedia(1).IsSecure);
        Assert.Equal(MediaDirection.SendOnly, first.Direction);
        Assert.Equal(Ip("0.0.0.0"), first.Connection); // old-style hold stays visible
        Assert.Equal(MediaDirection.Inactive, s.GetMedia(1).Direction);
        SdpMedia video = s.GetMedia(2);
        Assert.Equal(SdpMediaKind.Video, video.Kind);
        Assert.Equal(0, video.Port);
        Assert.Equal(90000, video.GetCodec(0).ClockRate);
        Assert.Equal(Ip("10.9.9.9"), video.Connection);
        SdpMedia app = s.GetMedia(3);
        Assert.Equal(SdpMediaKind.Application, app.Kind);
        Assert.False(app.IsRtp);
        Assert.Equal(0, app.CodecCount);
        Assert.True(s.TryGetFirstAudio(out SdpMedia audio));
        Assert.Equal(4000, audio.Port);
    }

    [Fact]
    public void TryParse_CapacityLimits_DropExtrasWithoutFailing()
    {
        var sb = new StringBuilder("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1000 RTP/AVP");
        for (int pt = 0; pt < 20; pt++)
        {
            sb.Append(' ').Append(pt + 96);
        }

        sb.Append("\r\n");
        for (int i = 0; i < 10; i++)
        {
            sb.Append("m=audio ").Append(2000 + i).Append(" RTP/AVP 0\r\na=recvonly\r\n");
        }

        Assert.Equal(OperationStatus.Done, SdpSession.TryParse(Encoding.ASCII.GetBytes(sb.ToString()), out SdpSession s, out _));
        Assert.Equal(SdpSession.MaxMedia, s.MediaCount);
        Assert.True(s.MediaTruncated);
        Assert.Equal(SdpMedia.MaxCodecs, s.GetMedia(0).CodecCount);
        Assert.True(s.GetMedia(0).CodecsTruncated);
        Assert.Equal(MediaDirection.SendRecv, s.GetMedia(0).Direction);
        Assert.Equal(MediaDirection.SendRecv, s.SessionDirection); // a=recvonly of dropped sections never leaks to the session
        SdpMedia only = s.GetMedia(0);
        Assert.Throws<ArgumentOutOfRangeException>(() => only.GetCodec(SdpMedia.MaxCodecs));
    }

    [Theory]
    [InlineData("", SdpInvalidReason.Empty)]
    [InlineData("\r\n\r\n", SdpInvalidReason.Empty)]
    [InlineData("o=- 1 1 IN IP4 1.1.1.1\r\n", SdpInvalidReason.NotSdp)]
    [InlineData("v=0\r\nm=audio\r\n", SdpInvalidReason.BadMedia)]
    [InlineData("v=0\r\nm=audio 70000 RTP/AVP 0\r\n", SdpInvalidReason.BadMedia)]
    [InlineData("v=0\r\nm=audio x RTP/AVP 0\r\n", SdpInvalidReason.BadMedia)]
    public void TryParse_RejectsMalformed(string text, SdpInvalidReason expected)
    {
        Assert.Equal(OperationStatus.InvalidData, SdpSession.TryParse(Encoding.ASCII.GetBytes(text), out _, out SdpInvalidReason reason));
        Assert.Equal(expected, reason);
    }
}
