#!/usr/bin/env bash
# The long fuzz campaign whose figures README "Fuzzing" gives: every target in turn for its share of the time, in one
# instrumented copy (out/fuzz-campaign) so that builds meanwhile do not disturb it. A target that finds something stops
# (its input is in var/fuzz/findings); the others still run. It runs at the lowest priority (nice 19): the machine is
# shared.   scripts/fuzz-campaign.sh [MINUTES]     (default 50: the time is shared out as below)
set -uo pipefail
cd "$(dirname "$0")/.."
renice -n 19 -p $$ >/dev/null
minutes=${1:-50}
dir=out/fuzz-campaign
logs=var/fuzz/campaign
FUZZ_DIR=$dir scripts/fuzz.sh build || exit 1
mkdir -p "$logs"
# Shares of the time (per mille): the slow whole-call targets get more, so that they also run many inputs.
shares="frame:140 sip:140 sdp:100 sip-stream:100 skinny:80 skinny-stream:140 rtp:140 pipeline:160"
{
  echo "campaign: $(date -u +%FT%TZ), $minutes min, $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
  for entry in $shares; do
    target=${entry%%:*}
    seconds=$(( minutes * 60 * ${entry##*:} / 1000 ))
    dotnet "$dir/Fuzz.dll" run "$target" --seconds "$seconds" --seed 20261204 --findings var/fuzz/findings \
      --corpus "var/fuzz/corpus/$target" > "$logs/$target.log" 2>&1
    status=$?
    grep -E '^fuzz summary' "$logs/$target.log" || echo "fuzz summary: target=$target FINDING (exit $status), see $logs/$target.log"
  done
  echo "campaign: ended $(date -u +%FT%TZ)"
} | tee "$logs/summary.txt"
awk '/^fuzz summary/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "inputs") n += kv[2]; if (kv[1] == "crashes" || kv[1] == "hangs" || kv[1] == "memory") f += kv[2] } }
     /FINDING/ { f++ } END { printf "campaign: %d inputs in total, %d findings\n", n, f }' "$logs/summary.txt" | tee -a "$logs/summary.txt"
