namespace Appliance.Cluster;

/// <summary>
/// `Cluster:*` settings (README "Cluster"): several appliances share one directory on a Redis-protocol server (Garnet,
/// Redis, Valkey). <see cref="Redis"/> absent: a single box, and nothing of the cluster runs.
/// </summary>
public sealed class ClusterSettings
{
    /// <summary>A StackExchange.Redis configuration string (e.g. <c>redis1:6379,password=...,ssl=true</c>); null: no cluster.</summary>
    public string? Redis { get; set; }

    /// <summary>This appliance's name, unique in the estate (who holds a line 1, who made a login). Default: the host name.</summary>
    public string? Name { get; set; }

    /// <summary>The site this appliance records (shown with its logins and line-1 claims).</summary>
    public string? Site { get; set; }

    /// <summary>Prefix of every key and of the channel on the server, so estates (or tests) can share one server.</summary>
    public string Prefix { get; set; } = "appliance:";

    /// <summary>How often the whole directory is reconciled with the server even when nothing failed (pub/sub is lossy).</summary>
    public int ReconcileSeconds { get; set; } = 30;

    /// <summary>
    /// How long a line-1 claim lasts on the server unless its appliance renews it (every reconciliation): an appliance
    /// that is gone for good does not hold its extensions' line 1 for ever; a waiting claimant takes them then.
    /// </summary>
    public int ClaimSeconds { get; set; } = 300;

    /// <summary>
    /// An Npgsql connection string of the central recordings index (README "Cluster", central index); null: each appliance
    /// searches its own recordings only (the embedded SQLite index), and nothing of the central index runs.
    /// </summary>
    public string? Postgres { get; set; }

    /// <summary>This appliance's API base URL as the others reach it (e.g. <c>https://rec-north:8080</c>): where they fetch its recordings.</summary>
    public string? Url { get; set; }

    /// <summary>The secret appliances of one estate present to each other (principal <c>appliance:&lt;name&gt;</c>: sidecars and audio only).</summary>
    public string? Secret { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Redis);

    public bool CentralEnabled => !string.IsNullOrWhiteSpace(Postgres);

    public string EffectiveName => string.IsNullOrWhiteSpace(Name) ? Environment.MachineName : Name;

    public List<string> Validate()
    {
        var problems = new List<string>();
        if (CentralEnabled)
        {
            ValidateCentral(problems);
        }

        if (!Enabled)
        {
            return problems;
        }

        try
        {
            StackExchange.Redis.ConfigurationOptions.Parse(Redis!);
        }
        catch (ArgumentException e)
        {
            problems.Add($"Cluster:Redis: not a StackExchange.Redis configuration string ({e.Message})");
        }

        if (EffectiveName.Length > 200)
        {
            problems.Add("Cluster:Name: at most 200 characters");
        }

        if (ReconcileSeconds is < 1 or > 86400)
        {
            problems.Add($"Cluster:ReconcileSeconds: must be 1-86400, not {ReconcileSeconds}");
        }

        if (ClaimSeconds < 2 * ReconcileSeconds || ClaimSeconds > 7 * 86400)
        {
            problems.Add($"Cluster:ClaimSeconds: must be at least twice Cluster:ReconcileSeconds ({ReconcileSeconds}), when claims are renewed, and at most 604800, not {ClaimSeconds}");
        }

        return problems;
    }

    private void ValidateCentral(List<string> problems)
    {
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(Postgres);
        }
        catch (ArgumentException e)
        {
            problems.Add($"Cluster:Postgres: not an Npgsql connection string ({e.Message})");
        }

        if (Url is not null && (!Uri.TryCreate(Url, UriKind.Absolute, out Uri? url) || url.Scheme is not ("http" or "https")))
        {
            problems.Add($"Cluster:Url: not an http(s) URL: '{Url}'");
        }

        if (Secret is { Length: < 16 })
        {
            problems.Add("Cluster:Secret: at least 16 characters");
        }
    }
}
