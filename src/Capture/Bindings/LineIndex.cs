using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;

namespace Capture.Bindings;

/// <summary>
/// Extensions and their line appearances (DESIGN section 2): which devices carry each extension, which one holds it as
/// line 1, and the conflicts when a second device claims a line 1 that is held. Knows devices by id only. Changes run
/// under the directory's lock; <see cref="TryGetEntry(ReadOnlySpan{char}, out ExtensionEntry)"/> reads a published
/// snapshot without it and allocates nothing. Conflicts are kept in the store.
/// </summary>
internal sealed class LineIndex
{
    private const string StorePrefix = "x/";

    private readonly PendingEvents _events;
    private readonly ConcurrentDictionary<string, ExtensionEntry> _extensions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ExtensionEntry>.AlternateLookup<ReadOnlySpan<char>> _extensionsBySpan;
    private readonly Dictionary<string, List<string>> _appearances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _line1Holders = new(StringComparer.Ordinal);
    private readonly List<LineConflict> _conflicts = [];
    private long _nextConflictSeq = 1;
    private bool _conflictsUnsaved;

    public LineIndex(PendingEvents events)
    {
        _events = events;
        _extensionsBySpan = _extensions.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>An extension's appearances, published for lock-free lookups.</summary>
    internal sealed record ExtensionEntry(string? Line1Owner, string[] Devices);

    public int ExtensionCount => _extensions.Count;

    public int OpenConflictCount => _conflicts.Count(c => c.IsOpen);

    public bool TryGetEntry(ReadOnlySpan<char> extension, [MaybeNullWhen(false)] out ExtensionEntry entry) =>
        _extensionsBySpan.TryGetValue(extension, out entry);

    public bool TryGetEntry(string extension, [MaybeNullWhen(false)] out ExtensionEntry entry) => _extensions.TryGetValue(extension, out entry);

    public IReadOnlyList<LineConflict> Conflicts(bool openOnly) => [.. _conflicts.Where(c => !openOnly || c.IsOpen)];

    /// <summary>A device's extensions as a set: distinct, sorted (ordinal), exact strings.</summary>
    public static string[] SetOf(List<LineBinding> lines) =>
        [.. lines.Select(l => l.Extension).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    public string? Line1Holder(string extension) => _line1Holders.GetValueOrDefault(extension);

    public void SetLine1Holder(string extension, string deviceId) => _line1Holders[extension] = deviceId;

    /// <summary>A device's set went from <paramref name="old"/> to <paramref name="set"/> (both sorted): its appearances follow.</summary>
    public void MoveAppearances(string deviceId, string[] old, string[] set, HashSet<string> touched)
    {
        foreach (string e in old)
        {
            if (Array.BinarySearch(set, e, StringComparer.Ordinal) < 0 && _appearances.TryGetValue(e, out List<string>? devices))
            {
                devices.Remove(deviceId);
                if (devices.Count == 0)
                {
                    _appearances.Remove(e);
                }

                touched.Add(e);
            }
        }

        foreach (string e in set)
        {
            if (Array.BinarySearch(old, e, StringComparer.Ordinal) < 0)
            {
                AddAppearance(e, deviceId);
                touched.Add(e);
            }
        }
    }

    private void AddAppearance(string extension, string deviceId)
    {
        if (!_appearances.TryGetValue(extension, out List<string>? devices))
        {
            _appearances[extension] = devices = [];
        }

        devices.Add(deviceId);
    }

    /// <summary>Publishes the snapshots of these extensions for lock-free lookups.</summary>
    public void Publish(HashSet<string> extensions)
    {
        foreach (string e in extensions)
        {
            Publish(e);
        }
    }

    private void Publish(string extension)
    {
        if (_appearances.TryGetValue(extension, out List<string>? devices))
        {
            _extensions[extension] = new ExtensionEntry(_line1Holders.GetValueOrDefault(extension), [.. devices]);
        }
        else
        {
            _extensions.TryRemove(extension, out _);
        }
    }

    /// <summary>A second device claims a held line 1: recorded (once while open) and reported, the holder kept.</summary>
    public void RecordConflict(string extension, string holderId, string claimantId, DateTimeOffset now)
    {
        if (_conflicts.Exists(c => c.IsOpen && c.Extension == extension && c.Claimant == claimantId))
        {
            return;
        }

        var conflict = new LineConflict(_nextConflictSeq++, extension, holderId, claimantId, now);
        _conflicts.Add(conflict);
        _conflictsUnsaved = true;
        _events.Add(_events.New(DirectoryEventKind.ConflictDetected, now, claimantId) with
        {
            Extension = extension,
            Detail = $"line 1 '{extension}' is already held by device '{holderId}'; kept there, claim by '{claimantId}' recorded",
        });
    }

    /// <summary>
    /// <paramref name="deviceId"/> no longer has <paramref name="extension"/> as line 1: pass it to the oldest claimant, or
    /// withdraw the device's claim. Returns the claimant that holds it now, if one took it over.
    /// </summary>
    public string? ReleaseLine1(string deviceId, string extension, DateTimeOffset now, HashSet<string> touched)
    {
        touched.Add(extension);
        if (!_line1Holders.TryGetValue(extension, out string? holder) || holder != deviceId)
        {
            ResolveClaims(deviceId, extension, now, "withdrawn");
            return null;
        }

        _line1Holders.Remove(extension);
        LineConflict? next = null;
        foreach (LineConflict c in _conflicts)
        {
            // A device's own claim (one another appliance's holder refused, see BindingDirectory.ReportSharedConflict)
            // is never passed back to it.
            if (c.IsOpen && c.Extension == extension && c.Claimant != deviceId && (next is null || c.Since < next.Since))
            {
                next = c;
            }
        }

        if (next is null)
        {
            return null;
        }

        _line1Holders[extension] = next.Claimant;
        for (int i = 0; i < _conflicts.Count; i++)
        {
            LineConflict c = _conflicts[i];
            if (!c.IsOpen || c.Extension != extension)
            {
                continue;
            }

            if (c == next)
            {
                _conflicts[i] = c with { ResolvedAt = now, Resolution = "holder-released" };
                _events.Add(_events.New(DirectoryEventKind.ConflictResolved, now, c.Claimant) with
                {
                    Extension = extension,
                    Detail = $"'{deviceId}' released line 1 '{extension}'; '{c.Claimant}' holds it now",
                });
            }
            else
            {
                _conflicts[i] = c with { Holder = next.Claimant };
            }
        }

        _conflictsUnsaved = true;
        return next.Claimant;
    }

    /// <summary>Closes the open claims of <paramref name="claimantId"/> on <paramref name="extension"/>.</summary>
    public void ResolveClaims(string claimantId, string extension, DateTimeOffset now, string resolution)
    {
        for (int i = 0; i < _conflicts.Count; i++)
        {
            LineConflict c = _conflicts[i];
            if (c.IsOpen && c.Extension == extension && c.Claimant == claimantId)
            {
                _conflicts[i] = c with { ResolvedAt = now, Resolution = resolution };
                _conflictsUnsaved = true;
                _events.Add(_events.New(DirectoryEventKind.ConflictResolved, now, claimantId) with { Extension = extension, Detail = resolution });
            }
        }
    }

    public bool WriteChanges(DirectoryStore store)
    {
        if (!_conflictsUnsaved)
        {
            return false;
        }

        // Small, and only open ones change: rewriting every conflict is simpler than tracking which.
        foreach (LineConflict c in _conflicts)
        {
            store.Put(StorePrefix + c.Seq.ToString("D12", CultureInfo.InvariantCulture), JsonSerializer.SerializeToUtf8Bytes(c, DirectoryJsonContext.Default.LineConflict));
        }

        return true;
    }

    public void ChangesWritten() => _conflictsUnsaved = false;

    public void LoadConflicts(DirectoryStore store)
    {
        foreach (KeyValuePair<string, byte[]> kv in store.ReadAll(StorePrefix))
        {
            if (JsonSerializer.Deserialize(kv.Value, DirectoryJsonContext.Default.LineConflict) is { } c)
            {
                _conflicts.Add(c);
                _nextConflictSeq = Math.Max(_nextConflictSeq, c.Seq + 1);
            }
        }

        _conflicts.Sort(static (a, b) => a.Seq.CompareTo(b.Seq));
    }

    /// <summary>
    /// Rebuilds the index from recovered devices (after <see cref="LoadConflicts"/>): line-1 holders named by open
    /// conflicts first, then whoever has the line; each device's published set and line 1.
    /// </summary>
    public void Rebuild(ICollection<DeviceState> devices)
    {
        HashSet<string> ids = [.. devices.Select(d => d.Id)];
        foreach (LineConflict c in _conflicts)
        {
            if (c.IsOpen && ids.Contains(c.Holder))
            {
                _line1Holders[c.Extension] = c.Holder;
            }
        }

        foreach (DeviceState d in devices)
        {
            List<LineBinding> lines = d.EffectiveLines();
            d.PublishedSet = SetOf(lines);
            d.PublishedLine1 = lines.Count > 0 ? lines[0].Extension : null;
            foreach (string e in d.PublishedSet)
            {
                AddAppearance(e, d.Id);
            }

            if (d.PublishedLine1 is { } line1)
            {
                _line1Holders.TryAdd(line1, d.Id);
            }
        }

        foreach (string e in _appearances.Keys)
        {
            Publish(e);
        }
    }
}
