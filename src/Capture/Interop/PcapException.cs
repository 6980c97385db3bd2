namespace Capture.Interop;

/// <summary>A capture could not be opened or configured. The message names the operation, the file or interface, and pcap's own error text.</summary>
public sealed class PcapException : Exception
{
    public PcapException()
    {
    }

    public PcapException(string message)
        : base(message)
    {
    }

    public PcapException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PcapException(string operation, string source, string pcapError)
        : base($"{operation} failed for '{source}': {(string.IsNullOrEmpty(pcapError) ? "no error text from libpcap" : pcapError)}")
    {
        Operation = operation;
        Source = source;
        PcapError = pcapError;
    }

    /// <summary>The pcap call or step that failed (e.g. "pcap_activate").</summary>
    public string? Operation { get; }

    /// <summary>The capture file path or interface name.</summary>
    public new string? Source { get; }

    /// <summary>libpcap's error text.</summary>
    public string? PcapError { get; }
}
