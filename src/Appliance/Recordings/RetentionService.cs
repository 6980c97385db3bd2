using System.Globalization;
using Appliance.Endpoints;
using Appliance.Service;
using Capture.Bindings.Config;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Recordings;

/// <summary>
/// Retention (README "Retention and legal hold"): a pass at start (once the index is built) and every
/// <see cref="RetentionSettings.IntervalSeconds"/>, off the capture path, in batches read from the index oldest first.
/// First keep-days: a recording older than the keep-days of its recording groups (the longest of its parties' groups;
/// <see cref="RetentionSettings.DefaultKeepDays"/> when none says; 0 keeps forever) is deleted. Then the low-water mark:
/// while free space on the recordings' filesystem is below the mark, the oldest recordings go first until free space
/// is <see cref="RetentionSettings.HysteresisPercent"/> above it. Never a recording under legal hold, never a call in
/// progress (nor anything without a sidecar: only indexed recordings are candidates). Each deletion is an audit entry.
/// </summary>
internal sealed partial class RetentionService(ApplianceRuntime runtime, RecordingCatalog catalog, AuditLog audit, ILogger<RetentionService> log) : BackgroundService
{
    /// <summary>The actor of retention's audit entries (role "system").</summary>
    public const string Actor = "retention";

    // At start the directory (whose recording groups say keep-days) opens with capture: waited for this long at most.
    private static readonly TimeSpan DirectoryWait = TimeSpan.FromSeconds(60);

