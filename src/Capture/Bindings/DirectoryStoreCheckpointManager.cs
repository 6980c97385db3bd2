using System.Buffers.Binary;
using FASTER.core;

namespace Capture.Bindings;

/// <summary>
/// FASTER's file checkpoint manager (newest log checkpoint kept, older ones deleted once it is committed) with two
/// guards for <see cref="DirectoryStore.Open"/>: it tells a checkpoint a crash interrupted before its metadata was
/// written from a committed one, and it rejects metadata whose length prefix does not fit its file, so a corrupt
/// prefix cannot make FASTER allocate and read gigabytes.
/// </summary>
internal sealed class DirectoryStoreCheckpointManager : DeviceLogCommitCheckpointManager
{
    // FASTER's DefaultCheckpointNamingScheme puts a log checkpoint's metadata in <base>/cpr-checkpoints/<token>/info.dat,
    // written through a device, which appends the segment number (".0").
    private const string LogCheckpointsDirectoryName = "cpr-checkpoints";
    private const string MetadataFileName = "info.dat.0";

    private readonly string _logCheckpointsPath;
    private readonly Func<long, long, string?> _checkLog;
    private readonly List<string> _rejected = [];

    /// <param name="basePath">The checkpoints folder.</param>
    /// <param name="checkLog">
    /// Given a checkpoint's begin and tail addresses, what is wrong with the log it needs (null: nothing). Runs before
    /// FASTER reads the log, which it trusts blindly (see <see cref="DirectoryStoreLogCheck"/>).
    /// </param>
    public DirectoryStoreCheckpointManager(string basePath, Func<long, long, string?> checkLog)
        : base(new LocalStorageNamedDeviceFactory(), new DefaultCheckpointNamingScheme(basePath), removeOutdated: true)
    {
        _logCheckpointsPath = Path.Combine(basePath, LogCheckpointsDirectoryName);
        _checkLog = checkLog;
    }

    /// <summary>The folder of the log checkpoints' metadata (one sub-folder per checkpoint).</summary>
    public string LogCheckpointsPath => _logCheckpointsPath;

    /// <summary>Why checkpoints were rejected while recovering ("file: reason"), for the error message.</summary>
    public IReadOnlyList<string> Rejected => _rejected;

    /// <summary>
    /// Metadata files of log checkpoints that got as far as writing their metadata, newest first. A checkpoint killed
    /// before that leaves a directory without the file, or the file empty, and never counted as committed.
    /// </summary>
    public List<FileInfo> CommittedMetadataFiles()
    {
        var files = new List<FileInfo>();
        if (!Directory.Exists(_logCheckpointsPath))
        {
            return files;
        }

        foreach (string directory in Directory.EnumerateDirectories(_logCheckpointsPath))
        {
            var file = new FileInfo(Path.Combine(directory, MetadataFileName));
            if (file.Exists && file.Length > 0)
            {
                files.Add(file);
            }
        }

        files.Sort((a, b) => b.LastWriteTimeUtc.CompareTo(a.LastWriteTimeUtc));
        return files;
    }

    public override byte[] GetLogCheckpointMetadata(Guid logToken, DeltaLog deltaLog, bool scanDelta, long recoverTo)
    {
        string path = Path.Combine(_logCheckpointsPath, logToken.ToString(), MetadataFileName);
        string? problem = CheckLengthPrefix(path);
        if (problem is not null)
        {
            _rejected.Add($"{path}: {problem}");

            // FASTER skips a checkpoint whose metadata throws and tries the next one.
            throw new FasterException(problem);
        }

        byte[] metadata = base.GetLogCheckpointMetadata(logToken, deltaLog, scanDelta, recoverTo);

        // Parsed as FASTER will parse it, to learn which part of the log it needs and check that part first.
        try
        {
            var info = default(HybridLogRecoveryInfo);
            using (var reader = new StreamReader(new MemoryStream(metadata)))
            {
                info.Initialize(reader);
            }

            problem = _checkLog(info.beginAddress, info.finalLogicalAddress);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            problem = $"unreadable metadata ({e.Message.TrimEnd('.')})";
        }

        if (problem is not null)
        {
            _rejected.Add($"{path}: {problem}");
            throw new FasterException(problem);
        }

        return metadata;
    }

    // The file is [int32 little-endian length][metadata text], zero-padded to a sector.
    private static string? CheckLengthPrefix(string path)
    {
        Span<byte> prefix = stackalloc byte[sizeof(int)];
        long fileLength;
        try
        {
            // Not opened unless it can be a plain file: opening a FIFO in its place would wait for a writer for ever.
            var file = new FileInfo(path);
            if (!file.Exists || file.LinkTarget is not null || file.Length < sizeof(int))
            {
                return Directory.Exists(path) ? "it is a directory" : file.LinkTarget is not null ? "it is a symbolic link" : $"only {(file.Exists ? file.Length : 0)} bytes";
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            fileLength = stream.Length;
            if (stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false) < prefix.Length)
            {
                return $"only {fileLength} bytes";
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }

        int length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        return length > 0 && length <= fileLength - sizeof(int)
            ? null
            : $"its length prefix {length} does not fit the {fileLength}-byte file";
    }
}
