using System.Diagnostics;
using System.Globalization;

namespace Capture.Interop;

/// <summary>What happened to a <see cref="LiveInterface"/>, for the log.</summary>
public enum LiveInterfaceChange
{
    /// <summary>The capture handle ended (a read error, or the interface was removed): frames are lost until it is back.</summary>
    Lost,
    /// <summary>The interface was opened again.</summary>
    Reopened,
    /// <summary>The interface exists but its link is down (cable out, SPAN session stopped): nothing arrives.</summary>
    LinkDown,
    /// <summary>The link is up again.</summary>
    LinkUp,
}

/// <summary>
/// A live capture that follows an interface by name. Measured here (libpcap 1.10.3, veth): link down and up needs nothing,
/// the handle receives again; but an interface deleted and created again (a USB NIC replugged, a VLAN or bridge rebuilt by
/// the network manager, a driver reloaded) leaves the handle bound to the old ifindex, where it receives nothing and
/// reports no error, and a read error ends a handle for good. Both are turned into a reopen, retried every second while
/// the interface is missing. <see cref="Check"/> (from a timer, about once a second) notices the new ifindex and the link
/// state. Reopening allocates; reading does not.
/// </summary>
public sealed class LiveInterface : IPacketSource
{
    private static readonly long s_retryTicks = Stopwatch.Frequency;

    private readonly LiveCaptureOptions _options;
    private readonly Action<LiveInterfaceChange, string>? _report;
    private readonly ManualResetEventSlim _wake = new(false);
    private PcapSource? _source;
    private PcapSource? _lostSource; // set by Check (any thread) for the handle it found stale
    private int _ifindex;
    private long _lostAt;
    private long _nextAttempt;
    private PcapStatistics _closed; // pcap_stats of the handles already closed, summed (wrapping, like pcap's own)
    private volatile bool _stopping;
    private volatile bool _linkDown;
    private int _reopens;

    private LiveInterface(LiveCaptureOptions options, Action<LiveInterfaceChange, string>? report)
    {
        _options = options;
        _report = report;
    }

    /// <summary>Opens the interface; throws as <see cref="PcapSource.OpenLive"/> does when it cannot be opened now.</summary>
    /// <param name="report">Called on the capture thread (Lost, Reopened) or the checking thread (LinkDown, LinkUp).</param>
    public static LiveInterface Open(LiveCaptureOptions options, Action<LiveInterfaceChange, string>? report = null)
    {
        var live = new LiveInterface(options, report);
        live._ifindex = ReadIfIndex(options.Interface);
        live._source = PcapSource.OpenLive(options);
        live.LinkType = live._source.LinkType;
        return live;
    }

    public string Source => _options.Interface;

    public int LinkType { get; private set; }

    public string LastError => Volatile.Read(ref _source)?.LastError ?? string.Empty;

    /// <summary>False while the handle is lost or the link is down.</summary>
    public bool IsUp => Volatile.Read(ref _source) is not null && !_linkDown;

    /// <summary>How many times the interface was opened again.</summary>
    public int Reopens => Volatile.Read(ref _reopens);

    public PcapReadStatus ReadNext(out long timestampNs, out int originalLength, out ReadOnlySpan<byte> frame)
    {
        PcapSource? source = _source;
        if (source is not null)
        {
            PcapReadStatus status = source.ReadNext(out timestampNs, out originalLength, out frame);
            if (status is PcapReadStatus.Packet or PcapReadStatus.Timeout)
            {
                return status;
            }

            if (_stopping)
            {
                return PcapReadStatus.EndOfFile;
            }

            if (status == PcapReadStatus.EndOfFile && !ReferenceEquals(Volatile.Read(ref _lostSource), source))
            {
                return status; // a BreakLoop of the handle itself, not ours
            }

            Close(source, status == PcapReadStatus.Error
                ? source.LastError
                : $"the interface was removed or replaced (ifindex {_ifindex} is gone)");
        }

        timestampNs = 0;
        originalLength = 0;
        frame = default;
        return _stopping ? PcapReadStatus.EndOfFile : TryReopen();
    }

