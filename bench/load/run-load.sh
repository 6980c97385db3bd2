#!/usr/bin/env bash
# `make bench-load` (issue 14): CPU per recorded call-second of the appliance's replay against bare libopus on the same
# audio, calls per core, peak RSS. The load capture (bench/load/make-load-capture.sh: CALLS real SIPp calls over
# loopback) is made once into out/load/ and reused.
#   bench/load/run-load.sh [CALLS=600] [RATE=10] [WORKERS=1] [TURNS=0]  (TURNS=1: the parties take turns)
set -euo pipefail
calls=${1:-600}
rate=${2:-10}
workers=${3:-1}
turns=${4:-0}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=$repo/out/load
suffix=
if [[ $turns == 1 ]]; then suffix=-turns; fi
capture=$dir/load-$calls-$rate$suffix.pcap
mkdir -p "$dir"
[[ -s $capture ]] || "$here/make-load-capture.sh" "$capture" "$calls" "$rate" "$turns"

rec=$dir/recordings
rm -rf "$rec" "$dir/wav"
# Our replay, one process, every call recorded: user + system CPU seconds and peak RSS (GNU time).
/usr/bin/time -f '%U %S %M' -o "$dir/time.txt" dotnet "$repo/src/Appliance/bin/Release/net10.0/appliance.dll" replay "$capture" \
    --out "$rec" --workers "$workers" >"$dir/replay.log" 2>&1
read -r user sys rss_kb <"$dir/time.txt"
# The same program replaying a file with nothing in it: start-up and JIT, taken off so the ratio is about the work.
tiny=$dir/empty.pcap
tcpdump -r "$capture" -w "$tiny" -c 1 2>/dev/null
/usr/bin/time -f '%U %S' -o "$dir/time0.txt" dotnet "$repo/src/Appliance/bin/Release/net10.0/appliance.dll" replay "$tiny" --out "$dir/rec0" >/dev/null 2>&1
read -r user0 sys0 <"$dir/time0.txt"
rm -rf "$dir/rec0"

# What was recorded: the call-seconds of audio (the sidecars' media durations).
recorded=$(python3 "$here/summary.py" recorded "$rec")
files=$(find "$rec" -name '*.opus' | wc -l)

# Bare libopus on the same audio: the recordings decoded (opusdec, at their own rate) and encoded again frame by frame.
mkdir -p "$dir/wav"
find "$rec" -name '*.opus' -print0 | while IFS= read -r -d '' f; do
    rate_hz=$(python3 "$here/summary.py" rate "$f")
    opusdec --quiet --rate "$rate_hz" --force-wav "$f" "$dir/wav/$(basename "$f" .opus).wav"
done
bare=$(dotnet "$repo/bench/bin/Release/net10.0/Bench.dll" bare-encode "$dir"/wav/*.wav | tee /dev/stderr | sed -n 's/^bare_cpu_seconds \([0-9.]*\).*/\1/p')

python3 "$here/summary.py" report "$user" "$sys" "$user0" "$sys0" "$bare" "$recorded" "$files" "$rss_kb" "$workers"
