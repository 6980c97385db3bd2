namespace Capture.Recording;

/// <summary>What an episode of failed writes cost, told when writing works again (or at shutdown if it never did).</summary>
/// <param name="Duration">From the first failed write to the write that ended the episode (or to shutdown).</param>
/// <param name="Recordings">Recordings that lost audio pages in the episode.</param>
/// <param name="Pages">Audio pages that could not be written, and their bytes.</param>
/// <param name="Sidecars">Sidecars that could not be written when their call ended (kept and retried).</param>
/// <param name="FirstError">The error of the first failed write.</param>
public readonly record struct RecordingWriteEpisode(TimeSpan Duration, int Recordings, long Pages, long Bytes, int Sidecars, string FirstError);

/// <summary>Told about the recordings folder's episodes of failed writes, once each (never per page); any thread, must be quick.</summary>
public interface IRecordingDiskListener
{
    /// <summary>Writes started failing (the first failed write of an episode).</summary>
    void WritesFailing(string folder, string error);

    /// <summary>Writes work again: no write failed for <see cref="RecordingDisk.QuietPeriod"/> and one succeeded.</summary>
    void WritesRecovered(string folder, RecordingWriteEpisode episode);

    /// <summary>At shutdown, writes were still failing.</summary>
    void WritesStillFailing(string folder, RecordingWriteEpisode episode);

    /// <summary>At shutdown, a call's sidecar still could not be written: the last word on it (its content goes with it).</summary>
    void SidecarNotWritten(string path, CallSidecar sidecar, string error);
}

/// <summary>
/// The recordings folder as the media workers see it: each page or sidecar write reports here, and an episode of
/// failed writes (a full disk, an I/O error, a folder that cannot be created) is told once when it starts and once when
/// it ends. Shared by every worker (and every capture source) that writes into the folder. A success while writes
/// keep failing elsewhere (a page that fits the slack of a file's last block on a full disk) does not end the episode:
/// it ends at the first success after <see cref="QuietPeriod"/> without a failure. Reports come at page rate (about once
/// a second per call), never per packet; a success outside an episode costs one volatile read.
/// </summary>
public sealed class RecordingDisk(string folder, IRecordingDiskListener? listener = null, TimeProvider? time = null)
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly HashSet<string> _recordings = new(StringComparer.Ordinal);
    private readonly HashSet<string> _sidecars = new(StringComparer.Ordinal);
    private volatile bool _failing;
    private long _startedAt;
    private long _lastFailure;
    private long _lastSuccess;
    private long _pages;
    private long _bytes;
    private string _firstError = "";

    /// <summary>The recordings root, as logs name it.</summary>
    public string Folder { get; } = folder;

    /// <summary>The clock of episodes and of the workers' sidecar retries.</summary>
    public TimeProvider Time => _time;

    /// <summary>How long writes must go without a failure before a success ends an episode.</summary>
    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>An episode is open: the last writes failed (metrics: 1 while failing).</summary>
    public bool Failing => _failing;

    /// <summary>Episodes so far (each told once to the listener).</summary>
    public int Episodes { get; private set; }

    /// <summary>A page or sidecar was written.</summary>
    public void Succeeded()
    {
        if (!_failing)
        {
            return;
        }

        lock (_gate)
        {
            if (!_failing)
            {
                return;
            }

            long now = _time.GetTimestamp();
            _lastSuccess = now;
            if (_time.GetElapsedTime(_lastFailure, now) >= QuietPeriod)
            {
                _failing = false;
                listener?.WritesRecovered(Folder, Summary(now));
            }
        }
    }

    /// <summary>Audio pages of <paramref name="recordingId"/> could not be written.</summary>
    public void PagesFailed(string recordingId, Exception error, int pages, long bytes)
    {
        lock (_gate)
        {
            Failure(error);
            _recordings.Add(recordingId);
            _pages += pages;
            _bytes += bytes;
        }
    }

    /// <summary>The sidecar of <paramref name="recordingId"/> could not be written (counted once per recording per episode).</summary>
    public void SidecarFailed(string recordingId, Exception error)
    {
        lock (_gate)
        {
            Failure(error);
            _sidecars.Add(recordingId);
        }
    }

    /// <summary>At shutdown: a sidecar that could not be written even then.</summary>
    public void SidecarLost(string path, CallSidecar sidecar, Exception error) => listener?.SidecarNotWritten(path, sidecar, error.Message);

    /// <summary>At shutdown: an episode still open is told, as ended if writes worked since its last failure.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (!_failing)
            {
                return;
            }

            _failing = false;
            long now = _time.GetTimestamp();
            if (_lastSuccess > _lastFailure)
            {
                listener?.WritesRecovered(Folder, Summary(now));
            }
            else
            {
                listener?.WritesStillFailing(Folder, Summary(now));
            }
        }
    }

    private void Failure(Exception error)
    {
        long now = _time.GetTimestamp();
        _lastFailure = now;
        if (_failing)
        {
            return;
        }

        _failing = true;
        Episodes++;
        _startedAt = now;
        _recordings.Clear();
        _sidecars.Clear();
        _pages = 0;
        _bytes = 0;
        _firstError = error.Message;
        listener?.WritesFailing(Folder, error.Message);
    }

    private RecordingWriteEpisode Summary(long now) =>
        new(_time.GetElapsedTime(_startedAt, now), _recordings.Count, _pages, _bytes, _sidecars.Count, _firstError);
}
