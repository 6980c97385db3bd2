using System.Buffers;
using System.Buffers.Binary;

namespace Capture.Bindings;

/// <summary>
/// Checks the log segments a checkpoint needs before FASTER reads them. FASTER trusts its log: a segment replaced by
/// a directory or a symbolic link loop makes its recovery wait forever for a read that never completes, garbage makes
/// it follow a record length out of its buffer (an <see cref="AccessViolationException"/>, which .NET cannot catch),
/// and zeros read as "no records" (an empty directory, then overwritten by the next checkpoint). So every segment of
/// [begin, tail) must be a regular file long enough, and its records must parse: each page starts with a record
/// (except the page of the begin address, where compaction may leave padding), and each record's key and value
/// lengths fit the store's limits and its page.
/// </summary>
internal static class DirectoryStoreLogCheck
{
    // SpanByte's length word: the two top bits are flags (unserialized, extra metadata), never set on disk here.
    private const uint SpanByteHeaderMask = 0xC000_0000;

    // A record: RecordInfo (8 bytes), then key and value, each an int32 length and the payload, padded to 8 bytes.
    private const int RecordInfoBytes = 8;

    /// <summary>
    /// Null when every log segment entry is a plain file; else what is wrong. FASTER opens them all when it opens its
    /// device, so this runs first: a directory or a symbolic link among them blocks or fails its reads for good.
    /// </summary>
    public static string? CheckEntries(string directory, string logFileName)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory, logFileName + ".*"))
        {
            if (Directory.Exists(entry))
            {
                return $"'{entry}' is a directory, not a log segment file";
            }

            if (new FileInfo(entry).LinkTarget is { } target)
            {
                return $"'{entry}' is a symbolic link (to '{target}'), not a log segment file";
            }
        }

        return null;
    }

    /// <summary>Null when the log is usable for [<paramref name="begin"/>, <paramref name="tail"/>), else what is wrong (naming the file).</summary>
    public static string? Check(string directory, string logFileName, int pageSizeBits, int segmentSizeBits, long begin, long tail)
    {
        if (begin < 0 || tail < begin)
        {
            return $"its log addresses [{begin}, {tail}) are impossible";
        }

        long segmentSize = 1L << segmentSizeBits;
        long pageSize = 1L << pageSizeBits;
        byte[] page = ArrayPool<byte>.Shared.Rent((int)pageSize);
        long records = 0;
        try
        {
            for (long segment = begin >> segmentSizeBits; tail > begin && segment <= (tail - 1) >> segmentSizeBits; segment++)
            {
                string path = Path.Combine(directory, $"{logFileName}.{segment}");
                long segmentStart = segment << segmentSizeBits;
                long from = Math.Max(begin, segmentStart);
                long until = Math.Min(tail, segmentStart + segmentSize);
                long needed = until - segmentStart;
                var file = new FileInfo(path);
                if (!file.Exists)
                {
                    return $"its checkpoint needs the log up to address {tail}, but '{path}' is missing";
                }

                if (file.Length < needed)
                {
                    return $"its checkpoint needs the log up to address {tail}, but '{path}' has {file.Length} of {needed} bytes";
                }

                try
                {
                    using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
                    for (long pageStart = from & ~(pageSize - 1); pageStart < until; pageStart += pageSize)
                    {
                        long readFrom = Math.Max(pageStart, from);
                        int length = (int)(Math.Min(pageStart + pageSize, until) - readFrom);
                        int offset = (int)(readFrom - pageStart);
                        if (RandomAccess.Read(stream.SafeFileHandle, page.AsSpan(offset, length), readFrom - segmentStart) < length)
                        {
                            return $"'{path}' ended before address {readFrom + length}";
                        }

                        string? problem = CheckPage(page.AsSpan(0, offset + length), offset, pageStart, beginPage: pageStart == (begin & ~(pageSize - 1)), ref records);
                        if (problem is not null)
                        {
                            return $"'{path}' is damaged: {problem}";
                        }
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return $"'{path}' cannot be read: {e.Message}";
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }

        // Compaction of an all-deleted store leaves begin = tail; a log with room for records but none is zeros.
        return tail > begin && records == 0 ? $"'{Path.Combine(directory, $"{logFileName}.{begin >> segmentSizeBits}")}' holds no record between addresses {begin} and {tail} (zeros)" : null;
    }

    // Records from `offset` to the end of `page` (which ends at the tail or at the page's end). FASTER reads a zero
    // RecordInfo as an 8-byte empty slot: the padding after a shortened value (zeroed by SpanByte's in-place update)
    // and at a page's end. But a record is allocated at the start of every page, so a page (other than the begin
    // address's, where compaction may have left padding) that starts with zeros is not FASTER's.
    private static string? CheckPage(ReadOnlySpan<byte> page, int offset, long pageAddress, bool beginPage, ref long records)
    {
        int at = offset;
        while (at + RecordInfoBytes <= page.Length)
        {
            long info = BinaryPrimitives.ReadInt64LittleEndian(page[at..]);
            if (info == 0)
            {
                if (at == 0 && !beginPage)
                {
                    return $"no record at address {pageAddress} (a page of zeros)";
                }

                at += RecordInfoBytes;
                continue;
            }

            int key = RecordInfoBytes;
            if (!TryLength(page, at + key, DirectoryStore.MaxKeyBytes, out int keyLength) || keyLength == 0)
            {
                return $"the record at address {pageAddress + at} has an impossible key length";
            }

            int value = key + Align8(sizeof(int) + keyLength);
            if (!TryLength(page, at + value, DirectoryStore.MaxValueBytes, out int valueLength))
            {
                return $"the record at address {pageAddress + at} has an impossible value length";
            }

            int size = value + Align8(sizeof(int) + valueLength);
            if (at + size > page.Length)
            {
                return $"the record at address {pageAddress + at} runs past its page or the log's end";
            }

            records++;
            at += size;
        }

        return null;
    }

    private static bool TryLength(ReadOnlySpan<byte> page, int at, int max, out int length)
    {
        length = 0;
        if ((uint)(at + sizeof(int)) > (uint)page.Length)
        {
            return false;
        }

        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(page[at..]);
        if ((raw & SpanByteHeaderMask) != 0 || raw > (uint)max)
        {
            return false;
        }

        length = (int)raw;
        return true;
    }

    private static int Align8(int length) => (length + 7) & ~7;
}
