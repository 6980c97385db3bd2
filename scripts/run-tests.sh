#!/usr/bin/env bash
# Runs every test project and ends with one plain summary line: "N passed, N failed, N skipped".
set -uo pipefail
config=${1:-Release}
log=$(mktemp)
status=0
dotnet test Appliance.sln -c "$config" --no-build --nologo 2>&1 | tee "$log" || status=$?
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      v = $(i+1); gsub(/,/, "", v)
      if ($i == "Failed:") f += v; else if ($i == "Passed:") p += v; else if ($i == "Skipped:") s += v
    }
  }
  END { printf "%d %d %d\n", p, f, s }' "$log")
rm -f "$log"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
