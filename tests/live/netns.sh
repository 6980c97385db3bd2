#!/usr/bin/env bash
# A two-phone test rig in network namespaces, for live tests of the appliance. Source it for the
# functions, or run it: tests/live/netns.sh up | down | call [LOGDIR] | record OUT.pcap | status | rebuild
#
#   appl-uac (10.77.0.10/24, eth0) --veth-- appl-uac0 \
#                                                      appl-br0  (root namespace, no IP address)
#   appl-uas (10.77.0.20/24, eth0) --veth-- appl-uas0 /
#
# The bridge is the "switch": capture on appl-br0 (promiscuous, which tcpdump and a SPAN-port capture
# use anyway: the frames are not addressed to this host) and you see every frame of a call between the
# two namespaces once, both directions. appl-uac0 or appl-uas0 also see both directions of their phone,
# without needing promiscuous mode. The root namespace has no address on the rig and routes nothing to
# it; the namespaces have only their own /24 (no default route), so no traffic can leave the rig.
# IPv6 is disabled on all rig interfaces to keep captures free of RS/MLD noise.
#
# Needs root. Everything here is bounded: a call takes about 10.5 s (REGISTER, 8.5 s call, unREGISTER).

APPL_NS_UAC=${APPL_NS_UAC:-appl-uac}
APPL_NS_UAS=${APPL_NS_UAS:-appl-uas}
APPL_BRIDGE=${APPL_BRIDGE:-appl-br0}
APPL_UAC_IP=${APPL_UAC_IP:-10.77.0.10}
APPL_UAS_IP=${APPL_UAS_IP:-10.77.0.20}
APPL_PREFIX=${APPL_PREFIX:-24}
APPL_CALLEE=${APPL_CALLEE:-2002}

_netns_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$_netns_here/lib.sh"

# Root-side veth end for a namespace: appl-uac -> appl-uac0.
_netns_host_if() { echo "${1}0"; }

_netns_sysctl_v6_off() { # [NETNS] IFACE
    local ns= iface
    if [[ $# -eq 2 ]]; then ns=$1; shift; fi
    iface=$1
    if [[ -n $ns ]]; then
        ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$iface.disable_ipv6=1" 2>/dev/null
    else
        sysctl -qw "net.ipv6.conf.$iface.disable_ipv6=1" 2>/dev/null
    fi
    return 0
}

# netns_down: remove the rig, whatever state it is in. Stops processes still running inside the
# rig's namespaces (they can only be ones these tests started), by pid.
netns_down() {
    local ns pid
    for ns in "$APPL_NS_UAC" "$APPL_NS_UAS"; do
        if ip netns list 2>/dev/null | grep -qw "^$ns"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do
                kill -TERM "$pid" 2>/dev/null
            done
            ip netns del "$ns" 2>/dev/null
        fi
        # Deleting the namespace deletes its veth end and so the pair; a leftover root end is removed too.
        ip link del "$(_netns_host_if "$ns")" 2>/dev/null
    done
    ip link del "$APPL_BRIDGE" 2>/dev/null
    return 0
}

_netns_add_phone() { # NETNS IP
    local ns=$1 addr=$2 host_if
    host_if=$(_netns_host_if "$ns")
    ip netns add "$ns" || return 1
    ip link add "$host_if" type veth peer name eth0 netns "$ns" || return 1
    _netns_sysctl_v6_off "$host_if"
    ip link set "$host_if" master "$APPL_BRIDGE" || return 1
    ip link set "$host_if" up || return 1
    ip -n "$ns" link set lo up || return 1
    _netns_sysctl_v6_off "$ns" eth0
    _netns_sysctl_v6_off "$ns" lo
    ip -n "$ns" addr add "$addr/$APPL_PREFIX" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
}

# netns_up: (re)create the rig from scratch and check that the phones reach each other.
netns_up() {
    netns_down
    _netns_add_bridge || return 1
    _netns_add_phone "$APPL_NS_UAC" "$APPL_UAC_IP" || { netns_down; return 1; }
    _netns_add_phone "$APPL_NS_UAS" "$APPL_UAS_IP" || { netns_down; return 1; }
    # Prove the path with a UDP datagram (no ping on these machines): listener in the callee's
    # namespace, a few sends from the caller's, all bounded. Runs before any capture starts.
    ip netns exec "$APPL_NS_UAS" timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9))
s.settimeout(4)
s.recvfrom(64)' "$APPL_UAS_IP" &
    local listener=$! i
    for ((i = 0; i < 20; i++)); do
        kill -0 "$listener" 2>/dev/null || break
        ip netns exec "$APPL_NS_UAC" python3 -c '
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"appl-probe", (sys.argv[1], 9))' "$APPL_UAS_IP"
        sleep 0.2
    done
    if live_wait_pid "$listener" 6; then
        return 0
    fi
    echo "netns_up: no UDP from $APPL_NS_UAC reached $APPL_UAS_IP:9" >&2
    return 1
}

