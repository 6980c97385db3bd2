using System.Globalization;
using System.Text;
using System.Text.Json;
using Appliance.Endpoints;
using Capture.Recording;
using Microsoft.Data.Sqlite;

namespace Appliance.Recordings;

/// <summary>
/// The recordings index: one SQLite file under the state folder (<c>recordings.db</c>), a row per recording with its
/// search summary and the folder of its files, and a key table (extension, user, device, Call-ID) ordered by start time,
/// so every search walks an index in the order it returns. The sidecars stay the truth: the index is derived from them,
/// so a damaged file (or one of a newer schema) is set aside and rebuilt, never repaired; an older schema is upgraded in place.
/// </summary>
/// <remarks>
/// WAL journal with <c>synchronous=NORMAL</c>: a commit is not fsynced, so a power cut (not a process kill: the WAL is
/// in the page cache) can lose the last transactions, never corrupt the file; the reconcile at start re-reads every
/// sidecar written since the last start, which restores them. Readers never wait for the writer.
/// Thread safety: <see cref="Search"/> and <see cref="TryGet"/> open a pooled connection each and
/// may run on any thread; a <see cref="Writer"/> belongs to one thread.
/// </remarks>
internal sealed class RecordingIndex
{
    public const string FileName = "recordings.db";

    /// <summary>PRAGMA user_version of the schema this build writes.</summary>
    public const int SchemaVersion = 3;

    // Upgrades[v] takes a file from version v to v + 1, in place, from the rows it holds (a step that needs the sidecars
    // read again would empty the tables). Version 0 is a new, empty file.
    private static readonly string[] Upgrades =
    [
        """
        CREATE TABLE recordings(
            rid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            started_at INTEGER NOT NULL,   -- Unix ms, UTC
            duration_ms INTEGER NOT NULL,  -- signalled duration
            direction INTEGER NOT NULL,    -- RecordingDirection
            folder TEXT NOT NULL,          -- relative to the recordings root
            summary TEXT NOT NULL          -- RecordingSummary JSON, what a search returns
        );
        CREATE INDEX recordings_started ON recordings(started_at);
        CREATE INDEX recordings_duration ON recordings(duration_ms);
        CREATE INDEX recordings_direction ON recordings(direction, started_at);
        CREATE TABLE recording_keys(
            kind INTEGER NOT NULL,         -- KeyKind
            value TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            rid INTEGER NOT NULL,
            PRIMARY KEY(kind, value, started_at, rid)
        ) WITHOUT ROWID;
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        """,

        // 2: the time and duration indexes cover start, duration and direction, so a filter on one while sorting by the
        // other reads index entries only (1,000,000 rows: "over half an hour, newest first" read ~20,000 rows of ~1 KB).
        // rid comes second: the index is then in the order of a page, (key, rid), and a page needs no sort.
        """
        DROP INDEX recordings_started;
        DROP INDEX recordings_duration;
        CREATE INDEX recordings_started ON recordings(started_at, rid, duration_ms, direction);
        CREATE INDEX recordings_duration ON recordings(duration_ms, rid, started_at, direction);
        """,

        // 3: legal hold. The truth is the marker file beside the recording (RecordingCatalog.HoldPath), which a rebuild
        // reads; the column lets a search filter and show it and retention skip it. Few are held: a partial index counts them.
        """
        ALTER TABLE recordings ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX recordings_held ON recordings(started_at) WHERE legal_hold = 1;
        """,
    ];

    private const string SyncedSinceKey = "synced-since";

    private readonly string _connectionString;

