using Microsoft.Data.Sqlite;

namespace Appliance.Cluster;

/// <summary>
/// The queue of changes for the central index, kept in the appliance's own SQLite index (recordings.db): triggers on its
/// recordings table add the id of every recording added, changed (a legal hold too) or deleted (retention) to
/// <c>central_outbox</c>, in the transaction that made the change. <see cref="CentralIndex"/> sends them to PostgreSQL
/// and removes them once committed there: a change is durable from the moment the local index has it, whatever
/// PostgreSQL is doing, and the queue is the backlog an unreachable PostgreSQL leaves.
/// Installed only when Cluster:Postgres is set (created with every recording already indexed queued once);
/// removed at the first start without it.
/// </summary>
internal static class CentralOutbox
{
    private const string Create = """
        CREATE TABLE central_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL);
        INSERT INTO central_outbox(id) SELECT id FROM recordings ORDER BY rid;
        """;

    private const string Triggers = """
        CREATE TRIGGER IF NOT EXISTS central_outbox_insert AFTER INSERT ON recordings BEGIN INSERT INTO central_outbox(id) VALUES (new.id); END;
        CREATE TRIGGER IF NOT EXISTS central_outbox_update AFTER UPDATE ON recordings BEGIN INSERT INTO central_outbox(id) VALUES (new.id); END;
        CREATE TRIGGER IF NOT EXISTS central_outbox_delete AFTER DELETE ON recordings BEGIN INSERT INTO central_outbox(id) VALUES (old.id); END;
        """;

    private const string Drop = """
        DROP TRIGGER IF EXISTS central_outbox_insert;
        DROP TRIGGER IF EXISTS central_outbox_update;
        DROP TRIGGER IF EXISTS central_outbox_delete;
        DROP TABLE IF EXISTS central_outbox;
        """;

    /// <summary>A change to send: its place in the queue and the recording's row now (null summary: deleted).</summary>
    internal readonly record struct Change(long Seq, string Id, string? Summary, bool LegalHold);

    public static string ConnectionString(string path) =>
        new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, Mode = SqliteOpenMode.ReadWrite, DefaultTimeout = 30 }.ToString();

    /// <summary>Creates the queue and its triggers when missing (one transaction: no change falls between the copy and the triggers).</summary>
    public static void Install(string path)
    {
        using var db = new SqliteConnection(ConnectionString(path));
        db.Open();
        using SqliteTransaction tx = db.BeginTransaction();
        using SqliteCommand exists = db.CreateCommand();
        exists.Transaction = tx;
        exists.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'central_outbox'";
        if ((long)exists.ExecuteScalar()! == 0)
        {
            Execute(db, tx, Create);
        }

        Execute(db, tx, Triggers);
        tx.Commit();
    }

    /// <summary>Removes the queue and its triggers (Cluster:Postgres no longer set): nothing accumulates for nobody.</summary>
    public static void Remove(string path)
    {
        try
        {
            using var db = new SqliteConnection(ConnectionString(path));
            db.Open();
            using SqliteCommand exists = db.CreateCommand();
            exists.CommandText = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'central_outbox%'";
            if ((long)exists.ExecuteScalar()! == 0)
            {
                return; // a single box that never had one: nothing written
            }

            using SqliteTransaction tx = db.BeginTransaction();
            Execute(db, tx, Drop);
            tx.Commit();
        }
        catch (SqliteException)
        {
            // a read-only or unusable state folder: the local index reports that itself; the queue is dropped at a later start
        }
    }

    /// <summary>The first <paramref name="limit"/> changes queued, oldest first, each with the recording's row as it is now.</summary>
    public static List<Change> Peek(SqliteConnection db, int limit)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = """
            SELECT o.seq, o.id, r.summary, r.legal_hold FROM central_outbox o LEFT JOIN recordings r ON r.id = o.id
            ORDER BY o.seq LIMIT $limit
            """;
        cmd.Parameters.AddWithValue("$limit", limit);
        var changes = new List<Change>(limit);
        using SqliteDataReader row = cmd.ExecuteReader();
        while (row.Read())
        {
            changes.Add(new Change(row.GetInt64(0), row.GetString(1), row.IsDBNull(2) ? null : row.GetString(2), !row.IsDBNull(3) && row.GetInt64(3) != 0));
        }

        return changes;
    }

    /// <summary>Removes the changes up to <paramref name="seq"/> (sent and committed centrally).</summary>
    public static void Acknowledge(SqliteConnection db, long seq)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = "DELETE FROM central_outbox WHERE seq <= $seq";
        cmd.Parameters.AddWithValue("$seq", seq);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Changes waiting.</summary>
    public static long Count(SqliteConnection db)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM central_outbox";
        return (long)cmd.ExecuteScalar()!;
    }

    private static void Execute(SqliteConnection db, SqliteTransaction tx, string sql)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