# netns_rebuild: the "switch" replaced under a running capture, as a network manager rebuilding a bridge (or a USB NIC
# replugged) does: the bridge is deleted and created again under the same name (a new ifindex), both phones re-attached.
_netns_add_bridge() {
    ip link add "$APPL_BRIDGE" type bridge || return 1
    # Bridged frames must not go through the root namespace's iptables (br_netfilter is loaded here);
    # per-bridge switch, so the global net.bridge.* sysctls stay untouched. Older kernels lack it.
    ip link set "$APPL_BRIDGE" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 \
        2>/dev/null || echo "netns: note: bridge nf_call_* not settable on this kernel" >&2
    _netns_sysctl_v6_off "$APPL_BRIDGE"
    ip link set "$APPL_BRIDGE" up
}

netns_rebuild() {
    local ns
    ip link del "$APPL_BRIDGE" || return 1
    _netns_add_bridge || return 1
    for ns in "$APPL_NS_UAC" "$APPL_NS_UAS"; do
        ip link set "$(_netns_host_if "$ns")" master "$APPL_BRIDGE" || return 1
    done
}

netns_status() {
    ip netns list | grep -E "^($APPL_NS_UAC|$APPL_NS_UAS)( |$)"
    ip -br link show master "$APPL_BRIDGE" 2>/dev/null
    ip -br link show "$APPL_BRIDGE" 2>/dev/null
    ip -n "$APPL_NS_UAC" -br addr show eth0 2>/dev/null
    ip -n "$APPL_NS_UAS" -br addr show eth0 2>/dev/null
}