    private readonly RetentionSettings _settings = runtime.Settings.Retention;
    private readonly string _root = Path.GetFullPath(runtime.Settings.Recordings);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            DateTime waitUntil = DateTime.UtcNow + DirectoryWait;
            while (catalog.Indexing || (runtime.Directory is null && DateTime.UtcNow < waitUntil))
            {
                await Task.Delay(200, stoppingToken);
            }

            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_settings.IntervalSeconds));
            do
            {
                await Task.Run(() => Pass(stoppingToken), stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One pass: keep-days, then the low-water mark. Failures are logged and tried again at the next pass.</summary>
    internal void Pass(CancellationToken ct)
    {
        try
        {
            int byAge = ExpireByAge(DateTimeOffset.UtcNow, ct);
            int byDisk = FreeToLowWater(ct);
            if (byAge + byDisk > 0)
            {
                LogPass(_root, byAge, byDisk, runtime.Retention.BytesFreed);
            }
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            LogPassFailed(_root, ex.Message);
        }
    }

    private int ExpireByAge(DateTimeOffset now, CancellationToken ct)
    {
        if (runtime.Directory?.Config is not { } config)
        {
            return 0; // without the groups, a group's "keep forever" is unknown: nothing is deleted by age
        }

        Dictionary<string, int> groups = config.RecordingGroups.ToDictionary(g => g.Id, g => g.KeepDays ?? _settings.DefaultKeepDays, StringComparer.Ordinal);

        // Nothing newer than the shortest keep can have expired: the index is read only up to there.
        int shortest = groups.Values.Append(_settings.DefaultKeepDays).Where(d => d > 0).DefaultIfEmpty(0).Min();
        if (shortest == 0)
        {
            return 0;
        }

        int deleted = 0;
        RecordingCursor? after = null;
        while (true)
        {
            List<RecordingIndex.Expiring> batch = catalog.Oldest(now.AddDays(-shortest), after, _settings.BatchSize);
            if (batch.Count == 0)
            {
                return deleted;
            }

            foreach (RecordingIndex.Expiring item in batch)
            {
                ct.ThrowIfCancellationRequested();
                after = item.At;
                if (KeepOf(item.Summary, groups) is { } keep && item.Summary.StartedAt < now.AddDays(-keep.Days)
                    && TryDelete(item, lowWater: false, keep.Reason))
                {
                    deleted++;
                }
            }
        }
    }

    /// <summary>
    /// How long a recording is kept and why: the longest keep of its parties' recording groups (either party may be
    /// under the longer policy; a group no longer configured counts as the default), the default when it has none.
    /// Null: kept forever.
    /// </summary>
    internal (int Days, string Reason)? KeepOf(RecordingSummary summary, IReadOnlyDictionary<string, int> groups)
    {
        (int Days, string Reason)? longest = null;
        foreach (string group in summary.Parties.Select(p => p.RecordingGroup).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            int days = groups.TryGetValue(group, out int d) ? d : _settings.DefaultKeepDays;
            if (days == 0)
            {
                return null;
            }

            if (longest is null || days > longest.Value.Days)
            {
                longest = (days, string.Create(CultureInfo.InvariantCulture, $"keep-days {days} of recording group {group}"));
            }
        }

        return longest ?? (_settings.DefaultKeepDays == 0 ? null : (_settings.DefaultKeepDays, string.Create(CultureInfo.InvariantCulture, $"keep-days {_settings.DefaultKeepDays} (default)")));
    }

    private int FreeToLowWater(CancellationToken ct)
    {
        if (Space() is not { } space || space.Free >= Mark(space.Total))
        {
            return 0;
        }

        long mark = Mark(space.Total);
        long target = mark + (long)(space.Total * _settings.HysteresisPercent / 100);
        string reason = string.Create(CultureInfo.InvariantCulture, $"low-water mark: {space.Free >> 20} MiB free of {space.Total >> 20} MiB, below {mark >> 20} MiB");
        int deleted = 0;
        RecordingCursor? after = null;
        long free = space.Free;
        while (free < target)
        {
            List<RecordingIndex.Expiring> batch = catalog.Oldest(null, after, _settings.BatchSize);
            if (batch.Count == 0)
            {
                LogLowWaterUnreached(_root, free >> 20, target >> 20);
                break;
            }

            foreach (RecordingIndex.Expiring item in batch)
            {
                ct.ThrowIfCancellationRequested();
                after = item.At;
                if (TryDelete(item, lowWater: true, reason))
                {
                    deleted++;
                    free = Space()?.Free ?? long.MaxValue;
                    if (free >= target)
                    {
                        break;
                    }
                }
            }
        }

        return deleted;
    }

    // The larger of the two marks (either crossed starts a deletion); 0 when both are off.
    private long Mark(long total) => Math.Max((long)(total * _settings.MinFreePercent / 100), _settings.MinFreeMb << 20);

    /// <summary>Free (to this unprivileged process) and total bytes of the recordings' filesystem; null when it cannot be read.</summary>
    private (long Free, long Total)? Space()
    {
        try
        {
            if (!Directory.Exists(_root))
            {
                return null;
            }

            var drive = new DriveInfo(_root);
            return (drive.AvailableFreeSpace, drive.TotalSize);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private bool TryDelete(RecordingIndex.Expiring item, bool lowWater, string reason)
    {
        if (runtime.TryGetActiveCall(item.Summary.Id, out _))
        {
            return false; // a call in progress under a recording id already indexed: never deleted under the recorder
        }

        if (catalog.Delete(item) is not { } freed)
        {
            return false;
        }

        runtime.Retention.Deleted(lowWater, freed);
        audit.AppendSystem(Actor, AuditActions.Delete, "recording:" + item.Summary.Id, reason);
        runtime.RecordingDeleted(item.Summary.Id, Actor, reason);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "retention under {Root}: {ByAge} recording(s) deleted by keep-days, {ByDisk} by the low-water mark ({Freed} bytes freed since start)")]
    private partial void LogPass(string root, int byAge, int byDisk, long freed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "retention under {Root}: {Free} MiB free, below the {Target} MiB aimed at, and nothing left that may be deleted (held or in progress)")]
    private partial void LogLowWaterUnreached(string root, long free, long target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "retention under {Root}: pass failed ({Error}); tried again at the next pass")]
    private partial void LogPassFailed(string root, string error);
}
