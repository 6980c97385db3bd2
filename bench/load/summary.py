"""The Python side of `make bench-load` (bench/load/run-load.sh), so that the shell script stays plain shell.

summary.py recorded DIR      the call-seconds of audio recorded under DIR (the sidecars' mediaDurationSeconds)
summary.py rate FILE.opus    the sample rate its sidecar names (8000 when none)
summary.py report USER SYS USER0 SYS0 BARE RECORDED FILES RSS_KB WORKERS
                             the last lines: our CPU against bare libopus per recorded call-second, calls per core
"""
import glob
import json
import sys


def recorded(folder):
    return sum(json.load(open(f)).get("mediaDurationSeconds", 0) for f in glob.glob(folder + "/**/*.json", recursive=True))


def rate(opus_file):
    return json.load(open(opus_file[:-5] + ".json")).get("sampleRate") or 8000


def report(user, sys_, user0, sys0, bare, seconds, files, rss_kb, workers):
    user, sys_, user0, sys0, bare, seconds = map(float, (user, sys_, user0, sys0, bare, seconds))
    ours = max(0.0, user + sys_ - user0 - sys0)  # the start-up of an empty replay taken off
    print(f"recorded: {files} calls, {seconds:.0f} call-seconds; replay with {workers} worker(s)")
    print(f"ours: {ours:.2f} CPU s ({ours / seconds * 1000:.2f} ms per call-second); peak RSS {int(rss_kb) / 1024:.0f} MiB")
    print(f"bare libopus, complexity 5, every frame of the same audio: {bare:.2f} CPU s ({bare / seconds * 1000:.2f} ms per call-second)")
    print(f"ratio {ours / bare:.2f} calls per core {seconds / ours:.0f}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "recorded":
        print(recorded(*args))
    elif command == "rate":
        print(rate(*args))
    else:
        report(*args)
