using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Appliance.Metrics;

/// <summary>
/// Prometheus text exposition (format 0.0.4) of System.Diagnostics.Metrics instruments, through a <see cref="MeterListener"/>:
/// observable instruments are read at scrape time; counters and up-down counters are summed, gauges keep their last
/// value, histograms are exposed as summaries (_sum and _count). Names follow Prometheus conventions: '.' and other
/// characters become '_', the unit becomes a suffix (By: _bytes, s: _seconds), counters end in _total.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly Func<Meter, bool> _include;
    private readonly Dictionary<Instrument, Family> _families = [];
    private readonly Lock _gate = new();
    private readonly Lock _scrapeGate = new();

    /// <param name="include">The meters to export, e.g. the appliance's own and .NET's "System.Runtime".</param>
    public PrometheusExporter(Func<Meter, bool> include)
    {
        _include = include;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_include(instrument.Meter))
            {
                var family = new Family(instrument);
                lock (_gate)
                {
                    _families[instrument] = family;
                }

                listener.EnableMeasurementEvents(instrument, family);
            }
        };
        _listener.MeasurementsCompleted = (instrument, _) =>
        {
            lock (_gate)
            {
                _families.Remove(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, state) => Record(state, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, state) => Record(state, v, tags));
        _listener.SetMeasurementEventCallback<short>((i, v, tags, state) => Record(state, v, tags));
        _listener.SetMeasurementEventCallback<byte>((i, v, tags, state) => Record(state, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, state) => Record(state, v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, state) => Record(state, v, tags));
        _listener.SetMeasurementEventCallback<decimal>((i, v, tags, state) => Record(state, (double)v, tags));
        _listener.Start();
    }

    /// <summary>Reads every observable instrument and renders everything in the text exposition format.</summary>
    public string Scrape()
    {
        lock (_scrapeGate)
        {
            Family[] families;
            lock (_gate)
            {
                families = [.. _families.Values];
            }

            foreach (Family f in families)
            {
                if (f.Observable)
                {
                    f.BeginObservation();
                }
            }

            _listener.RecordObservableInstruments();
            var sb = new StringBuilder(16 * 1024);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (Family f in families.OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                if (seen.Add(f.Name))
                {
                    f.Write(sb);
                }
            }

            return sb.ToString();
        }
    }

    private static void Record(object? state, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        (state as Family)?.Record(value, tags);

    public void Dispose() => _listener.Dispose();

    /// <summary>The Prometheus name of an instrument: sanitised, unit suffix, _total for counters.</summary>
    public static string MetricName(string instrumentName, string? unit, bool counter)
    {
        string name = SanitizeName(instrumentName, allowColon: true);
        string suffix = unit switch
        {
            "By" => "bytes",
            "s" => "seconds",
            "ms" => "milliseconds",
            "us" => "microseconds",
            "ns" => "nanoseconds",
            "%" => "percent",
            "1" or null or "" => "",
            _ when unit.StartsWith('{') => "", // annotations such as {packet} are not units
            _ => SanitizeName(unit, allowColon: false),
        };
        if (suffix.Length > 0 && !name.EndsWith("_" + suffix, StringComparison.Ordinal) && !name.Contains("_" + suffix + "_", StringComparison.Ordinal))
        {
            name += "_" + suffix;
        }

        if (counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            name += "_total";
        }

        return name;
    }

    /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]* for metric names, without ':' for label names.</summary>
    public static string SanitizeName(string name, bool allowColon)
    {
        var sb = new StringBuilder(name.Length + 1);
        foreach (char c in name)
        {
            bool ok = char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':');
            sb.Append(ok ? c : '_');
        }

        if (sb.Length == 0 || char.IsAsciiDigit(sb[0]))
        {
            sb.Insert(0, '_');
        }

        return sb.ToString();
    }

    /// <summary>A label value in double quotes' escaping: backslash, double quote and line feed.</summary>
    public static string EscapeLabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    internal static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ when value == Math.Floor(value) && Math.Abs(value) < 1e15 => ((long)value).ToString(CultureInfo.InvariantCulture),
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return "";
        }

        var pairs = new List<KeyValuePair<string, string>>(tags.Length);
        foreach (KeyValuePair<string, object?> t in tags)
        {
            string v = t.Value switch
            {
                null => "",
                string s => s,
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                object o => o.ToString() ?? "",
            };
            pairs.Add(new(SanitizeName(t.Key, allowColon: false), v));
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        var sb = new StringBuilder();
        sb.Append('{');
        for (int i = 0; i < pairs.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            sb.Append(pairs[i].Key).Append("=\"").Append(EscapeLabelValue(pairs[i].Value)).Append('"');
        }

        return sb.Append('}').ToString();
    }

    /// <summary>One metric family: an instrument and its series by label set.</summary>
    private sealed class Family
    {
        private readonly Dictionary<string, (double Value, double Count)> _series = new(StringComparer.Ordinal);
        private readonly Kind _kind;
        private readonly string _help;

        public Family(Instrument instrument)
        {
            Type t = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : instrument.GetType();
            _kind = t == typeof(Counter<>) ? Kind.Counter
                : t == typeof(ObservableCounter<>) ? Kind.ObservableCounter
                : t == typeof(UpDownCounter<>) ? Kind.UpDownCounter
                : t == typeof(Histogram<>) ? Kind.Histogram
                : t == typeof(Gauge<>) ? Kind.Gauge
                : Kind.ObservableGauge; // ObservableGauge<>, ObservableUpDownCounter<>
            Observable = instrument.IsObservable;
            bool counter = _kind is Kind.Counter or Kind.ObservableCounter;
            Name = MetricName(instrument.Name, instrument.Unit, counter);
            _help = EscapeHelp(string.IsNullOrEmpty(instrument.Description) ? instrument.Name : instrument.Description);
        }

        private enum Kind
        {
            Counter,
            ObservableCounter,
            UpDownCounter,
            Gauge,
            ObservableGauge,
            Histogram,
        }

        public string Name { get; }

        public bool Observable { get; }

        /// <summary>Observable instruments report whole values each time: series that stop being reported disappear.</summary>
        public void BeginObservation()
        {
            lock (_series)
            {
                _series.Clear();
            }
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string labels = Labels(tags);
            lock (_series)
            {
                ref (double Value, double Count) s = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_series, labels, out _);
                switch (_kind)
                {
                    case Kind.Counter or Kind.UpDownCounter or Kind.Histogram:
                        s.Value += value;
                        s.Count++;
                        break;
                    default:
                        s.Value = value; // observable values (cumulative for counters) and gauges: the latest
                        break;
                }
            }
        }

        public void Write(StringBuilder sb)
        {
            KeyValuePair<string, (double Value, double Count)>[] series;
            lock (_series)
            {
                series = [.. _series];
            }

            if (series.Length == 0)
            {
                return;
            }

            Array.Sort(series, (a, b) => string.CompareOrdinal(a.Key, b.Key));
            string type = _kind switch
            {
                Kind.Counter or Kind.ObservableCounter => "counter",
                Kind.Histogram => "summary",
                _ => "gauge",
            };
            sb.Append("# HELP ").Append(Name).Append(' ').Append(_help).Append('\n');
            sb.Append("# TYPE ").Append(Name).Append(' ').Append(type).Append('\n');
            foreach (KeyValuePair<string, (double Value, double Count)> s in series)
            {
                if (_kind == Kind.Histogram)
                {
                    sb.Append(Name).Append("_sum").Append(s.Key).Append(' ').Append(FormatValue(s.Value.Value)).Append('\n');
                    sb.Append(Name).Append("_count").Append(s.Key).Append(' ').Append(FormatValue(s.Value.Count)).Append('\n');
                }
                else
                {
                    sb.Append(Name).Append(s.Key).Append(' ').Append(FormatValue(s.Value.Value)).Append('\n');
                }
            }
        }
    }
}
