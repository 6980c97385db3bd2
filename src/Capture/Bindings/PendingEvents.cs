using System.Diagnostics.CodeAnalysis;

namespace Capture.Bindings;

/// <summary>
/// The one way a part of the directory raises an event: numbered in the order raised, held until the change that
/// raised it ends, when <see cref="BindingDirectory"/> publishes it (one stream). Used under the directory's lock.
/// </summary>
internal sealed class PendingEvents
{
    private readonly Queue<DirectoryEvent> _pending = new();
    private long _nextSeq = 1;

    /// <summary>The next event; pass it (with its details) to <see cref="Add"/>.</summary>
    public DirectoryEvent New(DirectoryEventKind kind, DateTimeOffset at, string device) => new(_nextSeq++, kind, at, device);

    public void Add(DirectoryEvent e) => _pending.Enqueue(e);

    public bool TryTake([NotNullWhen(true)] out DirectoryEvent? e) => _pending.TryDequeue(out e);
}
