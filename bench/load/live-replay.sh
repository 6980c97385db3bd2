#!/usr/bin/env bash
# `make bench-live` (issue 14): the load capture sent live by tcpreplay over a veth pair into `appliance run`, at a given
# packet rate and worker count; after the last packet and the workers' queues have drained, the metrics are scraped
# and the appliance stopped with SIGTERM. Prints packets sent and seen, kernel/interface/queue drops, any spool
# counter, recordings against the calls (and media packets against the offline replay) of the capture, and the CPU of
# the capture thread and the workers. Needs root (network namespace, raw sockets).
#   bench/load/live-replay.sh run CAPTURE RATE [WORKERS]  one run; RATE in packets/s (tcpreplay --pps) or xM
#                                                          (--multiplier M: the capture's own timing, M times faster,
#                                                          which tcpreplay did not keep on a loaded box);
#                                                          WORKERS a number or `default` (the appliance's own choice)
#   bench/load/live-replay.sh search [CAPTURE]             every rate of RATES for every worker count of WORKERS_LIST,
#                                                          REPEAT times each; a table and the highest rate without loss
#                                                          (RATES="5000 10000 15000 20000 30000 40000" WORKERS_LIST="1 2" REPEAT=2)
#   APPLIANCE_ARGS adds settings to `appliance run` (e.g. APPLIANCE_ARGS=--Complexity=5: slower workers, to see the spool).
#   NICE=-10 runs the appliance and tcpreplay at that niceness: on a machine shared with other work, closer to the
#   dedicated box an appliance runs on (the summary shows the load average either way).
#   bench/load/live-replay.sh up ID | send ID CAPTURE RATE | down ID
#                                                          the veth pair alone (the live test uses them): `up` prints the
#                                                          capture end's name; the sending end is in namespace lr-ID
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
app=${APPLIANCE:-$repo/src/Appliance/bin/Release/net10.0/appliance.dll}
summary=$here/live_summary.py

# Names from an id (this run's pid by default), so that runs of other checkouts on the same machine never meet: the
# capture end stays in the root namespace, the sending end lives in a namespace of its own. IFNAMSIZ is 16.
names() {
    ns=lr-$1
    cap_if=lr${1}c
    send_if=lr${1}s
}

up() {
    names "$1"
    down "$1"
    ip netns add "$ns"
    ip link add "$cap_if" type veth peer name "$send_if" netns "$ns"
    # Neither end has an address, and IPv6 is off on both: no router solicitation or neighbour discovery is counted
    # among the packets the appliance sees.
    sysctl -qw "net.ipv6.conf.$cap_if.disable_ipv6=1"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$send_if.disable_ipv6=1"
    ip link set "$cap_if" up
    ip netns exec "$ns" ip link set "$send_if" up
    echo "$cap_if"
}

down() {
    names "$1"
    ip link del "$cap_if" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
}

send() {
    names "$1"
    local capture=$2 rate=$3 pace
    if [[ $rate == x* ]]; then pace=(--multiplier "${rate#x}"); else pace=(--pps "$rate"); fi
    # The sender's CPU too: on a veth pair the receiving side's kernel work (the packet socket's ring) runs in it.
    # --timer=nano sleeps between packets where the default spins: on this 2-core box the default took ~40 % of a core
    # from the appliance at 5,000 packets/s and, under load, kept the capture's own pace worse (13.5 s for 10 s).
    nice -n "${NICE:-0}" /usr/bin/time -f 'tcpreplay cpu %U user %S sys' ip netns exec "$ns" tcpreplay --timer=nano --intf1="$send_if" "${pace[@]}" "$capture"
}

# The worker count the appliance chooses on this machine when not told (its usage says it).
default_workers() {
    dotnet "$app" --help 2>&1 | sed -n 's/.*one per core (\([0-9]*\) here).*/\1/p' | head -1
}

# Calls and media packets of the capture replayed offline (what a loss-free live run must record), cached beside the
# load captures.
reference() {
    local capture=$1 ref
    ref=$repo/out/load/$(basename "$capture").reference.json
    if [[ ! -s $ref ]]; then
        mkdir -p "$repo/out/load"
        local tmp
        tmp=$(mktemp -d)
        dotnet "$app" replay "$capture" --json --out "$tmp/rec" >"$tmp/replay.json"
        python3 "$summary" reference "$tmp/replay.json" >"$ref"
        rm -rf "$tmp"
    fi
    echo "$ref"
}

run_once() {
    local capture=$1 rate=$2 workers=${3:-default} id dir port url token ref load_before load_after
    ref=$(reference "$capture")
    id=$(printf %x $$)
    dir=$(mktemp -d /tmp/live-replay.XXXXXX)
    pid=
    # shellcheck disable=SC2064 # the names are this run's, fixed now
    trap "[[ -n \$pid ]] && kill -TERM \$pid 2>/dev/null; down $id; rm -rf $dir" EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    local iface
    iface=$(up "$id")
    port=$(python3 "$summary" free-port)
    url=http://127.0.0.1:$port
    token=live-replay-$id-$RANDOM
    local worker_args=()
    [[ $workers == default ]] || worker_args=(--workers "$workers")
    APPLIANCE_TOKEN=$token nice -n "${NICE:-0}" dotnet "$app" run --settings none --interface "$iface" --listen "$url" \
        --recordings "$dir/rec" --state "$dir/state" "${worker_args[@]}" ${APPLIANCE_ARGS:-} >"$dir/appliance.log" 2>&1 &
    pid=$!
    python3 "$summary" ready "$url"
    load_before=$(cat /proc/loadavg)
    send "$id" "$capture" "$rate" >"$dir/tcpreplay.log" 2>&1
    python3 "$summary" drain "$url" "$token" >"$dir/metrics.txt"
    load_after=$(cat /proc/loadavg)
    python3 "$summary" threads "$pid" >"$dir/threads.txt"
    kill -TERM "$pid"
    wait "$pid" || { echo "appliance exited with $?:" >&2; tail -20 "$dir/appliance.log" >&2; }
    pid=
    [[ $workers != default ]] || workers=$(default_workers)
    python3 "$summary" report "$ref" "$dir/metrics.txt" "$dir/threads.txt" "$dir/tcpreplay.log" "$dir/rec" \
        "$rate" "${workers:-default}" "$load_before" "$load_after"
}

search() {
    local capture=${1:-$repo/out/load/load-600-10.pcap} results rate workers i default
    [[ -s $capture ]] || bash "$here/make-load-capture.sh" "$capture" 600 10 0
    results=$repo/out/load/live-$(date -u +%Y%m%dT%H%M%S).jsonl
    for i in $(seq "${REPEAT:-2}"); do
        # Worker counts alternate at each rate, so that what else loads the machine meets both alike.
        for rate in ${RATES:-5000 10000 15000 20000 30000 40000}; do
            for workers in ${WORKERS_LIST:-1 2}; do
                echo "== run $i: $rate pps, $workers worker(s), nice ${NICE:-0}; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
                (run_once "$capture" "$rate" "$workers") >"$results.run" || echo "run failed" >&2
                cat "$results.run" >&2
                tail -1 "$results.run" >>"$results"
            done
        done
    done
    default=$(default_workers)
    rm -f "$results.run"
    echo "results: $results" >&2
    python3 "$summary" table "$results" "${default:-?}"
}

command=${1:-}
shift || true
case $command in
    run) run_once "$@" ;;
    search) search "$@" ;;
    up | send | down) "$command" "$@" ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
