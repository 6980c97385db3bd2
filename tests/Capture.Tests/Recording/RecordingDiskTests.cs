using Capture.Calls;
using Capture.Recording;
using Capture.Tests.Support;

namespace Capture.Tests.Recording;

/// <summary>Episodes of failed writes: told once when they start and once when writing works again, never per page.</summary>
public sealed class RecordingDiskTests
{
    [Fact]
    public void AnEpisode_IsToldOnce_AndEndsOnlyAfterAQuietPeriod_CountingEachRecordingOnce()
    {
        var time = new ManualTime();
        var told = new DiskListener();
        var disk = new RecordingDisk("/rec", told, time);
        var full = new IOException("No space left on device");

        disk.Succeeded();
        Assert.False(disk.Failing);
        disk.PagesFailed("a", full, 1, 4000);
        disk.PagesFailed("b", full, 1, 3000);
        time.Advance(TimeSpan.FromSeconds(1));
        disk.Succeeded(); // a page that fit the slack of its file's last block: the disk is still full
        disk.PagesFailed("a", full, 2, 8000);
        disk.SidecarFailed("c", full);
        disk.SidecarFailed("c", full);
        time.Advance(TimeSpan.FromSeconds(2));
        disk.Succeeded(); // 2 s after the last failure: not yet
        Assert.True(disk.Failing);
        time.Advance(TimeSpan.FromSeconds(1.5));
        disk.Succeeded();
        disk.Succeeded();

        Assert.False(disk.Failing);
        Assert.Equal(["failing /rec: No space left on device", "recovered /rec: 2 recordings, 4 pages, 15000 bytes, 1 sidecars"], told.Lines);
        Assert.Equal(1, disk.Episodes);

        // A new episode is a new warning; at shutdown one still open is told as still failing.
        disk.PagesFailed("d", new IOException("Input/output error"), 1, 100);
        disk.Close();
        Assert.Equal(["failing /rec: Input/output error", "still failing /rec: 1 recordings, 1 pages"], told.Lines[2..]);
        Assert.Equal(2, disk.Episodes);
    }

