using System.Runtime.InteropServices;

namespace Capture.Interop;

/// <summary>libpcap 1.10 entry points. Private to the assembly: <see cref="PcapSource"/> wraps them and turns errors into typed results.</summary>
internal static partial class Interop
{
    internal static unsafe partial class Pcap
    {
        /// <summary>PCAP_ERRBUF_SIZE from pcap/pcap.h.</summary>
        internal const int ErrorBufferSize = 256;

        /// <summary>PCAP_TSTAMP_PRECISION_MICRO / _NANO.</summary>
        internal const int TimestampPrecisionMicro = 0;
        internal const int TimestampPrecisionNano = 1;

        /// <summary>pcap_next_ex results.</summary>
        internal const int NextPacket = 1;
        internal const int NextTimeout = 0;
        internal const int NextError = -1;
        internal const int NextEndOfFile = -2;

        /// <summary>PCAP_ERROR_TSTAMP_PRECISION_NOTSUP: the device cannot give nanoseconds.</summary>
        internal const int ErrorTimestampPrecisionNotSupported = -12;

        /// <summary>PCAP_NETMASK_UNKNOWN: pcap_compile cannot check broadcast tests without it, which we never use.</summary>
        internal const uint NetmaskUnknown = 0xFFFF_FFFF;

        static Pcap() => Libraries.EnsureResolver();

        /// <summary>struct pcap_pkthdr: 24 bytes on x64 Linux.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct PacketHeader
        {
            public CLong Seconds;        // struct timeval.tv_sec (time_t)
            public CLong Fraction;       // struct timeval.tv_usec (suseconds_t): micro- or nanoseconds by precision
            public uint CaptureLength;   // bpf_u_int32 caplen
            public uint OriginalLength;  // bpf_u_int32 len
        }

        /// <summary>struct pcap_stat (the portable part).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Stat
        {
            public uint Received;            // u_int ps_recv
            public uint Dropped;             // u_int ps_drop: no room in the kernel buffer
            public uint InterfaceDropped;    // u_int ps_ifdrop: dropped by the interface or driver
        }

        /// <summary>struct bpf_program.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct BpfProgram
        {
            public uint Length;              // u_int bf_len
            public IntPtr Instructions;      // struct bpf_insn *bf_insns
        }

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_open_offline_with_tstamp_precision", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial IntPtr OpenOfflineWithTimestampPrecision(string fname, uint precision, byte* errbuf);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_create", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial IntPtr Create(string source, byte* errbuf);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_set_snaplen")]
        internal static partial int SetSnaplen(SafePcapHandle p, int snaplen);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_set_promisc")]
        internal static partial int SetPromiscuous(SafePcapHandle p, int promisc);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_set_timeout")]
        internal static partial int SetTimeout(SafePcapHandle p, int toMs);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_set_buffer_size")]
        internal static partial int SetBufferSize(SafePcapHandle p, int bufferSize);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_set_immediate_mode")]
        internal static partial int SetImmediateMode(SafePcapHandle p, int immediate);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_set_tstamp_precision")]
        internal static partial int SetTimestampPrecision(SafePcapHandle p, int precision);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_get_tstamp_precision")]
        internal static partial int GetTimestampPrecision(SafePcapHandle p);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_activate")]
        internal static partial int Activate(SafePcapHandle p);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_compile", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Compile(SafePcapHandle p, BpfProgram* fp, string str, int optimize, uint netmask);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_setfilter")]
        internal static partial int SetFilter(SafePcapHandle p, BpfProgram* fp);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_freecode")]
        internal static partial void FreeCode(BpfProgram* fp);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_datalink")]
        internal static partial int DataLink(SafePcapHandle p);

        /// <summary>Takes the raw handle: the read loop holds one reference for the source's lifetime instead of one per packet.</summary>
        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_next_ex")]
        internal static partial int NextEx(IntPtr p, PacketHeader** header, byte** data);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_breakloop")]
        internal static partial void BreakLoop(SafePcapHandle p);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_stats")]
        internal static partial int Stats(SafePcapHandle p, Stat* ps);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_geterr")]
        internal static partial byte* GetError(SafePcapHandle p);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_statustostr")]
        internal static partial byte* StatusToString(int error);

        [LibraryImport(Libraries.Pcap, EntryPoint = "pcap_close")]
        internal static partial void Close(IntPtr p);

        /// <summary>Copies a NUL-terminated C string (pcap's error texts); allocates, so only on error paths.</summary>
        internal static string FromCString(byte* text) =>
            text is null ? string.Empty : System.Text.Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text)).Trim();
    }
}
