using System.Globalization;
using System.Text.Json;
using Appliance.Service;
using Capture.Recording;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Endpoints;

/// <summary>
/// An in-memory index of the recordings' sidecars: the recordings root is scanned in the background at start
/// (&lt;root&gt;/yyyy/MM/dd/&lt;uuid&gt;.json), and every recording written since is added from the runtime's
/// recording.written notices. Files are only ever reached through this index, by a UUID: a path is never built from
/// a request.
/// </summary>
internal sealed partial class RecordingCatalog(ApplianceRuntime runtime, ILogger<RecordingCatalog> log) : IHostedService, IDisposable
{
    private readonly Lock _gate = new();

    // Ordered by (StartedAt, Id): a time range is a binary search, newest first a walk backwards.
    private readonly List<Entry> _byStart = [];
    private readonly Dictionary<Guid, Entry> _byId = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _root = Path.GetFullPath(runtime.Settings.Recordings);
    private readonly DateTime _startedAt = DateTime.UtcNow;
    private Task _scan = Task.CompletedTask;
    private volatile bool _indexing;

    /// <summary>One recording: its summary and the folder holding its files.</summary>
    public sealed record Entry(Guid Id, RecordingSummary Summary, string Folder)
    {
        public string SidecarPath => Path.Combine(Folder, Summary.Id + ".json");

        public string AudioPath => Path.Combine(Folder, Summary.Id + ".opus");
    }

