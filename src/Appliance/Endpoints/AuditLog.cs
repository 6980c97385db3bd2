using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Service;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Endpoints;

/// <summary>One audited action: who (token name and role), what, on what, the outcome (HTTP status), from where.</summary>
public sealed record AuditEntry(
    long Seq, DateTimeOffset Time, string Token, string Role, string Action, string? Target, string? Query, int Status, string? Client)
{
    /// <summary>Why the appliance did it, for its own actions (a retention deletion: which keep-days or the low-water mark), or why an authentication failed; else null.</summary>
    public string? Reason { get; init; }
}

/// <summary>GET /api/audit: entries oldest first; <c>next</c> is the <c>after</c> of the following page (null: no more).</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Items, long? Next);

/// <summary>
/// The audit log: &lt;State&gt;/audit.jsonl, one JSON object a line, only ever appended to (no endpoint changes or
/// deletes it). A request enqueues its entry and goes on; one writer appends what is queued and fsyncs once per batch,
/// and a stop writes everything still queued before it returns. After a crash in the middle of a line, the next start
/// begins on a fresh line and readers skip the torn one. Sequence numbers continue from the last entry on disk.
/// </summary>
public sealed partial class AuditLog : IHostedService, IDisposable
{
    public const string FileName = "audit.jsonl";

    /// <summary>Audio requests of one token for one recording closer together than this are one "play" (a player's ranges).</summary>
    public static readonly TimeSpan PlayCoalescing = TimeSpan.FromMinutes(5);

    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<(string Token, string Target), DateTimeOffset> _lastPlay = new();
    private readonly Lock _fileGate = new();
    private readonly ILogger<AuditLog> _log;
    private FileStream? _file;
    private long _seq;
    private Task _writer = Task.CompletedTask;

    public AuditLog(ApplianceSettings settings, ILogger<AuditLog> log)
    {
        _log = log;
        Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(settings.State, FileName));
    }

    public string Path { get; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        _seq = LastSeq(Path, out bool torn);
        _file = new FileStream(Path, options);
        if (torn)
        {
            _file.WriteByte((byte)'\n');
        }

        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Writes everything queued. The file stays open until the host is disposed: an entry of a request still finishing
    /// after this is written (and fsynced) by its caller instead of being queued.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        lock (_fileGate)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    /// <summary>Records an action of the request's principal (no-op for an anonymous request: nobody to name).</summary>
    public void Append(HttpContext context, string action, string? target, int status, string? query = null)
    {
        if (context.User.Identity is not { IsAuthenticated: true, Name: { } token })
        {
            return;
        }

        DateTimeOffset now = DateTimeOffset.UtcNow;
        if (action == AuditActions.Play && target is not null)
        {
            // A player fetches one recording in several range requests: one entry per play, not per request.
            DateTimeOffset last = _lastPlay.GetValueOrDefault((token, target), DateTimeOffset.MinValue);
            if (now - last < PlayCoalescing)
            {
                return;
            }

            _lastPlay[(token, target)] = now;
            if (_lastPlay.Count > 10_000)
            {
                _lastPlay.Clear(); // bounded; at worst a play is recorded twice
            }
        }

        Append(new AuditEntry(0, now, token, context.User.FindFirstValue(ClaimTypes.Role) ?? "", action, target, query, status,
            context.Connection.RemoteIpAddress?.ToString()));
    }

    /// <summary>
    /// Records a failed authentication: no principal, so no token name or role (the credential itself is never
    /// written); the client address, what was tried at (<paramref name="target"/>: method and path, never the query,
    /// which may hold <c>access_token</c>) and why it failed.
    /// </summary>
    public void AppendFailure(HttpContext context, string action, string target, int status, string reason) =>
        Append(new AuditEntry(0, DateTimeOffset.UtcNow, "", "", action, target, null, status, context.Connection.RemoteIpAddress?.ToString())
        {
            Reason = reason,
        });

    /// <summary>
    /// Records an action of the appliance itself (no request: a retention deletion, an automatic resume), under
    /// <paramref name="actor"/> (e.g. "retention") with the role "system".
    /// </summary>
    public void AppendSystem(string actor, string action, string? target, string? reason = null) =>
        Append(new AuditEntry(0, DateTimeOffset.UtcNow, actor, "system", action, target, null, 0, null) { Reason = reason });

    private void Append(AuditEntry entry)
    {
        if (!_queue.Writer.TryWrite(entry))
        {
            Write([entry]); // stopped: written by the caller rather than lost
        }
    }

    /// <summary>Completes when everything queued before the call is on disk (a reader then sees its own request's entries).</summary>
    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite(done) ? done.Task : Task.CompletedTask;
    }

    /// <summary>Entries with a sequence number above <paramref name="after"/> and a time in [from, to), oldest first.</summary>
    public AuditPage Read(DateTimeOffset? from, DateTimeOffset? to, long after, int limit)
    {
        var items = new List<AuditEntry>();
        if (!File.Exists(Path))
        {
            return new(items, null);
        }

        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(file, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            if (Parse(line) is not { } entry || entry.Seq <= after || entry.Time < from || entry.Time >= to)
            {
                continue;
            }

            if (items.Count == limit)
            {
                return new(items, items[^1].Seq);
            }

            items.Add(entry);
        }

        return new(items, null);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<AuditEntry>();
        var flushed = new List<TaskCompletionSource>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (_queue.Reader.TryRead(out object? item))
            {
                if (item is AuditEntry entry)
                {
                    batch.Add(entry);
                }
                else
                {
                    flushed.Add((TaskCompletionSource)item);
                }
            }

            Write(batch);
            batch.Clear();
            flushed.ForEach(f => f.TrySetResult());
            flushed.Clear();
        }
    }

    private void Write(List<AuditEntry> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        lock (_fileGate)
        {
            if (_file is null)
            {
                LogLost(batch.Count, Path);
                return;
            }

            try
            {
                foreach (AuditEntry entry in batch)
                {
                    JsonSerializer.Serialize(_file, entry with { Seq = ++_seq }, ApiJsonContext.Default.AuditEntry);
                    _file.WriteByte((byte)'\n');
                }

                _file.Flush(flushToDisk: true);
            }
            catch (IOException ex)
            {
                LogFailed(batch.Count, Path, ex.Message);
            }
        }
    }

    private static AuditEntry? Parse(string line)
    {
        try
        {
            return line.Length == 0 ? null : JsonSerializer.Deserialize(line, ApiJsonContext.Default.AuditEntry);
        }
        catch (JsonException)
        {
            return null; // a line torn by a crash
        }
    }

    // The last entry's sequence number: from the file's tail, so a start does not read a year of entries.
    private static long LastSeq(string path, out bool torn)
    {
        torn = false;
        if (!File.Exists(path))
        {
            return 0;
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (file.Length == 0)
        {
            return 0;
        }

        int size = (int)Math.Min(file.Length, 64 * 1024);
        byte[] tail = new byte[size];
        file.Seek(-size, SeekOrigin.End);
        file.ReadExactly(tail);
        torn = tail[^1] != (byte)'\n';
        string[] lines = Encoding.UTF8.GetString(tail).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = lines.Length - 1; i >= 0; i--)
        {
            if (Parse(lines[i]) is { } entry)
            {
                return entry.Seq;
            }
        }

        return 0;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "audit log {Path}: {Count} entries could not be written: {Reason}")]
    private partial void LogFailed(int count, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "audit log {Path}: {Count} entries arrived after it was closed")]
    private partial void LogLost(int count, string path);
}
