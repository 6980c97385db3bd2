#!/usr/bin/env bash
# The two-phone rig of netns.sh with infrastructure on the mirror: Kamailio (Debian's kamailio) as registrar and
# record-routing proxy, and rtpengine (Debian's rtpengine-daemon, userspace forwarding) as media relay, in a third
# namespace on the same bridge. Run it: tests/live/topology.sh up | down | call [LOGDIR] | hold [LOGDIR] | record OUT call|hold
#
#   appl-uac (10.77.0.10) --\
#   appl-uas (10.77.0.20) ---- appl-br0 (the "switch": capture here)
#   appl-prx (10.77.0.30) --/   kamailio on 10.77.0.30:5060, rtpengine on 10.77.0.30:30000-30100
#
# call: phone 2001 (appl-uac) registers with the proxy, then calls 2002 through it; the proxy relays the INVITE to
# the callee at 10.77.0.20:5060 (a static route: the callee's SIPp answers, it does not register) and stays in the
# dialog (Record-Route). Each SDP is rewritten to the relay, so the mirror sees every RTP packet twice: phone to relay,
# relay to phone (same SSRC and sequence: rtpengine forwards, it does not transcode). Needs root; bounded like netns.sh.

APPL_NS_PRX=${APPL_NS_PRX:-appl-prx}
APPL_PRX_IP=${APPL_PRX_IP:-10.77.0.30}

_topology_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns.sh
source "$_topology_here/netns.sh"

# The proxy's configuration: tests/live/kamailio.cfg.in with this rig's addresses.
_topology_config() { # FILE
    sed -e "s/@PRX_IP@/$APPL_PRX_IP/g" -e "s/@UAS_IP@/$APPL_UAS_IP/g" -e "s/@CALLEE@/$APPL_CALLEE/g" \
        "$_topology_here/kamailio.cfg.in" >"$1"
}

# topology_down: the rig and the proxy's namespace (its kamailio stopped by pid), whatever state they are in.
topology_down() {
    local pid
    if ip netns list 2>/dev/null | grep -qw "^$APPL_NS_PRX"; then
        for pid in $(ip netns pids "$APPL_NS_PRX" 2>/dev/null); do
            kill -TERM "$pid" 2>/dev/null
        done
        sleep 0.5
        for pid in $(ip netns pids "$APPL_NS_PRX" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$APPL_NS_PRX" 2>/dev/null
    fi
    ip link del "$(_netns_host_if "$APPL_NS_PRX")" 2>/dev/null
    netns_down
}

# topology_up [LOGDIR]: the rig, the proxy's namespace and kamailio in it (its log in LOGDIR/kamailio.log).
# APPL_KAMAILIO_DEFINES adds kamailio.cfg.in's defines, e.g. "-A WITH_NAT" (nat-phone.sh).
topology_up() {
    local logdir=${1:-} defines
    read -ra defines <<<"${APPL_KAMAILIO_DEFINES:-}"
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-topology.XXXXXX)
    mkdir -p "$logdir"
    topology_down
    netns_up || return 1
    _netns_add_phone "$APPL_NS_PRX" "$APPL_PRX_IP" || { topology_down; return 1; }
    _topology_config "$logdir/kamailio.cfg"
    kamailio -c "${defines[@]}" -f "$logdir/kamailio.cfg" >"$logdir/kamailio-check.log" 2>&1 || { cat "$logdir/kamailio-check.log" >&2; topology_down; return 1; }
    ip -n "$APPL_NS_PRX" link set lo up
    ip netns exec "$APPL_NS_PRX" rtpengine --interface="$APPL_PRX_IP" --listen-ng=127.0.0.1:2223 --table=-1 \
        --port-min=30000 --port-max=30100 --foreground --log-stderr --pidfile="$logdir/rtpengine.pid" \
        >"$logdir/rtpengine.log" 2>&1 &
    ip netns exec "$APPL_NS_PRX" kamailio "${defines[@]}" -f "$logdir/kamailio.cfg" -DD -E -Y "$logdir" -P "$logdir/kamailio.pid" \
        >"$logdir/kamailio.log" 2>&1 &
    local i
    for ((i = 0; i < 50; i++)); do
        # Kamailio on 5060 (0x13C4) and rtpengine's control on 2223 (0x08AF) are listening.
        if ip netns exec "$APPL_NS_PRX" grep -q ":13C4 " /proc/net/udp 2>/dev/null \
            && ip netns exec "$APPL_NS_PRX" grep -q ":08AF " /proc/net/udp 2>/dev/null; then
            echo "topology_up: kamailio on $APPL_PRX_IP:5060, rtpengine relaying, logs in $logdir" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "topology_up: kamailio or rtpengine did not start:" >&2
    tail -n 20 "$logdir/kamailio.log" "$logdir/rtpengine.log" >&2
    topology_down
    return 1
}

