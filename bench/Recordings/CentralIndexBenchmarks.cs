using System.Globalization;
using System.Text.Json;
using Appliance.Cluster;
using Appliance.Endpoints;
using Appliance.Recordings;
using Appliance.Service;
using Appliance.Tests.Cluster;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Bench.Recordings;

/// <summary>
/// The central recordings index (README "Cluster", central index) on a real PostgreSQL 15 of its own (Debian
/// postgresql-15, started by the tests' PostgresServer: loopback, fsync on, shared_buffers 128 MB) holding 200,000
/// recordings of 500 extensions, one a minute: a page of the estate's search (newest, by extension, deep in the keyset),
/// and sending one batch of 500 recordings from the local SQLite queue (one PostgreSQL transaction).
/// </summary>
[MemoryDiagnoser]
public class CentralIndexBenchmarks
{
    private const int Rows = 200_000;

    private PostgresServer _server = null!;
    private string _folder = "";
    private RecordingIndex _local = null!;
    private CentralIndex _central = null!;
    private RecordingCursor _middle;
    private long _next;

    [GlobalSetup]
    public void Setup()
    {
        _server = PostgresServer.Start(durable: true, sharedBuffersMb: 128);
        _folder = Path.Combine(Path.GetTempPath(), "bench-central-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Fill();
        }
        catch
        {
            Cleanup(); // never leave the server running after a failed setup
            throw;
        }
    }

    private void Fill()
    {
        string connection = $"Host=127.0.0.1;Port={_server.Port};Username=postgres;Database=postgres"; // pooled, as the appliance connects
        using (var db = new NpgsqlConnection(connection))
        {
            db.Open();
            CentralSchema.MigrateAsync(db, "bench", CancellationToken.None).GetAwaiter().GetResult();
            using var fill = new NpgsqlCommand($"""
                INSERT INTO recordings(id, appliance, site, started_at, duration_ms, direction, extensions, users, devices, call_ids, summary)
                SELECT gen_random_uuid(), 'a' || (i % 4), 's' || (i % 4), 1767225600000 + i * 60000::bigint, 30000 + (i % 600) * 1000, 2,
                       ARRAY[(1000 + i % 500)::text, '0' || (5550000 + i)::text], ARRAY['user' || (i % 300)], ARRAY['desk-' || (i % 500)], ARRAY['c' || i || '@pbx'],
                       jsonb_build_object('id', gen_random_uuid(), 'protocol', 'sip', 'callId', 'c' || i || '@pbx',
                           'startedAt', to_char(to_timestamp((1767225600000 + i * 60000::bigint) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                           'endedAt', to_char(to_timestamp((1767225630000 + i * 60000::bigint) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                           'durationSeconds', 30, 'mediaDurationSeconds', 30,
                           'parties', jsonb_build_array(jsonb_build_object('extension', (1000 + i % 500)::text, 'user', 'user' || (i % 300), 'device', 'desk-' || (i % 500)),
                                                        jsonb_build_object('extension', '0' || (5550000 + i))),
                           'codecs', jsonb_build_array('PCMA'), 'endReason', 'bye', 'hasAudio', true, 'callIds', jsonb_build_array('c' || i || '@pbx'))
                FROM generate_series(1, {Rows}) i;
                ANALYZE recordings;
                """, db) { CommandTimeout = 600 };
            fill.ExecuteNonQuery();
        }

        string index = Path.Combine(_folder, "local", RecordingIndex.FileName);
        Directory.CreateDirectory(Path.GetDirectoryName(index)!);
        _local = RecordingIndex.Open(index, out _, out _);
        var settings = new ApplianceSettings { Listen = "http://127.0.0.1:9" };
        settings.Cluster.Postgres = connection;
        settings.Cluster.Name = "bench";
        _central = new CentralIndex(settings, index, NullLogger.Instance);
        CentralOutbox.Install(index); // not started: the benchmark sends by itself
        _middle = _central.SearchAsync(new RecordingQuery { Limit = Rows / 2 }, CancellationToken.None).GetAwaiter().GetResult().Next!.Value;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _central?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _local?.Close();
        _server?.Dispose();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Benchmark]
    public int EstateNewestPage() => _central.SearchAsync(new RecordingQuery { Limit = 100 }, CancellationToken.None).GetAwaiter().GetResult().Items.Count;

    [Benchmark]
    public int EstateByExtensionPage() =>
        _central.SearchAsync(new RecordingQuery { Extension = "1234", Limit = 100 }, CancellationToken.None).GetAwaiter().GetResult().Items.Count;

    [Benchmark]
    public int EstatePageAfterCursorHalfway() =>
        _central.SearchAsync(new RecordingQuery { After = _middle, Limit = 100 }, CancellationToken.None).GetAwaiter().GetResult().Items.Count;

    [IterationSetup(Target = nameof(SendBatchOf500))]
    public void QueueBatch()
    {
        using RecordingIndex.Writer writer = _local.CreateWriter();
        writer.Begin();
        for (int i = 0; i < 500; i++)
        {
            long n = ++_next;
            string id = Guid.NewGuid().ToString("D");
            string json = string.Create(CultureInfo.InvariantCulture, $$"""
                {"id":"{{id}}","protocol":"sip","callId":"b{{n}}","startedAt":"{{DateTimeOffset.UnixEpoch.AddMinutes(n):O}}","endedAt":"{{DateTimeOffset.UnixEpoch.AddMinutes(n).AddSeconds(30):O}}",
                 "durationSeconds":30,"mediaDurationSeconds":30,"parties":[{"extension":"{{2000 + (n % 50)}}"},{"extension":"0555{{n}}"}],"codecs":["PCMA"],"endReason":"bye","hasAudio":true,"callIds":[]}
                """);
            writer.Upsert(JsonSerializer.Deserialize(json, ApiJsonContext.Default.RecordingSummary)!, "1970/01/01");
        }

        writer.Commit();
    }

    [Benchmark]
    public int SendBatchOf500() => _central.SendOnceAsync(CancellationToken.None).GetAwaiter().GetResult();
}