    private RecordingIndex(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, Mode = SqliteOpenMode.ReadWriteCreate }.ToString();
    }

    public string Path { get; }

    /// <summary>
    /// Opens the index at <paramref name="path"/>, creating it when missing, upgrading an older schema in place, and
    /// setting a damaged file or one of a newer schema aside (<c>recordings.db.damaged-&lt;time&gt;</c>) for a new, empty
    /// one. <paramref name="opening"/> says which; <see cref="IndexOpening.Created"/> and <see cref="IndexOpening.Replaced"/>
    /// need a rebuild from the sidecars.
    /// </summary>
    public static RecordingIndex Open(string path, out IndexOpening opening, out string? reason)
    {
        reason = null;
        bool existed = File.Exists(path);
        var index = new RecordingIndex(path);
        index.Close(); // connections an earlier opening in this process left in the pool may reach a file since deleted
        try
        {
            if (existed && File.Exists(path + DamagedMark))
            {
                throw new SqliteException("found damaged while in use", 11);
            }

            int version = index.Prepare();
            opening = !existed || version == 0 ? IndexOpening.Created : version == SchemaVersion ? IndexOpening.Ready : IndexOpening.Upgraded;
            if (opening == IndexOpening.Upgraded)
            {
                reason = $"schema version {version} brought to {SchemaVersion}";
            }

            return index;
        }
        catch (SqliteException ex) when (IsDamage(ex) || ex.SqliteErrorCode == SchemaTooNew)
        {
            reason = ex.Message;
        }

        SetAside(path);
        index.Prepare();
        opening = IndexOpening.Replaced;
        return index;
    }

    // Prepare's own error code for a file of a newer build's schema, which this one cannot use.
    private const int SchemaTooNew = -1;

    /// <summary>A file that is not (or no longer) a database: the index is set aside and rebuilt.</summary>
    public static bool IsDamage(SqliteException ex) => ex.SqliteErrorCode is 11 /* SQLITE_CORRUPT */ or 26 /* SQLITE_NOTADB */;

    /// <summary>Brings the file to <see cref="SchemaVersion"/>; returns the version it had.</summary>
    private int Prepare()
    {
        using SqliteConnection db = Connect();
        int version = (int)Scalar<long>(db, "PRAGMA user_version");
        if (version == SchemaVersion)
        {
            Scalar<long>(db, "SELECT count(*) FROM meta"); // reads a page: a garbage file fails here, not at the first search
            return version;
        }

        if (version > SchemaVersion)
        {
            throw new SqliteException($"recordings index schema version {version} is not one this build can use ({SchemaVersion})", SchemaTooNew);
        }

        // WAL is a property of the file: set once, every later connection uses it.
        Execute(db, "PRAGMA journal_mode=WAL");
        using SqliteTransaction tx = db.BeginTransaction();
        for (int step = version; step < SchemaVersion; step++)
        {
            Execute(db, Upgrades[step], tx);
        }

        Execute(db, $"PRAGMA user_version={SchemaVersion}", tx);
        tx.Commit();
        return version;
    }

    // Beside the file: a search or write found it damaged (a page deep inside, which opening does not read).
    private const string DamagedMark = ".damaged";

    /// <summary>Marks the file so that the next <see cref="Open"/> sets it aside and rebuilds it.</summary>
    public static void MarkDamaged(string path)
    {
        try
        {
            File.WriteAllText(path + DamagedMark, "");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // then only its log line says so
        }
    }

    private static void SetAside(string path)
    {
        SqliteConnection.ClearAllPools();
        string aside = $"{path}.damaged-{DateTime.UtcNow:yyyyMMddTHHmmss}";
        if (File.Exists(path))
        {
            File.Move(path, aside, overwrite: true);
        }

        foreach (string suffix in (string[])["-wal", "-shm"])
        {
            File.Delete(path + suffix); // a log of the old file must not be replayed into the new one
        }

        File.Delete(path + DamagedMark);
    }

    /// <summary>Closes the pooled connections to the file (an index opened again, deleted or set aside must not be reached through them).</summary>
    public void Close()
    {
        try
        {
            using var db = new SqliteConnection(_connectionString);
            SqliteConnection.ClearPool(db);
        }
        catch (SqliteException)
        {
            // a folder that became unwritable fails the last checkpoint: the WAL is replayed at the next open
        }
    }

    /// <summary>A connection from the pool (synchronous=NORMAL: see the remarks).</summary>
    private SqliteConnection Connect()
    {
        var db = new SqliteConnection(_connectionString);
        db.Open();
        Execute(db, "PRAGMA synchronous=NORMAL");
        return db;
    }

    /// <summary>
    /// Unix ms from which sidecars may be missing (the start of the last run whose reconcile completed): the reconcile
    /// at start reads only folders and sidecars written since. Null when the index was never completed.
    /// </summary>
    public long? SyncedSince()
    {
        using SqliteConnection db = Connect();
        return Scalar<string>(db, $"SELECT value FROM meta WHERE key = '{SyncedSinceKey}'") is { } text
            && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long ms) ? ms : null;
    }

    /// <summary>The recording with this id: its summary and its folder relative to the recordings root.</summary>
    public bool TryGet(Guid id, out RecordingSummary? summary, out string? folder)
    {
        using SqliteConnection db = Connect();
        using SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = "SELECT summary, folder, legal_hold FROM recordings WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", id.ToString("D"));
        using SqliteDataReader row = cmd.ExecuteReader();
        if (row.Read())
        {
            summary = ReadSummary(row.GetString(0)) with { LegalHold = row.GetInt64(2) != 0 };
            folder = row.GetString(1);
            return true;
        }

        (summary, folder) = (null, null);
        return false;
    }

    /// <summary>Sets or clears the recording's legal hold; false when the index has no such recording.</summary>
    public bool SetHold(Guid id, bool held)
    {
        using SqliteConnection db = Connect();
        using SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = "UPDATE recordings SET legal_hold = $held WHERE id = $id";
        cmd.Parameters.AddWithValue("$held", held ? 1 : 0);
        cmd.Parameters.AddWithValue("$id", id.ToString("D"));
        return cmd.ExecuteNonQuery() == 1;
    }

    /// <summary>Recordings under legal hold now.</summary>
    public long HeldCount()
    {
        using SqliteConnection db = Connect();
        return Scalar<long>(db, "SELECT count(*) FROM recordings WHERE legal_hold = 1");
    }

    /// <summary>
    /// Removes the recording's row and its keys, unless it is held; false when it is held or not there. One transaction:
    /// a search never sees the row without its keys.
    /// </summary>
    public bool Delete(Guid id)
    {
        using SqliteConnection db = Connect();
        using SqliteTransaction tx = db.BeginTransaction();
        using SqliteCommand find = db.CreateCommand();
        find.Transaction = tx;
        find.CommandText = "SELECT rid, started_at, summary FROM recordings WHERE id = $id AND legal_hold = 0";
        find.Parameters.AddWithValue("$id", id.ToString("D"));
        long rid, started;
        RecordingSummary summary;
        using (SqliteDataReader row = find.ExecuteReader())
        {
            if (!row.Read())
            {
                return false;
            }

            (rid, started, summary) = (row.GetInt64(0), row.GetInt64(1), ReadSummary(row.GetString(2)));
        }

        using SqliteCommand removeKey = db.CreateCommand();
        removeKey.Transaction = tx;
        removeKey.CommandText = "DELETE FROM recording_keys WHERE kind = $kind AND value = $value AND started_at = $started AND rid = $rid";
        SqliteParameter kind = removeKey.Parameters.Add("$kind", SqliteType.Integer), value = removeKey.Parameters.Add("$value", SqliteType.Text);
        removeKey.Parameters.AddWithValue("$started", started);
        removeKey.Parameters.AddWithValue("$rid", rid);
        foreach ((KeyKind k, string v) in Keys(summary)) // by primary key: the key table has no index on rid alone
        {
            (kind.Value, value.Value) = ((int)k, v);
            removeKey.ExecuteNonQuery();
        }

        using SqliteCommand remove = db.CreateCommand();
        remove.Transaction = tx;
        remove.CommandText = "DELETE FROM recordings WHERE rid = $rid";
        remove.Parameters.AddWithValue("$rid", rid);
        remove.ExecuteNonQuery();
        tx.Commit();
        return true;
    }

    /// <summary>
    /// Up to <paramref name="limit"/> recordings not under legal hold, oldest start first, started before
    /// <paramref name="before"/> (when given) and after <paramref name="after"/> (the last of the previous batch).
    /// Walks the start-time index: a pass over a year of recordings reads only those it may delete, batch by batch.
    /// </summary>
    public List<Expiring> Oldest(DateTimeOffset? before, RecordingCursor? after, int limit)
    {
        using SqliteConnection db = Connect();
        using SqliteCommand cmd = db.CreateCommand();
        var sql = new StringBuilder("SELECT rid, started_at, id, folder, summary FROM recordings WHERE legal_hold = 0");
        if (before is { } b)
        {
            sql.Append(" AND started_at < $before");
            cmd.Parameters.AddWithValue("$before", b.ToUnixTimeMilliseconds());
        }

        if (after is { } a)
        {
            sql.Append(" AND (started_at, rid) > ($afterKey, $afterRid)");
            cmd.Parameters.AddWithValue("$afterKey", a.Key);
            cmd.Parameters.AddWithValue("$afterRid", a.Rid);
        }

        sql.Append(" ORDER BY started_at, rid LIMIT $limit");
        cmd.Parameters.AddWithValue("$limit", limit);
        cmd.CommandText = sql.ToString();
        var items = new List<Expiring>(limit);
        using SqliteDataReader row = cmd.ExecuteReader();
        while (row.Read())
        {
            if (Guid.TryParseExact(row.GetString(2), "D", out Guid id)) // the index file is not trusted to hold only UUIDs
            {
                items.Add(new Expiring(new RecordingCursor(RecordingSort.StartedAt, row.GetInt64(1), row.GetInt64(0)), id, row.GetString(3), ReadSummary(row.GetString(4))));
            }
        }

        return items;
    }

    /// <summary>One recording <see cref="Oldest"/> found: where it is in start order, its id, folder (relative) and summary.</summary>
    internal sealed record Expiring(RecordingCursor At, Guid Id, string Folder, RecordingSummary Summary);

    /// <summary>One page of recordings matching every filter of <paramref name="query"/>, in its order.</summary>
    public RecordingPage Search(RecordingQuery query)
    {
        using SqliteConnection db = Connect();
        using SqliteCommand cmd = db.CreateCommand();
        Build(cmd, query);
        var items = new List<RecordingSummary>(Math.Min(query.Limit, 256));
        RecordingCursor last = default;
        bool more = false;
        using (SqliteDataReader row = cmd.ExecuteReader())
        {
            while (row.Read())
            {
                if (items.Count == query.Limit)
                {
                    more = true;
                    break;
                }

                last = new RecordingCursor(query.Sort, query.Sort == RecordingSort.Duration ? row.GetInt64(2) : row.GetInt64(1), row.GetInt64(0));
                items.Add(ReadSummary(row.GetString(3)) with { LegalHold = row.GetInt64(4) != 0 });
            }
        }

        return new RecordingPage(items, more ? last : null);
    }

    /// <summary>The plan SQLite chose for <paramref name="query"/> (EXPLAIN QUERY PLAN: which index a search walks, whether it sorts).</summary>
    public string Plan(RecordingQuery query)
    {
        using SqliteConnection db = Connect();
        using SqliteCommand cmd = db.CreateCommand();
        Build(cmd, query);
        cmd.CommandText = "EXPLAIN QUERY PLAN " + cmd.CommandText;
        var lines = new List<string>();
        using SqliteDataReader row = cmd.ExecuteReader();
        while (row.Read())
        {
            lines.Add(row.GetString(3));
        }

        return string.Join("; ", lines);
    }

    // The page is chosen on indexes alone (rid and sort key), then only its rows are read: a summary is ~600 bytes
    // of JSON, and reading one per candidate row, not per returned row, is what makes a filtered search slow.
    private static void Build(SqliteCommand cmd, RecordingQuery query)
    {
        var sql = new StringBuilder(512);
        bool needsRow = query.Direction is not null || query.MinDuration is not null || query.MaxDuration is not null || query.LegalHold is not null
            || query.Sort == RecordingSort.Duration;

        // The most selective key drives the search (a Call-ID names about one recording, an extension hundreds a year):
        // its index rows are already in start order, so a page is read without sorting. Other keys are checked per row.
        (KeyKind Kind, string Value)[] keys = [.. query.Keys()];
        string time, rid;
        if (keys.Length > 0)
        {
            (time, rid) = ("k.started_at", "k.rid");
            sql.Append(CultureInfo.InvariantCulture, $"SELECT k.rid AS rid, {(query.Sort == RecordingSort.Duration ? "r.duration_ms" : time)} AS sk FROM recording_keys k");
            sql.Append(needsRow ? " JOIN recordings r ON r.rid = k.rid" : "").Append(" WHERE k.kind = $k0 AND k.value = $v0");
            for (int i = 0; i < keys.Length; i++)
            {
                cmd.Parameters.AddWithValue($"$k{i}", (int)keys[i].Kind);
                cmd.Parameters.AddWithValue($"$v{i}", keys[i].Value);
                if (i > 0)
                {
                    sql.Append(CultureInfo.InvariantCulture,
                        $" AND EXISTS (SELECT 1 FROM recording_keys x WHERE x.kind = $k{i} AND x.value = $v{i} AND x.started_at = k.started_at AND x.rid = k.rid)");
                }
            }
        }
        else
        {
            (time, rid) = ("r.started_at", "r.rid");
            sql.Append(CultureInfo.InvariantCulture, $"SELECT r.rid AS rid, {(query.Sort == RecordingSort.Duration ? "r.duration_ms" : time)} AS sk FROM recordings r WHERE 1");
        }

        if (query.From is { } from)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND {time} >= $from");
            cmd.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        }

        if (query.To is { } to)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND {time} < $to");
            cmd.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        }

        if (query.Direction is { } direction)
        {
            sql.Append(" AND r.direction = $direction");
            cmd.Parameters.AddWithValue("$direction", (int)direction);
        }

        if (query.LegalHold is { } held)
        {
            sql.Append(" AND r.legal_hold = $held");
            cmd.Parameters.AddWithValue("$held", held ? 1 : 0);
        }

        if (query.MinDuration is { } min)
        {
            sql.Append(" AND r.duration_ms >= $min");
            cmd.Parameters.AddWithValue("$min", Milliseconds(min));
        }

        if (query.MaxDuration is { } max)
        {
            sql.Append(" AND r.duration_ms <= $max");
            cmd.Parameters.AddWithValue("$max", Milliseconds(max));
        }

        string sortColumn = query.Sort == RecordingSort.Duration ? "r.duration_ms" : time;
        if (query.After is { } after)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND ({sortColumn}, {rid}) {(query.Ascending ? ">" : "<")} ($afterKey, $afterRid)");
            cmd.Parameters.AddWithValue("$afterKey", after.Key);
            cmd.Parameters.AddWithValue("$afterRid", after.Rid);
        }

        string order = query.Ascending ? "ASC" : "DESC";
        sql.Append(CultureInfo.InvariantCulture, $" ORDER BY {sortColumn} {order}, {rid} {order} LIMIT $limit");
        cmd.Parameters.AddWithValue("$limit", query.Limit + 1); // one more: is there a next page?
        if (query.Offset > 0)
        {
            sql.Append(" OFFSET $offset");
            cmd.Parameters.AddWithValue("$offset", query.Offset);
        }

        // A subquery with LIMIT joined to a table is never flattened into it: the page is chosen first.
        cmd.CommandText = string.Create(CultureInfo.InvariantCulture,
            $"SELECT r.rid, r.started_at, r.duration_ms, r.summary, r.legal_hold FROM ({sql}) p JOIN recordings r ON r.rid = p.rid ORDER BY p.sk {order}, p.rid {order}");
    }

    private static long Milliseconds(double seconds) => (long)Math.Round(seconds * 1000, MidpointRounding.AwayFromZero);

    private static RecordingSummary ReadSummary(string json) =>
        JsonSerializer.Deserialize(json, ApiJsonContext.Default.RecordingSummary) ?? throw new InvalidDataException("a null summary in the recordings index");

    /// <summary>The writer: one connection and its prepared statements, for one thread.</summary>
    public Writer CreateWriter()
    {
        SqliteConnection db = Connect();

        // A rebuild's large transactions grow the WAL file; once checkpointed it is cut back to this, not kept at its peak.
        Execute(db, "PRAGMA journal_size_limit=67108864");

        // The key table's inserts land all over its B-tree (one extension's rows among thousands): with SQLite's 2 MiB
        // default cache a large index re-reads pages for nearly every insert.
        Execute(db, "PRAGMA cache_size=-65536");
        return new Writer(db);
    }

    private static T? Scalar<T>(SqliteConnection db, string sql)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = sql;
        object? value = cmd.ExecuteScalar();
        return value is null or DBNull ? default : (T)value;
    }

    private static void Execute(SqliteConnection db, string sql, SqliteTransaction? tx = null)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Adds and replaces recordings, in batches (one transaction each: a commit per recording would cost a WAL frame write each).</summary>
    internal sealed class Writer : IDisposable
    {
        private readonly SqliteConnection _db;
        private readonly SqliteCommand _find, _insert, _update, _setHold, _addKey, _removeKey, _setMeta;
        private SqliteTransaction? _tx;

        internal Writer(SqliteConnection db)
        {
            _db = db;
            _find = Command("SELECT rid, summary, legal_hold FROM recordings WHERE id = $id", "$id");
            _insert = Command(
                "INSERT INTO recordings(id, started_at, duration_ms, direction, folder, summary, legal_hold) VALUES ($id, $started, $duration, $direction, $folder, $summary, $held) RETURNING rid",
                "$id", "$started", "$duration", "$direction", "$folder", "$summary", "$held");
            _update = Command(
                "UPDATE recordings SET started_at = $started, duration_ms = $duration, direction = $direction, folder = $folder, summary = $summary WHERE rid = $rid",
                "$rid", "$started", "$duration", "$direction", "$folder", "$summary");
            _setHold = Command("UPDATE recordings SET legal_hold = $held WHERE rid = $rid", "$held", "$rid");
            _addKey = Command("INSERT OR IGNORE INTO recording_keys(kind, value, started_at, rid) VALUES ($kind, $value, $started, $rid)", "$kind", "$value", "$started", "$rid");
            _removeKey = Command("DELETE FROM recording_keys WHERE kind = $kind AND value = $value AND started_at = $started AND rid = $rid", "$kind", "$value", "$started", "$rid");
            _setMeta = Command("INSERT INTO meta(key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value", "$key", "$value");
        }

        private SqliteCommand Command(string sql, params string[] parameters)
        {
            SqliteCommand cmd = _db.CreateCommand();
            cmd.CommandText = sql;
            foreach (string name in parameters)
            {
                cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            return cmd;
        }

        public void Begin()
        {
            _tx = _db.BeginTransaction();
            foreach (SqliteCommand cmd in (SqliteCommand[])[_find, _insert, _update, _setHold, _addKey, _removeKey, _setMeta])
            {
                cmd.Transaction = _tx;
            }
        }

        public void Rollback()
        {
            try
            {
                _tx?.Rollback();
            }
            catch (SqliteException)
            {
                // SQLite already rolled it back (a full disk or a damaged file can end the transaction itself)
            }

            _tx?.Dispose();
            _tx = null;
        }

        public void Commit()
        {
            _tx?.Commit();
            _tx?.Dispose();
            _tx = null;
        }

        /// <summary>
        /// Adds the recording, or replaces the row of the same id when its summary changed; false when it was already there
        /// as is. <paramref name="legalHold"/>: whether its hold marker is there (read from the disk); null leaves the row's as it is.
        /// </summary>
        public bool Upsert(RecordingSummary summary, string folder, bool? legalHold = null)
        {
            string json = JsonSerializer.Serialize(summary, ApiJsonContext.Default.RecordingSummary);
            long started = summary.StartedAt.ToUnixTimeMilliseconds();
            _find.Parameters[0].Value = summary.Id;
            long rid;
            using (SqliteDataReader row = _find.ExecuteReader())
            {
                if (row.Read())
                {
                    rid = row.GetInt64(0);
                    string before = row.GetString(1);
                    bool holdChanged = legalHold is { } held && held != (row.GetInt64(2) != 0);
                    if (holdChanged)
                    {
                        _setHold.Parameters[0].Value = legalHold == true ? 1 : 0;
                        _setHold.Parameters[1].Value = rid;
                        _setHold.ExecuteNonQuery();
                    }

                    if (before == json)
                    {
                        return holdChanged;
                    }

                    row.Close();
                    RecordingSummary old = ReadSummary(before);
                    foreach ((KeyKind kind, string value) in Keys(old))
                    {
                        Key(_removeKey, kind, value, old.StartedAt.ToUnixTimeMilliseconds(), rid);
                    }

                    Row(_update, rid, started, summary, folder, json);
                    _update.ExecuteNonQuery();
                }
                else
                {
                    row.Close();
                    Row(_insert, summary.Id, started, summary, folder, json);
                    _insert.Parameters[6].Value = legalHold == true ? 1 : 0;
                    rid = (long)_insert.ExecuteScalar()!;
                }
            }

            foreach ((KeyKind kind, string value) in Keys(summary))
            {
                Key(_addKey, kind, value, started, rid);
            }

            return true;
        }

        public void SetSyncedSince(long unixMs)
        {
            _setMeta.Parameters[0].Value = SyncedSinceKey;
            _setMeta.Parameters[1].Value = unixMs.ToString(CultureInfo.InvariantCulture);
            _setMeta.ExecuteNonQuery();
        }

        /// <summary>Lets SQLite refresh its statistics where they drifted (after a rebuild: the planner's choice of index).</summary>
        public void Optimize()
        {
            using SqliteCommand cmd = _db.CreateCommand();
            cmd.CommandText = "PRAGMA optimize=0x10002";
            cmd.ExecuteNonQuery();
        }

        private static void Row(SqliteCommand cmd, object first, long started, RecordingSummary summary, string folder, string json)
        {
            cmd.Parameters[0].Value = first;
            cmd.Parameters[1].Value = started;
            cmd.Parameters[2].Value = Milliseconds(summary.DurationSeconds);
            cmd.Parameters[3].Value = (int)DirectionOf(summary);
            cmd.Parameters[4].Value = folder;
            cmd.Parameters[5].Value = json;
        }

        private static void Key(SqliteCommand cmd, KeyKind kind, string value, long started, long rid)
        {
            cmd.Parameters[0].Value = (int)kind;
            cmd.Parameters[1].Value = value;
            cmd.Parameters[2].Value = started;
            cmd.Parameters[3].Value = rid;
            cmd.ExecuteNonQuery();
        }

        public void Dispose()
        {
            _tx?.Dispose();
            foreach (SqliteCommand cmd in (SqliteCommand[])[_find, _insert, _update, _setHold, _addKey, _removeKey, _setMeta])
            {
                cmd.Dispose();
            }

            _db.Dispose();
        }
    }

    /// <summary>The keys a recording is found by: each party's extension, user and device (and host device), each Call-ID.</summary>
    internal static HashSet<(KeyKind, string)> Keys(RecordingSummary s)
    {
        var keys = new HashSet<(KeyKind, string)>();
        foreach (PartySidecar p in s.Parties)
        {
            Add(KeyKind.Extension, p.Extension);
            Add(KeyKind.User, p.User);
            Add(KeyKind.Device, p.Device);
            Add(KeyKind.Device, p.HostDevice);
        }

        Add(KeyKind.CallId, s.CallId);
        foreach (string callId in s.CallIds)
        {
            Add(KeyKind.CallId, callId);
        }

        return keys;

        void Add(KeyKind kind, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                keys.Add((kind, value));
            }
        }
    }

    /// <summary>
    /// Whether the call stayed inside (both parties are phones the directory knows: they have a device) or went outside
    /// (one). A sidecar does not say who called, so inbound and outbound are not told apart here.
    /// </summary>
    internal static RecordingDirection DirectionOf(RecordingSummary s)
    {
        int local = s.Parties.Count(p => p.Device is not null || p.HostDevice is not null);
        return local switch
        {
            0 => RecordingDirection.Unknown,
            1 when s.Parties.Count > 1 => RecordingDirection.External,
            1 => RecordingDirection.Unknown,
            _ => RecordingDirection.Internal,
        };
    }
}

