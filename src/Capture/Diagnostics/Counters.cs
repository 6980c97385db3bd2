using System.Collections;
using System.Text;

namespace Capture.Diagnostics;

/// <summary>What a counter measures; declared where it is written, read by the metrics exporter.</summary>
public enum CounterKind : byte
{
    /// <summary>Something that happened (messages read, connections opened, calls started).</summary>
    Event,

    /// <summary>Work refused at a configured limit (connections, bytes, calls, fragments).</summary>
    Limit,

    /// <summary>Bad input counted and skipped, by protocol and reason.</summary>
    Invalid,

    /// <summary>A level that goes up and down (open connections, buffered bytes).</summary>
    Gauge,
}

/// <summary>One counter of a snapshot; <see cref="Protocol"/> and <see cref="Reason"/> are set for invalid input.</summary>
public readonly record struct CounterValue(string Name, CounterKind Kind, long Value, string? Protocol = null, string? Reason = null);

/// <summary>
/// Collects a component's counters, each with its kind, into a snapshot (scrape rate, never per packet). Names are the
/// snapshot's keys (what <c>replay --json</c> shows).
/// </summary>
public sealed class CounterWriter
{
    private readonly SortedDictionary<string, CounterValue> _values = new(StringComparer.Ordinal);

    public void Event(string name, long value) => Add(new CounterValue(name, CounterKind.Event, value));

    public void Limit(string name, long value) => Add(new CounterValue(name, CounterKind.Limit, value));

    public void Gauge(string name, long value) => Add(new CounterValue(name, CounterKind.Gauge, value));

    /// <summary>Invalid input of <paramref name="protocol"/> for <paramref name="reason"/>, named <c>protocol_invalid_reason</c> unless <paramref name="name"/> says otherwise; zero counts are left out.</summary>
    public void Invalid(string protocol, string reason, long value, string? name = null)
    {
        if (value != 0)
        {
            Add(new CounterValue(name ?? $"{protocol}_invalid_{reason}", CounterKind.Invalid, value, protocol, reason));
        }
    }

    /// <summary>
    /// One Invalid counter per reason: <paramref name="byReason"/> indexed by a reason enum whose 0 is "none" (skipped),
    /// named by <see cref="ReasonNames{TEnum}"/>.
    /// </summary>
    public void InvalidByReason(string protocol, string[] reasonNames, ReadOnlySpan<long> byReason)
    {
        for (int i = 1; i < reasonNames.Length && i < byReason.Length; i++)
        {
            Invalid(protocol, reasonNames[i], byReason[i]);
        }
    }

    private void Add(CounterValue value) => _values[value.Name] = value;

    public CounterDictionary ToSnapshot() => new(_values);

    /// <summary><c>PascalCase</c> enum names as snake_case counter reasons.</summary>
    public static string SnakeCase(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>Snake-case names of an enum's values, indexed by value (for reason counters kept in arrays).</summary>
    public static string[] ReasonNames<TEnum>()
        where TEnum : struct, Enum
    {
        TEnum[] values = Enum.GetValues<TEnum>();
        int max = 0;
        foreach (TEnum v in values)
        {
            max = Math.Max(max, Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture));
        }

        string[] names = new string[max + 1];
        foreach (TEnum v in values)
        {
            names[Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture)] = SnakeCase(v.ToString());
        }

        for (int i = 0; i < names.Length; i++)
        {
            names[i] ??= "unknown";
        }

        return names;
    }
}

/// <summary>Counters by name, each with its declared kind.</summary>
public sealed class CounterDictionary : IReadOnlyDictionary<string, long>
{
    private readonly SortedDictionary<string, CounterValue> _values;

    internal CounterDictionary(SortedDictionary<string, CounterValue> values) => _values = values;

    /// <summary>Every counter with its kind, in name order.</summary>
    public IEnumerable<CounterValue> All => _values.Values;

    public long this[string key] => _values[key].Value;

    public IEnumerable<string> Keys => _values.Keys;

    public IEnumerable<long> Values => _values.Values.Select(v => v.Value);

    public int Count => _values.Count;

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, out long value)
    {
        bool found = _values.TryGetValue(key, out CounterValue v);
        value = v.Value;
        return found;
    }

    public bool TryGetCounter(string key, out CounterValue value) => _values.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, long>> GetEnumerator()
    {
        foreach (KeyValuePair<string, CounterValue> kv in _values)
        {
            yield return new KeyValuePair<string, long>(kv.Key, kv.Value.Value);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
