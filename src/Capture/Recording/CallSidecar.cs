using Capture.Calls;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capture.Recording;

/// <summary>The JSON sidecar beside each recording (DESIGN section 5).</summary>
public sealed class CallSidecar
{
    public required string Id { get; init; }
    public required string Protocol { get; init; }
    public required string CallId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? AnsweredAt { get; init; }
    public required DateTimeOffset EndedAt { get; init; }
    public double DurationSeconds { get; init; }
    public DateTimeOffset? MediaStartedAt { get; init; }
    public double MediaDurationSeconds { get; init; }
    public required IReadOnlyList<PartySidecar> Parties { get; init; }
    public required IReadOnlyList<string> Codecs { get; init; }
    public long Packets { get; init; }
    public long PacketsLost { get; init; }
    public long PacketsLate { get; init; }
    public long DuplicatesDropped { get; init; }

    /// <summary>
    /// Packets of the call's media not played for any other reason, by reason (<c>other-ssrc</c>,
    /// <c>unknown-payload-type</c>, <c>unsupported-codec</c>, <c>bad-payload</c>, <c>invalid-rtp</c>); only reasons that happened.
    /// </summary>
    public IReadOnlyDictionary<string, long> PacketsDropped { get; init; } = new Dictionary<string, long>();
    public required IReadOnlyList<DtmfRecord> Dtmf { get; init; }
    public required IReadOnlyList<CallEventSidecar> Events { get; init; }
    public string? File { get; init; }
    public int? SampleRate { get; init; }
    public int Channels { get; init; }
    public required string EndReason { get; init; }
    public string? SignalledEnd { get; init; }

    /// <summary>Shared by the recordings of one transfer or conference; null for a plain call.</summary>
    public string? InteractionId { get; init; }

    /// <summary>Every Call-ID this recording covers (one, unless a server gave the conversation's dialogs different ones).</summary>
    public IReadOnlyList<string> CallIds { get; init; } = [];

    /// <summary>The dialogs of a conversation that crossed a server with different Call-IDs, each with its evidence; else empty.</summary>
    public IReadOnlyList<ConversationDialog> Dialogs { get; init; } = [];

    /// <summary>The recording this one probably duplicates (a relayed dialog whose media could not be matched); else null.</summary>
    public string? CopyOf { get; init; }

    /// <summary>The recording of the call this one was transferred from; else null.</summary>
    public string? TransferredFrom { get; init; }

    /// <summary>
    /// Seconds the recording was paused (capture time, from each <c>pause</c> event to its <c>pause-end</c>); the file is
    /// silence over those spans, rounded out to whole frames. 0 when never paused.
    /// </summary>
    public double PausedSeconds { get; init; }

    /// <summary>The phones' own end-of-call statistics (Skinny), empty when none were seen.</summary>
    public IReadOnlyList<EndpointQuality> Quality { get; init; } = [];

    public static string Serialize(CallSidecar sidecar) => JsonSerializer.Serialize(sidecar, SidecarJsonContext.Default.CallSidecar);

    /// <summary>Writes the sidecar into <paramref name="directory"/> as <c>&lt;id&gt;.json</c>, atomically (a temporary file renamed over the name).</summary>
    public static void Save(string directory, CallSidecar sidecar)
    {
        Directory.CreateDirectory(directory);
        string jsonPath = Path.Combine(directory, sidecar.Id + ".json");
        string tmp = jsonPath + ".tmp";
        try
        {
            System.IO.File.WriteAllText(tmp, Serialize(sidecar));
            System.IO.File.Move(tmp, jsonPath, overwrite: true);
        }
        catch (IOException)
        {
            TryDelete(tmp); // a disk that filled mid-write: no half sidecar left beside the recording
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            System.IO.File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // nothing more to do: the retry overwrites it
        }
    }

    public static CallSidecar? Deserialize(string json) => JsonSerializer.Deserialize(json, SidecarJsonContext.Default.CallSidecar);
}

public sealed record PartySidecar(string? Extension, string? Name, string? Ip, int? Port, string Channel, string? Device, string? User, string? HostDevice)
{
    /// <summary>How the user came to be at the device: mobility, cross-cluster, explicit, hoteling-agent; null when nobody.</summary>
    public string? Login { get; init; }

    public string? RecordingGroup { get; init; }

    public static PartySidecar From(PartyInfo p, string channel) =>
        new(p.Extension, p.Name, p.Ip, p.Port, channel, p.Device, p.User, p.HostDevice) { Login = p.Login, RecordingGroup = p.RecordingGroup };
}

public sealed record DtmfRecord(string Digit, double OffsetSeconds);

public sealed record CallEventSidecar(string Type, DateTimeOffset At, double? OffsetSeconds, string? Detail)
{
    /// <summary>How long the event lasted, for events that span time (<c>write-failed</c>: the seconds of audio lost); else null.</summary>
    public double? DurationSeconds { get; init; }

    /// <summary>Who did it, for events a person causes (<c>pause</c>, <c>pause-end</c>: the API token or session name); else null.</summary>
    public string? By { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(CallSidecar))]
public sealed partial class SidecarJsonContext : JsonSerializerContext;
