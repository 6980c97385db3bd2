using System.Diagnostics;
using System.Globalization;
using Appliance.Endpoints;
using Appliance.Recordings;
using Capture.Recording;

namespace Bench.Recordings;

/// <summary>
/// A recordings index of 1,000,000 synthetic recordings, built once into the temp folder and kept there for later runs
/// (its name carries the generator's version). A contact centre's year: 3,000 extensions on 3,000 phones, 2,000 agents
/// logged in on most calls, calls in working hours on weekdays, 70 % with the outside, durations skewed short with a
/// long tail (median about 3 min, a few over an hour).
/// </summary>
internal static class RecordingIndexFixture
{
    public const int Recordings = 1_000_000;
    public const int Extensions = 3000;
    public const int Users = 2000;

    private const int Version = 1;

    /// <summary>The newest call starts just before this; the oldest a year earlier.</summary>
    public static readonly DateTimeOffset End = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly Lazy<string> Built = new(Build);

    /// <summary>
    /// The index file, built on first use (`Bench.dll recordings-index` builds it before the benchmarks run: a setup of
    /// minutes outlasts the in-process toolchain's limit).
    /// </summary>
    public static string Path => Built.Value;

    /// <summary>A recording as the generator makes it (the insert benchmark uses the same shape).</summary>
    public static RecordingSummary Make(Random random, DateTimeOffset started)
    {
        int ext = random.Next(Extensions);
        string extension = (2000 + ext).ToString(CultureInfo.InvariantCulture);
        string device = $"SEP00A0{ext:X6}";
        string? user = random.NextDouble() < 0.85 ? $"agent{random.Next(Users):D4}" : null;
        var local = new PartySidecar(extension, user is null ? null : "Agent " + user[5..], $"10.20.{ext / 250}.{ext % 250 + 2}", 16384 + 2 * random.Next(8000), "left", device, user, device)
        {
            Login = user is null ? null : "explicit",
            RecordingGroup = "agents",
        };
        PartySidecar remote;
        if (random.NextDouble() < 0.7)
        {
            string number = "+4420" + random.Next(10_000_000, 99_999_999).ToString(CultureInfo.InvariantCulture);
            remote = new PartySidecar(number, null, "192.0.2.10", 20000 + 2 * random.Next(5000), "right", null, null, null);
        }
        else
        {
            int other = random.Next(Extensions);
            string otherDevice = $"SEP00A0{other:X6}";
            remote = new PartySidecar((2000 + other).ToString(CultureInfo.InvariantCulture), null, $"10.20.{other / 250}.{other % 250 + 2}",
                16384 + 2 * random.Next(8000), "right", otherDevice, null, otherDevice);
        }

        // Exponential with a 3.5 min mean, plus a few long calls.
        double seconds = random.NextDouble() < 0.005 ? 3600 + random.Next(7200) : Math.Round(-210 * Math.Log(1 - random.NextDouble()), 3);
        var id = Guid.CreateVersion7(started);
        string callId = $"{random.NextInt64():x16}@10.20.0.1";
        return new RecordingSummary(id.ToString("D"), "sip", callId, started, started.AddSeconds(seconds), seconds, Math.Max(0, seconds - 0.5),
            [local, remote], ["PCMA"], "bye", true)
        { CallIds = [callId] };
    }

    /// <summary>A start time in the year before <see cref="End"/>: weekdays, 08:00-18:00.</summary>
    public static DateTimeOffset Start(Random random)
    {
        while (true)
        {
            DateTimeOffset day = End.AddDays(-1 - random.Next(365)).Date;
            if (day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday)
            {
                continue;
            }

            return new DateTimeOffset(day.Date, TimeSpan.Zero).AddHours(8).AddMilliseconds(random.NextInt64(10L * 3600 * 1000));
        }
    }

    /// <summary>
    /// Copies the fixture to <paramref name="path"/> without opening the shared file when it is complete: a build whose
    /// schema is newer would otherwise upgrade it in place under the builds of other branches sharing the temp folder
    /// (which then set it aside as "too new" and search an empty index).
    /// </summary>
    public static void CopyTo(string path)
    {
        string shared = System.IO.Path.Combine(SharedFolder, RecordingIndex.FileName);
        if (!File.Exists(shared + ".complete"))
        {
            shared = Path; // built first
        }

        File.Copy(shared, path);
        if (File.Exists(shared + "-wal"))
        {
            File.Copy(shared + "-wal", path + "-wal"); // committed pages not yet checkpointed into the file
        }
    }

    private static string SharedFolder => System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"appliance-bench-index-v{Version}-{Recordings}");

    private static string Build()
    {
        string folder = SharedFolder;
        string path = System.IO.Path.Combine(folder, RecordingIndex.FileName);
        if (File.Exists(path + ".complete"))
        {
            RecordingIndex.Open(path, out IndexOpening opening, out string? reason).Close(); // an older schema is upgraded here, once
            Console.WriteLine($"// recordings index fixture: {opening} {reason}");
            return path;
        }

        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        Directory.CreateDirectory(folder);
        var clock = Stopwatch.StartNew();
        RecordingIndex index = RecordingIndex.Open(path, out _, out _);
        var random = new Random(20261201);
        using (RecordingIndex.Writer writer = index.CreateWriter())
        {
            const int batch = 10_000;
            for (int i = 0; i < Recordings; i += batch)
            {
                writer.Begin();
                for (int j = 0; j < batch; j++)
                {
                    DateTimeOffset started = Start(random);
                    writer.Upsert(Make(random, started), started.UtcDateTime.ToString("yyyy/MM/dd", CultureInfo.InvariantCulture));
                }

                writer.Commit();
            }

            writer.Begin();
            writer.SetSyncedSince(End.ToUnixTimeMilliseconds());
            writer.Optimize();
            writer.Commit();
        }

        Console.WriteLine($"// recordings index fixture: {Recordings:N0} recordings in {clock.Elapsed.TotalSeconds:F0} s, " +
            $"{new FileInfo(path).Length / (1024.0 * 1024):F0} MiB (+ WAL {(File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length / (1024.0 * 1024) : 0):F0} MiB) at {path}");
        File.WriteAllText(path + ".complete", "");
        return path;
    }
}