    [Fact]
    public void PipelineOnABlockedFolder_LosesThatAudioOnly_RetriesTheSidecar_AndCountsEachRecordingOnce()
    {
        var time = new ManualTime();
        var told = new DiskListener();
        using var s = new SipScenario(disk: folder => new RecordingDisk(folder, told, time));
        var ids = new CallIds();
        s.Pipeline.Observer = ids;

        // The day folder cannot be created (a file is in the way, as a full disk refuses a new folder).
        string year = Path.Combine(s.OutputDirectory, "2024");
        File.WriteAllText(year, "in the way");
        var a = new SipDialog("full-a@10.0.0.10", "<sip:1001@pbx>", "<sip:2002@pbx>");
        var b = new SipDialog("full-b@10.0.0.11", "<sip:1003@pbx>", "<sip:2004@pbx>");
        Establish(s, a, "10.0.0.10", "10.0.0.20");
        Establish(s, b, "10.0.0.11", "10.0.0.21");
        s.Talk("10.0.0.10:4000", "10.0.0.20:5000", 100);
        s.Talk("10.0.0.11:4000", "10.0.0.21:5000", 100);
        Assert.True(told.Lines.Count == 1 && told.Lines[0].StartsWith("failing " + s.OutputDirectory, StringComparison.Ordinal), string.Join("\n", told.Lines));

        // Room again: both recordings go on.
        File.Delete(year);
        time.Advance(TimeSpan.FromSeconds(4));
        s.Talk("10.0.0.10:4000", "10.0.0.20:5000", 150);
        s.Talk("10.0.0.11:4000", "10.0.0.21:5000", 150);
        Assert.Equal(2, told.Lines.Count);
        Assert.StartsWith("recovered " + s.OutputDirectory + ": 2 recordings, ", told.Lines[1], StringComparison.Ordinal);

        // A's sidecar cannot be written when its call ends: it waits, and is written once it can be.
        string dayFolder = Path.Combine(s.OutputDirectory, "2024", "01", "01");
        string blocker = Path.Combine(dayFolder, ids.Of("full-a@10.0.0.10") + ".json.tmp");
        Directory.CreateDirectory(Path.Combine(blocker, "x"));
        Hangup(s, a, "10.0.0.10", "10.0.0.20");
        Hangup(s, b, "10.0.0.11", "10.0.0.21");
        Assert.Equal(["full-b@10.0.0.11"], s.Finished.Select(c => c.CallId));
        Assert.Equal(1, s.Pipeline.Snapshot()["sidecars_pending"]);
        Assert.Equal(3, told.Lines.Count); // a second episode
        Directory.Delete(blocker, recursive: true);
        time.Advance(TimeSpan.FromSeconds(4));
        s.Advance(2);
        s.Sip("10.0.0.99:5060", "10.0.0.98:5060", "OPTIONS sip:x@10.0.0.98 SIP/2.0\r\nCall-ID: tick@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"); // capture time moves: the workers tick
        List<CallSidecar> calls = s.Complete();

        Assert.Equal(2, calls.Count);
        IReadOnlyDictionary<string, long> counters = s.Pipeline.Snapshot();
        Assert.Equal(0, counters["sidecars_pending"]);
        Assert.Equal(2, counters["recordings_failed"]); // once each, however many pages each lost
        Assert.Equal(2, s.Errors.Count);
        Assert.InRange(counters["recording_pages_dropped"], 3, 6);
        Assert.Equal(4, told.Lines.Count);
        Assert.StartsWith("recovered " + s.OutputDirectory + ": 0 recordings, 0 pages, 0 bytes, 1 sidecars", told.Lines[3], StringComparison.Ordinal);

        // Each call's media timeline: A talked 2 s, was silent 2 s while B talked, talked 3 s (7 s); B 2 + 3 + 3 (8 s). The
        // pages closed while the folder was blocked are lost (A: its first two, B: its first), said by a write-failed event;
        // the file holds the rest, valid, and plays exactly that: lost + playable = the media timeline, never more.
        foreach ((CallSidecar call, double timeline, double lostSeconds) in new[] { (calls[0], 7.0, 2.0), (calls[1], 8.0, 1.0) })
        {
            CallEventSidecar lost = Assert.Single(call.Events, e => e.Type == CallEventTypes.WriteFailed);
            Assert.Equal(0, lost.OffsetSeconds);
            Assert.Equal(lostSeconds, lost.DurationSeconds!.Value, 2);
            Assert.Contains("not written", lost.Detail, StringComparison.Ordinal);
            byte[] file = File.ReadAllBytes(s.PathOf(call));
            List<OggPageInfo> pages = OggPages.AssertValid(file, distinctBodies: false);
            double playable = OggPages.DurationSeconds(pages);
            Assert.Equal(call.MediaDurationSeconds, playable, 2);
            Assert.Equal(timeline, playable + lost.DurationSeconds.Value, 1);
            s.AssertLegs(call, leftTone: 500, rightTone: 1300);
        }
    }