/// <summary>How <see cref="RecordingIndex.Open"/> found the file.</summary>
internal enum IndexOpening
{
    /// <summary>The index of this schema version: only sidecars written since the last start need reading.</summary>
    Ready,

    /// <summary>There was none: built from the sidecars.</summary>
    Created,

    /// <summary>Of an older schema version: brought to this one in place; reconciled as <see cref="Ready"/>.</summary>
    Upgraded,

    /// <summary>Damaged, or of a schema this build cannot read: set aside and rebuilt from the sidecars.</summary>
    Replaced,
}

internal enum KeyKind
{
    Extension = 1,
    User = 2,
    Device = 3,
    CallId = 4,
}

/// <summary>Stored as its number: never renumber.</summary>
public enum RecordingDirection
{
    Unknown = 0,
    Internal = 1,
    External = 2,
}

public enum RecordingSort
{
    StartedAt,
    Duration,
}

/// <summary>A search: every filter given must match. Times are [From, To) on the start; durations in seconds, inclusive.</summary>
internal sealed record RecordingQuery
{
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public string? Extension { get; init; }
    public string? User { get; init; }
    public string? Device { get; init; }
    public string? CallId { get; init; }
    public RecordingDirection? Direction { get; init; }
    public double? MinDuration { get; init; }
    public double? MaxDuration { get; init; }

