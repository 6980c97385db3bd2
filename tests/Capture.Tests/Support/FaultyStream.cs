namespace Capture.Tests.Support;

/// <summary>
/// A file on a disk that can fill up: a seekable in-memory stream whose writes fail with "No space left on device" once
/// its length would pass <see cref="Capacity"/>, after writing what fits (a partial write, as write(2) does), and
/// which counts every byte written (bytes written twice show).
/// </summary>
internal sealed class FaultyStream : Stream
{
    private readonly MemoryStream _data = new();

    /// <summary>The most bytes the file may hold; null: unlimited (the disk has room again).</summary>
    public long? Capacity { get; set; }

    /// <summary>Writes refused (each one threw).</summary>
    public int Failures { get; private set; }

    public long BytesWritten { get; private set; }

    public byte[] ToArray() => _data.ToArray();

    public override bool CanRead => false;

    public override bool CanSeek => true;

    public override bool CanWrite => true;

    public override long Length => _data.Length;

    public override long Position { get => _data.Position; set => _data.Position = value; }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        long room = Capacity is long c ? Math.Max(0, c - _data.Position) : long.MaxValue;
        if (buffer.Length > room)
        {
            _data.Write(buffer[..(int)room]);
            BytesWritten += room;
            Failures++;
            throw new IOException("No space left on device : 'fake.opus'", 28);
        }

        _data.Write(buffer);
        BytesWritten += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush()
    {
    }

    public override void SetLength(long value) => _data.SetLength(value);

    public override long Seek(long offset, SeekOrigin origin) => _data.Seek(offset, origin);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
