#!/usr/bin/env bash
# topology.sh's rig with a WebSocket phone: Kamailio (kamailio-ws.cfg.in) also takes SIP over WebSocket on plain
# ws://10.77.0.30:8080 (RFC 7118), and the phone in appl-uac is tests/live/ws_phone.py, a browser-style SIP stack
# (masked frames, Contact <sip:...@....invalid;transport=ws> with +sip.instance, plain RTP/AVP PCMA with a 600 Hz
# tone, answering a call too). Run it: tests/live/websocket-phone.sh up [LOGDIR] | down | call [LOGDIR] | record OUT.pcap
#
# call: the WebSocket phone registers 2001 and calls 2002 through the proxy; the proxy relays the INVITE over UDP to the
# SIPp callee at 10.77.0.20:5060 (a 1 kHz tone back) and hands both SDPs to rtpengine, so the media goes through the
# relay as in topology.sh. The phone hangs up after 8 s and stays registered. Then 2002 (SIPp's caller, speech and DTMF
# 1, from 10.77.0.20:5060) calls 2001: the proxy finds the phone's registration and sends the INVITE over its
# WebSocket; the phone answers with its tone until 2002 hangs up. ~21 s; root.

_ws_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$_ws_here/topology.sh"

APPL_WS_PORT=${APPL_WS_PORT:-8080}

# topology.sh's proxy configuration, from this rig's template (topology_up calls it).
_topology_config() { # FILE
    sed -e "s/@PRX_IP@/$APPL_PRX_IP/g" -e "s/@UAS_IP@/$APPL_UAS_IP/g" -e "s/@CALLEE@/$APPL_CALLEE/g" \
        "$_ws_here/kamailio-ws.cfg.in" >"$1"
}

# websocket_phone_call [LOGDIR]: the call above; 0 when the phone and the callee both finished cleanly.
websocket_phone_call() {
    local logdir=${1:-} uas_pid phone_pid rc status=0 i port
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-wsphone.XXXXXX)
    mkdir -p "$logdir"
    live_require_tools || return 1
    printf -v port '%04X' "$APPL_WS_PORT"
    for ((i = 0; i < 50; i++)); do
        ip netns exec "$APPL_NS_PRX" grep -q ":$port 00000000:0000 0A" /proc/net/tcp 2>/dev/null && break
        sleep 0.1
    done
    live_sipp uas "$logdir" 30 "$APPL_NS_UAS" -- -sf uas_g711a.xml -i "$APPL_UAS_IP" -p 5060 \
        -mi "$APPL_UAS_IP" -mp 6000 -s "$APPL_CALLEE" -m 1 -timeout 25s -timeout_error
    uas_pid=$LIVE_SIPP_PID
    sleep 0.5
    ip netns exec "$APPL_NS_UAC" timeout -s INT -k 3 45 python3 "$_ws_here/ws_phone.py" "$APPL_PRX_IP:$APPL_WS_PORT" \
        "$APPL_UAC_IP" 2001 "$APPL_CALLEE" --answer 20 >"$logdir/ws_phone.log" 2>&1 &
    phone_pid=$!
    # The phone's call is over when the callee's sipp is (it answers the BYE, then waits out its 2 s).
    live_wait_pid "$uas_pid" 35
    rc=$?
    live_report_sipp uas "$logdir" $rc
    [[ $rc -eq 0 ]] || status=1
    live_sipp caller "$logdir" 30 "$APPL_NS_UAS" -- -sf uac_g711a.xml -inf users_2002.csv -i "$APPL_UAS_IP" -p 5060 \
        -mi "$APPL_UAS_IP" -mp 6000 -s 2001 -m 1 -timeout 25s -timeout_error "$APPL_PRX_IP:5060"
    live_wait_pid "$LIVE_SIPP_PID" 35
    rc=$?
    live_report_sipp caller "$logdir" $rc
    [[ $rc -eq 0 ]] || status=1
    live_wait_pid "$phone_pid" 10
    rc=$?
    if [[ $rc -eq 0 ]]; then echo "ws_phone: ok" >&2; else echo "ws_phone: FAILED (exit $rc):" >&2; status=1; fi
    cat "$logdir/ws_phone.log" >&2
    echo "websocket_phone_call: logs in $logdir" >&2
    return $status
}

# websocket_phone_record OUT.pcap: tcpdump on the bridge (UDP and TCP: the WebSocket is TCP) while websocket_phone_call
# runs (samples/README.md).
websocket_phone_record() {
    live_record "$1" "$APPL_BRIDGE" 'udp or tcp' websocket_phone_call
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u -o pipefail
    case ${1:-} in
        up) topology_up "${2:-}" ;;
        down) topology_down ;;
        call) websocket_phone_call "${2:-}" ;;
        record) [[ -n ${2:-} ]] || { echo "usage: $0 record OUT.pcap" >&2; exit 2; }
                websocket_phone_record "$2" ;;
        *) echo "usage: $0 up [LOGDIR] | down | call [LOGDIR] | record OUT.pcap" >&2; exit 2 ;;
    esac
fi
