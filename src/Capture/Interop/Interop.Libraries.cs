using System.Reflection;
using System.Runtime.InteropServices;

namespace Capture.Interop;

/// <summary>
/// Logical native library names used by the LibraryImport declarations, and the resolver that maps them
/// to the sonames Debian ships. The plain "libpcap.so" link exists only with the -dev package, so the
/// runtime packages' sonames are tried first.
/// </summary>
internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Pcap = "pcap";
        internal const string Opus = "opus";
        internal const string SpanDsp = "spandsp";
        internal const string Bcg729 = "bcg729";

        private static readonly Dictionary<string, string[]> s_candidates = new(StringComparer.Ordinal)
        {
            [Pcap] = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"],
            [Opus] = ["libopus.so.0", "libopus.so"],
            [SpanDsp] = ["libspandsp.so.2", "libspandsp.so.3", "libspandsp.so"],
            [Bcg729] = ["libbcg729.so.0", "libbcg729.so"],
        };

        private static int s_registered;

        /// <summary>Installs the resolver once for this assembly; called by every static constructor that binds natives.</summary>
        internal static void EnsureResolver()
        {
            if (Interlocked.Exchange(ref s_registered, 1) == 0)
            {
                NativeLibrary.SetDllImportResolver(typeof(Libraries).Assembly, Resolve);
            }
        }

        private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (!s_candidates.TryGetValue(name, out string[]? candidates))
            {
                return IntPtr.Zero;
            }

            foreach (string candidate in candidates)
            {
                if (NativeLibrary.TryLoad(candidate, assembly, searchPath, out IntPtr handle))
                {
                    return handle;
                }
            }

            return IntPtr.Zero;
        }

        /// <summary>True when the logical library can be loaded (used for clear errors and test skips).</summary>
        internal static bool IsAvailable(string name)
        {
            EnsureResolver();
            if (!s_candidates.TryGetValue(name, out string[]? candidates))
            {
                return false;
            }

            foreach (string candidate in candidates)
            {
                if (NativeLibrary.TryLoad(candidate, out IntPtr handle))
                {
                    NativeLibrary.Free(handle);
                    return true;
                }
            }

            return false;
        }

        internal static string DebianPackageFor(string name) => name switch
        {
            Pcap => "libpcap0.8",
            Opus => "libopus0",
            SpanDsp => "libspandsp2",
            Bcg729 => "libbcg729-0",
            _ => name,
        };
    }
}
