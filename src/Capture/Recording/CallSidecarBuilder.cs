using Capture.Calls;
using Capture.Packets;
using Capture.Rtp;

namespace Capture.Recording;

/// <summary>Where a recording's audio starts (capture time), its sample rate and how many samples per channel were written.</summary>
internal readonly record struct MediaSpan(long OriginNs, int Rate, long SamplesWritten);

/// <summary>
/// Builds and writes a call's JSON sidecar (DESIGN section 5): what the signalling said (metadata, events, DTMF sent in
/// signalling), what the media legs counted, and why the call ended. Worker thread only.
/// </summary>
internal sealed class CallSidecarBuilder
{
    private readonly List<CallEventRecord> _events = [];
    private readonly List<(char Digit, long AtNs)> _signalledDtmf = [];

    public void AddEvent(string type, long atNs, string? detail, double? durationSeconds = null, string? by = null)
    {
        if (type == CallEventTypes.Dtmf && detail is { Length: 1 })
        {
            _signalledDtmf.Add((detail[0], atNs)); // a key press sent in signalling (Skinny KeypadButton), not in RTP
            return;
        }

        _events.Add(new CallEventRecord(type, atNs, detail, durationSeconds, by));
    }

    // Sidecar names of the drop reasons (kebab-case, like every other vocabulary in the sidecar).
    private static readonly string[] s_dropNames = [.. Enum.GetNames<LegDropReason>().Select(KebabCase)];

    private static string KebabCase(string pascal) => string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>The sidecar of a finished call: <paramref name="media"/> says where its audio starts and how much was written.</summary>
    /// <param name="spoolDropped">Packets dropped before they reached the legs: the worker was behind and its spool full.</param>
    public CallSidecar Build(string id, CallMetadata metadata, string endReason, long endNs, MediaSpan media, IReadOnlyList<MediaLeg> legs, string? file, long spoolDropped = 0, double pausedSeconds = 0)
    {
        long originNs = media.OriginNs;
        int rate = media.Rate;
        DateTimeOffset ended = CaptureTime.ToDateTime(endNs);
        if (ended < metadata.StartedAt)
        {
            ended = metadata.StartedAt;
        }

        List<DtmfRecord> dtmf = [];
        // What was received; a call without media lists what its signalling chose (the first codec of each SDP).
        SortedSet<string> codecs = new(StringComparer.Ordinal);

        long packets = 0, lost = 0, duplicates = 0, late = 0;
        Dictionary<string, long> dropped = new(StringComparer.Ordinal);
        foreach (MediaLeg leg in legs)
        {
            packets += leg.Packets;
            lost += leg.Lost;
            duplicates += leg.DropCount(LegDropReason.Duplicate);
            late += leg.DropCount(LegDropReason.Late);
            for (var reason = LegDropReason.OtherSsrc; reason < LegDropReason.Count; reason++)
            {
                if (leg.DropCount(reason) > 0)
                {
                    string name = s_dropNames[(int)reason];
                    dropped[name] = dropped.GetValueOrDefault(name) + leg.DropCount(reason);
                }
            }

            foreach (AudioCodec c in leg.CodecsSeen)
            {
                codecs.Add(c.Name());
            }

            foreach ((char digit, long position) in leg.Dtmf)
            {
                // Without a rate no audio was written (only events, or no codec to decode): the digit is at the start,
                // not at NaN seconds, which JSON cannot hold (the sidecar was lost; found by fuzzing).
                dtmf.Add(new DtmfRecord(digit.ToString(), rate > 0 ? Math.Round((double)position / rate, 3) : 0));
            }
        }

        if (spoolDropped > 0)
        {
            dropped[CallEventTypes.SpoolFull] = spoolDropped;
        }

        if (codecs.Count == 0)
        {
            codecs.UnionWith(metadata.Codecs);
        }

        foreach ((char digit, long atNs) in _signalledDtmf)
        {
            double offset = originNs >= 0 ? Math.Max(0, Math.Round((atNs - originNs) / 1e9, 3)) : 0;
            if (!dtmf.Exists(d => d.Digit[0] == digit && Math.Abs(d.OffsetSeconds - offset) < 0.5))
            {
                dtmf.Add(new DtmfRecord(digit.ToString(), offset)); // the same key also sent as RFC 4733 counts once
            }
        }

        dtmf.Sort((a, b) => a.OffsetSeconds.CompareTo(b.OffsetSeconds));
        List<CallEventSidecar> events = [];
        foreach (CallEventRecord e in _events)
        {
            double? offset = originNs >= 0 ? Math.Round((e.AtNs - originNs) / 1e9, 3) : null;
            events.Add(new CallEventSidecar(e.Type, CaptureTime.ToDateTime(e.AtNs), offset, e.Detail) { DurationSeconds = e.DurationSeconds, By = e.By });
        }

        return new CallSidecar
        {
            Id = id,
            Protocol = metadata.Protocol,
            CallId = metadata.CallId,
            StartedAt = metadata.StartedAt,
            AnsweredAt = metadata.AnsweredAt,
            EndedAt = ended,
            DurationSeconds = Math.Round((ended - metadata.StartedAt).TotalSeconds, 3),
            MediaStartedAt = originNs >= 0 ? CaptureTime.ToDateTime(originNs) : null,
            MediaDurationSeconds = rate > 0 ? Math.Round((double)media.SamplesWritten / rate, 3) : 0,
            Parties =
            [
                PartySidecar.From(metadata.Left, "left"),
                PartySidecar.From(metadata.Right, "right"),
            ],
            Codecs = [.. codecs],
            Packets = packets,
            PacketsLost = lost,
            PacketsLate = late,
            DuplicatesDropped = duplicates,
            PacketsDropped = dropped,
            Dtmf = dtmf,
            Events = events,
            File = file,
            SampleRate = rate > 0 ? rate : null,
            Channels = file is null ? 0 : 2,
            // Without media, say why: a cancelled, rejected or never answered call explains itself; an answered one had
            // no RTP we could record. (Media that was seen but could not be written is a write-failed event, not no-media.)
            EndReason = file is null && originNs < 0 && metadata.AnsweredAt is not null && endReason is CallEndReasons.Bye or CallEndReasons.Hangup or CallEndReasons.Timeout or CallEndReasons.CaptureEnded ? CallEndReasons.NoMedia : endReason,
            SignalledEnd = endReason,
            InteractionId = metadata.InteractionId,
            CallIds = metadata.Dialogs.Count > 0 ? metadata.Dialogs.Select(d => d.CallId).ToArray() : [metadata.CallId],
            Dialogs = metadata.Dialogs,
            CopyOf = metadata.CopyOf,
            TransferredFrom = metadata.TransferredFrom,
            Quality = metadata.Quality,
            PausedSeconds = pausedSeconds,
        };
    }

    private readonly record struct CallEventRecord(string Type, long AtNs, string? Detail, double? DurationSeconds, string? By);
}
