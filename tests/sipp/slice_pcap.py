#!/usr/bin/env python3
"""Copy packets FIRST .. FIRST+COUNT-1 of a classic pcap into a new pcap, headers and timestamps unchanged.

Used for the hold scenario (uac_hold.xml, uas_hold.xml): a party's audio before the hold and after the resume are two
consecutive pieces of one recording, so after the resume its RTP continues the sequence numbers, SSRC and timestamps
where it stopped (SIPp's play_pcap_audio sends each packet's RTP as recorded, paced by the pcap's own timing):
    python3 slice_pcap.py /usr/share/sip-tester/g711a.pcap speech_a_part1.pcap 0 100     # 3.0 s of 30 ms packets
    python3 slice_pcap.py /usr/share/sip-tester/g711a.pcap speech_a_part2.pcap 100 100
    python3 slice_pcap.py tone1k_alaw.pcap tone1k_part1.pcap 0 150                       # 3.0 s of 20 ms packets
    python3 slice_pcap.py tone1k_alaw.pcap tone1k_part2.pcap 150 150
Byte-reproducible; standard library only.
"""
import struct
import sys


def main() -> None:
    src, out, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(src, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    pos, index, records = 24, 0, []
    while pos + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        end = pos + 16 + caplen
        if first <= index < first + count:
            records.append(data[pos:end])
        index += 1
        pos = end
    if len(records) != count:
        sys.exit(f"{src} has {index} packets, not {first + count}")
    with open(out, "wb") as f:
        f.write(data[:24])
        f.writelines(records)


if __name__ == "__main__":
    main()
