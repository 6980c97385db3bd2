# shellcheck shell=bash
# Shared helpers for the live SIPp tests: bounded background processes and a clean tcpdump stop.
# Sourced by record-sample.sh and netns.sh. Every wait here is bounded; nothing is killed by name.

LIVE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SIPP_DIR=$(cd "$LIVE_DIR/../sipp" && pwd)

# SIPp plays pcap audio through a raw socket: root (or CAP_NET_RAW) is required.
live_require_tools() {
    local t
    for t in sipp tcpdump tshark timeout; do
        command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; return 1; }
    done
}

# live_wait_pid PID SECONDS: wait for a child to exit, at most SECONDS; prints nothing, returns its
# exit status, or 124 if it was still running (then it is sent SIGTERM, and SIGKILL 2 s later).
live_wait_pid() {
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null
    sleep 2
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}

# live_tcpdump_start LOGDIR OUT.pcap IFACE [NETNS [FILTER]]: start tcpdump (full packets; FILTER, by default UDP only)
# and wait until it is listening (at most 5 s). Sets LIVE_TCPDUMP_PID. The `timeout 300` is a backstop only.
live_tcpdump_start() {
    local logdir=$1 out=$2 iface=$3 ns=${4:-} filter=${5:-udp} i
    local -a pre=()
    [[ -n $ns ]] && pre=(ip netns exec "$ns")
    "${pre[@]}" timeout -s INT 300 tcpdump -i "$iface" -w "$out" -s 0 -U "$filter" \
        >"$logdir/tcpdump.log" 2>&1 &
    LIVE_TCPDUMP_PID=$!
    for ((i = 0; i < 50; i++)); do
        grep -q 'listening on' "$logdir/tcpdump.log" 2>/dev/null && return 0
        kill -0 "$LIVE_TCPDUMP_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "tcpdump did not start:" >&2
    cat "$logdir/tcpdump.log" >&2
    return 1
}

# live_tcpdump_stop LOGDIR: SIGINT (timeout forwards it), so tcpdump flushes and closes the file.
live_tcpdump_stop() {
    local logdir=$1
    [[ -n ${LIVE_TCPDUMP_PID:-} ]] || return 0
    kill -INT "$LIVE_TCPDUMP_PID" 2>/dev/null
    live_wait_pid "$LIVE_TCPDUMP_PID" 5
    LIVE_TCPDUMP_PID=
    grep -E 'packets (captured|received|dropped)' "$logdir/tcpdump.log" >&2
}

# live_sipp NAME LOGDIR SECONDS [NETNS] -- SIPP-ARGS...: run sipp in the background from tests/sipp/
# (play_pcap_audio paths are relative to it), stdout/stderr to LOGDIR/NAME.log, errors to
# LOGDIR/NAME_errors.log. -m, -timeout and -timeout_error belong in SIPP-ARGS; SECONDS is an outer
# bound enforced by timeout(1). Sets LIVE_SIPP_PID (a child of the calling shell, so `wait` works).
live_sipp() {
    local name=$1 logdir=$2 secs=$3 ns=
    shift 3
    if [[ ${1:-} != -- ]]; then ns=$1; shift; fi
    shift # --
    local -a pre=()
    [[ -n $ns ]] && pre=(ip netns exec "$ns")
    (
        cd "$SIPP_DIR" || exit 1
        exec "${pre[@]}" timeout -s INT -k 3 "$secs" sipp -nostdin -trace_err \
            -error_file "$logdir/${name}_errors.log" "$@" >"$logdir/$name.log" 2>&1
    ) &
    LIVE_SIPP_PID=$!
}

# live_wait_sipps LOGDIR SECONDS NAME...: wait for each SIPp started as NAME (its pid in the caller's NAME_pid; an empty
# one is skipped), at most SECONDS each, and report it (live_report_sipp); returns 1 when any of them failed.
live_wait_sipps() {
    local logdir=$1 secs=$2 name pid_var rc status=0
    shift 2
    for name in "$@"; do
        pid_var=${name}_pid
        [[ -n ${!pid_var:-} ]] || continue
        live_wait_pid "${!pid_var}" "$secs"
        rc=$?
        live_report_sipp "$name" "$logdir" $rc
        [[ $rc -eq 0 ]] || status=1
    done
    return $status
}

# live_report_sipp NAME LOGDIR RC: one line per sipp run, and its screen on failure.
live_report_sipp() {
    local name=$1 logdir=$2 rc=$3
    if [[ $rc -eq 0 ]]; then
        echo "sipp $name: ok" >&2
    else
        echo "sipp $name: FAILED (exit $rc), log $logdir/$name.log:" >&2
        tail -n 40 "$logdir/$name.log" >&2
        [[ -s $logdir/${name}_errors.log ]] && tail -n 20 "$logdir/${name}_errors.log" >&2
    fi
}

# live_record OUT.pcap IFACE FILTER SCENARIO [ARGS...]: capture IFACE (tcpdump, full packets, FILTER) while
# `SCENARIO LOGDIR ARGS...` runs with a fresh LOGDIR, then print tshark's SIP and RTP view of the file; returns the
# scenario's status. How the samples/ captures are made.
live_record() {
    local out=$1 iface=$2 filter=$3 scenario=$4 logdir status
    shift 4
    logdir=$(mktemp -d /tmp/appl-record.XXXXXX)
    rm -f "$out"
    live_tcpdump_start "$logdir" "$out" "$iface" "" "$filter" || return 1
    "$scenario" "$logdir" "$@"
    status=$?
    sleep 0.5
    live_tcpdump_stop "$logdir"
    tshark -r "$out" -q -z sip,stat -o rtp.heuristic_rtp:TRUE -z rtp,streams 2>/dev/null
    return $status
}
