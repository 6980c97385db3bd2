using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Appliance.Tests.Support;

/// <summary>
/// A strict reader of the Prometheus text exposition format 0.0.4, used to check our own /metrics output: every sample
/// follows its family's # TYPE, names and labels are valid, label values are properly escaped, counters end in _total.
/// </summary>
public static partial class Exposition
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed record Document(IReadOnlyDictionary<string, string> Types, IReadOnlyDictionary<string, string> Help, IReadOnlyList<Sample> Samples)
    {
        public IEnumerable<Sample> Find(string name, params (string Key, string Value)[] labels) =>
            Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out string? v) && v == l.Value));

        /// <summary>The sum of every series of a metric matching the labels (0 when none).</summary>
        public double Sum(string name, params (string Key, string Value)[] labels) => Find(name, labels).Sum(s => s.Value);
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    /// <summary>Parses and validates; throws with the line number on the first violation.</summary>
    public static Document Parse(string text)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new List<Sample>();
        var seriesSeen = new HashSet<string>(StringComparer.Ordinal);
        string? currentFamily = null;
        string[] lines = text.Split('\n');
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the exposition must end with a line feed");
        }

        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n];
            string where = $"line {n + 1} '{line}'";
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string rest = line[7..];
                int sp = rest.IndexOf(' ', StringComparison.Ordinal);
                if (sp <= 0)
                {
                    throw new FormatException($"{where}: HELP/TYPE without a name and text");
                }

                string name = rest[..sp];
                Require(MetricName().IsMatch(name), where, "invalid metric name");
                if (line[2] == 'T')
                {
                    string type = rest[(sp + 1)..];
                    Require(type is "counter" or "gauge" or "summary" or "histogram" or "untyped", where, "unknown type");
                    Require(types.TryAdd(name, type), where, "a second TYPE for the family");
                    Require(!samples.Any(s => FamilyOf(s.Name, types) == name), where, "TYPE after the family's samples");
                    Require(type != "counter" || name.EndsWith("_total", StringComparison.Ordinal), where, "a counter not ending in _total");
                    currentFamily = name;
                }
                else
                {
                    Require(help.TryAdd(name, rest[(sp + 1)..]), where, "a second HELP for the family");
                }

                continue;
            }

            if (line[0] == '#')
            {
                continue;
            }

            Sample sample = ParseSample(line, where);
            string family = FamilyOf(sample.Name, types);
            Require(types.ContainsKey(family), where, "a sample without a preceding TYPE");
            Require(family == currentFamily, where, "a sample outside its family's block");
            string key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)) + "}";
            Require(seriesSeen.Add(key), where, "a duplicate series");
            samples.Add(sample);
        }

        return new Document(types, help, samples);
    }

    private static string FamilyOf(string sampleName, Dictionary<string, string> types)
    {
        foreach (string suffix in new[] { "_sum", "_count", "_bucket" })
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal))
            {
                string f = sampleName[..^suffix.Length];
                if (types.TryGetValue(f, out string? t) && t is "summary" or "histogram")
                {
                    return f;
                }
            }
        }

        return sampleName;
    }

    private static Sample ParseSample(string line, string where)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        string name = line[..i];
        Require(MetricName().IsMatch(name), where, "invalid metric name");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int eq = line.IndexOf('=', i);
                Require(eq > i, where, "a label without '='");
                string label = line[i..eq];
                Require(LabelName().IsMatch(label) && !label.StartsWith("__", StringComparison.Ordinal), where, "invalid label name");
                Require(line[eq + 1] == '"', where, "an unquoted label value");
                var value = new StringBuilder();
                int j = eq + 2;
                for (; line[j] != '"'; j++)
                {
                    if (line[j] == '\\')
                    {
                        j++;
                        value.Append(line[j] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"{where}: invalid escape \\{line[j]}"),
                        });
                    }
                    else
                    {
                        value.Append(line[j]);
                    }
                }

                Require(labels.TryAdd(label, value.ToString()), where, "a repeated label");
                i = j + 1;
                if (line[i] == ',')
                {
                    i++;
                }
            }

            i++;
        }

        Require(i < line.Length && line[i] == ' ', where, "no space before the value");
        string[] rest = line[(i + 1)..].Split(' ');
        Require(rest.Length is 1 or 2, where, "extra fields after the value");
        double v = rest[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, v);
    }

    private static void Require(bool ok, string where, string what)
    {
        if (!ok)
        {
            throw new FormatException($"{where}: {what}");
        }
    }
}
