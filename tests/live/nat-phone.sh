#!/usr/bin/env bash
# topology.sh's rig (Kamailio registrar/proxy, rtpengine relay) with phone 2001 behind a NAT router, as a home worker or
# a branch office is: the mirror sees the router's public address and ports, while the phone's Via, Contact and SDP
# still name its private address. Run it: tests/live/nat-phone.sh up [LOGDIR] | down | call [LOGDIR] | record OUT.pcap
#
#   appl-uac (192.168.77.10, the phone) --veth-- appl-nat (192.168.77.1 | 10.77.0.40) --\
#   appl-uas (10.77.0.20: 2002) ------------------------------------------------------------ appl-br0 (capture here)
#   appl-prx (10.77.0.30: kamailio -A WITH_NAT, rtpengine) --------------------------------/
#
# The router masquerades the phone's UDP to 10.77.0.40 and maps each flow to a port in 40000-40999 (nftables), so its
# RTP reaches the mirror from an address and a port its SDP never named. Kamailio answers where the requests came from
# (force_rport), saves the REGISTER's source (fix_nated_register) and rewrites the INVITE's Contact (fix_nated_contact);
# rtpengine learns the phone's public address from its first RTP packet (latching) and sends the callee's audio there.
# call: netns.sh's run_sipp_call from the private address through the proxy (2001 registers, calls 2002: speech
# and DTMF 1 against a 1 kHz tone, BYE, unregisters), about 10.5 s. Needs root; bounded like netns.sh.

APPL_NS_NAT=${APPL_NS_NAT:-appl-nat}
APPL_NAT_IP=${APPL_NAT_IP:-10.77.0.40}
APPL_NAT_LAN_IP=${APPL_NAT_LAN_IP:-192.168.77.1}
APPL_PHONE_IP=${APPL_PHONE_IP:-192.168.77.10}
APPL_NAT_PORTS=${APPL_NAT_PORTS:-40000-40999}

_nat_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$_nat_here/topology.sh"

# nat_down: the router's namespace (processes in it stopped by pid), then topology.sh's rig.
nat_down() {
    local pid
    if ip netns list 2>/dev/null | grep -qw "^$APPL_NS_NAT"; then
        for pid in $(ip netns pids "$APPL_NS_NAT" 2>/dev/null); do
            kill -TERM "$pid" 2>/dev/null
        done
        ip netns del "$APPL_NS_NAT" 2>/dev/null
    fi
    ip link del "$(_netns_host_if "$APPL_NS_NAT")" 2>/dev/null
    topology_down
}

# nat_up [LOGDIR]: topology.sh's rig with Kamailio's NAT handling; the phone's namespace is then taken off the bridge and
# put behind the router: a private /24 towards the router, a default route through it, the router masquerading.
nat_up() {
    local logdir=${1:-}
    nat_down
    APPL_KAMAILIO_DEFINES="-A WITH_NAT" topology_up "$logdir" || return 1
    _netns_add_phone "$APPL_NS_NAT" "$APPL_NAT_IP" || { nat_down; return 1; }
    ip link del "$(_netns_host_if "$APPL_NS_UAC")" || { nat_down; return 1; }
    ip -n "$APPL_NS_NAT" link add lan0 type veth peer name eth0 netns "$APPL_NS_UAC" || { nat_down; return 1; }
    _netns_sysctl_v6_off "$APPL_NS_NAT" lan0
    _netns_sysctl_v6_off "$APPL_NS_UAC" eth0
    ip -n "$APPL_NS_NAT" addr add "$APPL_NAT_LAN_IP/24" dev lan0 || { nat_down; return 1; }
    ip -n "$APPL_NS_NAT" link set lan0 up || { nat_down; return 1; }
    ip -n "$APPL_NS_UAC" addr add "$APPL_PHONE_IP/24" dev eth0 || { nat_down; return 1; }
    ip -n "$APPL_NS_UAC" link set eth0 up || { nat_down; return 1; }
    ip -n "$APPL_NS_UAC" route add default via "$APPL_NAT_LAN_IP" || { nat_down; return 1; }
    ip netns exec "$APPL_NS_NAT" sysctl -qw net.ipv4.ip_forward=1 || { nat_down; return 1; }
    # One nft run, one transaction: the phone's UDP leaves from the router's address and a port of the range.
    ip netns exec "$APPL_NS_NAT" nft "add table ip nat; add chain ip nat postrouting { type nat hook postrouting priority srcnat; policy accept; }; add rule ip nat postrouting oifname \"eth0\" ip saddr $APPL_PHONE_IP/24 meta l4proto udp masquerade to :$APPL_NAT_PORTS random" \
        || { nat_down; return 1; }
    echo "nat_up: phone $APPL_PHONE_IP behind $APPL_NS_NAT ($APPL_NAT_IP, UDP ports $APPL_NAT_PORTS)" >&2
}

# nat_call [LOGDIR]: 2001 registers from its private address with the proxy and calls 2002 through it (run_sipp_call).
nat_call() {
    APPL_UAC_IP=$APPL_PHONE_IP run_sipp_call "${1:-}" "$APPL_PRX_IP:5060"
}

# nat_record OUT.pcap: tcpdump on the bridge (UDP) while nat_call runs (samples/README.md).
nat_record() {
    live_record "$1" "$APPL_BRIDGE" udp nat_call
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u -o pipefail
    case ${1:-} in
        up) nat_up "${2:-}" ;;
        down) nat_down ;;
        call) nat_call "${2:-}" ;;
        record) [[ -n ${2:-} ]] || { echo "usage: $0 record OUT.pcap" >&2; exit 2; }
                nat_record "$2" ;;
        *) echo "usage: $0 up [LOGDIR] | down | call [LOGDIR] | record OUT.pcap" >&2; exit 2 ;;
    esac
fi