    /// <summary>Any thread, about once a second: notices a removed or replaced interface and link changes.</summary>
    public void Check()
    {
        PcapSource? source = Volatile.Read(ref _source);
        if (source is null || _stopping)
        {
            return;
        }

        if (_ifindex > 0 && ReadIfIndex(_options.Interface) != _ifindex)
        {
            Volatile.Write(ref _lostSource, source);
            source.BreakLoop();
            return;
        }

        bool down = IsLinkDown(_options.Interface);
        if (down != _linkDown)
        {
            _linkDown = down;
            _report?.Invoke(down ? LiveInterfaceChange.LinkDown : LiveInterfaceChange.LinkUp,
                down ? $"{_options.Interface}: link down: nothing is captured until it is up again" : $"{_options.Interface}: link up");
        }
    }

    public void BreakLoop()
    {
        _stopping = true;
        _wake.Set();
        Volatile.Read(ref _source)?.BreakLoop();
    }

    public bool TryGetStatistics(out PcapStatistics statistics)
    {
        PcapStatistics closed = _closed;
        PcapSource? source = Volatile.Read(ref _source);
        if (source is not null && source.TryGetStatistics(out PcapStatistics now))
        {
            statistics = new PcapStatistics(
                unchecked(closed.Received + now.Received),
                unchecked(closed.DroppedByKernel + now.DroppedByKernel),
                unchecked(closed.DroppedByInterface + now.DroppedByInterface));
            return true;
        }

        statistics = closed;
        return true;
    }

    public void Dispose()
    {
        _stopping = true;
        Interlocked.Exchange(ref _source, null)?.Dispose();
        _wake.Dispose();
    }

    private void Close(PcapSource source, string reason)
    {
        if (source.TryGetStatistics(out PcapStatistics last))
        {
            _closed = new PcapStatistics(
                unchecked(_closed.Received + last.Received),
                unchecked(_closed.DroppedByKernel + last.DroppedByKernel),
                unchecked(_closed.DroppedByInterface + last.DroppedByInterface));
        }

        Volatile.Write(ref _source, null);
        source.Dispose();
        _lostAt = Stopwatch.GetTimestamp();
        _nextAttempt = _lostAt + s_retryTicks;
        _report?.Invoke(LiveInterfaceChange.Lost, $"{_options.Interface}: capture lost: {reason}; reopening it every second, calls in progress lose their media until then");
    }

    /// <summary>Capture thread, while lost: one open attempt a second, a short wait otherwise (a Timeout to the caller).</summary>
    private PcapReadStatus TryReopen()
    {
        long now = Stopwatch.GetTimestamp();
        if (now < _nextAttempt)
        {
            _wake.Wait(TimeSpan.FromTicks(Math.Max(1, (_nextAttempt - now) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
            return _stopping ? PcapReadStatus.EndOfFile : PcapReadStatus.Timeout;
        }

        _nextAttempt = now + s_retryTicks;
        try
        {
            int ifindex = ReadIfIndex(_options.Interface);
            PcapSource source = PcapSource.OpenLive(_options);
            _ifindex = ifindex;
            LinkType = source.LinkType;
            _linkDown = false;
            Volatile.Write(ref _source, source);
            if (_stopping)
            {
                source.BreakLoop(); // BreakLoop ran between the check and the publication
            }

            int reopens = Interlocked.Increment(ref _reopens);
            double seconds = Stopwatch.GetElapsedTime(_lostAt).TotalSeconds;
            _report?.Invoke(LiveInterfaceChange.Reopened,
                string.Create(CultureInfo.InvariantCulture, $"{_options.Interface}: capture resumed after {seconds:F1} s (reopened {reopens} time(s) since start)"));
        }
        catch (PcapException)
        {
            // Still missing: tried again in a second; reported once, at the loss.
        }

        return PcapReadStatus.Timeout;
    }

    /// <summary>/sys/class/net/NAME/ifindex, or -1 (no such interface, or a pseudo-device such as "any").</summary>
    private static int ReadIfIndex(string name)
    {
        try
        {
            string text = File.ReadAllText(Path.Combine("/sys/class/net", name, "ifindex"));
            return int.TryParse(text.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int index) ? index : -1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>operstate "down" or "lowerlayerdown"; "unknown" (loopback, tun) and anything unreadable count as up.</summary>
    private static bool IsLinkDown(string name)
    {
        try
        {
            string state = File.ReadAllText(Path.Combine("/sys/class/net", name, "operstate")).Trim();
            return state is "down" or "lowerlayerdown";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
