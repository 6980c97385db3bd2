#!/usr/bin/env bash
# topology.sh's rig with tests/live/kamailio-b2b.cfg.in for two scenarios of one conversation across dialogs:
#
#   b2b:      the proxy hides the topology as an SBC does (Kamailio's topoh module: the callee's side of the call has
#             another Call-ID, masked Via/Contact/Record-Route); rtpengine relays the media. Phone 2001 registers and
#             calls 2002 (netns.sh's run_sipp_call through the proxy): caller speech, callee 1 kHz tone.
#   transfer: a plain record-routing proxy. 2001 calls 2002 (the transferor, which answers with a 1 kHz tone), 2002
#             sends REFER (Refer-To 2003) to 2001, 2001 calls 2003 (a new dialog with Referred-By; 2003 answers with a
#             1 kHz tone), 2002 hangs up. The transfer target 2003 is a second address in the callee's namespace.
#
#   appl-uac (10.77.0.10: 2001)  appl-uas (10.77.0.20: 2002, 10.77.0.21: 2003)  appl-prx (10.77.0.30: kamailio, rtpengine)
#
#   attended: the same with a consultation: 2002 calls 2003 first, its REFER names that dialog (Replaces), 2001's new
#             call to 2003 carries Replaces (see attended_call).
#
# Run it: tests/live/topology-b2b.sh up [topoh] [LOGDIR] | down | b2b | transfer | attended [LOGDIR] | record SCENARIO OUT.pcap.
# Needs root; every wait is bounded.

APPL_UA3_IP=${APPL_UA3_IP:-10.77.0.21}
APPL_CALLEE2=${APPL_CALLEE2:-2003}

_b2b_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$_b2b_here/topology.sh"

# b2b_up [topoh] [LOGDIR]: the rig, the transfer target's address, kamailio (with topoh when asked) and rtpengine.
b2b_up() {
    local -a defines=()
    if [[ ${1:-} == topoh ]]; then defines=(-A WITH_TOPOH); shift; fi
    local logdir=${1:-}
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-b2b.XXXXXX)
    mkdir -p "$logdir"
    topology_down
    netns_up || return 1
    ip -n "$APPL_NS_UAS" addr add "$APPL_UA3_IP/$APPL_PREFIX" dev eth0 || { topology_down; return 1; }
    _netns_add_phone "$APPL_NS_PRX" "$APPL_PRX_IP" || { topology_down; return 1; }
    sed -e "s/@PRX_IP@/$APPL_PRX_IP/g" -e "s/@UAS_IP@/$APPL_UAS_IP/g" -e "s/@CALLEE@/$APPL_CALLEE/g" \
        -e "s/@UA3_IP@/$APPL_UA3_IP/g" -e "s/@CALLEE2@/$APPL_CALLEE2/g" "$_b2b_here/kamailio-b2b.cfg.in" >"$logdir/kamailio.cfg"
    kamailio -c "${defines[@]}" -f "$logdir/kamailio.cfg" >"$logdir/kamailio-check.log" 2>&1 \
        || { cat "$logdir/kamailio-check.log" >&2; topology_down; return 1; }
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
            echo "b2b_up: kamailio ${defines[*]} on $APPL_PRX_IP:5060, rtpengine relaying, logs in $logdir" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "b2b_up: kamailio or rtpengine did not start:" >&2
    tail -n 20 "$logdir/kamailio.log" "$logdir/rtpengine.log" >&2
    topology_down
    return 1
}

# b2b_call [LOGDIR]: 2001 registers with the proxy and calls 2002 through it (about 10.5 s).
b2b_call() {
    run_sipp_call "${1:-}" "$APPL_PRX_IP:5060"
}

