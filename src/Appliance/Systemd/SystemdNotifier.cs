using System.Net.Sockets;
using System.Text;

namespace Appliance.Systemd;

/// <summary>
/// sd_notify(3) by hand: one Unix datagram per state change to the socket systemd names in NOTIFY_SOCKET (a path,
/// or the abstract namespace when it starts with '@'). Sending never throws: a missing or full socket must not stop
/// the appliance, so failures are counted and the caller carries on.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endpoint;
    private readonly Lock _gate = new();

    private SystemdNotifier(string socketPath)
    {
        SocketPath = socketPath;
        // .NET takes a leading NUL as the abstract namespace, as sd_notify does for '@'.
        _endpoint = new UnixDomainSocketEndPoint(socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>NOTIFY_SOCKET as given.</summary>
    public string SocketPath { get; }

    /// <summary>Datagrams that could not be sent (socket gone, queue full).</summary>
    public long SendFailures { get; private set; }

    /// <summary>The notifier for NOTIFY_SOCKET, or null when the process was not started by systemd with Type=notify.</summary>
    public static SystemdNotifier? FromEnvironment(string? notifySocket)
    {
        if (string.IsNullOrEmpty(notifySocket) || notifySocket.Length < 2 || (notifySocket[0] != '/' && notifySocket[0] != '@'))
        {
            return null; // vsock addresses (vsock:...) are not used on an appliance
        }

        return new SystemdNotifier(notifySocket);
    }

    /// <summary>
    /// The watchdog interval systemd expects pings within (WATCHDOG_USEC), or null when the watchdog is off or meant
    /// for another process (WATCHDOG_PID set to a different pid, e.g. a wrapper's child).
    /// </summary>
    public static TimeSpan? WatchdogInterval(string? watchdogUsec, string? watchdogPid, int ownPid)
    {
        if (!ulong.TryParse(watchdogUsec, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong usec) || usec == 0)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(watchdogPid)
            && (!int.TryParse(watchdogPid, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) || pid != ownPid))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(Math.Min(usec, (ulong)TimeSpan.FromDays(1).TotalMicroseconds));
    }

    /// <summary>Sends one datagram of newline-separated assignments ("READY=1", "STATUS=...").</summary>
    public bool Notify(string state)
    {
        byte[] payload = Encoding.UTF8.GetBytes(state);
        lock (_gate)
        {
            try
            {
                return _socket.SendTo(payload, SocketFlags.None, _endpoint) == payload.Length;
            }
            catch (SocketException)
            {
                SendFailures++;
                return false;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }
    }

    public void Dispose() => _socket.Dispose();
}
