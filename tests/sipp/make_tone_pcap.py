#!/usr/bin/env python3
"""Write a pcap of G.711 A-law RTP (PT 8) carrying a sine tone, for SIPp's play_pcap_audio.

Default: 1000 Hz at about -10 dBFS, 20 ms packets (160 samples), 8 s (400 packets).
SIPp replaces the addresses and ports when it plays the file; only the RTP timing and payload matter.
Usage: make_tone_pcap.py OUT.pcap [freq_hz] [seconds]
No dependencies beyond the standard library (the A-law encoder is written out, G.711 section A).
"""
import math
import struct
import sys

RATE = 8000
PTIME_MS = 20
SAMPLES = RATE * PTIME_MS // 1000  # 160 samples per packet
PT_PCMA = 8
SSRC = 0x0A11CE01


def alaw(sample: int) -> int:
    """Encode one 16-bit linear sample as A-law (G.711), the classic segment/mantissa form."""
    sample = max(-32768, min(32767, sample)) >> 3  # A-law works on 13-bit magnitudes
    if sample >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        sample = -sample - 1
    seg_end = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
    seg = 0
    while seg < 8 and sample > seg_end[seg]:
        seg += 1
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (sample >> 1) & 0x0F if seg < 2 else (sample >> seg) & 0x0F
    return aval ^ mask


def main() -> None:
    out = sys.argv[1]
    freq = float(sys.argv[2]) if len(sys.argv) > 2 else 1000.0
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 8.0
    amplitude = 32767 * 10 ** (-10 / 20)
    packets = int(seconds * 1000 / PTIME_MS)
    with open(out, "wb") as f:
        # pcap global header: microsecond timestamps, Ethernet link type.
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        base = 1_700_000_000
        for i in range(packets):
            payload = bytes(
                alaw(round(amplitude * math.sin(2 * math.pi * freq * (i * SAMPLES + n) / RATE)))
                for n in range(SAMPLES))
            marker = 0x80 if i == 0 else 0
            rtp = struct.pack("!BBHII", 0x80, marker | PT_PCMA, (1000 + i) & 0xFFFF,
                              (i * SAMPLES) & 0xFFFFFFFF, SSRC) + payload
            udp = struct.pack("!HHHH", 5002, 6002, 8 + len(rtp), 0) + rtp
            ip_hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0x4000, 64, 17, 0,
                                 bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
            csum = sum(struct.unpack("!10H", ip_hdr))
            csum = (csum & 0xFFFF) + (csum >> 16)
            csum = (csum & 0xFFFF) + (csum >> 16)
            ip_hdr = ip_hdr[:10] + struct.pack("!H", ~csum & 0xFFFF) + ip_hdr[12:]
            frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip_hdr + udp
            usec = i * PTIME_MS * 1000
            f.write(struct.pack("<IIII", base + usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
