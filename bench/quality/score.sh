#!/usr/bin/env bash
# `make bench-quality` (issue 14, README "Performance"): speech quality (ITU-T P.862 narrowband PESQ, MOS-LQO) and encoder
# CPU of our recordings at each complexity and bitrate, and the cheapest setting within 0.1 MOS of the best.
#   PESQ=/path/to/pesq bench/quality/score.sh   (COMPLEXITIES="0 1 ... 10" BITRATES="8000 ... 32000" to narrow it)
# References: real G.711 speech from ../shared/captures (SIPp's speech file, the two parties of the Wireshark sample
# call), 7-11 s each, as two stereo calls (two different voices, one a leg). Each is written by our writer
# (`bench speech-encode`: OggOpusWriter, a mono encoder per leg), decoded by opusdec at 8 kHz, and each channel scored
# against its reference. PESQ is not bundled (its licence forbids it): PESQ names a program called like the ITU-T
# reference one, `$PESQ +8000 REF.raw DEG.raw` on 16-bit mono 8 kHz raw files, printing its "P.862 Prediction (Raw MOS,
# MOS-LQO):  = <raw> <MOS-LQO>" line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=$(cd "$repo/.." && pwd)/shared/captures
if [[ -z ${PESQ:-} || ! -x ${PESQ:-} ]]; then
    echo "bench-quality: set PESQ to an ITU-T P.862 scorer, e.g. make bench-quality PESQ=/opt/pesq/pesq" >&2
    echo "  It is run as \$PESQ +8000 REF.raw DEG.raw (16-bit little-endian mono 8 kHz) and must print the ITU reference" >&2
    echo "  program's line 'P.862 Prediction (Raw MOS, MOS-LQO):  = <raw> <MOS-LQO>'. Build it from the ITU-T P.862" >&2
    echo "  reference C code (ITU-T Rec. P.862 software, or a copy of it such as the one in the pypesq package's sources);" >&2
    echo "  its licence allows evaluation and forbids redistribution, so this repository does not carry it." >&2
    exit 2
fi
scorer=("$PESQ" +8000) # narrowband: the ITU program's sample-rate switch
complexities=${COMPLEXITIES:-0 1 2 3 4 5 6 7 8 9 10}
bitrates=${BITRATES:-8000 12000 16000 20000 24000 32000}
bench="$repo/bench/bin/Release/net10.0/Bench.dll"
dir=$repo/out/quality
rm -rf "$dir"
mkdir -p "$dir/ref" "$dir/deg"

# The references: [name]=capture source-endpoint [from to] (seconds of that stream's audio).
dotnet "$bench" speech-reference "$shared/g711a.pcap" 10.1.3.143:5000 "$dir/ref/sipp.raw"
dotnet "$bench" speech-reference "$shared/SIP_CALL_RTP_G711.pcap" 200.57.7.204:8000 "$dir/ref/callee.raw"
dotnet "$bench" speech-reference "$shared/SIP_CALL_RTP_G711.pcap" 200.57.7.196:40376 "$dir/ref/caller1.raw" 0 8.75
dotnet "$bench" speech-reference "$shared/SIP_CALL_RTP_G711.pcap" 200.57.7.196:40376 "$dir/ref/caller2.raw" 8.75 17.5
pairs=("sipp callee" "caller1 caller2")

results=$dir/results.tsv
printf 'complexity\tbitrate\treference\tmos_lqo\tencode_us_per_frame\tframes\n' >"$results"
for b in $bitrates; do
    for c in $complexities; do
        for pair in "${pairs[@]}"; do
            read -r left right <<<"$pair"
            deg=$dir/deg/c$c-b$b-$left-$right
            cost=$(dotnet "$bench" speech-encode "$dir/ref/$left.raw" "$dir/ref/$right.raw" "$deg.opus" "$c" "$b")
            opusdec --quiet --no-dither --rate 8000 "$deg.opus" "$deg.pcm"
            python3 "$here/quality.py" split "$deg.pcm" "$dir/ref/$left.raw" "$deg-left.raw" "$dir/ref/$right.raw" "$deg-right.raw"
            for side in left right; do
                ref=${!side}
                mos=$("${scorer[@]}" "$dir/ref/$ref.raw" "$deg-$side.raw" | sed -n 's/.*MOS-LQO.*=[[:space:]]*[0-9.-]*[[:space:]]*\([0-9.]*\).*/\1/p')
                [[ -n $mos ]] || { echo "bench-quality: $PESQ printed no MOS-LQO for $deg-$side.raw" >&2; exit 1; }
                read -r _ us _ frames <<<"$cost"
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$b" "$ref" "$mos" "$us" "$frames" >>"$results"
            done
        done
    done
    echo "bench-quality: $b bit/s done" >&2
done
python3 "$here/quality.py" report "$results"
