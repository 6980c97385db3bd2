using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Appliance.Service;

namespace Appliance.Endpoints;

/// <summary>A named token as stored and listed: never its secret, only the secret's SHA-256 (hex).</summary>
public sealed record StoredToken(string Name, ApiRole Role, string Sha256, DateTimeOffset Created, string CreatedBy);

/// <summary>A token as GET /api/tokens lists it.</summary>
public sealed record TokenView(string Name, ApiRole Role, DateTimeOffset? Created, string? CreatedBy, string Source);

/// <summary>POST /api/tokens: the new token's name and role.</summary>
public sealed record TokenRequest(string? Name, ApiRole? Role);

/// <summary>The answer to POST /api/tokens: the secret, shown this once.</summary>
public sealed record CreatedToken(string Name, ApiRole Role, string Token, DateTimeOffset Created);

/// <summary>
/// The tokens the API accepts: the single configured token (<see cref="ApiToken"/>: Token, TokenFile or
/// &lt;State&gt;/api-token), named <see cref="AdminName"/> with the administrator role as before, and the named tokens
/// administrators create through /api/tokens, kept in &lt;State&gt;/api-tokens.json (mode 0600) as SHA-256 digests only:
/// a copy of the state folder does not give access. The file is replaced whole (temporary file, fsync, rename) so a
/// crash leaves the old list or the new one.
/// </summary>
public sealed class ApiTokenStore
{
    public const string FileName = "api-tokens.json";

    /// <summary>The configured single token's name.</summary>
    public const string AdminName = "admin";

    private readonly Lock _gate = new();
    private readonly string _path;
    // Tokens and their digests replaced together: a lookup racing a revocation sees one list or the other, never a mix.
    private volatile Snapshot _tokens;

    public ApiTokenStore(ApiToken configured, ApplianceSettings settings)
    {
        Configured = configured;
        _path = Path.GetFullPath(Path.Combine(settings.State, FileName));
        StoredToken[] named = [];
        if (File.Exists(_path))
        {
            try
            {
                named = JsonSerializer.Deserialize(File.ReadAllBytes(_path), ApiJsonContext.Default.StoredTokenArray) ?? [];
                if (named.FirstOrDefault(t => !ValidName(t.Name) || t.Sha256 is not { Length: 64 } || !t.Sha256.All(char.IsAsciiHexDigit)) is { } bad)
                {
                    throw new JsonException($"the token '{bad.Name}' has no valid name or SHA-256");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
            {
                // Refuse to start rather than start without the tokens people rely on (or with some of them).
                throw new SettingsException($"{_path}: the API tokens cannot be read: {ex.Message}");
            }
        }

        _tokens = new(named);
    }

    public ApiToken Configured { get; }

    /// <summary>
    /// The name and role of the token <paramref name="presented"/> is. Every known digest is compared, in constant
    /// time each, whichever matches: the time says nothing about which token or how much of it was right.
    /// </summary>
    public bool TryAuthenticate(ReadOnlySpan<char> presented, out string name, out ApiRole role)
    {
        name = "";
        role = default;
        Span<byte> utf8 = stackalloc byte[512];
        if (Encoding.UTF8.GetMaxByteCount(presented.Length) > utf8.Length)
        {
            return false; // longer than any token we accept
        }

        int n = Encoding.UTF8.GetBytes(presented, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..n], digest);

        Snapshot tokens = _tokens;
        StoredToken[] named = tokens.Named;
        byte[][] digests = tokens.Digests;
        int found = CryptographicOperations.FixedTimeEquals(digest, Configured.Digest) ? 0 : -1;
        for (int i = 0; i < digests.Length; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, digests[i]))
            {
                found = i + 1;
            }
        }

        if (found < 0)
        {
            return false;
        }

        (name, role) = found == 0 ? (AdminName, ApiRole.Administrator) : (named[found - 1].Name, named[found - 1].Role);
        return true;
    }

    /// <summary>A named token was revoked (its name): the web app's sessions of it end too (<see cref="SessionStore"/>).</summary>
    public event Action<string>? Revoked;

    /// <summary>How many named tokens there are (the configured one not counted).</summary>
    public int NamedCount => _tokens.Named.Length;

    public IReadOnlyList<TokenView> List() =>
    [
        new(AdminName, ApiRole.Administrator, null, null, Configured.Source),
        .. _tokens.Named.Select(t => new TokenView(t.Name, t.Role, t.Created, t.CreatedBy, _path)),
    ];

    /// <summary>Creates a token; null when <paramref name="name"/> is taken. The secret is returned, never stored.</summary>
    public CreatedToken? Create(string name, ApiRole role, string createdBy)
    {
        string secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var stored = new StoredToken(name, role, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret))),
            DateTimeOffset.UtcNow, createdBy);
        lock (_gate)
        {
            if (name == AdminName || _tokens.Named.Any(t => t.Name == name))
            {
                return null;
            }

            Save([.. _tokens.Named, stored]);
        }

        return new CreatedToken(name, role, secret, stored.Created);
    }

    /// <summary>Revokes a named token at once (requests with it are 401 from now on); false when there is none.</summary>
    public bool Revoke(string name)
    {
        lock (_gate)
        {
            if (!_tokens.Named.Any(t => t.Name == name))
            {
                return false;
            }

            Save([.. _tokens.Named.Where(t => t.Name != name)]);
        }

        Revoked?.Invoke(name);
        return true;
    }

    /// <summary>Names as they appear in the audit log and URLs: 1-64 letters, digits, '.', '_', '-'.</summary>
    public static bool ValidName(string? name) =>
        name is { Length: >= 1 and <= 64 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private void Save(StoredToken[] tokens)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        string temp = _path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(file, tokens, ApiJsonContext.Default.StoredTokenArray);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, _path, overwrite: true);
        _tokens = new(tokens);
    }

    private sealed class Snapshot(StoredToken[] named)
    {
        public StoredToken[] Named { get; } = named;

        public byte[][] Digests { get; } = [.. named.Select(t => Convert.FromHexString(t.Sha256))];
    }
}
