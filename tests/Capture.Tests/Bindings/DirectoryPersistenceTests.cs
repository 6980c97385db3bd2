using System.Diagnostics;
using Capture.Bindings;
using Capture.Bindings.Config;
using Capture.Tests.Support;
using Xunit.Abstractions;

namespace Capture.Tests.Bindings;

/// <summary>
/// The state folder unwritable for a while (issue 13): as root, chmod changes nothing, so the folder is made immutable
/// with <c>chattr -R +i</c> (e2fsprogs; ext4, xfs, btrfs), which refuses new files and writes to open ones alike.
/// </summary>
[Collection(WholeHeap.Name)]
public sealed class DirectoryPersistenceTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 9, 0, 0, TimeSpan.Zero);
    private readonly string _state = Directory.CreateTempSubdirectory("directory-persist-").FullName;

    public void Dispose()
    {
        Chattr("-i");
        Directory.Delete(_state, recursive: true);
    }

    private bool Chattr(string flag)
    {
        var psi = new ProcessStartInfo("chattr", ["-R", flag, _state]) { RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            output.WriteLine($"chattr -R {flag} {_state}: {error.Trim()}");
        }

        return p.ExitCode == 0;
    }

    /// <summary>Makes the folder unwritable; false (with the reason printed) where this machine cannot.</summary>
    private bool MakeUnwritable()
    {
        if (Environment.UserName != "root")
        {
            output.WriteLine("SKIPPED: chattr +i needs root (CAP_LINUX_IMMUTABLE); CI runs as root");
            return false;
        }

        if (!Chattr("+i"))
        {
            output.WriteLine("SKIPPED: the file system of the temporary folder does not support the immutable attribute");
            return false;
        }

        try
        {
            File.WriteAllText(Path.Combine(_state, "probe"), "x");
            Chattr("-i");
            output.WriteLine("SKIPPED: the folder is still writable with the immutable attribute set");
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static void Phone(BindingDirectory d, string id, string ip, string extension, DateTimeOffset at)
    {
        string device = d.ObserveDevice(id, DeviceProtocol.Sip, ConfigValues.ParseIp(ip), at);
        d.RegisterLine(device, extension, null, LineSource.Registered, at.AddHours(1), at);
    }

    private BindingDirectory OpenDirectory() =>
        BindingDirectory.Open(DirectoryStore.Open(new DirectoryStoreOptions { Path = _state }), DirectoryConfig.Empty, T0);

    [Fact]
    public void UnwritableFolder_FailuresAreCountedAndSaidOnce_ChangesKept_SavedWhenWritableAgain()
    {
        var notices = new List<DirectoryPersistNotice>();
        using (BindingDirectory d = OpenDirectory())
        {
            d.PersistNotice += n => { lock (notices) { notices.Add(n); } };
            Phone(d, "sip:10.0.0.1:5060", "10.0.0.1", "2001", T0);
            Assert.True(d.Persist());
            if (!MakeUnwritable())
            {
                return;
            }

            // Learned while the folder refuses writes.
            Phone(d, "sip:10.0.0.2:5060", "10.0.0.2", "2002", T0.AddSeconds(1));
            Assert.False(d.Persist());
            Phone(d, "sip:10.0.0.3:5060", "10.0.0.3", "2003", T0.AddSeconds(2));
            Assert.False(d.Persist());
            Assert.False(d.Persist()); // nothing new: still retried, still failing
            Assert.Equal(3, d.PersistFailures);
            Assert.True(d.PersistFailing);
            output.WriteLine(d.LastPersistError);
            Assert.Contains(_state, d.LastPersistError, StringComparison.Ordinal);
            Assert.Contains("not writable", d.LastPersistError, StringComparison.Ordinal);
            DirectoryPersistNotice failing = Assert.Single(notices);
            Assert.True(failing.Failing);
            Assert.False(failing.Broken);

            Assert.True(Chattr("-i"));
            Assert.True(d.Persist()); // the changes kept since the first failure
            Assert.False(d.PersistFailing);
            Assert.Equal(2, notices.Count);
            Assert.False(notices[1].Failing);
            Assert.Equal(3, notices[1].Failures);
            Assert.Equal(3, d.PersistFailures);
        }

        // Everything learned during the outage is on disk.
        using BindingDirectory again = OpenDirectory();
        Assert.True(again.TryFindByExtension("2002", out _));
        Assert.True(again.TryFindByExtension("2003", out _));
        Assert.Equal(3, again.DeviceCount);
    }

    [Fact]
    public async Task UnwritableFolder_TimerKeepsRetrying_WithoutPilingUpThreads_AndCloseReturns()
    {
        using BindingDirectory d = OpenDirectory();
        Phone(d, "sip:10.0.0.1:5060", "10.0.0.1", "2001", T0);
        Assert.True(d.Persist());
        if (!MakeUnwritable())
        {
            return;
        }

        Phone(d, "sip:10.0.0.2:5060", "10.0.0.2", "2002", T0.AddSeconds(1));
        d.StartAutoPersist(TimeSpan.FromMilliseconds(50));
        var wait = Stopwatch.StartNew();
        while (d.PersistFailures < 20 && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(20);
        }

        // Every interval is retried (with a checkpoint that hung, the first tick held the persist lock for good and
        // every later tick blocked a pool thread behind it).
        Assert.True(d.PersistFailures >= 20, $"{d.PersistFailures} failures in {wait.Elapsed}");

        // The final persist at close fails too, is counted, and returns.
        long before = d.PersistFailures;
        Task close = Task.Run(d.Close);
        Assert.Same(close, await Task.WhenAny(close, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.True(d.PersistFailures > before);
        output.WriteLine($"{d.PersistFailures} failures; last: {d.LastPersistError}");
    }

    /// <summary>
    /// A write that fails after the probe passed (a disk that fills between them): FASTER never retries it, so the
    /// checkpoint is given up after its timeout, the store says it is broken and fails at once from then on, closing it
    /// does not wait for FASTER, and the next open recovers the last completed checkpoint. A 1 MiB tmpfs nearly filled
    /// plays the disk: the probe's small file fits, the log's flush does not.
    /// </summary>
    [Fact]
    public async Task CheckpointFailingAfterTheProbe_IsGivenUpInTime_AndTheNextOpenRecoversTheLastCheckpoint()
    {
        if (Environment.UserName != "root")
        {
            output.WriteLine("SKIPPED: mounting a tmpfs needs root; CI runs as root");
            return;
        }

        string mount = Path.Combine(_state, "tmpfs");
        Directory.CreateDirectory(mount);
        if (Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount) is { } error)
        {
            output.WriteLine($"SKIPPED: cannot mount a tmpfs here: {error}");
            return;
        }

        try
        {
            string state = Path.Combine(mount, "state");
            DirectoryStore store = DirectoryStore.Open(new DirectoryStoreOptions { Path = state, CheckpointTimeout = TimeSpan.FromSeconds(2) });
            store.Put("d/first", "{\"v\":1}"u8);
            Assert.True(store.Checkpoint());

            // Leave 12 KiB: room for the probe's file, not for 200 KiB of log.
            string filler = Path.Combine(mount, "filler");
            File.WriteAllBytes(filler, new byte[new DriveInfo(mount).AvailableFreeSpace - (12 << 10)]);
            for (int i = 0; i < 100; i++)
            {
                store.Put($"d/{i}", new byte[2000]);
            }

            var watch = Stopwatch.StartNew();
            var failed = Assert.Throws<DirectoryStoreException>(() => store.Checkpoint());
            output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s: {failed.Message}");
            Assert.True(store.Broken, "the probe, not FASTER, failed: the test did not reach the case it is about");
            Assert.Contains("did not finish within 2 s", failed.Message, StringComparison.Ordinal);

            // From now on at once, with what to do.
            watch.Restart();
            var again = Assert.Throws<DirectoryStoreException>(() => store.Checkpoint());
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1));
            Assert.Contains("restart the appliance", again.Message, StringComparison.Ordinal);

            Task dispose = Task.Run(store.Dispose);
            Assert.Same(dispose, await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(10))));

            File.Delete(filler);
            using DirectoryStore reopened = DirectoryStore.Open(new DirectoryStoreOptions { Path = state });
            Assert.True(reopened.Recovered);
            Assert.True(reopened.TryGet("d/first", out _));
            Assert.Equal(1, reopened.LiveRecords);
        }
        finally
        {
            // Lazy: the broken store's files stay open until this process exits.
            Run("umount", "-l", mount);
        }
    }

    private string? Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? null : $"{program}: {error.Trim()}";
    }
}
