#!/usr/bin/env bash
# Generates the load capture of README "Performance" (issue 14): real SIPp calls over loopback, recorded by tcpdump.
#   bench/load/make-load-capture.sh OUT.pcap [CALLS=600] [RATE=10] [TURNS=0]
# Each call: INVITE from the caller (tests/sipp/uac_g711a.xml: SIPp's own A-law speech, 7 s, then DTMF and BYE at
# about 8.5 s), the callee answering with other speech (the caller's leg of ../shared/captures/SIP_CALL_RTP_G711.pcap,
# its first 7 s: a different voice). RATE calls a second for CALLS calls: with ~8.5 s calls, ~RATE x 8.5 at once.
# TURNS=1 makes the parties take turns, as in a conversation: the callee speaks once the caller is done (7 s), and the
# call lasts ~15.5 s, each leg silent about half of it.
# Every call has its own media ports (SIPp's [auto_media_port]), as real phones do. Needs root (tcpdump on lo).
set -euo pipefail
out=${1:?usage: make-load-capture.sh OUT.pcap [CALLS] [RATE]}
calls=${2:-600}
rate=${3:-10}
turns=${4:-0}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=$(cd "$repo/.." && pwd)/shared/captures
work=$(mktemp -d /tmp/appl-load.XXXXXX)
uas_pid=
trap 'kill $(jobs -p) 2>/dev/null || true; if [[ -n $uas_pid ]]; then kill -INT "$uas_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# The callee's voice: 350 packets (7 s) of the caller's leg of the Wireshark sample call (PCMA, 20 ms).
tcpdump -r "$shared/SIP_CALL_RTP_G711.pcap" -w "$work/leg.pcap" 'udp and src host 200.57.7.196 and src port 40376' 2>/dev/null
editcap -r "$work/leg.pcap" "$work/speech_b.pcap" 1-350
wait_ms=0
[[ $turns == 1 ]] && wait_ms=7100
# The caller hangs up 1 s after its DTMF, which follows its speech (7.5 s), or the callee's turn too (TURNS=1).
sed -e "s/<pause milliseconds=\"7500\"\/>/<pause milliseconds=\"$((7500 + wait_ms))\"\/>/" "$repo/tests/sipp/uac_g711a.xml" >"$work/uac.xml"
sed -e 's/\[media_port\]/[auto_media_port]/' -e "s#play_pcap_audio=\"tone1k_alaw.pcap\"#play_pcap_audio=\"$work/speech_b.pcap\"#" \
    "$repo/tests/sipp/uas_g711a.xml" >"$work/uas.xml"
if [[ $turns == 1 ]]; then
    # The callee listens first: its speech starts after the caller's 7 s.
    sed -i "s#<nop>#<pause milliseconds=\"$wait_ms\"/>\n  <nop>#" "$work/uas.xml"
fi
cp "$repo/tests/sipp/users.csv" "$work/users.csv"

timeout -s INT $((calls / rate + 140)) tcpdump -i lo -w "$out" -s 0 -U -B 65536 'udp' >"$work/tcpdump.log" 2>&1 &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$work/tcpdump.log" && break; sleep 0.1; done

cd "$work"
uas_pid=$( (sipp -nostdin -sf uas.xml -i 127.0.0.1 -p 5070 -mi 127.0.0.1 -mp 20000 -bg -trace_err 2>&1 || true) | sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
sleep 1
sipp -nostdin -sf uac.xml -inf users.csv -i 127.0.0.1 -p 5060 -mi 127.0.0.1 -mp 40000 -r "$rate" -m "$calls" -l $((rate * 12)) \
    -timeout $((calls / rate + 60))s -trace_err 127.0.0.1:5070 >"$work/uac.log" 2>&1 || { echo "the caller's SIPp failed:" >&2; tail -30 "$work/uac.log" >&2; }
sleep 2
kill -INT "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true
[[ -n $uas_pid ]] && kill -INT "$uas_pid" 2>/dev/null || true
grep -E 'packets (captured|dropped)' "$work/tcpdump.log" >&2
echo "load capture: $out ($calls calls at $rate/s, turns $turns)" >&2
