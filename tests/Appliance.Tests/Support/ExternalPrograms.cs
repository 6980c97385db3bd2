using System.Text;
using System.Text.RegularExpressions;

namespace Appliance.Tests.Support;

/// <summary>A program a source runs: its name (or absolute path) and where it is run (file:line).</summary>
public readonly record struct ProgramUse(string Program, string Where);

/// <summary>What <see cref="ExternalPrograms.Scan"/> found: the programs, and run sites whose program it cannot name.</summary>
public sealed record ProgramScan(IReadOnlyList<ProgramUse> Uses, IReadOnlyList<string> Unrecognised, IReadOnlyDictionary<string, string> MakeVariables);

/// <summary>
/// The external programs that this repository's tests, scripts and make targets run, read from their sources (no list of
/// programs here): the bash scripts under tests/ and scripts/ (every command, also behind timeout, exec, ip netns exec,
/// find -exec, trap and command -v, in $(...) and for-loop word lists), the Makefile's recipes with its variables expanded,
/// and the C# of tests/ and bench/ (ProcessStartInfo, Process.Start, and the helpers that hand their argument to those or
/// look it up on PATH). Shell builtins, keywords and the scripts' own functions are not programs; a path relative to the
/// checkout is one of its files.
/// </summary>
public static partial class ExternalPrograms
{
    public static ProgramScan Scan(string root)
    {
        var shellUses = new List<ProgramUse>();
        var functions = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in Sources(root, ["scripts", "tests", "bench"], "*.sh"))
        {
            ScanShell(File.ReadAllText(file), Relative(root, file), 1, shellUses, functions);
        }

        Dictionary<string, string> variables = ScanMakefile(File.ReadAllText(Path.Combine(root, "Makefile")), shellUses, functions);