# transfer_call [LOGDIR]: the blind transfer (about 12 s). SIPps:
#   transferor 2002 appl-uas 10.77.0.20:5060 uas_transferor.xml: answers (1 kHz tone), REFERs 2001 to 2003, hangs up
#   target     2003 appl-uas 10.77.0.21:5060 uas_g711a.xml: answers (1 kHz tone), waits for the BYE
#   phone 2001      appl-uac 10.77.0.10:5061 uac_register.xml (registered during the calls)
#   caller     2001 appl-uac 10.77.0.10:5060 uac_transferee.xml: calls 2002 (speech), accepts the REFER, answers the BYE
#   new call   2001 appl-uac 10.77.0.10:5062 uac_transferee_target.xml: started once the REFER reached the caller,
#                   calls 2003 with Referred-By 2002 (speech, DTMF 1, BYE after about 8.5 s)
transfer_call() {
    local logdir=${1:-}
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-transfer.XXXXXX)
    mkdir -p "$logdir"
    live_require_tools || return 1
    local transferor_pid target_pid register_pid caller_pid second_pid= name rc status=0 i
    local proxy=$APPL_PRX_IP:5060
    live_sipp transferor "$logdir" 40 "$APPL_NS_UAS" -- -sf uas_transferor.xml -i "$APPL_UAS_IP" -p 5060 \
        -mi "$APPL_UAS_IP" -mp 6000 -s "$APPL_CALLEE" -set target "$APPL_CALLEE2" -m 1 -timeout 35s -timeout_error "$proxy"
    transferor_pid=$LIVE_SIPP_PID
    live_sipp target "$logdir" 40 "$APPL_NS_UAS" -- -sf uas_g711a.xml -i "$APPL_UA3_IP" -p 5060 \
        -mi "$APPL_UA3_IP" -mp 6010 -s "$APPL_CALLEE2" -m 1 -timeout 35s -timeout_error
    target_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp register "$logdir" 40 "$APPL_NS_UAC" -- -sf uac_register.xml -inf users.csv \
        -i "$APPL_UAC_IP" -p 5061 -mi "$APPL_UAC_IP" -mp 6900 -d 12500 -m 1 -timeout 35s -timeout_error "$proxy"
    register_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp caller "$logdir" 40 "$APPL_NS_UAC" -- -sf uac_transferee.xml -inf users.csv -trace_msg \
        -message_file "$logdir/caller_messages.log" -i "$APPL_UAC_IP" -p 5060 -mi "$APPL_UAC_IP" -mp 6100 \
        -s "$APPL_CALLEE" -m 1 -timeout 35s -timeout_error "$proxy"
    caller_pid=$LIVE_SIPP_PID
    # The transferee places the new call once it has the REFER (at most 15 s).
    for ((i = 0; i < 150; i++)); do
        grep -q '^REFER ' "$logdir/caller_messages.log" 2>/dev/null && break
        sleep 0.1
    done
    if grep -q '^REFER ' "$logdir/caller_messages.log" 2>/dev/null; then
        live_sipp second "$logdir" 40 "$APPL_NS_UAC" -- -sf uac_transferee_target.xml -inf users.csv \
            -i "$APPL_UAC_IP" -p 5062 -mi "$APPL_UAC_IP" -mp 6200 -s "$APPL_CALLEE2" -set referrer "$APPL_CALLEE" \
            -m 1 -timeout 35s -timeout_error "$proxy"
        second_pid=$LIVE_SIPP_PID
    else
        echo "transfer_call: no REFER reached the caller" >&2
        status=1
    fi
    live_wait_sipps "$logdir" 45 caller second transferor target register || status=1
    echo "transfer_call: logs in $logdir" >&2
    return $status
}

