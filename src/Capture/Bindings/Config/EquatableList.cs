using System.Collections;

namespace Capture.Bindings.Config;

/// <summary>
/// The read-only list behind every list in the configuration records: a private copy that compares by content,
/// so two configurations with the same values are equal (a reload can tell what changed) and records print
/// their lists.
/// </summary>
internal sealed class EquatableList<T> : IReadOnlyList<T>, IEquatable<EquatableList<T>>
{
    public static readonly EquatableList<T> Empty = new([]);

    private readonly T[] _items;

    private EquatableList(T[] items) => _items = items;

    public int Count => _items.Length;

    public T this[int index] => _items[index];

    /// <summary>A copy of <paramref name="items"/> (null is an empty list; an existing instance is shared, being immutable).</summary>
    public static EquatableList<T> From(IEnumerable<T>? items) => items switch
    {
        null => Empty,
        EquatableList<T> list => list,
        _ => items.TryGetNonEnumeratedCount(out int n) && n == 0 ? Empty : new([.. items]),
    };

    public bool Equals(EquatableList<T>? other) =>
        other is not null && _items.AsSpan().SequenceEqual(other._items, EqualityComparer<T>.Default);

    public override bool Equals(object? obj) => Equals(obj as EquatableList<T>);

    public override int GetHashCode()
    {
        HashCode hash = default;
        foreach (T item in _items)
        {
            hash.Add(item);
        }

        return hash.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(", ", _items) + "]";

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
}