    /// <summary>The start-up scan is still running: older recordings may be missing from results.</summary>
    public bool Indexing => _indexing;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Notices first, so nothing written during the scan is missed (the index ignores a second sighting).
        runtime.CallNotice += OnCallNotice;
        _indexing = true;
        _scan = Task.Run(Scan, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        runtime.CallNotice -= OnCallNotice;
        await _stop.CancelAsync();
        await _scan.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public bool TryGet(Guid id, out Entry? entry)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(id, out entry);
        }
    }

    /// <summary>Recordings started in [<paramref name="from"/>, <paramref name="to"/>) matching every filter given, newest first.</summary>
    public List<RecordingSummary> Search(DateTimeOffset? from, DateTimeOffset? to, string? extension, string? user, string? device, string? callId, int limit)
    {
        var found = new List<RecordingSummary>(Math.Min(limit, 256));
        lock (_gate)
        {
            int end = to is { } t ? LowerBound(t) : _byStart.Count;
            for (int i = end - 1; i >= 0 && found.Count < limit; i--)
            {
                RecordingSummary s = _byStart[i].Summary;
                if (from is { } f && s.StartedAt < f)
                {
                    break;
                }

                if ((callId is null || s.CallId == callId)
                    && (extension is null || s.Parties.Any(p => p.Extension == extension))
                    && (user is null || s.Parties.Any(p => p.User == user))
                    && (device is null || s.Parties.Any(p => p.Device == device || p.HostDevice == device)))
                {
                    found.Add(s);
                }
            }
        }

        return found;
    }

    // The first index whose recording started at or after `at`.
    private int LowerBound(DateTimeOffset at)
    {
        int lo = 0, hi = _byStart.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_byStart[mid].Summary.StartedAt < at)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private void OnCallNotice(CallNotice notice)
    {
        if (notice.Kind != "recording.written" || notice.Sidecar is not { } sidecar || !Guid.TryParseExact(sidecar.Id, "D", out Guid id))
        {
            return;
        }

        // The sidecar sits where the recorder put the audio, else under the call's start day (as the recorder does).
        string relative = sidecar.File is { } file && Path.GetDirectoryName(file) is { Length: > 0 } dir
            ? dir
            : Path.Combine(Day(sidecar.StartedAt, "yyyy"), Day(sidecar.StartedAt, "MM"), Day(sidecar.StartedAt, "dd"));
        string folder = Path.GetFullPath(Path.Combine(_root, relative));
        if (folder.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            Add(new Entry(id, RecordingSummary.From(sidecar), folder));
        }
    }

    private static string Day(DateTimeOffset at, string format) => at.UtcDateTime.ToString(format, CultureInfo.InvariantCulture);

    private void Add(Entry entry)
    {
        lock (_gate)
        {
            if (!_byId.TryAdd(entry.Id, entry))
            {
                return;
            }

            int at = LowerBound(entry.Summary.StartedAt);
            while (at < _byStart.Count && _byStart[at].Summary.StartedAt == entry.Summary.StartedAt && _byStart[at].Id.CompareTo(entry.Id) < 0)
            {
                at++;
            }

            _byStart.Insert(at, entry);
        }
    }

    private void Scan()
    {
        int added = 0, unreadable = 0, recovered = 0;
        try
        {
            if (!Directory.Exists(_root))
            {
                return;
            }

            CancellationToken ct = _stop.Token;
            foreach (string year in Children(_root, 4))
            {
                foreach (string month in Children(year, 2))
                {
                    foreach (string day in Children(month, 2))
                    {
                        recovered += RecoverInterrupted(year, month, day);
                        foreach (string path in Directory.EnumerateFiles(day, "*.json"))
                        {
                            ct.ThrowIfCancellationRequested();
                            if (!Guid.TryParseExact(Path.GetFileNameWithoutExtension(path), "D", out Guid id) || TryGet(id, out _))
                            {
                                continue;
                            }

                            if (Read(path) is { } sidecar && Guid.TryParseExact(sidecar.Id, "D", out Guid inside) && inside == id)
                            {
                                Add(new Entry(id, RecordingSummary.From(sidecar), day));
                                added++;
                            }
                            else
                            {
                                unreadable++;
                            }
                        }
                    }
                }
            }

            LogScanned(_root, added, unreadable);
            if (recovered > 0)
            {
                LogRecovered(_root, recovered);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogScanFailed(_root, ex.Message);
        }
        finally
        {
            _indexing = false;
        }
    }

    /// <summary>
    /// Audio without a sidecar is a call the appliance did not finalise (killed mid-call): its sidecar is rebuilt from
    /// the file's tags and pages (end reason <c>interrupted</c>) so it is indexed and listed like any other.
    /// </summary>
    private int RecoverInterrupted(string year, string month, string day)
    {
        int recovered = 0;
        foreach (string audio in Directory.EnumerateFiles(day, "*.opus"))
        {
            string id = Path.GetFileNameWithoutExtension(audio);
            if (!Guid.TryParseExact(id, "D", out _) || File.Exists(Path.ChangeExtension(audio, ".json"))
                || File.GetLastWriteTimeUtc(audio) >= _startedAt)
            {
                continue; // finalised, or a call this process is recording now
            }

            string relative = Path.Combine(Path.GetFileName(year), Path.GetFileName(month), Path.GetFileName(day), id + ".opus");
            if (RecordingRecovery.TryRecover(audio, relative) is { } sidecar && sidecar.Id == id)
            {
                try
                {
                    CallSidecar.Save(day, sidecar);
                    recovered++;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // One folder that cannot be written must not stop the index: the recording is tried again at the next start.
                }
            }
        }

        return recovered;
    }

    // Sub-folders named by `digits` digits (yyyy, MM, dd): anything else under the root is not the recorder's.
    private static IEnumerable<string> Children(string folder, int digits) =>
        Directory.EnumerateDirectories(folder)
            .Where(d => Path.GetFileName(d) is { } name && name.Length == digits && name.All(char.IsAsciiDigit))
            .Order(StringComparer.Ordinal);

    private static CallSidecar? Read(string path)
    {
        try
        {
            return CallSidecar.Deserialize(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public void Dispose() => _stop.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "recordings under {Root} indexed: {Added} recording(s), {Unreadable} unreadable sidecar(s) skipped")]
    private partial void LogScanned(string root, int added, int unreadable);

    [LoggerMessage(Level = LogLevel.Warning, Message = "recordings under {Root}: {Count} call(s) not finalised before the last stop (killed?) recovered from their audio, end reason interrupted")]
    private partial void LogRecovered(string root, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "indexing the recordings under {Root} stopped: {Error}")]
    private partial void LogScanFailed(string root, string error);
}