# run_sipp_call [LOGDIR [VIA]]: one call from 2001 (appl-uac) to 2002 (appl-uas), with a REGISTER before
# and an unREGISTER after, all bounded (every sipp has -timeout 25s and an outer timeout of 30 s).
#   registrar  appl-uas 10.77.0.20:5080   uas_register.xml (not started with VIA)
#   callee     appl-uas 10.77.0.20:5060   uas_g711a.xml, RTP port 6000, plays a 1 kHz tone
#   phone 2001 appl-uac 10.77.0.10:5061   uac_register.xml (Expires 3600, then 0 after 10 s)
#   caller     appl-uac 10.77.0.10:5060   uac_g711a.xml, RTP port 6100, plays speech + DTMF 1
# VIA (host:port, e.g. a proxy's) takes both the REGISTER and the call instead of the SIPp registrar and the callee.
# The REGISTER-only sipps get -mp 6900 too: every sipp binds its -mp socket, and an explicit -mp
# that is taken is fatal ("Unable to bind audio RTP socket").
# Returns 0 when every SIPp run succeeded. Logs stay in LOGDIR (default: a new /tmp directory).
run_sipp_call() {
    local logdir=${1:-} via=${2:-}
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-call.XXXXXX)
    mkdir -p "$logdir"
    live_require_tools || return 1
    local registrar_pid= uas_pid register_pid uac_pid status=0 names="uac uas register"

    if [[ -z $via ]]; then
        live_sipp registrar "$logdir" 30 "$APPL_NS_UAS" -- -sf uas_register.xml -i "$APPL_UAS_IP" -p 5080 \
            -mi "$APPL_UAS_IP" -mp 6900 -m 1 -timeout 25s -timeout_error
        registrar_pid=$LIVE_SIPP_PID
        names="$names registrar"
    fi
    live_sipp uas "$logdir" 30 "$APPL_NS_UAS" -- -sf uas_g711a.xml -i "$APPL_UAS_IP" -p 5060 \
        -mi "$APPL_UAS_IP" -mp 6000 -s "$APPL_CALLEE" -m 1 -timeout 25s -timeout_error
    uas_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp register "$logdir" 30 "$APPL_NS_UAC" -- -sf uac_register.xml -inf users.csv \
        -i "$APPL_UAC_IP" -p 5061 -mi "$APPL_UAC_IP" -mp 6900 -d 10000 -m 1 -timeout 25s -timeout_error "${via:-$APPL_UAS_IP:5080}"
    register_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp uac "$logdir" 30 "$APPL_NS_UAC" -- -sf uac_g711a.xml -inf users.csv \
        -i "$APPL_UAC_IP" -p 5060 -mi "$APPL_UAC_IP" -mp 6100 -s "$APPL_CALLEE" \
        -m 1 -timeout 25s -timeout_error "${via:-$APPL_UAS_IP:5060}"
    uac_pid=$LIVE_SIPP_PID

    live_wait_sipps "$logdir" 35 $names || status=1
    echo "run_sipp_call: logs in $logdir" >&2
    return $status
}

# run_sipp_mobility [LOGDIR]: one phone (appl-uac 10.77.0.10:5061) changes its extension set by REGISTERs:
# {2001} -> {} -> {3001} -> {3001, 3002} (held 1.5 s) -> {3002} -> {} -> {2001} (uac_mobility.xml), to a
# registrar at appl-uas 10.77.0.20:5080 (uas_registrar_many.xml). About 3 s; bounded like run_sipp_call.
run_sipp_mobility() {
    local logdir=${1:-}
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-mobility.XXXXXX)
    mkdir -p "$logdir"
    live_require_tools || return 1
    local registrar_pid phone_pid status=0
    live_sipp registrar "$logdir" 30 "$APPL_NS_UAS" -- -sf uas_registrar_many.xml -i "$APPL_UAS_IP" -p 5080 \
        -mi "$APPL_UAS_IP" -mp 6900 -m 1 -timeout 25s -timeout_error
    registrar_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp phone "$logdir" 30 "$APPL_NS_UAC" -- -sf uac_mobility.xml \
        -i "$APPL_UAC_IP" -p 5061 -mi "$APPL_UAC_IP" -mp 6900 -m 1 -timeout 25s -timeout_error "$APPL_UAS_IP:5080"
    phone_pid=$LIVE_SIPP_PID
    live_wait_sipps "$logdir" 35 phone registrar || status=1
    echo "run_sipp_mobility: logs in $logdir" >&2
    return $status
}

# netns_record OUT.pcap [IFACE]: capture (root namespace, default appl-br0) while run_sipp_call runs,
# then print tshark's SIP and RTP stream summaries.
netns_record() {
    live_record "$1" "${2:-$APPL_BRIDGE}" udp run_sipp_call
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u -o pipefail
    case ${1:-} in
        up) netns_up ;;
        down) netns_down ;;
        status) netns_status ;;
        rebuild) netns_rebuild ;;
        call) run_sipp_call "${2:-}" ;;
        mobility) run_sipp_mobility "${2:-}" ;;
        record) [[ -n ${2:-} ]] || { echo "usage: $0 record OUT.pcap [IFACE]" >&2; exit 2; }
                netns_record "$2" "${3:-}" ;;
        *) echo "usage: $0 up | down | status | rebuild | call [LOGDIR] | mobility [LOGDIR] | record OUT.pcap [IFACE]" >&2; exit 2 ;;
    esac
fi
