namespace Appliance.Endpoints;

/// <summary>
/// The event-stream (GET /api/events) clients: at most <see cref="Limit"/> are served at once (more are refused with
/// 503), and a client that falls <see cref="EventEndpoints.Capacity"/> events behind is disconnected (it cannot keep up:
/// the capture never waits for it, and an EventSource reconnects with Last-Event-ID). Exported as metrics.
/// </summary>
public sealed class EventStreamClients(int limit)
{
    private int _active;
    private long _refused;
    private long _dropped;

    /// <summary>Clients served at once (the MaxEventClients setting).</summary>
    public int Limit { get; } = limit;

    public int Active => Volatile.Read(ref _active);

    /// <summary>Clients refused because <see cref="Limit"/> were being served.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Clients disconnected because they fell too far behind (slow, or not reading).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>A place for one more client (dispose it when the client is gone), or null (counted) when all are taken.</summary>
    public IDisposable? TryEnter()
    {
        while (true)
        {
            int active = Volatile.Read(ref _active);
            if (active >= Limit)
            {
                Interlocked.Increment(ref _refused);
                return null;
            }

            if (Interlocked.CompareExchange(ref _active, active + 1, active) == active)
            {
                return new Place(this);
            }
        }
    }

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    private sealed class Place(EventStreamClients owner) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                Interlocked.Decrement(ref owner._active);
            }
        }
    }
}
