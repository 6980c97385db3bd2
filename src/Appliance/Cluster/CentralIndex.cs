using System.Globalization;
using System.Text;
using System.Text.Json;
using Appliance.Endpoints;
using Appliance.Recordings;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Appliance.Cluster;

/// <summary>
/// The central recordings index in PostgreSQL (README "Cluster", central index), when Cluster:Postgres is set: this
/// appliance's recordings are sent there from the queue in its SQLite index (<see cref="CentralOutbox"/>), in batches,
/// by one background task, never on the capture path; a search of the whole estate reads it. PostgreSQL unreachable:
/// the queue grows (it is on the disk), <see cref="Degraded"/> says so (readyz, metric, one log line), recording goes on,
/// and the queue is sent when it answers again. Sending is idempotent (an upsert by recording id), so a change sent
/// twice (a crash between PostgreSQL's commit and the queue's) is one row.
/// </summary>
internal sealed partial class CentralIndex : IAsyncDisposable
{
    private const int Batch = 500;

    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(30);

    private readonly ClusterSettings _settings;
    private readonly NpgsqlDataSource _source;
    private readonly string _outboxConnection;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0);
    private Task _work = Task.CompletedTask;
    private long _sent, _failures, _pending;
    private volatile bool _connected, _migrated, _reported;
    private DateTimeOffset? _degradedSince = DateTimeOffset.UtcNow;
    private string? _lastError;

    private readonly string? _url;

    public CentralIndex(Service.ApplianceSettings appliance, string indexPath, ILogger log)
    {
        ClusterSettings settings = appliance.Cluster;
        _settings = settings;
        _log = log;
        _url = settings.Url ?? UrlOf(appliance.Listen);
        var builder = new NpgsqlConnectionStringBuilder(settings.Postgres)
        {
            ApplicationName = "appliance " + settings.EffectiveName,
        };
        if (!new NpgsqlConnectionStringBuilder(settings.Postgres).ContainsKey("Timeout"))
        {
            builder.Timeout = 5; // connect: a PostgreSQL that does not answer is degraded in seconds, not 15
        }

        _source = NpgsqlDataSource.Create(builder.ConnectionString);
        _outboxConnection = CentralOutbox.ConnectionString(indexPath);
    }

    public string Name => _settings.EffectiveName;

    public string? Site => _settings.Site;

    /// <summary>The estate's shared secret (Cluster:Secret): how this appliance asks another for a recording it holds.</summary>
    public string? Secret => _settings.Secret;

    /// <summary>Where the others reach this appliance's API: Cluster:Url, else the first Listen address when it names a host.</summary>
    public string? Url => _url;

    internal static string? UrlOf(string listen)
    {
        string first = listen.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        return Uri.TryCreate(first.Replace("://*", "://wildcard", StringComparison.Ordinal).Replace("://+", "://wildcard", StringComparison.Ordinal), UriKind.Absolute, out Uri? uri)
            && uri.Host is not ("wildcard" or "0.0.0.0" or "[::]") ? first.TrimEnd('/') : null;
    }

    /// <summary>PostgreSQL answered the last exchange.</summary>
    public bool Connected => _connected;

    /// <summary>PostgreSQL unreachable or the schema not yet prepared: changes are queued locally, the estate search falls back to this appliance's.</summary>
    public bool Degraded => !_connected || !_migrated;

    public DateTimeOffset? DegradedSince => Degraded ? _degradedSince : null;

    public string? LastError => _lastError;

    /// <summary>Changes in the local queue (as of the last look).</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Recordings written to (or deleted from) the central index.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// Installs the queue in the local index at <paramref name="indexPath"/> (when missing) and starts sending. A queue
    /// that cannot be installed (a read-only state folder) leaves the appliance degraded, recording and indexing locally.
    /// </summary>
    public void Start(string indexPath)
    {
        try
        {
            CentralOutbox.Install(indexPath);
        }
        catch (SqliteException ex)
        {
            _lastError = "the queue in the local index cannot be created: " + ex.Message;
            LogOutboxFailed(ex.Message);
            return;
        }

        Start();
    }

    /// <summary>Starts sending (the local index has its queue: <see cref="CentralOutbox.Install"/> ran).</summary>
    public void Start() => _work = Task.Run(RunAsync, CancellationToken.None);

    /// <summary>Something was queued: send it now rather than at the next look.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    private async Task RunAsync()
    {
        CancellationToken ct = _stop.Token;
        DateTime lastBeat = DateTime.MinValue;
        while (!ct.IsCancellationRequested)
        {
            TimeSpan wait = Idle;
            try
            {
                if (!_migrated)
                {
                    await using NpgsqlConnection db = await _source.OpenConnectionAsync(ct);
                    List<int> applied = await CentralSchema.MigrateAsync(db, Name, ct);
                    if (applied.Count > 0)
                    {
                        LogMigrated(applied[0], applied[^1]);
                    }

                    _migrated = true;
                }

                if (DateTime.UtcNow - lastBeat > Heartbeat)
                {
                    await BeatAsync(ct);
                    lastBeat = DateTime.UtcNow;
                }

                int sent = await SendAsync(ct);
                MarkConnected();
                if (sent == Batch)
                {
                    continue; // a backlog: the next batch at once
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or IOException or InvalidOperationException)
            {
                MarkFailed(ex);
                wait = Retry;
            }
            catch (SqliteException ex)
            {
                // the local index is busy or being rebuilt: its queue is read again at the next look
                LogOutboxFailed(ex.Message);
                wait = Retry;
            }

            try
            {
                await _wake.WaitAsync(wait, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private void MarkConnected()
    {
        if (!_connected)
        {
            _connected = true;
            _reported = false;
            LogConnected(Pending);
        }

        _degradedSince = null;
        _lastError = null;
    }

    private void MarkFailed(Exception ex)
    {
        Interlocked.Increment(ref _failures);
        _lastError = ex.Message;
        if (!_reported)
        {
            _reported = true; // once per outage
            LogUnreachable(ex.Message);
        }

        _degradedSince ??= DateTimeOffset.UtcNow;
        _connected = false;
        try
        {
            using var local = new SqliteConnection(_outboxConnection);
            local.Open();
            Interlocked.Exchange(ref _pending, CentralOutbox.Count(local));
        }
        catch (SqliteException)
        {
            // the count stays as it was
        }
    }

    private async Task BeatAsync(CancellationToken ct)
    {
        await using NpgsqlCommand cmd = _source.CreateCommand("""
            INSERT INTO appliances(name, site, url, schema_version, seen_at) VALUES ($1, $2, $3, $4, now())
            ON CONFLICT (name) DO UPDATE SET site = excluded.site, url = excluded.url, schema_version = excluded.schema_version, seen_at = now()
            """);
        cmd.Parameters.AddWithValue(Name);
        cmd.Parameters.AddWithValue((object?)_settings.Site ?? DBNull.Value);
        cmd.Parameters.AddWithValue((object?)_url ?? DBNull.Value);
        cmd.Parameters.AddWithValue(CentralSchema.Version);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Sends one batch now (the benchmark's entry: the task is not started there); the changes read from the queue.</summary>
    internal Task<int> SendOnceAsync(CancellationToken ct) => SendAsync(ct);

    // One batch from the local queue to PostgreSQL, in one transaction; the queue's entries removed once it committed.
    private async Task<int> SendAsync(CancellationToken ct)
    {
        using var local = new SqliteConnection(_outboxConnection);
        local.Open();
        List<CentralOutbox.Change> changes = CentralOutbox.Peek(local, Batch);
        if (changes.Count == 0)
        {
            Interlocked.Exchange(ref _pending, 0);
            return 0;
        }

        // The last change of each recording is its state now (every one read the row as it is now).
        var latest = new Dictionary<string, CentralOutbox.Change>(StringComparer.Ordinal);
        foreach (CentralOutbox.Change c in changes)
        {
            latest[c.Id] = c;
        }

        await using (NpgsqlConnection db = await _source.OpenConnectionAsync(ct))
        await using (NpgsqlTransaction tx = await db.BeginTransactionAsync(ct))
        {
            await using var batch = new NpgsqlBatch(db, tx);
            foreach (CentralOutbox.Change c in latest.Values)
            {
                if (!Guid.TryParseExact(c.Id, "D", out Guid id))
                {
                    continue;
                }

                batch.BatchCommands.Add(c.Summary is { } json ? Upsert(id, json, c.LegalHold) : Delete(id));
            }

            if (batch.BatchCommands.Count > 0)
            {
                await batch.ExecuteNonQueryAsync(ct);
            }

            await tx.CommitAsync(ct);
        }

        CentralOutbox.Acknowledge(local, changes[^1].Seq);
        Interlocked.Add(ref _sent, latest.Count);
        Interlocked.Exchange(ref _pending, Math.Max(0, CentralOutbox.Count(local)));
        return changes.Count;
    }

    private NpgsqlBatchCommand Upsert(Guid id, string json, bool held)
    {
        RecordingSummary summary = JsonSerializer.Deserialize(json, ApiJsonContext.Default.RecordingSummary)!;
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO recordings(id, appliance, site, started_at, duration_ms, direction, legal_hold, extensions, users, devices, call_ids, summary)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (id) DO UPDATE SET appliance = excluded.appliance, site = excluded.site, started_at = excluded.started_at,
                duration_ms = excluded.duration_ms, direction = excluded.direction, legal_hold = excluded.legal_hold,
                extensions = excluded.extensions, users = excluded.users, devices = excluded.devices, call_ids = excluded.call_ids,
                summary = excluded.summary, updated_at = now()
            """);
        HashSet<(KeyKind Kind, string Value)> keys = RecordingIndex.Keys(summary);
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.AddWithValue(Name);
        cmd.Parameters.AddWithValue((object?)_settings.Site ?? DBNull.Value);
        cmd.Parameters.AddWithValue(summary.StartedAt.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue((long)Math.Round(summary.DurationSeconds * 1000, MidpointRounding.AwayFromZero));
        cmd.Parameters.AddWithValue((short)RecordingIndex.DirectionOf(summary));
        cmd.Parameters.AddWithValue(held);
        foreach (KeyKind kind in (KeyKind[])[KeyKind.Extension, KeyKind.User, KeyKind.Device, KeyKind.CallId])
        {
            cmd.Parameters.AddWithValue(keys.Where(k => k.Kind == kind).Select(k => k.Value).ToArray());
        }

        cmd.Parameters.Add(new NpgsqlParameter { Value = json, NpgsqlDbType = NpgsqlDbType.Jsonb });
        return cmd;
    }

    private NpgsqlBatchCommand Delete(Guid id)
    {
        var cmd = new NpgsqlBatchCommand("DELETE FROM recordings WHERE id = $1 AND appliance = $2");
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.AddWithValue(Name);
        return cmd;
    }

    /// <summary>A page of the estate's recordings matching every filter of <paramref name="query"/>; each says which appliance holds it.</summary>
    public async Task<RecordingPage> SearchAsync(RecordingQuery query, CancellationToken ct)
    {
        await using NpgsqlCommand cmd = _source.CreateCommand();
        var sql = new StringBuilder("SELECT rid, started_at, duration_ms, summary::text, legal_hold, appliance, site FROM recordings WHERE true");
        int n = 0;
        string P(object value)
        {
            cmd.Parameters.AddWithValue(value);
            return "$" + (++n).ToString(CultureInfo.InvariantCulture);
        }

        foreach ((KeyKind kind, string value) in query.Keys())
        {
            string column = kind switch
            {
                KeyKind.Extension => "extensions",
                KeyKind.User => "users",
                KeyKind.Device => "devices",
                _ => "call_ids",
            };
            sql.Append(CultureInfo.InvariantCulture, $" AND {column} @> {P(new[] { value })}");
        }

        if (query.From is { } from)
        {
            sql.Append(" AND started_at >= ").Append(P(from.ToUnixTimeMilliseconds()));
        }

        if (query.To is { } to)
        {
            sql.Append(" AND started_at < ").Append(P(to.ToUnixTimeMilliseconds()));
        }

        if (query.Direction is { } direction)
        {
            sql.Append(" AND direction = ").Append(P((short)direction));
        }

        if (query.LegalHold is { } held)
        {
            sql.Append(" AND legal_hold = ").Append(P(held));
        }

        if (query.MinDuration is { } min)
        {
            sql.Append(" AND duration_ms >= ").Append(P((long)Math.Round(min * 1000, MidpointRounding.AwayFromZero)));
        }

        if (query.MaxDuration is { } max)
        {
            sql.Append(" AND duration_ms <= ").Append(P((long)Math.Round(max * 1000, MidpointRounding.AwayFromZero)));
        }

        string sort = query.Sort == RecordingSort.Duration ? "duration_ms" : "started_at";
        if (query.After is { } after)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND ({sort}, rid) {(query.Ascending ? ">" : "<")} ({P(after.Key)}, {P(after.Rid)})");
        }

        string order = query.Ascending ? "ASC" : "DESC";
        sql.Append(CultureInfo.InvariantCulture, $" ORDER BY {sort} {order}, rid {order} LIMIT {P((long)query.Limit + 1)}");
        cmd.CommandText = sql.ToString();
        var items = new List<RecordingSummary>(Math.Min(query.Limit, 256));
        RecordingCursor last = default;
        bool more = false;
        await using (NpgsqlDataReader row = await cmd.ExecuteReaderAsync(ct))
        {
            while (await row.ReadAsync(ct))
            {
                if (items.Count == query.Limit)
                {
                    more = true;
                    break;
                }

                last = new RecordingCursor(query.Sort, query.Sort == RecordingSort.Duration ? row.GetInt64(2) : row.GetInt64(1), row.GetInt64(0));
                RecordingSummary summary = JsonSerializer.Deserialize(row.GetString(3), ApiJsonContext.Default.RecordingSummary)!;
                items.Add(summary with { LegalHold = row.GetBoolean(4), Appliance = row.GetString(5), Site = row.IsDBNull(6) ? null : row.GetString(6) });
            }
        }

        return new RecordingPage(items, more ? last : null);
    }

    /// <summary>Which appliance holds the recording and where its API is (null: the central index does not have it).</summary>
    public async Task<Holder?> LocateAsync(Guid id, CancellationToken ct)
    {
        await using NpgsqlCommand cmd = _source.CreateCommand(
            "SELECT r.appliance, r.site, a.url FROM recordings r LEFT JOIN appliances a ON a.name = r.appliance WHERE r.id = $1");
        cmd.Parameters.AddWithValue(id);
        await using NpgsqlDataReader row = await cmd.ExecuteReaderAsync(ct);
        return await row.ReadAsync(ct)
            ? new Holder(row.GetString(0), row.IsDBNull(1) ? null : row.GetString(1), row.IsDBNull(2) ? null : row.GetString(2))
            : null;
    }

    /// <summary>The appliance holding a recording: its name, site and API base URL (null: it never said).</summary>
    internal sealed record Holder(string Appliance, string? Site, string? Url);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _work.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _source.DisposeAsync();
        _stop.Dispose();
        _wake.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "central index: schema versions {First} to {Last} applied")]
    private partial void LogMigrated(int first, int last);

    [LoggerMessage(Level = LogLevel.Information, Message = "central index: PostgreSQL answers; {Pending} queued change(s) being sent")]
    private partial void LogConnected(long pending);

    [LoggerMessage(Level = LogLevel.Warning, Message = "central index: PostgreSQL unreachable ({Error}); recording goes on, changes are queued in the local index and sent when it answers")]
    private partial void LogUnreachable(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "central index: the local queue cannot be read now ({Error}); tried again shortly")]
    private partial void LogOutboxFailed(string error);
}
