#!/usr/bin/env bash
# The fuzzing harness (fuzz/, README "Fuzzing").
#   scripts/fuzz.sh build [DIR]              build fuzz/ and copy it to DIR (out/fuzz) with Capture.dll instrumented by sharpfuzz
#   scripts/fuzz.sh list                     the targets
#   scripts/fuzz.sh run TARGET|all SECONDS [options of `Fuzz run`]   the in-process coverage-guided driver
#   scripts/fuzz.sh repro TARGET FILE...     run saved inputs once
#   scripts/fuzz.sh afl TARGET SECONDS       afl-fuzz (Debian's afl++) driving the SharpFuzz loop, seeds from the captures
set -euo pipefail
cd "$(dirname "$0")/.."
config=${CONFIG:-Release}
dir=${FUZZ_DIR:-out/fuzz}

build() {
  local to=${1:-$dir}
  dotnet build fuzz/Fuzz.csproj -c "$config" --nologo -v quiet >/dev/null
  dotnet tool restore >/dev/null
  rm -rf "$to"
  mkdir -p "$(dirname "$to")"
  cp -r "fuzz/bin/$config/net10.0" "$to"
  # Branch coverage for the driver and for AFL: SharpFuzz rewrites the copy (never the build output the tests use).
  dotnet tool run sharpfuzz "$to/Capture.dll" >/dev/null
}

case "${1:-list}" in
  build) build "${2:-}" ;;
  list) [ -f "$dir/Fuzz.dll" ] || build; dotnet "$dir/Fuzz.dll" list ;;
  run)
    [ $# -ge 3 ] || { echo "usage: scripts/fuzz.sh run TARGET|all SECONDS [options]" >&2; exit 2; }
    build
    target=$2 seconds=$3; shift 3
    exec dotnet "$dir/Fuzz.dll" run "$target" --seconds "$seconds" --findings var/fuzz/findings --corpus "var/fuzz/corpus/$target" "$@" ;;
  repro)
    [ $# -ge 3 ] || { echo "usage: scripts/fuzz.sh repro TARGET FILE..." >&2; exit 2; }
    [ -f "$dir/Fuzz.dll" ] || build
    shift; exec dotnet "$dir/Fuzz.dll" repro "$@" ;;
  afl)
    [ $# -ge 3 ] || { echo "usage: scripts/fuzz.sh afl TARGET SECONDS" >&2; exit 2; }
    build
    target=$2 seconds=$3 work=var/fuzz/afl/$2
    rm -rf "$work"; mkdir -p "$work"
    dotnet "$dir/Fuzz.dll" seeds "$target" "$work/in"
    # The .NET host is not an AFL-instrumented binary (the instrumentation is in Capture.dll): skip afl-fuzz's checks.
    AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
      afl-fuzz -i "$work/in" -o "$work/out" -t 10000 -m none -V "$seconds" -- dotnet "$dir/Fuzz.dll" afl "$target"
    stats=$work/out/default/fuzzer_stats
    grep -E '^(execs_done|execs_per_sec|saved_crashes|saved_hangs|corpus_count|run_time)' "$stats" ;;
  *) echo "usage: scripts/fuzz.sh build|list|run|repro|afl ..." >&2; exit 2 ;;
esac
