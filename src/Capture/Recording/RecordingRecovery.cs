using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Capture.Calls;

namespace Capture.Recording;

/// <summary>
/// A recording whose sidecar was never written (the process was killed mid-call): its Ogg Opus file still holds the
/// call's tags and every page written up to about the last second. The sidecar is rebuilt from those, so the call is
/// found again; its end reason says what happened.
/// </summary>
public static class RecordingRecovery
{
    private const int GranuleRate = 48000;

    /// <summary>The sidecar of <paramref name="opusPath"/>, or null when the file holds no valid Opus headers.</summary>
    /// <param name="relativeFile">The audio's path under the recordings root, as sidecars name it.</param>
    public static CallSidecar? TryRecover(string opusPath, string relativeFile)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(opusPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        int preSkip = -1, inputRate = 0;
        long lastGranule = -1;
        Dictionary<string, string> tags = new(StringComparer.Ordinal);
        ReadOnlySpan<byte> rest = file;
        int page = 0;
        while (OggPage.TryVerify(rest, out int length)) // pages up to the first one cut short (or damaged)
        {
            ReadOnlySpan<byte> p = rest[..length];
            int segments = p[26];
            ReadOnlySpan<byte> body = p[(OggPage.HeaderLength + segments)..];
            if (page == 0 && body.StartsWith("OpusHead"u8) && body.Length >= 19)
            {
                preSkip = BinaryPrimitives.ReadUInt16LittleEndian(body[10..]);
                inputRate = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
            }
            else if (page == 1 && body.StartsWith("OpusTags"u8))
            {
                ReadTags(body, tags);
            }
            else if (page > 1)
            {
                long granule = BinaryPrimitives.ReadInt64LittleEndian(p[6..]);
                if (granule >= 0)
                {
                    lastGranule = granule;
                }
            }

            page++;
            rest = rest[length..];
        }

        if (preSkip < 0 || !tags.TryGetValue("RECORDING_ID", out string? id))
        {
            return null;
        }

        double media = lastGranule > preSkip ? Math.Round((double)(lastGranule - preSkip) / GranuleRate, 3) : 0;
        DateTimeOffset started = tags.TryGetValue("DATE", out string? date)
            && DateTimeOffset.TryParse(date, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out DateTimeOffset d) ? d : File.GetLastWriteTimeUtc(opusPath);
        return new CallSidecar
        {
            Id = id,
            Protocol = tags.GetValueOrDefault("PROTOCOL") ?? "unknown",
            CallId = tags.GetValueOrDefault("CALLID") ?? string.Empty,
            StartedAt = started,
            EndedAt = started.AddSeconds(media),
            DurationSeconds = media,
            MediaDurationSeconds = media,
            Parties = [Party(tags.GetValueOrDefault("LEFT"), "left"), Party(tags.GetValueOrDefault("RIGHT"), "right")],
            Codecs = [],
            Dtmf = [],
            Events = [],
            File = relativeFile,
            SampleRate = inputRate > 0 ? inputRate : null,
            Channels = 2,
            EndReason = CallEndReasons.Interrupted,
        };
    }

    /// <summary>"2001 (Alice)" or "2001", as the writer tags a party.</summary>
    private static PartySidecar Party(string? tag, string channel)
    {
        if (tag is null || tag == "unknown")
        {
            return new PartySidecar(null, null, null, null, channel, null, null, null);
        }

        int open = tag.IndexOf(" (", StringComparison.Ordinal);
        return open > 0 && tag.EndsWith(')')
            ? new PartySidecar(tag[..open], tag[(open + 2)..^1], null, null, channel, null, null, null)
            : new PartySidecar(tag, null, null, null, channel, null, null, null);
    }

    private static void ReadTags(ReadOnlySpan<byte> body, Dictionary<string, string> tags)
    {
        int at = 8;
        if (!TryLength(body, ref at, out int vendor) || (at += vendor) > body.Length || !TryLength(body, ref at, out int count))
        {
            return;
        }

        for (int i = 0; i < count; i++)
        {
            if (!TryLength(body, ref at, out int length) || at + length > body.Length)
            {
                return;
            }

            string comment = Encoding.UTF8.GetString(body.Slice(at, length));
            at += length;
            int eq = comment.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                tags[comment[..eq].ToUpperInvariant()] = comment[(eq + 1)..];
            }
        }
    }

    private static bool TryLength(ReadOnlySpan<byte> body, ref int at, out int length)
    {
        length = 0;
        if (at < 0 || at + 4 > body.Length)
        {
            return false;
        }

        uint value = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        at += 4;
        if (value > int.MaxValue)
        {
            return false;
        }

        length = (int)value;
        return true;
    }
}
