namespace Capture.Recording;

/// <summary>
/// A recording's audio file, unbuffered (each write goes to the file at once, so a failed write leaves no bytes behind
/// in a buffer to be written again), created on its first write: a folder that cannot be created or a disk that is
/// full when the call starts costs the pages written meanwhile, not the recording. Until the file exists its length
/// and position are 0.
/// </summary>
internal sealed class RecordingFileStream(string path) : Stream
{
    private FileStream? _file;

    public string Path { get; } = path;

    /// <summary>The file was created (it may still be empty).</summary>
    public bool Created => _file is not null;

    public override bool CanRead => false;

    public override bool CanSeek => true;

    public override bool CanWrite => true;

    public override long Length => _file?.Length ?? 0;

    public override long Position
    {
        get => _file?.Position ?? 0;
        set
        {
            if (_file is not null)
            {
                _file.Position = value;
            }
            else if (value != 0)
            {
                throw new IOException("the recording file does not exist yet");
            }
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer) => Open().Write(buffer);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush() => _file?.Flush();

    public override void SetLength(long value)
    {
        if (_file is not null)
        {
            _file.SetLength(value);
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => _file?.Seek(offset, origin) ?? 0;

    private FileStream Open()
    {
        if (_file is null)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            // bufferSize 0: no FileStream buffer, whose failed flush would keep the bytes and write them again later.
            _file = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);
        }

        return _file;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file?.Dispose();
        }

        base.Dispose(disposing);
    }
}