        var uses = shellUses.Where(u => !functions.Contains(u.Program)).ToList();
        var unrecognised = new List<string>();
        ScanCSharp(root, Sources(root, ["tests", "bench"], "*.cs"), uses, unrecognised);
        return new ProgramScan(uses, unrecognised, variables);
    }

    private static IEnumerable<string> Sources(string root, string[] folders, string pattern) =>
        folders.Select(f => Path.Combine(root, f))
            .Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, pattern, SearchOption.AllDirectories))
            .Where(f => !Relative(root, f).Split('/').Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    private static string Relative(string root, string file) => Path.GetRelativePath(root, file);

    // ---- bash ----

    private static readonly HashSet<string> s_keywords = new(StringComparer.Ordinal)
    {
        "if", "then", "else", "elif", "fi", "for", "select", "while", "until", "do", "done", "case", "esac", "in",
        "function", "time", "{", "}", "!", "[[", "]]",
    };

    private static readonly HashSet<string> s_builtins = new(StringComparer.Ordinal)
    {
        ":", ".", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete", "compopt",
        "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit", "export", "false", "fc", "fg",
        "getopts", "hash", "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "printf", "pushd",
        "pwd", "read", "readarray", "readonly", "return", "set", "shift", "shopt", "source", "suspend", "test", "times",
        "trap", "true", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait",
    };

    /// <summary>Adds the programs a bash text runs to <paramref name="uses"/> and the functions it defines to <paramref name="functions"/>.</summary>
    public static void ScanShell(string text, string file, int firstLine, List<ProgramUse> uses, HashSet<string> functions)
    {
        var lexer = new ShellLexer(text, firstLine);
        List<ShellToken> tokens = lexer.Lex('\0');
        var parser = new ShellParser(file, uses, functions);
        parser.Parse(tokens);
        foreach (List<ShellToken> nested in lexer.Nested)
        {
            parser.Parse(nested);
        }
    }

    private enum TokenKind { Word, Operator, Newline }

    /// <summary>
    /// A shell token. For a word, Text is its literal part (quotes removed, expansions dropped); StartsWithExpansion marks
    /// "$x"-led words, Variable names the one variable a word consists of ("$t", "${t}").
    /// </summary>
    private sealed record ShellToken(TokenKind Kind, string Text, int Line, bool Quoted = false, bool StartsWithExpansion = false, string? Variable = null);

    private sealed class ShellLexer(string s, int line)
    {
        private int _i;
        private int _line = line;

        /// <summary>The token lists of every $(...), `...` and &lt;(...) met, each a command list of its own.</summary>
        public List<List<ShellToken>> Nested { get; } = [];

        private char Peek(int ahead) => _i + ahead < s.Length ? s[_i + ahead] : '\0';

        /// <summary>Tokens up to <paramref name="close"/> (')' of a $( ) at depth 0), or to the end for '\0'.</summary>
        public List<ShellToken> Lex(char close)
        {
            var tokens = new List<ShellToken>();
            int depth = 0;
            while (_i < s.Length)
            {
                char c = s[_i];
                if (close == ')' && c == ')' && depth == 0)
                {
                    _i++;
                    return tokens;
                }

                if (c is ' ' or '\t' or '\r')
                {
                    _i++;
                }
                else if (c == '\n')
                {
                    tokens.Add(new(TokenKind.Newline, "\n", _line++));
                    _i++;
                }
                else if (c == '\\' && Peek(1) == '\n')
                {
                    _i += 2;
                    _line++;
                }
                else if (c == '#')
                {
                    while (_i < s.Length && s[_i] != '\n')
                    {
                        _i++;
                    }
                }
                else if (c == '(' && Peek(1) == '(')
                {
                    // (( arithmetic )), also for (( ...; ...; ... )): no commands inside.
                    int start = _line;
                    SkipBalanced();
                    tokens.Add(new(TokenKind.Word, "((", start, Quoted: true));
                }
                else if ((c is '<' or '>') && Peek(1) == '(')
                {
                    _i += 2;
                    Nested.Add(Lex(')'));
                    tokens.Add(new(TokenKind.Word, "", _line, Quoted: true, StartsWithExpansion: true));
                }
                else if (ReadOperator() is string op)
                {
                    depth += op == "(" ? 1 : op == ")" ? -1 : 0;
                    tokens.Add(new(TokenKind.Operator, op, _line));
                }
                else
                {
                    tokens.Add(ReadWord());
                }
            }

            return tokens;
        }

        private static readonly string[] s_operators =
            ["&>>", "<<<", ";;&", "&&", "||", ";;", ";&", "|&", ">>", "<<", "<&", ">&", "&>", ">|", "<>", ";", "&", "|", "(", ")", "<", ">"];

        private string? ReadOperator()
        {
            foreach (string op in s_operators)
            {
                if (string.CompareOrdinal(s, _i, op, 0, op.Length) == 0)
                {
                    _i += op.Length;
                    return op;
                }
            }

            return null;
        }

        private ShellToken ReadWord()
        {
            var text = new StringBuilder();
            int line = _line;
            bool quoted = false, startsWithExpansion = false;
            int expansions = 0;
            string? variable = null;
            while (_i < s.Length)
            {
                char c = s[_i];
                if (c is ' ' or '\t' or '\r' or '\n' or ';' or '&' or '|' or '(' or ')' or '<' or '>')
                {
                    if ((c is '<' or '>') && text.Length > 0 && expansions == 0 && !quoted && text.ToString().All(char.IsAsciiDigit))
                    {
                        // "2>/dev/null": a file descriptor, not a word.
                        string op = text.ToString() + ReadOperator();
                        return new(TokenKind.Operator, op, line);
                    }

                    if (c == '(' && text.Length > 0 && text[^1] == '=' && !quoted)
                    {
                        SkipBalanced(); // name=(array words): values, not commands
                        expansions++;
                        continue;
                    }

                    break;
                }

                switch (c)
                {
                    case '\\':
                        if (Peek(1) == '\n')
                        {
                            _line++;
                        }
                        else
                        {
                            text.Append(Peek(1));
                        }

                        quoted = true;
                        _i += 2;
                        break;
                    case '\'':
                        int end = s.IndexOf('\'', _i + 1);
                        end = end < 0 ? s.Length : end;
                        text.Append(s, _i + 1, end - _i - 1);
                        _line += s.AsSpan(_i, end - _i).Count('\n');
                        _i = end + 1;
                        quoted = true;
                        break;
                    case '"':
                        _i++;
                        while (_i < s.Length && s[_i] != '"')
                        {
                            if (s[_i] == '\\' && Peek(1) is '$' or '`' or '"' or '\\' or '\n')
                            {
                                _line += Peek(1) == '\n' ? 1 : 0;
                                text.Append(Peek(1));
                                _i += 2;
                            }
                            else if (s[_i] is '$' or '`')
                            {
                                Expansion(text, ref expansions, ref startsWithExpansion, ref variable);
                            }
                            else
                            {
                                _line += s[_i] == '\n' ? 1 : 0;
                                text.Append(s[_i++]);
                            }
                        }

                        _i++;
                        quoted = true;
                        break;
                    case '$' or '`':
                        Expansion(text, ref expansions, ref startsWithExpansion, ref variable);
                        break;
                    default:
                        text.Append(c);
                        _i++;
                        break;
                }
            }

            return new(TokenKind.Word, text.ToString(), line, quoted, startsWithExpansion,
                expansions == 1 && text.Length == 0 ? variable : null);
        }

        /// <summary>At '$' or '`': an expansion (nested commands are lexed into <see cref="Nested"/>), or a plain '$'.</summary>
        private void Expansion(StringBuilder text, ref int expansions, ref bool startsWithExpansion, ref string? variable)
        {
            bool first = text.Length == 0 && expansions == 0;
            string? name = null;
            char next = Peek(1);
            if (s[_i] == '`')
            {
                int end = _i + 1;
                while (end < s.Length && s[end] != '`')
                {
                    end += s[end] == '\\' ? 2 : 1;
                }

                var inner = new ShellLexer(s[(_i + 1)..Math.Min(end, s.Length)], _line);
                Nested.Add(inner.Lex('\0'));
                Nested.AddRange(inner.Nested);
                _line = inner._line;
                _i = end + 1;
            }
            else if (next == '(' && Peek(2) == '(')
            {
                _i++;
                SkipBalanced(); // $(( arithmetic ))
            }
            else if (next == '(')
            {
                _i += 2;
                Nested.Add(Lex(')'));
            }
            else if (next == '{')
            {
                int start = _i + 2;
                _i++;
                SkipBalanced();
                string inner = s[start..(_i - 1)];
                name = VariableName().IsMatch(inner) ? inner : null;
            }
            else if (char.IsAsciiLetter(next) || next == '_')
            {
                int start = ++_i;
                while (_i < s.Length && (char.IsAsciiLetterOrDigit(s[_i]) || s[_i] == '_'))
                {
                    _i++;
                }

                name = s[start.._i];
            }
            else if (char.IsAsciiDigit(next) || next is '@' or '*' or '#' or '?' or '$' or '!' or '-')
            {
                name = next.ToString();
                _i += 2;
            }
            else
            {
                text.Append('$');
                _i++;
                return;
            }

            expansions++;
            startsWithExpansion |= first;
            variable = name;
        }

        /// <summary>From an opening '(' or '{' to just past its match, quotes respected.</summary>
        private void SkipBalanced()
        {
            char open = s[_i], close = open == '(' ? ')' : '}';
            int depth = 0;
            while (_i < s.Length)
            {
                char c = s[_i];
                if (c is '\'' or '"')
                {
                    int end = s.IndexOf(c, _i + 1);
                    end = end < 0 ? s.Length : end;
                    _line += s.AsSpan(_i, end - _i).Count('\n');
                    _i = end + 1;
                    continue;
                }

                _line += c == '\n' ? 1 : 0;
                _i++;
                if (c == open)
                {
                    depth++;
                }
                else if (c == close && --depth == 0)
                {
                    return;
                }
            }
        }
    }

    private sealed class ShellParser(string file, List<ProgramUse> uses, HashSet<string> functions)
    {
        private readonly Dictionary<string, List<string>> _loopWords = new(StringComparer.Ordinal);

        public void Parse(List<ShellToken> t)
        {
            bool atStart = true;
            var inCase = new Stack<bool>(); // per open case: true while its next pattern is expected
            for (int i = 0; i < t.Count; i++)
            {
                ShellToken k = t[i];
                if (inCase.Count > 0 && inCase.Peek())
                {
                    if (k.Kind == TokenKind.Newline)
                    {
                        continue;
                    }

                    if (IsWord(k, "esac"))
                    {
                        inCase.Pop();
                        atStart = false;
                        continue;
                    }

                    while (i < t.Count && !(t[i].Kind == TokenKind.Operator && t[i].Text == ")"))
                    {
                        i++;
                    }

                    inCase.Pop();
                    inCase.Push(false);
                    atStart = true;
                    continue;
                }

                if (k.Kind == TokenKind.Newline)
                {
                    atStart = true;
                    continue;
                }

                if (k.Kind == TokenKind.Operator)
                {
                    if (k.Text is ";;" or ";&" or ";;&" && inCase.Count > 0)
                    {
                        inCase.Pop();
                        inCase.Push(true);
                    }
                    else if (k.Text.Contains('<', StringComparison.Ordinal) || k.Text.Contains('>', StringComparison.Ordinal))
                    {
                        i += i + 1 < t.Count && t[i + 1].Kind == TokenKind.Word ? 1 : 0; // the redirection's target
                    }
                    else
                    {
                        atStart = true;
                    }

                    continue;
                }

                if (!atStart)
                {
                    continue;
                }

                if (!k.Quoted && s_keywords.Contains(k.Text))
                {
                    i = Keyword(t, i, inCase, ref atStart);
                    continue;
                }

                if (k.Text == "((" && k.Quoted)
                {
                    atStart = false; // (( arithmetic ))
                    continue;
                }

                if (!k.StartsWithExpansion && Assignment().IsMatch(k.Text))
                {
                    continue; // name=value before a command, or alone
                }

                if (i + 2 < t.Count && t[i + 1] is { Kind: TokenKind.Operator, Text: "(" } && t[i + 2] is { Kind: TokenKind.Operator, Text: ")" })
                {
                    functions.Add(k.Text); // name() { ...; }
                    i += 2;
                    continue;
                }

                if (k.StartsWithExpansion)
                {
                    if (k.Variable is string v && _loopWords.TryGetValue(v, out List<string>? words))
                    {
                        words.ForEach(w => Use(w, k.Line));
                        atStart = false;
                    }

                    // Otherwise an expansion that is a command prefix ("${pre[@]}" timeout ...): the next word is the command.
                    continue;
                }

                i = Command(t, i, ref atStart);
            }
        }

        private static bool IsWord(ShellToken k, string text) => k.Kind == TokenKind.Word && !k.Quoted && k.Text == text;

        private static bool EndsCommand(ShellToken k) => k.Kind != TokenKind.Word;

        private int Keyword(List<ShellToken> t, int i, Stack<bool> inCase, ref bool atStart)
        {
            switch (t[i].Text)
            {
                case "case":
                    inCase.Push(true);
                    return i + 2; // the subject and "in"
                case "esac":
                    if (inCase.Count > 0)
                    {
                        inCase.Pop();
                    }

                    atStart = false;
                    return i;
                case "for" or "select" when i + 1 < t.Count && t[i + 1].Text != "((":
                    string variable = t[i + 1].Text;
                    int j = i + 2;
                    if (j < t.Count && IsWord(t[j], "in"))
                    {
                        List<string> words = _loopWords.TryGetValue(variable, out List<string>? w) ? w : _loopWords[variable] = [];
                        for (j++; j < t.Count && !EndsCommand(t[j]); j++)
                        {
                            if (!t[j].StartsWithExpansion)
                            {
                                words.Add(t[j].Text);
                            }
                        }
                    }

                    atStart = false;
                    return j - 1;
                case "function":
                    functions.Add(t[i + 1].Text);
                    return i + 1;
                case "[[":
                    while (i < t.Count && !IsWord(t[i], "]]"))
                    {
                        i++;
                    }

                    atStart = false;
                    return i;
                default:
                    return i; // then, do, !, { ...: a command follows
            }
        }

        /// <summary>The command word at t[i] and, behind wrappers, the commands it runs; returns the last token consumed.</summary>
        private int Command(List<ShellToken> t, int i, ref bool atStart)
        {
            ShellToken k = t[i];
            string name = k.Text;
            atStart = false;
            int Next(int j) => j >= 0 && j + 1 < t.Count && !EndsCommand(t[j + 1]) ? j + 1 : -1;
            if (s_builtins.Contains(name) && !name.Contains('/', StringComparison.Ordinal))
            {
                switch (name)
                {
                    case "command":
                        int j = Next(i);
                        bool check = false;
                        while (j >= 0 && t[j].Text.StartsWith('-'))
                        {
                            check |= t[j].Text.Contains('v', StringComparison.Ordinal) || t[j].Text.Contains('V', StringComparison.Ordinal);
                            j = Next(j);
                        }

                        if (j < 0)
                        {
                            return i;
                        }

                        if (check)
                        {
                            // command -v X: the script needs X (it checks for it, or takes another path without it).
                            UseWord(t[j]);
                            return j;
                        }

                        atStart = true; // command X args: X runs
                        return j - 1;
                    case "exec":
                        atStart = true;
                        return i;
                    case "trap" when Next(i) is int a and >= 0 && !t[a].StartsWithExpansion && !t[a].Text.StartsWith('-'):
                        ScanShell(t[a].Text, file, t[a].Line, uses, functions);
                        return a;
                    default:
                        return i;
                }
            }

            if (name.Contains('/', StringComparison.Ordinal))
            {
                if (name.StartsWith('/'))
                {
                    Use(name, k.Line); // an absolute path: a program of this system
                }

                return i; // a relative path: one of the checkout's files (its scripts are scanned themselves)
            }

            Use(name, k.Line);
            switch (name)
            {
                case "timeout":
                    int j = Next(i);
                    while (j >= 0 && t[j].Text.StartsWith('-'))
                    {
                        j = t[j].Text is "-s" or "-k" or "--signal" or "--kill-after" ? Next(Next(j)) : Next(j);
                    }

                    atStart = j >= 0;
                    return j >= 0 ? j : i; // the duration; the command follows
                case "ip" when Next(i) is int n and >= 0 && t[n].Text == "netns" && Next(n) is int e and >= 0 && t[e].Text == "exec":
                    atStart = Next(e) >= 0;
                    return Next(e) >= 0 ? Next(e) : e; // ip netns exec NAME command ...
                case "env" or "nohup" or "nice" or "sudo" or "xargs":
                    int w = Next(i);
                    while (w >= 0 && (t[w].Text.StartsWith('-') || t[w].Text.Contains('=', StringComparison.Ordinal)))
                    {
                        w = Next(w);
                    }

                    atStart = w >= 0;
                    return w >= 0 ? w - 1 : i;
                case "find":
                    for (int f = Next(i); f >= 0; f = Next(f))
                    {
                        if (t[f].Text is "-exec" or "-execdir" or "-ok" or "-okdir" && Next(f) is int x and >= 0)
                        {
                            UseWord(t[x]);
                        }
                    }

                    return i;
                case "bash" or "sh" when Next(i) is int c and >= 0 && t[c].Text == "-c" && Next(c) is int script and >= 0:
                    ScanShell(t[script].Text, file, t[script].Line, uses, functions);
                    return script;
                default:
                    return i;
            }
        }

        private void UseWord(ShellToken w)
        {
            if (w.Variable is string v && _loopWords.TryGetValue(v, out List<string>? words))
            {
                words.ForEach(x => Use(x, w.Line));
            }
            else if (!w.StartsWithExpansion && w.Text.Length > 0 && !s_builtins.Contains(w.Text))
            {
                Use(w.Text, w.Line);
            }
        }

        private void Use(string program, int line)
        {
            if (program.Length > 0 && (!program.Contains('/', StringComparison.Ordinal) || program.StartsWith('/')))
            {
                uses.Add(new(program, $"{file}:{line}"));
            }
        }
    }

    // ---- Makefile ----

    /// <summary>Scans every recipe line as bash (with the Makefile's variables expanded); returns the variables.</summary>
    private static Dictionary<string, string> ScanMakefile(string text, List<ProgramUse> uses, HashSet<string> functions)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var recipes = new List<(string Text, int Line)>();
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            int first = n + 1;
            string line = lines[n];
            while (line.EndsWith('\\') && n + 1 < lines.Length)
            {
                line = line[..^1] + "\\\n" + lines[++n].TrimStart('\t');
            }

            if (line.StartsWith('\t'))
            {
                recipes.Add((line.TrimStart('\t').TrimStart('@', '-', '+'), first));
            }
            else if (MakeAssignment().Match(line.Replace("\\\n", " ", StringComparison.Ordinal)) is { Success: true } m)
            {
                string name = m.Groups[1].Value, value = m.Groups[3].Value.Trim();
                variables[name] = m.Groups[2].Value == "+" && variables.TryGetValue(name, out string? old) ? old + " " + value : value;
            }
        }

        if (variables.TryGetValue("SHELL", out string? shell))
        {
            uses.Add(new(shell, "Makefile (SHELL)"));
        }

        foreach ((string recipe, int line) in recipes)
        {
            ScanShell(ExpandMake(recipe, variables, 0), "Makefile", line, uses, functions);
        }

        return variables.ToDictionary(v => v.Key, v => ExpandMake(v.Value, variables, 0), StringComparer.Ordinal);
    }

    /// <summary>
    /// Make's expansion, enough for recipes: $(VAR) and ${VAR} recursively (make's own $(MAKE) is make; an undefined or
    /// automatic variable is empty), $$ is $, a function call ($(if ...), $(abspath ...)) becomes one placeholder word.
    /// </summary>
    private static string ExpandMake(string text, IReadOnlyDictionary<string, string> variables, int depth)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '$' || i + 1 >= text.Length)
            {
                sb.Append(text[i]);
                continue;
            }

            char next = text[i + 1];
            if (next == '$')
            {
                sb.Append('$');
                i++;
            }
            else if (next is '(' or '{')
            {
                char close = next == '(' ? ')' : '}';
                int level = 0, end = i + 1;
                for (; end < text.Length; end++)
                {
                    level += text[end] == next ? 1 : text[end] == close ? -1 : 0;
                    if (level == 0)
                    {
                        break;
                    }
                }

                string inner = text[(i + 2)..Math.Min(end, text.Length)];
                sb.Append(MakeReference(inner, variables, depth));
                i = end;
            }
            else
            {
                sb.Append(MakeReference(next.ToString(), variables, depth));
                i++;
            }
        }

        return sb.ToString();
    }

    private static string MakeReference(string name, IReadOnlyDictionary<string, string> variables, int depth)
    {
        if (!MakeVariableName().IsMatch(name))
        {
            return "make-function"; // $(if ...), $(abspath ...), $(or ...): arguments, never a command here
        }

        if (variables.TryGetValue(name, out string? value))
        {
            return depth < 20 ? ExpandMake(value, variables, depth + 1) : "";
        }

        return name == "MAKE" ? "make" : "";
    }

    // ---- C# ----

    /// <summary>A method that runs (or, Lookup, finds on PATH) the program named by one of its string parameters.</summary>
    private sealed record Helper(string Type, string Method, string File, int Declaration, bool Lookup);

    private static void ScanCSharp(string root, IEnumerable<string> files, List<ProgramUse> uses, List<string> unrecognised)
    {
        var sources = files.Select(f => (File: Relative(root, f), Text: File.ReadAllText(f)))
            .Select(f => (f.File, f.Text, Code: MaskCSharp(f.Text))).ToList();

        // 1. The helpers: a parameter handed to new ProcessStartInfo(...) or Process.Start(...), or a method reading PATH.
        var helpers = new List<Helper>();
        var helperSites = new HashSet<(string File, int Site)>();
        foreach ((string file, string text, string code) in sources)
        {
            foreach (Match site in LaunchSite().Matches(code))
            {
                string argument = FirstArgument(code, site.Index + site.Length);
                if (Identifier().IsMatch(argument) && EnclosingMethod(code, site.Index) is { } m && StringParameters(m.Parameters).Contains(argument)
                    && EnclosingType(code, m.At) is string type)
                {
                    helpers.Add(new(type, m.Name, file, m.At, Lookup: false));
                    helperSites.Add((file, site.Index));
                }
            }

            foreach (Match site in EnvironmentRead().Matches(code))
            {
                if (Literal(text, code, site.Index + site.Length) != "PATH" || EnclosingMethod(code, site.Index) is not { } m)
                {
                    continue;
                }

                if (StringParameters(m.Parameters).Count > 0 && EnclosingType(code, m.At) is string type)
                {
                    helpers.Add(new(type, m.Name, file, m.At, Lookup: true)); // FindTool(string name)
                    continue;
                }

                // A method that looks names up on PATH itself (new[] { "sipp", "ip" }.Where(... PATH ...)): its literals.
                foreach (Match literal in Regex.Matches(code[m.Body], "\"[^\"\n]*\"", RegexOptions.None, s_timeout))
                {
                    if (Literal(text, code, m.Body.Start.Value + literal.Index) is string name && ProgramName().IsMatch(name))
                    {
                        Use(name, file, code, m.Body.Start.Value + literal.Index, uses);
                    }
                }
            }
        }

        string lookups = string.Join('|', helpers.Where(h => h.Lookup).Select(h => Regex.Escape(h.Method)).Append("(?!)"));
        var viaLookup = new Regex($@"\b(?:{lookups})\s*\(", RegexOptions.None, s_timeout);

        // 2. The run sites and their programs.
        foreach ((string file, string text, string code) in sources)
        {
            foreach (Match site in LaunchSite().Matches(code))
            {
                int at = site.Index + site.Length;
                string argument = FirstArgument(code, at);
                if (helperSites.Contains((file, site.Index)))
                {
                    continue; // the helper's parameter: its callers name the program
                }

                if (Literal(text, code, at) is string program)
                {
                    Use(program, file, code, site.Index, uses);
                }
                else if (argument.Length == 0
                    || argument.StartsWith("new ProcessStartInfo", StringComparison.Ordinal)
                    || (Identifier().IsMatch(argument) && Regex.IsMatch(code, $@"\b{argument}\s*=\s*new\s+ProcessStartInfo\b", RegexOptions.None, s_timeout))
                    || argument.StartsWith("Path.Combine(AppContext.BaseDirectory", StringComparison.Ordinal)
                    || (Identifier().IsMatch(argument) && Regex.IsMatch(text, $@"\b{argument}\s*(?:=>|=)\s*Path\.Combine\([^;]*""out""", RegexOptions.None, s_timeout)))
                {
                    // FileName set in an initializer (below), a ProcessStartInfo built at a site of its own, the
                    // appliance built beside the tests, or a program a make target installs under out/ (make garnet).
                }
                else
                {
                    unrecognised.Add($"{file}:{LineOf(code, site.Index)}: {site.Value}{argument}");
                }
            }

            foreach (Helper h in helpers)
            {
                var call = new Regex($@"(?<![\w.])(?:[\w.]*\b{h.Type}\.)?{h.Method}\s*\(", RegexOptions.None, s_timeout);
                foreach (Match m in call.Matches(code))
                {
                    bool qualified = m.Value.Contains('.', StringComparison.Ordinal);
                    if ((!qualified && file != h.File) || (file == h.File && m.Index == h.Declaration))
                    {
                        continue; // another type's method of the same name, or the helper's own declaration
                    }

                    int at = m.Index + m.Length;
                    string argument = FirstArgument(code, at);
                    if (Literal(text, code, at) is string program)
                    {
                        Use(program, file, code, m.Index, uses);
                    }
                    else if (!h.Lookup && (viaLookup.IsMatch(argument)
                        || (Identifier().IsMatch(argument) && Regex.IsMatch(code, $@"\b{argument}\s*=\s*[^;]*\b(?:{lookups})\s*\(", RegexOptions.None, s_timeout))))
                    {
                        // The program was looked up on PATH by name: the lookup's own call names it.
                    }
                    else
                    {
                        unrecognised.Add($"{file}:{LineOf(code, m.Index)}: {m.Value}{argument}");
                    }
                }
            }

            if (!code.Contains("ProcessStartInfo", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (Match m in FileNameAssignment().Matches(code))
            {
                int at = m.Index + m.Length;
                if (Literal(text, code, at) is string program)
                {
                    Use(program, file, code, m.Index, uses);
                }
                else
                {
                    unrecognised.Add($"{file}:{LineOf(code, m.Index)}: {m.Value} {FirstArgument(code, at)}");
                }
            }
        }
    }

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(5);

    private static void Use(string program, string file, string code, int index, List<ProgramUse> uses)
    {
        if (program.Length > 0 && (!program.Contains('/', StringComparison.Ordinal) || program.StartsWith('/')))
        {
            uses.Add(new(program, $"{file}:{LineOf(code, index)}"));
        }
    }

    private static int LineOf(string code, int index) => code.AsSpan(0, index).Count('\n') + 1;

    /// <summary>The (masked) text of the first argument of a call whose '(' ends just before <paramref name="at"/>.</summary>
    private static string FirstArgument(string code, int at)
    {
        int depth = 0, i = at;
        for (; i < code.Length; i++)
        {
            char c = code[i];
            if (c is '(' or '[' or '{')
            {
                depth++;
            }
            else if ((c is ')' or ']' or '}' && depth-- == 0) || (c is ',' or ';' && depth == 0))
            {
                break;
            }
        }

        return Whitespace().Replace(code[at..i], " ").Trim();
    }

    /// <summary>The value of a plain "..." literal that is the whole argument starting at <paramref name="at"/>, else null.</summary>
    private static string? Literal(string text, string code, int at)
    {
        int i = at;
        while (i < code.Length && char.IsWhiteSpace(code[i]))
        {
            i++;
        }

        if (i >= code.Length || code[i] != '"' || code[i - 1] is '@' or '$')
        {
            return null;
        }

        int end = code.IndexOf('"', i + 1); // the content is masked: the next quote closes it
        int after = end + 1;
        while (end > 0 && after < code.Length && char.IsWhiteSpace(code[after]))
        {
            after++;
        }

        return end > 0 && after < code.Length && code[after] is ',' or ')' or ']' or '}' or ';'
            ? Regex.Unescape(text[(i + 1)..end])
            : null; // "a" + b, "x"u8: not a plain literal argument
    }

    /// <summary>A method (or local function) declaration: its name and where, its parameter list, its body.</summary>
    private sealed record Method(string Name, int At, string Parameters, Range Body);

    private static readonly HashSet<string> s_notMethods = new(StringComparer.Ordinal)
    {
        "if", "for", "foreach", "while", "switch", "using", "lock", "catch", "fixed", "return", "when", "nameof", "typeof",
        "sizeof", "default", "checked", "unchecked", "await", "throw", "yield", "new",
    };

    /// <summary>The innermost method or local function whose body holds <paramref name="index"/>.</summary>
    private static Method? EnclosingMethod(string code, int index)
    {
        Method? inner = null;
        foreach (Match m in MethodDeclaration().Matches(code))
        {
            if (m.Index > index)
            {
                break;
            }

            string name = m.Groups[1].Value;
            if (s_notMethods.Contains(name) || code.AsSpan(0, m.Index).TrimEnd().EndsWith("new", StringComparison.Ordinal))
            {
                continue; // a statement, or an object created with an initializer
            }

            int open = m.Groups[3].Index, end = open, depth = 0;
            bool expression = m.Groups[3].Value == "=>";
            for (; end < code.Length; end++)
            {
                char c = code[end];
                depth += c is '{' or '(' or '[' ? 1 : c is '}' or ')' or ']' ? -1 : 0;
                if ((expression && c == ';' && depth == 0) || (!expression && c == '}' && depth == 0))
                {
                    break;
                }
            }

            if (index > open && index < end)
            {
                inner = new Method(name, m.Groups[1].Index, m.Groups[2].Value, open..end); // later matches that hold index are inner
            }
        }

        return inner;
    }

    /// <summary>The names of a parameter list's string parameters.</summary>
    private static List<string> StringParameters(string parameters) =>
        [.. StringParameter().Matches(parameters).Select(m => m.Groups[1].Value)];

    /// <summary>The innermost class, struct, record or interface whose body holds <paramref name="index"/>.</summary>
    private static string? EnclosingType(string code, int index)
    {
        string? type = null;
        foreach (Match m in TypeDeclaration().Matches(code))
        {
            if (m.Index > index)
            {
                break;
            }

            int open = code.IndexOfAny(['{', ';'], m.Index + m.Length);
            if (open < 0 || code[open] != '{' || open > index)
            {
                continue;
            }

            int depth = 0, close = open;
            for (; close < code.Length; close++)
            {
                depth += code[close] == '{' ? 1 : code[close] == '}' ? -1 : 0;
                if (depth == 0)
                {
                    break;
                }
            }

            if (index < close)
            {
                type = m.Groups[1].Value; // declarations come in order: a later one that still holds index is inner
            }
        }

        return type;
    }

    /// <summary>The C# with comments and the content of every string and char literal blanked (lengths and lines kept).</summary>
    private static string MaskCSharp(string s)
    {
        char[] code = s.ToCharArray();
        void Blank(int from, int to)
        {
            for (int k = from; k < Math.Min(to, code.Length); k++)
            {
                code[k] = code[k] == '\n' ? '\n' : ' ';
            }
        }

        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            char next = i + 1 < s.Length ? s[i + 1] : '\0';
            int end;
            if (c == '/' && next is '/' or '*')
            {
                end = next == '/' ? s.IndexOf('\n', i) : s.IndexOf("*/", i + 2, StringComparison.Ordinal) + 2;
                end = end < 2 ? s.Length : end;
                Blank(i, end);
                i = end;
            }
            else if (c == '\'')
            {
                for (end = i + 1; end < s.Length && s[end] != '\''; end += s[end] == '\\' ? 2 : 1)
                {
                }

                Blank(i + 1, end);
                i = end + 1;
            }
            else if (c == '"')
            {
                int quotes = 1;
                while (i + quotes < s.Length && s[i + quotes] == '"')
                {
                    quotes++;
                }

                string prefix = s[Math.Max(0, i - 2)..i];
                bool verbatim = prefix.EndsWith('@') || prefix == "@$";
                bool interpolated = prefix.EndsWith('$') || prefix == "$@";
                if (quotes >= 3)
                {
                    end = s.IndexOf(new string('"', quotes), i + quotes, StringComparison.Ordinal);
                    end = end < 0 ? s.Length : end;
                    Blank(i + quotes, end);
                    i = end + quotes; // a raw string literal
                    continue;
                }

                if (quotes == 2 && !verbatim)
                {
                    i += 2; // ""
                    continue;
                }

                int holes = 0;
                for (end = i + 1; end < s.Length;)
                {
                    char e = s[end];
                    char after = end + 1 < s.Length ? s[end + 1] : '\0';
                    if ((verbatim && e == '"' && after == '"') || (!verbatim && e == '\\') || (interpolated && holes == 0 && e == after && e is '{' or '}'))
                    {
                        end += 2; // "" in a verbatim string, an escape, {{ or }}
                    }
                    else if (interpolated && e is '{' or '}')
                    {
                        holes += e == '{' ? 1 : -1;
                        end++;
                    }
                    else if (e == '"' && holes > 0)
                    {
                        end = s.IndexOf('"', end + 1) + 1; // a literal inside an interpolation hole
                        end = end == 0 ? s.Length : end;
                    }
                    else if (e == '"')
                    {
                        break;
                    }
                    else
                    {
                        end++;
                    }
                }

                Blank(i + 1, end);
                i = end + 1;
            }
            else
            {
                i++;
            }
        }

        return new string(code);
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex VariableName();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*)\s*(\?|:|::|\+)?=(.*)$")]
    private static partial Regex MakeAssignment();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$|^[@<^*?%+|]$")]
    private static partial Regex MakeVariableName();

    [GeneratedRegex(@"(?:\bnew\s+ProcessStartInfo|\bProcess\.Start)\s*\(")]
    private static partial Regex LaunchSite();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"\bGetEnvironmentVariable\s*\(")]
    private static partial Regex EnvironmentRead();

    [GeneratedRegex(@"\bFileName\s*=(?!=)")]
    private static partial Regex FileNameAssignment();

    [GeneratedRegex(@"^[A-Za-z_]\w*$")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"\b(?:class|struct|record|interface)\s+(\w+)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"\b(\w+)\s*\(([^()]*)\)\s*(\{|=>)")]
    private static partial Regex MethodDeclaration();

    [GeneratedRegex(@"\bstring\??\s+(\w+)")]
    private static partial Regex StringParameter();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9._+-]*$")]
    private static partial Regex ProgramName();
}
