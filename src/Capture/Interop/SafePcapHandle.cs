using Microsoft.Win32.SafeHandles;

namespace Capture.Interop;

/// <summary>Owns one pcap_t; closes it with pcap_close.</summary>
internal sealed class SafePcapHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafePcapHandle()
        : base(ownsHandle: true)
    {
    }

    internal SafePcapHandle(IntPtr handle)
        : base(ownsHandle: true) => SetHandle(handle);

    protected override bool ReleaseHandle()
    {
        Interop.Pcap.Close(handle);
        return true;
    }
}
