using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Capture.Bindings;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Appliance.Cluster;

/// <summary>
/// The directory shared by every appliance that names the same Redis-protocol server (README "Cluster"). FASTER stays
/// the local store and the local <see cref="BindingDirectory"/> stays the one calls are attributed from; this component
/// copies its login changes and line-1 holders to the server and applies the other appliances' changes to it.
/// </summary>
/// <remarks>
/// <para>Never on the packet path: it reads the directory's event stream (which the capture thread only writes to a
/// channel) on its own task, and every network call happens there. When the server is unreachable the changes wait in
/// memory, the appliance is degraded (readyz, metric, one log line), and recording goes on.</para>
/// <para>Logins: one hash per user holding the user's latest state, in (device) or out (a tombstone), with its event
/// time (the login's start, the logout's end). A write wins only when its event time is later than the stored one
/// (last writer wins by event time, compared and set in one conditional transaction), so a queued login replayed after an
/// outage cannot undo a later logout made elsewhere, and a tombstone outlives the login it ended.</para>
/// <para>Line 1: one hash per extension naming the holding device and appliance, claimed in a conditional transaction
/// (exactly one winner). The claim carries when the device was first seen; the earlier device keeps the line (DESIGN
/// section 2: the first holder keeps it), also after the server lost its data and every appliance claims again.</para>
/// </remarks>
public sealed partial class SharedDirectory : IDisposable
{
    private readonly ClusterSettings _settings;
    private readonly BindingDirectory _directory;
    private readonly ILogger _log;
    private readonly string _name;
    private readonly string _prefix;
    private readonly RedisChannel _channel;
    private readonly ConcurrentQueue<UserState> _outbox = new();
    private readonly ConcurrentQueue<(long Seq, string User)> _historyOut = new();
    private readonly ConcurrentQueue<RedisValue> _inbox = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, LineClaim> _lines = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reclaim = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ChannelReader<DirectoryEvent>? _events;
    private ConnectionMultiplexer? _redis;
    private Task? _reader;
    private Task? _worker;
    private bool _subscribed;
    private volatile bool _needSync = true;
    private volatile bool _pushAll = true; // after start and every outage: the whole local state is offered (the server may be empty)
    private readonly ConcurrentDictionary<(string User, long At, bool In), byte> _applying = new();
    private volatile bool _linesDirty = true;
    private long _lastSyncTicks;
    private long _lastPingTicks;
    private volatile bool _degraded;
    private volatile bool _connected;
    private long _degradedSinceTicks;
    private long _published;
    private long _applied;
    private long _failures;
    private long _reconciles;
    private volatile string? _lastError;
    private readonly string _instance;
    private readonly ConcurrentDictionary<string, UserState> _estate = new(StringComparer.Ordinal);
    private volatile string? _nameClash;

    /// <param name="instance">
    /// What tells this appliance from another that was given the same name: the machine and the state folder (a restart
    /// is the same instance; a cloned machine or a second appliance on this one is not).
    /// </param>
    public SharedDirectory(ClusterSettings settings, BindingDirectory directory, ILogger log, string? instance = null)
    {
        _instance = instance ?? Guid.NewGuid().ToString("N");
        _settings = settings;
        _directory = directory;
        _log = log;
        _name = settings.EffectiveName;
        _prefix = settings.Prefix;
        _channel = RedisChannel.Literal(_prefix + "events");
    }

    public string Name => _name;

    public string? Site => _settings.Site;

    /// <summary>The server answers (the last command or ping worked).</summary>
    public bool Connected => _connected;

    /// <summary>The server is unreachable (or has not yet been reconciled with since it was): changes are queued.</summary>
    public bool Degraded => _degraded || _nameClash is not null;

    public DateTimeOffset? DegradedSince => _degraded || _nameClash is not null ? new DateTimeOffset(Interlocked.Read(ref _degradedSinceTicks), TimeSpan.Zero) : null;

    /// <summary>Login changes waiting for the server.</summary>
    public int PendingChanges => _outbox.Count + _historyOut.Count;

    /// <summary>Changes this appliance wrote to the server (and published).</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Other appliances' changes applied to the local directory.</summary>
    public long Applied => Interlocked.Read(ref _applied);

    /// <summary>Failed exchanges with the server.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Whole-directory reconciliations done (start, after every outage, then every ReconcileSeconds).</summary>
    public long Reconciles => Interlocked.Read(ref _reconciles);