    /// <summary>Only recordings under legal hold (true) or only those not (false).</summary>
    public bool? LegalHold { get; init; }
    public RecordingSort Sort { get; init; }
    public bool Ascending { get; init; }

    /// <summary>Keyset pagination: the page starts after this recording (the previous page's <see cref="RecordingPage.Next"/>).</summary>
    public RecordingCursor? After { get; init; }

    /// <summary>Rows skipped before the page (not offered by the API: kept so the benchmark can compare it with <see cref="After"/>).</summary>
    public int Offset { get; init; }

    public int Limit { get; init; } = 100;

    // Most selective first: the first drives the search.
    internal IEnumerable<(KeyKind, string)> Keys()
    {
        if (CallId is not null)
        {
            yield return (KeyKind.CallId, CallId);
        }

        if (User is not null)
        {
            yield return (KeyKind.User, User);
        }

        if (Extension is not null)
        {
            yield return (KeyKind.Extension, Extension);
        }

        if (Device is not null)
        {
            yield return (KeyKind.Device, Device);
        }
    }
}

/// <summary>A page, and where the next one starts (null: this was the last).</summary>
internal sealed record RecordingPage(List<RecordingSummary> Items, RecordingCursor? Next);

/// <summary>
/// Where a page ends: the sort key of its last recording (Unix ms of the start, or ms of duration) and its row number,
/// as text "s1732186320000.4711" / "d125000.4711". Stable while the index is not rebuilt (a rebuild renumbers rows).
/// </summary>
internal readonly record struct RecordingCursor(RecordingSort Sort, long Key, long Rid)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Letter(Sort)}{Key}.{Rid}");

    public static bool TryParse(string text, out RecordingCursor cursor)
    {
        cursor = default;
        int dot = text.IndexOf('.', StringComparison.Ordinal);
        if (text.Length < 4 || dot < 2
            || (text[0] != 's' && text[0] != 'd')
            || !long.TryParse(text.AsSpan(1, dot - 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long key)
            || !long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long rid))
        {
            return false;
        }

        cursor = new RecordingCursor(text[0] == 'd' ? RecordingSort.Duration : RecordingSort.StartedAt, key, rid);
        return true;
    }

    private static char Letter(RecordingSort sort) => sort == RecordingSort.Duration ? 'd' : 's';
}
