using Npgsql;

namespace Appliance.Cluster;

/// <summary>
/// The central recordings index's schema in PostgreSQL (README "Cluster", central index): versioned, one row per applied
/// version in <c>schema_version</c>. <see cref="Steps"/>[n] takes the database from version n to n + 1; every appliance
/// applies what is missing at start, in one transaction under an advisory lock, so several starting at once apply each
/// step once (the others wait on the lock, then find nothing left to do).
/// </summary>
internal static class CentralSchema
{
    /// <summary>The version this build writes and reads.</summary>
    public static int Version => Steps.Length;

    /// <summary>The advisory lock every migration takes (an arbitrary 64-bit number: "appl-idx").</summary>
    public const long LockKey = 0x6170706c2d696478;

    internal static readonly string[] Steps =
    [
        // 1: a row per recording of the estate: who holds it, its summary and what a search filters and sorts on. The keys
        // (extensions, users, devices, Call-IDs) are arrays under GIN indexes; a page is read in (sort key, rid) order.
        """
        CREATE TABLE recordings(
            rid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            id uuid PRIMARY KEY,
            appliance text NOT NULL,
            site text,
            started_at bigint NOT NULL,
            duration_ms bigint NOT NULL,
            direction smallint NOT NULL,
            legal_hold boolean NOT NULL DEFAULT false,
            extensions text[] NOT NULL,
            users text[] NOT NULL,
            devices text[] NOT NULL,
            call_ids text[] NOT NULL,
            summary jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX recordings_started ON recordings(started_at, rid);
        CREATE INDEX recordings_duration ON recordings(duration_ms, rid);
        CREATE INDEX recordings_appliance ON recordings(appliance);
        CREATE INDEX recordings_extensions ON recordings USING gin(extensions);
        CREATE INDEX recordings_users ON recordings USING gin(users);
        CREATE INDEX recordings_devices ON recordings USING gin(devices);
        CREATE INDEX recordings_call_ids ON recordings USING gin(call_ids);
        """,

        // 2: the appliances of the estate and where their API is (the holder of a recording is fetched from there).
        """
        CREATE TABLE appliances(
            name text PRIMARY KEY,
            site text,
            url text,
            schema_version int NOT NULL,
            seen_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ];

    /// <summary>
    /// Brings the database to <paramref name="target"/> (default: <see cref="Version"/>); returns the versions this call
    /// applied (none when another appliance had). Throws when the database is of a newer version than this build knows.
    /// </summary>
    public static async Task<List<int>> MigrateAsync(NpgsqlConnection db, string appliance, CancellationToken ct, int? target = null)
    {
        int to = target ?? Version;
        await using NpgsqlTransaction tx = await db.BeginTransactionAsync(ct);
        await Execute(db, tx, $"SELECT pg_advisory_xact_lock({LockKey})", ct);
        await Execute(db, tx, "CREATE TABLE IF NOT EXISTS schema_version(version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL)", ct);
        int current;
        await using (var cmd = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_version", db, tx))
        {
            current = (int)(await cmd.ExecuteScalarAsync(ct))!;
        }

        if (current > Version)
        {
            throw new InvalidOperationException($"the central index is at schema version {current}, newer than this build's {Version}");
        }

        var applied = new List<int>();
        for (int step = current; step < to; step++)
        {
            await Execute(db, tx, Steps[step], ct);
            await using var mark = new NpgsqlCommand("INSERT INTO schema_version(version, applied_by) VALUES ($1, $2)", db, tx);
            mark.Parameters.AddWithValue(step + 1);
            mark.Parameters.AddWithValue(appliance);
            await mark.ExecuteNonQueryAsync(ct);
            applied.Add(step + 1);
        }

        await tx.CommitAsync(ct);
        return applied;
    }

    private static async Task Execute(NpgsqlConnection db, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, db, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