    public string? LastError => _lastError;

    /// <summary>Another running appliance (this instance string) uses this appliance's name: their changes and claims mix.</summary>
    public string? NameClash => _nameClash;

    /// <summary>
    /// Where the user is logged in across the estate, as last known here (written, published or pulled): also at
    /// devices this appliance does not know. Null: nothing known of the user.
    /// </summary>
    public EstateLogin? Locate(string user) => _estate.TryGetValue(user, out UserState? s)
        ? new EstateLogin(s.User, s.In, s.Device, s.Appliance, s.Site, s.Profile, s.Kind, s.In ? null : s.Reason, new DateTimeOffset(s.At, TimeSpan.Zero))
        : null;

    private void Know(UserState s) => _estate.AddOrUpdate(s.User, s, (_, old) => s.At > old.At ? s : old);

    /// <summary>The extensions whose line 1 a local device claims, with whether it holds it across the estate.</summary>
    public IReadOnlyList<SharedLine> Lines()
    {
        lock (_lines)
        {
            return [.. _lines.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => new SharedLine(l.Key, l.Value.Device, l.Value.Owned, l.Value.Owned ? null : l.Value.Holder))];
        }
    }

    /// <summary>
    /// Connects (without failing when the server is down), starts the background task, and waits up to
    /// <paramref name="firstSync"/> for the first reconciliation, so logins made elsewhere are known before capture starts.
    /// </summary>
    public void Start(TimeSpan firstSync)
    {
        // Shared conflicts recorded before a restart (their holder is not a local device) are this component's again.
        foreach (LineConflict c in _directory.Conflicts(openOnly: true))
        {
            if (_directory.GetDevice(c.Holder) is null)
            {
                _lines[c.Extension] = new LineClaim(c.Claimant, default, false, c.Holder);
            }
        }

        _events = _directory.Subscribe(capacity: 65536);
        ConfigurationOptions options = ConfigurationOptions.Parse(_settings.Redis!);
        options.AbortOnConnectFail = false;
        options.ClientName ??= "appliance-" + _name;
        options.BacklogPolicy = BacklogPolicy.FailFast; // our own queue holds what waits; the client never blocks on it
        options.ReconnectRetryPolicy = new LinearRetry(1000);
        if (!_settings.Redis!.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.ConnectTimeout = 2000;
        }

        if (!_settings.Redis.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.AsyncTimeout = 2000;
        }

        _redis = ConnectionMultiplexer.Connect(options);
        _redis.ConnectionFailed += (_, e) =>
        {
            _connected = false;
            _pushAll = true;
            MarkDegraded(e.Exception?.Message ?? e.FailureType.ToString());
            _signal.Release();
        };
        _redis.ConnectionRestored += (_, _) =>
        {
            _needSync = true;
            _pushAll = true; // the server may have restarted empty
            _signal.Release();
        };

        _reader = Task.Run(ReadEventsAsync);
        _worker = Task.Run(RunAsync);
        if (!_firstSync.Task.Wait(firstSync))
        {
            MarkDegraded(_lastError ?? "the server did not answer in time");
        }
    }

    /// <summary>Sends what is queued (within <paramref name="budget"/>), then stops. Anything left is sent at the next start's reconciliation.</summary>
    public void Stop(TimeSpan budget)
    {
        if (_worker is null)
        {
            return;
        }

        var sw = Stopwatch.StartNew();
        while (PendingChanges > 0 && !_degraded && sw.Elapsed < budget)
        {
            _signal.Release();
            Thread.Sleep(20);
        }

        _stop.Cancel();
        _signal.Release();
        try
        {
            Task.WaitAll([_worker, _reader!], TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
            // cancelled
        }

        if (_events is not null)
        {
            _directory.Unsubscribe(_events);
        }

        _worker = null;
    }

    public void Dispose()
    {
        Stop(TimeSpan.Zero);
        _redis?.Dispose();
        _stop.Dispose();
        _signal.Dispose();
    }

    // ---- Local changes -> queue (never waits on the network) ------------------------------------------------------

    private async Task ReadEventsAsync()
    {
        try
        {
            await foreach (DirectoryEvent e in _events!.ReadAllAsync(_stop.Token))
            {
                if (e.Kind is DirectoryEventKind.LoginEstablished or DirectoryEventKind.LoginCancelled && e.User is not null
                    && _applying.TryRemove((e.User, e.At.UtcTicks, e.Kind == DirectoryEventKind.LoginEstablished), out _))
                {
                    continue; // another appliance's change applied here: it is theirs, on the server already
                }

                switch (e.Kind)
                {
                    case DirectoryEventKind.LoginEstablished when e.User is not null && e.HostDevice is not null:
                        _outbox.Enqueue(new UserState(e.User, true, e.HostDevice, e.Profile, e.Detail ?? nameof(LoginKind.Explicit), e.Guest ?? [], null, e.At.UtcTicks, _name, _settings.Site));
                        EnqueueHistory(e.LoginSeq, e.User);
                        break;
                    case DirectoryEventKind.LoginCancelled when e.User is not null:
                        _outbox.Enqueue(new UserState(e.User, false, e.HostDevice ?? e.Device, e.Profile, null, [], e.Detail, e.At.UtcTicks, _name, _settings.Site));
                        EnqueueHistory(e.LoginSeq, e.User);
                        break;
                    case DirectoryEventKind.LinesChanged or DirectoryEventKind.DeviceRegistered or DirectoryEventKind.DeviceUnregistered
                        or DirectoryEventKind.DeviceDisposed or DirectoryEventKind.DeviceMoved or DirectoryEventKind.ConflictResolved:
                        _linesDirty = true;
                        _devicesDirty = true;
                        if (e.Kind == DirectoryEventKind.ConflictResolved)
                        {
                            _compareAllDevices = true; // the holder's lines change too, and the event names the claimant
                        }
                        else
                        {
                            _changedDevices.Enqueue(e.Device);
                        }

                        break;
                }

                _signal.Release();
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private void EnqueueHistory(long? seq, string user)
    {
        if (seq is { } s)
        {
            _historyOut.Enqueue((s, user));
        }
    }

    // ---- The background task ------------------------------------------------------------------------------------

    private async Task RunAsync()
    {
        CancellationToken ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            ApplyInbox();
            try
            {
                if (_needSync || Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastSyncTicks)) > TimeSpan.FromSeconds(_settings.ReconcileSeconds))
                {
                    await ReconcileAsync().ConfigureAwait(false);
                    _firstSync.TrySetResult();
                }

                await SendQueuedAsync().ConfigureAwait(false);
                if (_linesDirty)
                {
                    _linesDirty = false;
                    await ClaimLinesAsync(all: false).ConfigureAwait(false);
                }

                if (_devicesDirty)
                {
                    _devicesDirty = false;
                    await WriteDevicesAsync(full: false, reconcile: false).ConfigureAwait(false);
                }

                if (!_devicePulls.IsEmpty)
                {
                    await ReadDeviceChangesAsync().ConfigureAwait(false);
                }

                if (Stopwatch.GetElapsedTime(_lastPingTicks) > TimeSpan.FromSeconds(1))
                {
                    await Database.PingAsync().ConfigureAwait(false);
                    _lastPingTicks = Stopwatch.GetTimestamp();
                }

                _connected = true;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                Interlocked.Increment(ref _failures);
                _connected = false;
                _needSync = true; // missed messages, or a server that lost its data: reconcile everything when back
                _pushAll = true;
                MarkDegraded(e.Message);
                _firstSync.TrySetResult(); // unreachable at start: capture starts now, degraded
                await Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
                continue;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug must not end the shared directory silently: told, counted, retried.
                Interlocked.Increment(ref _failures);
                _lastError = e.Message;
                LogUnexpected(e);
                await Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                continue;
            }

            try
            {
                await _signal.WaitAsync(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
                while (_signal.Wait(0))
                {
                    // one pass serves every signal so far
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private IDatabase Database => _redis!.GetDatabase();

    private void MarkDegraded(string error)
    {
        _lastError = error;
        if (_degraded)
        {
            return;
        }

        Interlocked.Exchange(ref _degradedSinceTicks, DateTimeOffset.UtcNow.UtcTicks);
        _degraded = true;
        LogDegraded(_settings.Redis is { } r ? ConfigurationOptions.Parse(r).EndPoints.FirstOrDefault()?.ToString() ?? r : "", error, PendingChanges);
    }

    private void MarkHealthy()
    {
        if (!_degraded)
        {
            return;
        }

        _degraded = false;
        LogRecovered((DateTimeOffset.UtcNow - new DateTimeOffset(Interlocked.Read(ref _degradedSinceTicks), TimeSpan.Zero)).TotalSeconds);
    }

    // ---- Logins -------------------------------------------------------------------------------------------------

    private RedisKey UserKey(string user) => _prefix + "user:" + user;

    private RedisKey UsersKey => _prefix + "users";

    private RedisKey HistoryKey => _prefix + "history";

    private async Task SendQueuedAsync()
    {
        while (_outbox.TryPeek(out UserState? s))
        {
            await WriteUserAsync(s).ConfigureAwait(false);
            _outbox.TryDequeue(out _);
        }

        if (!_historyOut.IsEmpty)
        {
            var changed = new HashSet<(long Seq, string User)>();
            while (_historyOut.TryDequeue(out (long Seq, string User) entry))
            {
                changed.Add(entry);
            }

            try
            {
                // The users' own histories (short), not the whole directory's.
                List<LoginEntry> entries = [.. changed.Select(c => c.User).Distinct(StringComparer.Ordinal)
                    .SelectMany(u => _directory.History(user: u)).Where(e => changed.Contains((e.Seq, e.User)))];
                await WriteHistoryAsync(entries).ConfigureAwait(false);
            }
            catch
            {
                foreach ((long Seq, string User) entry in changed)
                {
                    _historyOut.Enqueue(entry);
                }

                throw;
            }
        }
    }

    /// <summary>Writes the user's state when it is later than the server's (compared and set atomically); publishes it then.</summary>
    private async Task<bool> WriteUserAsync(UserState s)
    {
        IDatabase db = Database;
        RedisKey key = UserKey(s.User);
        for (int attempt = 0; attempt < 16; attempt++)
        {
            RedisValue at = await db.HashGetAsync(key, "at").ConfigureAwait(false);
            if (at.HasValue && (long)at >= s.At)
            {
                return false; // the server knows something as late or later (the pull or its message tells us what)
            }

            ITransaction tx = db.CreateTransaction();
            tx.AddCondition(at.HasValue ? Condition.HashEqual(key, "at", at) : Condition.HashNotExists(key, "at"));
            _ = tx.HashSetAsync(key, s.ToHash());
            _ = tx.SetAddAsync(UsersKey, s.User);
            if (await tx.ExecuteAsync().ConfigureAwait(false))
            {
                Know(s);
                await Database.PublishAsync(_channel, JsonSerializer.Serialize(s.ToMessage(), ClusterJsonContext.Default.ClusterMessage)).ConfigureAwait(false);
                Interlocked.Increment(ref _published);
                return true;
            }
        }

        throw new RedisException($"the state of user '{s.User}' kept changing under 16 attempts to write it");
    }

    private async Task WriteHistoryAsync(IEnumerable<LoginEntry> entries)
    {
        IDatabase db = Database;
        foreach (LoginEntry[] chunk in entries.Chunk(256))
        {
            HashEntry[] fields = [.. chunk.Select(e => new HashEntry(
                _name + "/" + e.Seq.ToString(CultureInfo.InvariantCulture),
                JsonSerializer.Serialize(new SharedLoginEntry(_name, _settings.Site, e), ClusterJsonContext.Default.SharedLoginEntry)))];
            await db.HashSetAsync(HistoryKey, fields).ConfigureAwait(false);
        }
    }

    /// <summary>Every other appliance's message is applied to the local directory (on this task: never fails on the network).</summary>
    private void ApplyInbox()
    {
        while (_inbox.TryDequeue(out RedisValue raw))
        {
            ClusterMessage? m;
            try
            {
                m = JsonSerializer.Deserialize((string)raw!, ClusterJsonContext.Default.ClusterMessage);
            }
            catch (JsonException)
            {
                continue; // not ours
            }

            if (m is null || m.Appliance == _name)
            {
                continue;
            }

            switch (m.Type)
            {
                case ClusterMessage.Login or ClusterMessage.Logout when m.User is not null && m.Device is not null:
                    Apply(UserState.FromMessage(m));
                    break;
                case ClusterMessage.LineReleased when m.Extension is not null:
                    lock (_lines)
                    {
                        if (_lines.TryGetValue(m.Extension, out LineClaim? c) && !c.Owned)
                        {
                            _reclaim.Add(m.Extension);
                            _linesDirty = true;
                        }
                    }

                    break;
                case ClusterMessage.DevicesChanged:
                    _devicePulls.Enqueue(m);
                    break;
                case ClusterMessage.LineTaken when m.Extension is not null && m.Loser == _name && m.Holder is not null:
                    LoseLine(m.Extension, m.Holder);
                    break;
            }
        }
    }

    private void Apply(UserState s)
    {
        Know(s);
        var at = new DateTimeOffset(s.At, TimeSpan.Zero);
        _applying[(s.User, s.At, s.In)] = 0; // the event this raises is not sent back (see ReadEventsAsync)
        bool changed = s.In
            ? _directory.ApplySharedLogin(s.User, s.Device, s.Profile, Enum.TryParse(s.Kind, out LoginKind k) ? k : LoginKind.Explicit, s.Guest, at)
            : _directory.ApplySharedLogout(s.User, at, s.Reason ?? LogoutReasons.RemoteLogout);
        if (changed)
        {
            Interlocked.Increment(ref _applied);
        }
        else
        {
            _applying.TryRemove((s.User, s.At, s.In), out _);
        }
    }

    // ---- Reconciliation -----------------------------------------------------------------------------------------

    /// <summary>
    /// The whole directory against the server: every user's latest local state is offered (the later event wins), every
    /// user's state on the server that is later than ours is applied here, the history is written, line 1 claimed again.
    /// Run at start, after every outage (the server may have lost everything, and messages were missed) and periodically.
    /// </summary>
    private async Task ReconcileAsync()
    {
        if (!_subscribed)
        {
            // First, so nothing published after the pull below is missed (the client subscribes again after a reconnect).
            await _redis!.GetSubscriber().SubscribeAsync(_channel, (_, message) =>
            {
                _inbox.Enqueue(message);
                _signal.Release();
            }).ConfigureAwait(false);
            _subscribed = true;
        }

        await CheckNameAsync().ConfigureAwait(false);
        IReadOnlyList<LoginEntry> history = _directory.History();
        Dictionary<string, LoginEntry> latest = new(StringComparer.Ordinal);
        foreach (LoginEntry e in history)
        {
            if (!latest.TryGetValue(e.User, out LoginEntry? l) || EventTime(e) >= EventTime(l))
            {
                latest[e.User] = e;
            }
        }

        if (_pushAll)
        {
            foreach (LoginEntry e in latest.Values)
            {
                await WriteUserAsync(UserState.Of(e, _name, _settings.Site)).ConfigureAwait(false);
            }

            await WriteHistoryAsync(history).ConfigureAwait(false);
        }

        IDatabase db = Database;
        RedisValue[] users = await db.SetMembersAsync(UsersKey).ConfigureAwait(false);
        Task<HashEntry[]>[] reads = [.. users.Select(u => db.HashGetAllAsync(UserKey(u!)))];
        await Task.WhenAll(reads).ConfigureAwait(false);
        for (int i = 0; i < users.Length; i++)
        {
            if (UserState.FromHash((string)users[i]!, reads[i].Result) is not { } remote)
            {
                continue;
            }

            Know(remote); // the server's state is the estate's, whoever wrote it
            if ((!latest.TryGetValue(remote.User, out LoginEntry? mine) || remote.At > EventTime(mine).UtcTicks))
            {
                Apply(remote);
            }
        }

        await ClaimLinesAsync(all: true).ConfigureAwait(false);
        await WriteDevicesAsync(full: _pushAll, reconcile: true).ConfigureAwait(false); // renews its lease too
        await ReadAllDevicesAsync().ConfigureAwait(false);
        _pushAll = false;
        Interlocked.Exchange(ref _lastSyncTicks, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _reconciles);
        _needSync = false;
        _connected = true;
        MarkHealthy();
    }

    private static DateTimeOffset EventTime(LoginEntry e) => e.Until ?? e.Since;

    /// <summary>
    /// Each appliance's name is registered with its instance for a few reconciliations; another instance under the same
    /// name (a cloned machine keeping its host name, a copied settings file) is told once: its logins would not reach
    /// this one (each ignores its own name's messages) and both would take their line-1 claims for their own.
    /// </summary>
    private async Task CheckNameAsync()
    {
        IDatabase db = Database;
        RedisKey key = _prefix + "appliance:" + _name;
        TimeSpan lease = TimeSpan.FromSeconds(Math.Max(3 * _settings.ReconcileSeconds, 10));
        RedisValue owner = await db.StringGetAsync(key).ConfigureAwait(false);
        if (owner.HasValue && owner != _instance)
        {
            if (_nameClash is null)
            {
                LogNameClash(_name, owner!);
            }

            if (_nameClash is null && !_degraded)
            {
                Interlocked.Exchange(ref _degradedSinceTicks, DateTimeOffset.UtcNow.UtcTicks);
            }

            _nameClash = owner;
            return;
        }

        _nameClash = null;
        await db.StringSetAsync(key, _instance, lease).ConfigureAwait(false);
    }

    // ---- Line 1 -------------------------------------------------------------------------------------------------

    private RedisKey LineKey(string extension) => _prefix + "line1:" + extension;

    private string HolderOf(string device) => device + " at " + _name;

    /// <summary>
    /// The local devices holding an extension as line 1 from traffic (configured lines are every appliance's, so never
    /// claimed) are claimed; claims of lines no longer held are released (or their conflicts withdrawn).
    /// </summary>
    private async Task ClaimLinesAsync(bool all)
    {
        Dictionary<string, (string Device, DateTimeOffset Since)> wanted = new(StringComparer.Ordinal);
        foreach (DeviceBinding d in _directory.Devices())
        {
            foreach (LineBinding l in d.Lines)
            {
                if (l.Number == 1 && !l.Conflict && l.Source != LineSource.Configured)
                {
                    wanted[l.Extension] = (d.Id, d.FirstSeen ?? DateTimeOffset.UtcNow);
                }
            }
        }

        List<(string Extension, LineClaim Claim)> gone;
        string[] reclaim;
        lock (_lines)
        {
            gone = [.. _lines.Where(l => !wanted.TryGetValue(l.Key, out var w) || w.Device != l.Value.Device).Select(l => (l.Key, l.Value))];
            reclaim = [.. _reclaim];
            _reclaim.Clear();
        }

        foreach ((string ext, LineClaim claim) in gone)
        {
            if (claim.Owned)
            {
                await ReleaseAsync(ext, claim.Device).ConfigureAwait(false);
            }
            else
            {
                _directory.ResolveSharedConflict(ext, claim.Device, DateTimeOffset.UtcNow, "withdrawn");
            }

            lock (_lines)
            {
                _lines.Remove(ext);
            }
        }

        foreach ((string ext, (string device, DateTimeOffset since)) in wanted)
        {
            bool known;
            lock (_lines)
            {
                known = _lines.TryGetValue(ext, out LineClaim? c) && c.Device == device && c.Since != default;
            }

            if (all || !known || reclaim.Contains(ext))
            {
                await ClaimAsync(ext, device, since).ConfigureAwait(false);
            }
        }
    }

    private async Task ClaimAsync(string extension, string device, DateTimeOffset since)
    {
        IDatabase db = Database;
        RedisKey key = LineKey(extension);
        string holder = HolderOf(device);
        HashEntry[] mine =
        [
            new("holder", holder), new("device", device), new("appliance", _name), new("site", _settings.Site ?? ""),
            new("since", since.UtcTicks),
        ];
        for (int attempt = 0; attempt < 16; attempt++)
        {
            HashEntry[] current = await db.HashGetAllAsync(key).ConfigureAwait(false);
            string? curHolder = Field(current, "holder");
            ITransaction tx = db.CreateTransaction();
            string? loser = null;
            if (curHolder is null)
            {
                tx.AddCondition(Condition.KeyNotExists(key));
            }
            else if (curHolder == holder || Field(current, "appliance") == _name || Earlier(since, holder, current))
            {
                tx.AddCondition(Condition.HashEqual(key, "holder", curHolder));
                loser = Field(current, "appliance") == _name ? null : Field(current, "appliance");
            }
            else
            {
                Refused(extension, device, since, curHolder);
                return;
            }

            _ = tx.HashSetAsync(key, mine);
            _ = tx.KeyExpireAsync(key, TimeSpan.FromSeconds(_settings.ClaimSeconds)); // renewed by every reconciliation
            if (await tx.ExecuteAsync().ConfigureAwait(false))
            {
                if (loser is not null)
                {
                    var taken = new ClusterMessage(ClusterMessage.LineTaken, _name) { Extension = extension, Holder = holder, Loser = loser, At = DateTimeOffset.UtcNow.UtcTicks };
                    await db.PublishAsync(_channel, JsonSerializer.Serialize(taken, ClusterJsonContext.Default.ClusterMessage)).ConfigureAwait(false);
                }

                Held(extension, device, since);
                return;
            }
        }

        throw new RedisException($"line 1 '{extension}' kept changing under 16 attempts to claim it");
    }

    /// <summary>Whether our claim is older than the stored one (ties: the smaller holder name), so it takes the line over.</summary>
    private static bool Earlier(DateTimeOffset since, string holder, HashEntry[] current)
    {
        long theirs = long.TryParse(Field(current, "since"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long t) ? t : long.MaxValue;
        return since.UtcTicks < theirs || (since.UtcTicks == theirs && string.CompareOrdinal(holder, Field(current, "holder")) < 0);
    }

    private static string? Field(HashEntry[] hash, string name)
    {
        foreach (HashEntry e in hash)
        {
            if (e.Name == name)
            {
                return e.Value;
            }
        }

        return null;
    }

    private void Held(string extension, string device, DateTimeOffset since)
    {
        LineClaim? before;
        lock (_lines)
        {
            _lines.TryGetValue(extension, out before);
            _lines[extension] = new LineClaim(device, since, true, null);
        }

        if (before is { Owned: false })
        {
            _directory.ResolveSharedConflict(extension, before.Device, DateTimeOffset.UtcNow, "holder-released");
        }
    }

    private void Refused(string extension, string device, DateTimeOffset since, string holder)
    {
        LineClaim? before;
        lock (_lines)
        {
            _lines.TryGetValue(extension, out before);
            _lines[extension] = new LineClaim(device, since, false, holder);
        }

        if (before is null || before.Owned || before.Holder != holder || before.Device != device)
        {
            _directory.ReportSharedConflict(extension, holder, device, DateTimeOffset.UtcNow);
        }
    }

    /// <summary>An older claim from another appliance took the line over (after an outage): our device is the claimant now.</summary>
    private void LoseLine(string extension, string holder)
    {
        LineClaim? before;
        lock (_lines)
        {
            if (!_lines.TryGetValue(extension, out before) || !before.Owned)
            {
                return;
            }

            _lines[extension] = before with { Owned = false, Holder = holder };
        }

        _directory.ReportSharedConflict(extension, holder, before.Device, DateTimeOffset.UtcNow);
    }

    private async Task ReleaseAsync(string extension, string device)
    {
        IDatabase db = Database;
        RedisKey key = LineKey(extension);
        ITransaction tx = db.CreateTransaction();
        tx.AddCondition(Condition.HashEqual(key, "holder", HolderOf(device)));
        _ = tx.KeyDeleteAsync(key);
        if (await tx.ExecuteAsync().ConfigureAwait(false))
        {
            var released = new ClusterMessage(ClusterMessage.LineReleased, _name) { Extension = extension, At = DateTimeOffset.UtcNow.UtcTicks };
            await db.PublishAsync(_channel, JsonSerializer.Serialize(released, ClusterJsonContext.Default.ClusterMessage)).ConfigureAwait(false);
        }
    }

    private sealed record LineClaim(string Device, DateTimeOffset Since, bool Owned, string? Holder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cluster: the shared directory at {Server} is unreachable ({Error}); recording goes on, this appliance is degraded, {Pending} change(s) queued and sent when it is back")]
    private partial void LogDegraded(string server, string error, int pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "cluster: the shared directory is reachable again after {Seconds:F1} s; queued changes sent and the directory reconciled")]
    private partial void LogRecovered(double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "cluster: another appliance ({Other}) uses the name '{Name}': give each appliance its own Cluster:Name; until then their logins do not reach each other and both take their line-1 claims for their own")]
    private partial void LogNameClash(string name, string other);

    [LoggerMessage(Level = LogLevel.Error, Message = "cluster: unexpected error in the shared directory's task; retried")]
    private partial void LogUnexpected(Exception error);
}

/// <summary>An extension's line 1 claimed by a local device: held across the estate, or refused (held by <see cref="Holder"/>).</summary>
public sealed record SharedLine(string Extension, string Device, bool Held, string? Holder);
