#!/usr/bin/env bash
# Record one real SIPp call on loopback into a pcap (default: samples/sipp-g711a-call.pcap).
#
#   sudo tests/live/record-sample.sh [OUT.pcap]
#
# Timeline (about 12 s): registrar (uas_register.xml) on 127.0.0.1:5080 and callee (uas_g711a.xml,
# extension 2002) on 127.0.0.1:5070 start; the caller's phone (uac_register.xml, from 127.0.0.1:5061)
# registers 2001 with Expires 3600; the caller (uac_g711a.xml, 127.0.0.1:5060) calls 2002: speech
# 2001->2002 (g711a.pcap, 30 ms packets, 7 s) plus a DTMF '1', a 1 kHz tone 2002->2001 (20 ms, 8 s),
# BYE after about 8.5 s; then 2001 unregisters (Expires 0). RTP: 127.0.0.1:6100 <-> 127.0.0.1:6000.
# Only loopback is used. Needs root: tcpdump, and SIPp's pcap play uses a raw socket.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

out=${1:-$repo/samples/sipp-g711a-call.pcap}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

ip=127.0.0.1
uac_port=5060 reg_port=5061 uas_port=5070 registrar_port=5080
# Every sipp binds its -mp (audio) and -mp+2 (video) sockets, even the REGISTER ones, and exits when an
# explicit -mp is taken: give all four distinct ports on the one host.
uac_mp=6100 uas_mp=6000 reg_mp=6950 registrar_mp=6900
callee=2002
register_hold_ms=10000    # the call lasts ~8.6 s; unregister after it

live_require_tools || exit 1
logdir=$(mktemp -d /tmp/record-sample.XXXXXX)
echo "logs in $logdir" >&2
trap 'live_tcpdump_stop "$logdir" 2>/dev/null' EXIT

rm -f "$out"
live_tcpdump_start "$logdir" "$out" lo || exit 1

live_sipp registrar "$logdir" 30 -- -sf uas_register.xml -i $ip -p $registrar_port \
    -mi $ip -mp $registrar_mp -m 1 -timeout 25s -timeout_error
registrar_pid=$LIVE_SIPP_PID
live_sipp uas "$logdir" 30 -- -sf uas_g711a.xml -i $ip -p $uas_port -mi $ip -mp $uas_mp -s $callee \
    -m 1 -timeout 25s -timeout_error
uas_pid=$LIVE_SIPP_PID
sleep 0.5

live_sipp register "$logdir" 30 -- -sf uac_register.xml -inf users.csv -i $ip -p $reg_port -mi $ip -mp $reg_mp \
    -d $register_hold_ms -m 1 -timeout 25s -timeout_error $ip:$registrar_port
register_pid=$LIVE_SIPP_PID
sleep 0.5

live_sipp uac "$logdir" 30 -- -sf uac_g711a.xml -inf users.csv -i $ip -p $uac_port -mi $ip -mp $uac_mp \
    -s $callee -m 1 -timeout 25s -timeout_error $ip:$uas_port
uac_pid=$LIVE_SIPP_PID

status=0
live_wait_sipps "$logdir" 35 uac uas register registrar || status=1

sleep 0.5   # let the last 200 reach the capture
live_tcpdump_stop "$logdir"
trap - EXIT
# Debian's tcpdump drops privileges to user tcpdump, which then owns the file; hand it to the repo's owner.
chown --reference="$(dirname "$out")" "$out" 2>/dev/null

ls -l "$out" >&2
tshark -r "$out" -q -z sip,stat -o rtp.heuristic_rtp:TRUE -z rtp,streams 2>/dev/null
exit $status