# _b2b_wait_for FILE PATTERN SECONDS: until a SIPp message trace has a line starting with PATTERN (bounded).
_b2b_wait_for() {
    local file=$1 pattern=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        grep -q "^$pattern" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# attended_call [LOGDIR]: the attended transfer (about 16 s). SIPps:
#   transferor 2002 appl-uas 10.77.0.20:5060 uas_transferor_attended.xml: answers 2001 (1 kHz tone), after 3 s REFERs
#                   2001 to 2003 replacing the consultation, hangs up
#   consult    2002 appl-uas 10.77.0.20:5064 uac_consult.xml: started once the first call is up, calls 2003 (speech,
#                   Call-ID consult-1-appliance), hangs up after 4 s
#   target     2003 appl-uas 10.77.0.21:5060 uas_g711a.xml (1 kHz tone), once for the consultation, then again (SIPp
#                   takes one scenario per Call-ID: a second run, started when the first ended) for the new call
#   phone 2001      appl-uac 10.77.0.10:5061 uac_register.xml
#   caller     2001 appl-uac 10.77.0.10:5060 uac_transferee.xml: calls 2002 (speech), accepts the REFER
#   new call   2001 appl-uac 10.77.0.10:5062 uac_transferee_replaces.xml: calls 2003 with Replaces and Referred-By
# The consultation is up when the REFER names it; the new call comes once it ended (the target is a SIPp: it would
# not end the replaced dialog itself).
attended_call() {
    local logdir=${1:-}
    [[ -n $logdir ]] || logdir=$(mktemp -d /tmp/appl-attended.XXXXXX)
    mkdir -p "$logdir"
    live_require_tools || return 1
    local transferor_pid consult_pid= target_pid second_target_pid= register_pid caller_pid second_pid= name rc status=0
    local proxy=$APPL_PRX_IP:5060
    live_sipp transferor "$logdir" 50 "$APPL_NS_UAS" -- -sf uas_transferor_attended.xml -trace_msg \
        -message_file "$logdir/transferor_messages.log" -i "$APPL_UAS_IP" -p 5060 -mi "$APPL_UAS_IP" -mp 6000 \
        -s "$APPL_CALLEE" -set target "$APPL_CALLEE2" -m 1 -timeout 45s -timeout_error "$proxy"
    transferor_pid=$LIVE_SIPP_PID
    live_sipp target "$logdir" 50 "$APPL_NS_UAS" -- -sf uas_g711a.xml -i "$APPL_UA3_IP" -p 5060 \
        -mi "$APPL_UA3_IP" -mp 6010 -s "$APPL_CALLEE2" -m 1 -timeout 45s -timeout_error
    target_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp register "$logdir" 50 "$APPL_NS_UAC" -- -sf uac_register.xml -inf users.csv \
        -i "$APPL_UAC_IP" -p 5061 -mi "$APPL_UAC_IP" -mp 6900 -d 16500 -m 1 -timeout 45s -timeout_error "$proxy"
    register_pid=$LIVE_SIPP_PID
    sleep 0.5
    live_sipp caller "$logdir" 50 "$APPL_NS_UAC" -- -sf uac_transferee.xml -inf users.csv -trace_msg \
        -message_file "$logdir/caller_messages.log" -i "$APPL_UAC_IP" -p 5060 -mi "$APPL_UAC_IP" -mp 6100 \
        -s "$APPL_CALLEE" -m 1 -timeout 45s -timeout_error "$proxy"
    caller_pid=$LIVE_SIPP_PID
    if _b2b_wait_for "$logdir/transferor_messages.log" 'ACK ' 15; then
        live_sipp consult "$logdir" 50 "$APPL_NS_UAS" -- -sf uac_consult.xml -cid_str 'consult-%u-appliance' \
            -i "$APPL_UAS_IP" -p 5064 -mi "$APPL_UAS_IP" -mp 6020 -s "$APPL_CALLEE2" -set me "$APPL_CALLEE" \
            -m 1 -timeout 45s -timeout_error "$proxy"
        consult_pid=$LIVE_SIPP_PID
    else
        echo "attended_call: the first call was not answered" >&2
        status=1
    fi
    if [[ $status -eq 0 ]] && _b2b_wait_for "$logdir/caller_messages.log" 'REFER ' 15; then
        live_wait_pid "$target_pid" 15
        rc=$?
        live_report_sipp target "$logdir" $rc
        [[ $rc -eq 0 ]] || status=1
        target_pid=
        live_sipp second_target "$logdir" 50 "$APPL_NS_UAS" -- -sf uas_g711a.xml -i "$APPL_UA3_IP" -p 5060 \
            -mi "$APPL_UA3_IP" -mp 6010 -s "$APPL_CALLEE2" -m 1 -timeout 45s -timeout_error
        second_target_pid=$LIVE_SIPP_PID
        sleep 0.5
        live_sipp second "$logdir" 50 "$APPL_NS_UAC" -- -sf uac_transferee_replaces.xml -inf users.csv \
            -i "$APPL_UAC_IP" -p 5062 -mi "$APPL_UAC_IP" -mp 6200 -s "$APPL_CALLEE2" -set referrer "$APPL_CALLEE" \
            -m 1 -timeout 45s -timeout_error "$proxy"
        second_pid=$LIVE_SIPP_PID
    else
        echo "attended_call: no REFER reached the caller" >&2
        status=1
    fi
    live_wait_sipps "$logdir" 55 caller consult second transferor target second_target register || status=1
    echo "attended_call: logs in $logdir" >&2
    return $status
}

# b2b_record b2b|transfer|attended OUT.pcap: the rig (with topoh for b2b), tcpdump on the bridge while the scenario runs, the rig
# down again; then tshark's SIP and RTP summaries. How samples/sipp-b2b-topoh.pcap and sipp-blind-transfer.pcap were made.
b2b_record() {
    local scenario=$1 out=$2 status
    if [[ $scenario == b2b ]]; then b2b_up topoh || return 1; else b2b_up || return 1; fi
    case $scenario in
        b2b) live_record "$out" "$APPL_BRIDGE" udp b2b_call ;;
        transfer) live_record "$out" "$APPL_BRIDGE" udp transfer_call ;;
        *) live_record "$out" "$APPL_BRIDGE" udp attended_call ;;
    esac
    status=$?
    topology_down
    chown --reference="$(dirname "$out")" "$out" 2>/dev/null
    return $status
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u -o pipefail
    case ${1:-} in
        up) shift; b2b_up "$@" ;;
        down) topology_down ;;
        b2b) b2b_call "${2:-}" ;;
        transfer) transfer_call "${2:-}" ;;
        attended) attended_call "${2:-}" ;;
        record) [[ ${2:-} == @(b2b|transfer|attended) && -n ${3:-} ]] || { echo "usage: $0 record b2b|transfer|attended OUT.pcap" >&2; exit 2; }
                b2b_record "$2" "$3" ;;
        *) echo "usage: $0 up [topoh] [LOGDIR] | down | b2b [LOGDIR] | transfer [LOGDIR] | attended [LOGDIR] | record b2b|transfer|attended OUT.pcap" >&2; exit 2 ;;
    esac
fi