    [Fact]
    public void ASidecarStillUnwritableAtTheEnd_IsToldWithItsContent_AndCountsTheRecordingAsFailed()
    {
        var told = new DiskListener();
        using var s = new SipScenario(disk: folder => new RecordingDisk(folder, told));
        var ids = new CallIds();
        s.Pipeline.Observer = ids;
        var a = new SipDialog("end-a@10.0.0.10", "<sip:1001@pbx>", "<sip:2002@pbx>");
        Establish(s, a, "10.0.0.10", "10.0.0.20");
        s.Talk("10.0.0.10:4000", "10.0.0.20:5000", 100);

        // The sidecar's temporary file cannot be created (a folder with something in it sits at its name) until the end.
        string blocker = Path.Combine(s.OutputDirectory, "2024", "01", "01", ids.Of("end-a@10.0.0.10") + ".json.tmp");
        Directory.CreateDirectory(Path.Combine(blocker, "x"));
        Assert.Empty(s.Complete()); // capture-ended: finalised, but its sidecar could not be written

        Assert.Equal(["failing " + s.OutputDirectory], told.Lines.Take(1).Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]));
        string lost = Assert.Single(told.Lines, l => l.StartsWith("sidecar lost ", StringComparison.Ordinal));
        Assert.Contains(Path.ChangeExtension(blocker, null), lost, StringComparison.Ordinal); // the .json it should have been
        Assert.Contains("end-a@10.0.0.10", lost, StringComparison.Ordinal); // its content goes with it
        Assert.Equal(1, s.Pipeline.Snapshot()["recordings_failed"]);
        Assert.Equal(0, s.Pipeline.Snapshot()["recording_pages_dropped"]); // the audio itself was all written
        Assert.Single(s.Errors);
    }

    [Fact]
    public void ACallWhoseAudioCouldNeverBeWritten_HasNoFile_ButItsSidecarSaysSoOnceTheFolderIsBack()
    {
        using var s = new SipScenario();
        string year = Path.Combine(s.OutputDirectory, "2024");
        File.WriteAllText(year, "in the way");
        var a = new SipDialog("never@10.0.0.10", "<sip:1001@pbx>", "<sip:2002@pbx>");
        Establish(s, a, "10.0.0.10", "10.0.0.20");
        s.Talk("10.0.0.10:4000", "10.0.0.20:5000", 100);
        Hangup(s, a, "10.0.0.10", "10.0.0.20");
        Assert.Empty(s.Finished); // its sidecar waits for the folder
        File.Delete(year);

        CallSidecar call = Assert.Single(s.Complete()); // the last try at the end writes it
        Assert.Null(call.File);
        Assert.Equal(CallEndReasons.Bye, call.EndReason); // media was seen: not no-media
        Assert.Equal(0, call.MediaDurationSeconds);
        CallEventSidecar lost = Assert.Single(call.Events, e => e.Type == CallEventTypes.WriteFailed);
        Assert.Equal(2.0, lost.DurationSeconds!.Value, 2);
        Assert.Empty(Directory.GetFiles(s.OutputDirectory, "*.opus", SearchOption.AllDirectories));
        Assert.True(File.Exists(Path.Combine(s.OutputDirectory, "2024", "01", "01", call.Id + ".json")));
    }

    private static void Establish(SipScenario s, SipDialog d, string caller, string callee)
    {
        s.Sip(caller + ":5060", callee + ":5060", d.Invite(1, SipDialog.Sdp(caller, 4000)));
        s.Advance(0.1);
        s.Sip(callee + ":5060", caller + ":5060", d.Response(200, "OK", 1, "INVITE", SipDialog.Sdp(callee, 5000)));
        s.Sip(caller + ":5060", callee + ":5060", d.Ack());
    }

    private static void Hangup(SipScenario s, SipDialog d, string caller, string callee)
    {
        s.Sip(caller + ":5060", callee + ":5060", d.InDialog("BYE", fromCaller: true, cseq: 2));
        s.Sip(callee + ":5060", caller + ":5060", d.Response(200, "OK", 2, "BYE"));
    }

    private sealed class CallIds : ICallObserver
    {
        private readonly Dictionary<string, string> _ids = [];

        public string Of(string callId) => _ids[callId];

        public void CallStarted(string recordingId, CallMetadata metadata, long atNs) => _ids[metadata.CallId] = recordingId;

        public void CallUpdated(string recordingId, CallMetadata metadata)
        {
        }

        public void CallEnded(string recordingId, string reason, long atNs)
        {
        }
    }

    private sealed class DiskListener : IRecordingDiskListener
    {
        public List<string> Lines { get; } = [];

        public void WritesFailing(string folder, string error) => Lines.Add($"failing {folder}: {error}");

        public void WritesRecovered(string folder, RecordingWriteEpisode e) =>
            Lines.Add($"recovered {folder}: {e.Recordings} recordings, {e.Pages} pages, {e.Bytes} bytes, {e.Sidecars} sidecars");

        public void WritesStillFailing(string folder, RecordingWriteEpisode e) => Lines.Add($"still failing {folder}: {e.Recordings} recordings, {e.Pages} pages");

        public void SidecarNotWritten(string path, CallSidecar sidecar, string error) => Lines.Add($"sidecar lost {path}: {error}: {CallSidecar.Serialize(sidecar)}");
    }
}
