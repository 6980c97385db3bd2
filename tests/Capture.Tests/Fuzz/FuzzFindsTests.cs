using System.Buffers.Binary;
using System.Text.Json;
using Capture.Calls;
using Capture.Recording;
using Capture.Rtp;
using Fuzz.Targets;

namespace Capture.Tests.Fuzz;

/// <summary>
/// What the fuzzing harness (fuzz/, README "Fuzzing") found, kept as the byte-literal input that found it, replayed through
/// the same target, and as the behaviour a user would notice. Each target throws on a crash or a broken invariant.
/// </summary>
public sealed class FuzzFindsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fuzzfinds-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// rtp target, 2026-12-04: both legs Opus, and every packet a telephone-event (PT 101, event 0x0A = '*'...). No audio
    /// started, so the media rate stayed 0 and the digit's offset was 0/0 = NaN: the sidecar serializer threw and the call's
    /// sidecar was lost.
    /// </summary>
    [Fact]
    public void RtpTarget_DtmfOnlyCallOnOpusLegs_DoesNotThrow()
    {
        byte[] input =
        [
        0x1C, 0x02, 0x00, 0x00, 0x10, 0x00, 0x80, 0xE5, 0x1F, 0x30, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x0A, 0x00, 0x00, 0x00, 0xC7,
        0x00, 0x10, 0x00, 0x80, 0x65, 0x1F, 0x31, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x0A, 0x01, 0x40, 0x00, 0xC6, 0x00, 0x10, 0x00,
        0x80, 0x65, 0x1F, 0x32, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x0A, 0x02, 0x80, 0x00, 0xC8, 0x00, 0x10, 0x00, 0x80, 0x65, 0x1F,
        0x33, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x0A, 0x03, 0xC0, 0x00, 0xC8, 0x00, 0x10, 0x00, 0x80, 0x65, 0x1F, 0x34, 0x00, 0x00,
        0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x0A, 0x05, 0x00, 0x00, 0xC7, 0x00, 0x10, 0x00, 0x80, 0x65, 0x1F, 0x35, 0x00, 0x00, 0x33, 0xE0, 0x0E,
        0x05, 0x38, 0x4E, 0x01, 0x0A, 0x06, 0x40, 0x00, 0xC7, 0x00, 0x10, 0x00, 0x80, 0x65, 0x1F, 0x36, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E,
        0x01, 0x0A, 0x07, 0x80, 0x00, 0xC7, 0x00, 0x10, 0x00, 0x80, 0x65, 0x1F, 0x37, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x8A, 0x08,
        0xC0, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x65, 0x1F, 0x37, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x8A, 0x08, 0xC0, 0x00, 0x00,
        0x00, 0x10, 0x00, 0x80, 0x65, 0x1F, 0x37, 0x00, 0x00, 0x33, 0xE0, 0x0E, 0x05, 0x38, 0x4E, 0x01, 0x8A, 0x08, 0xC0,
        ];
        using var target = new RtpTarget();
        target.Execute(input);
    }

    [Fact]
    public void CallRecording_WhoseOnlyRtpIsTelephoneEvents_WritesItsSidecarWithTheDigitAtTheStart()
    {
        var map = new PayloadMap();
        map.Set(8, AudioCodec.Pcma, 8000);
        map.Set(101, AudioCodec.TelephoneEvent, 8000);
        var metadata = new CallMetadata
        {
            Protocol = "sip", CallId = "dtmf-only", StartedAt = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
            Left = new PartyInfo { Extension = "1000" }, Right = new PartyInfo { Extension = "2000" },
        };
        long t0 = 1_700_000_000_000_000_000;
        CallSidecar sidecar;
        string json;
        using (var recording = new CallRecording("dtmf-only", metadata, new RecordingOptions { OutputDirectory = _directory }))
        {
            recording.SetPayloadMap(Channel.Left, map);
            for (int i = 0; i < 4; i++)
            {
                // RFC 4733 event 5 ('5'), volume 10, growing duration; the last one has the end bit.
                byte[] rtp = new byte[16];
                rtp[0] = 0x80;
                rtp[1] = 101;
                BinaryPrimitives.WriteUInt16BigEndian(rtp.AsSpan(2), (ushort)(100 + i));
                BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(4), 8000);
                BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(8), 0x1234);
                rtp[12] = 5;
                rtp[13] = (byte)((i == 3 ? 0x80 : 0) | 10);
                BinaryPrimitives.WriteUInt16BigEndian(rtp.AsSpan(14), (ushort)(160 * (i + 1)));
                recording.OnRtp(Channel.Left, t0 + (i * 20_000_000L), rtp);
            }

            sidecar = recording.Finish(CallEndReasons.Bye, t0 + 1_000_000_000);
            json = Path.Combine(_directory, recording.RelativeDirectory, "dtmf-only.json");
        }

        Assert.True(File.Exists(json), "the sidecar is written");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement dtmf = Assert.Single(doc.RootElement.GetProperty("dtmf").EnumerateArray());
        Assert.Equal("5", dtmf.GetProperty("digit").GetString());
        Assert.Equal(0, dtmf.GetProperty("offsetSeconds").GetDouble());
        Assert.Equal(0, sidecar.MediaDurationSeconds);
    }
}