# topology_call [LOGDIR]: phone 2001 registers with the proxy and calls 2002 through it (netns.sh's run_sipp_call: the
# callee answers and plays a 1 kHz tone, the caller plays speech and DTMF 1), then unregisters.
topology_call() {
    run_sipp_call "${1:-}" "$APPL_PRX_IP:5060"
}

# topology_hold_call [LOGDIR]: the hold scenario through the proxy and the relay. Phone 2001 registers with the proxy
# (held 30 s) and calls 2002 (uac_hold.xml / uas_hold.xml): 3 s of talk (caller speech, callee 1 kHz tone), hold by the
# caller (re-INVITE a=sendonly, answered recvonly: neither phone sends audio meanwhile), 16 s on hold, resume (re-INVITE
# a=sendrecv), 3 s of talk, BYE from the caller. Both re-INVITEs and their answers cross the proxy, which hands their SDP
# to rtpengine. LOGDIR/uac_hold_logs.log gets "hold-sent <epoch s>" and "resume-sent <epoch s>" (SIPp's clock, the
# capture's clock). About 27 s; every sipp bounded by -timeout 45s and an outer timeout of 50 s.
topology_hold_call() {
    local logdir=${1:-}
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-hold.XXXXXX)
    mkdir -p "$logdir"
    live_require_tools || return 1
    local uas_pid register_pid uac_pid status=0
    live_sipp uas "$logdir" 50 "$APPL_NS_UAS" -- -sf uas_hold.xml -i "$APPL_UAS_IP" -p 5060 \
        -mi "$APPL_UAS_IP" -mp 6000 -s "$APPL_CALLEE" -m 1 -timeout 45s -timeout_error
    uas_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp register "$logdir" 50 "$APPL_NS_UAC" -- -sf uac_register.xml -inf users.csv \
        -i "$APPL_UAC_IP" -p 5061 -mi "$APPL_UAC_IP" -mp 6900 -d 30000 -m 1 -timeout 45s -timeout_error "$APPL_PRX_IP:5060"
    register_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp uac "$logdir" 50 "$APPL_NS_UAC" -- -sf uac_hold.xml -inf users.csv \
        -i "$APPL_UAC_IP" -p 5060 -mi "$APPL_UAC_IP" -mp 6100 -s "$APPL_CALLEE" \
        -trace_logs -log_file "$logdir/uac_hold_logs.log" -m 1 -timeout 45s -timeout_error "$APPL_PRX_IP:5060"
    uac_pid=$LIVE_SIPP_PID
    live_wait_sipps "$logdir" 55 uac uas register || status=1
    echo "topology_hold_call: logs in $logdir" >&2
    return $status
}

# topology_record OUT.pcap SCENARIO: capture the bridge (tcpdump, UDP) while SCENARIO (call | hold) runs, for samples/.
topology_record() {
    case $2 in
        call) live_record "$1" "$APPL_BRIDGE" udp topology_call ;;
        hold) live_record "$1" "$APPL_BRIDGE" udp topology_hold_call ;;
        *) echo "topology_record: unknown scenario $2" >&2; return 2 ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u -o pipefail
    case ${1:-} in
        up) topology_up "${2:-}" ;;
        down) topology_down ;;
        call) topology_call "${2:-}" ;;
        hold) topology_hold_call "${2:-}" ;;
        record) [[ -n ${2:-} && -n ${3:-} ]] || { echo "usage: $0 record OUT.pcap call|hold" >&2; exit 2; }
                topology_record "$2" "$3" ;;
        *) echo "usage: $0 up [LOGDIR] | down | call [LOGDIR] | hold [LOGDIR] | record OUT.pcap call|hold" >&2; exit 2 ;;
    esac
fi
