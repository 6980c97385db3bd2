#!/usr/bin/env bash
# topology.sh's rig (Kamailio registrar/proxy, rtpengine relay) with a phone whose address changes between two calls,
# as a DHCP renewal that hands out another lease does. Run it: tests/live/phone-moves.sh up | down | call [LOGDIR [INSTANCE]] | record OUT.pcap [INSTANCE]
#
# call: phone 2001 (appl-uac) registers from 10.77.0.10:5061 (Expires 3600, kept) and calls 2002 through the proxy
# (netns.sh's caller at 10.77.0.10:5060, speech; the callee at 10.77.0.20:5060 plays a 1 kHz tone); then the phone's
# address becomes 10.77.0.11 (`ip addr del` / `add` in its namespace: same interface, same MAC), it registers again
# from 10.77.0.11:5061 and calls 2002 again. It never unregisters the old address: a phone whose lease changed cannot.
# Both REGISTERs carry one Call-ID with CSeq 1 then 2 (RFC 3261 10.2: one Call-ID per registrar and boot cycle), and
# with INSTANCE (e.g. urn:uuid:...) one +sip.instance (RFC 5626), as phones with outbound support send. ~22 s; root.

APPL_UAC_NEW_IP=${APPL_UAC_NEW_IP:-10.77.0.11}

_moves_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$_moves_here/topology.sh"

# _moves_register LOGDIR NAME IP CSEQ CALLID INSTANCE: one kept REGISTER of 2001 from IP:5061 to the proxy; waits for it.
_moves_register() {
    local logdir=$1 name=$2 ip=$3 cseq=$4 cid=$5 instance=$6 param= rc
    [[ -n $instance ]] && param=";+sip.instance=\"<$instance>\""
    live_sipp "$name" "$logdir" 15 "$APPL_NS_UAC" -- -sf uac_register_keep.xml -inf users.csv -key instance "$param" \
        -cid_str "$cid" -base_cseq "$cseq" -i "$ip" -p 5061 -mi "$ip" -mp 6900 -m 1 -timeout 10s -timeout_error \
        "$APPL_PRX_IP:5060"
    live_wait_pid "$LIVE_SIPP_PID" 15
    rc=$?
    live_report_sipp "$name" "$logdir" $rc
    return $rc
}

# _moves_call LOGDIR N IP: one call from 2001 at IP:5060 to 2002 through the proxy (a callee sipp of its own); waits.
_moves_call() {
    local logdir=$1 n=$2 ip=$3 uas_pid uac_pid rc status=0
    live_sipp "uas$n" "$logdir" 30 "$APPL_NS_UAS" -- -sf uas_g711a.xml -i "$APPL_UAS_IP" -p 5060 \
        -mi "$APPL_UAS_IP" -mp 6000 -s "$APPL_CALLEE" -m 1 -timeout 25s -timeout_error
    uas_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp "uac$n" "$logdir" 30 "$APPL_NS_UAC" -- -sf uac_g711a.xml -inf users.csv \
        -i "$ip" -p 5060 -mi "$ip" -mp 6100 -s "$APPL_CALLEE" -m 1 -timeout 25s -timeout_error "$APPL_PRX_IP:5060"
    uac_pid=$LIVE_SIPP_PID
    live_wait_pid "$uac_pid" 35
    rc=$?
    live_report_sipp "uac$n" "$logdir" $rc
    [[ $rc -eq 0 ]] || status=1
    live_wait_pid "$uas_pid" 35
    rc=$?
    live_report_sipp "uas$n" "$logdir" $rc
    [[ $rc -eq 0 ]] || status=1
    return $status
}

# phone_moves_call [LOGDIR [INSTANCE]]: the scenario above; the phone's namespace keeps the new address afterwards.
phone_moves_call() {
    local logdir=${1:-} instance=${2:-} cid
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-moves.XXXXXX)
    mkdir -p "$logdir"
    live_require_tools || return 1
    cid="reg-2001-$RANDOM$RANDOM@phone"
    _moves_register "$logdir" register1 "$APPL_UAC_IP" 1 "$cid" "$instance" || return 1
    _moves_call "$logdir" 1 "$APPL_UAC_IP" || return 1
    # The new lease: the old address goes, the new one comes, on the same interface.
    ip -n "$APPL_NS_UAC" addr del "$APPL_UAC_IP/$APPL_PREFIX" dev eth0 || return 1
    ip -n "$APPL_NS_UAC" addr add "$APPL_UAC_NEW_IP/$APPL_PREFIX" dev eth0 || return 1
    _moves_register "$logdir" register2 "$APPL_UAC_NEW_IP" 2 "$cid" "$instance" || return 1
    _moves_call "$logdir" 2 "$APPL_UAC_NEW_IP" || return 1
    echo "phone_moves_call: logs in $logdir" >&2
}

# phone_moves_record OUT.pcap [INSTANCE]: tcpdump on the bridge (UDP) while phone_moves_call runs (samples/README.md).
phone_moves_record() {
    live_record "$1" "$APPL_BRIDGE" udp phone_moves_call "${2:-}"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u -o pipefail
    case ${1:-} in
        up) topology_up "${2:-}" ;;
        down) topology_down ;;
        call) phone_moves_call "${2:-}" "${3:-}" ;;
        record) [[ -n ${2:-} ]] || { echo "usage: $0 record OUT.pcap [INSTANCE]" >&2; exit 2; }
                phone_moves_record "$2" "${3:-}" ;;
        *) echo "usage: $0 up [LOGDIR] | down | call [LOGDIR [INSTANCE]] | record OUT.pcap [INSTANCE]" >&2; exit 2 ;;
    esac
fi
