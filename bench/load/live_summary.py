"""The Python side of bench/load/live-replay.sh (`make bench-live`), so that the shell script stays plain shell.

live_summary.py free-port                      a free TCP port on 127.0.0.1
live_summary.py ready URL                      waits until URL/readyz answers 200 (60 s at most)
live_summary.py drain URL TOKEN                waits until the workers' queues are empty and no packet arrives, then
                                               prints URL/metrics (Prometheus text)
live_summary.py threads PID                    CPU seconds of the process's threads: capture, media workers, the rest
live_summary.py reference REPLAY.json          calls and media packets of `appliance replay --json` (one JSON line)
live_summary.py report REF.json METRICS THREADS TCPREPLAY.log RECORDINGS RATE WORKERS LOAD_BEFORE LOAD_AFTER
                                               the summary of one run; its last line is one JSON result
live_summary.py table RESULTS DEFAULT_WORKERS  the results of a search as a table rate x workers -> loss, and the highest
                                               rate without loss at the default worker count
"""
import glob
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def ready(url):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get(url + "/readyz")
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    sys.exit("appliance not ready after 60 s at " + url)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)')


def samples(text):
    """(name, labels, value) of every sample in a Prometheus text exposition."""
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and not line.startswith("#"):
            yield m.group(1), m.group(2) or "", float(m.group(3))


def total(text, name, label=""):
    return sum(v for n, l, v in samples(text) if n == name and label in l)


def spooled(text):
    """What waits in a spool, if the appliance has one: every gauge (or level) whose name or labels say spool."""
    gauges = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ") and line.split()[-1] == "gauge"}
    return sum(v for n, l, v in samples(text) if n in gauges and "spool" in n + l)


def drain(url, token):
    """The run's counters once the appliance has nothing left to do: queues (and any spool) empty, the packet count still."""
    deadline = time.monotonic() + 600
    last = None
    while True:
        text = get(url + "/metrics", token)
        packets = total(text, "appliance_capture_packets_total")
        depth = total(text, "appliance_worker_queue_depth") + spooled(text)
        if depth == 0 and packets == last or time.monotonic() > deadline:
            print(text, end="")
            return
        last = packets
        time.sleep(1)


def threads(pid):
    tick = os.sysconf("SC_CLK_TCK")
    groups = {"capture": 0.0, "workers": 0.0, "other": 0.0}
    for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            text = open(stat).read()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime: fields 14 and 15 of proc(5)
        group = "capture" if comm.startswith("capture") else "workers" if comm.startswith("media-worker") else "other"
        groups[group] += seconds
    print(json.dumps(groups))


def reference(replay_json):
    calls = json.load(open(replay_json))["calls"]
    print(json.dumps({"calls": len(calls), "packets": sum(c.get("packets", 0) for c in calls), "dropped": dropped_by_reason(calls),
                      "seconds": sum(c.get("mediaDurationSeconds", 0) for c in calls)}))


def dropped_by_reason(sidecars):
    """The sidecars' packetsDropped (by reason: what a call's media lost inside the appliance) added up."""
    reasons = {}
    for s in sidecars:
        for reason, n in (s.get("packetsDropped") or {}).items():
            reasons[reason] = reasons.get(reason, 0) + n
    return reasons


def tcpreplay_figures(log):
    text = open(log).read()
    sent = re.search(r"Successful packets:\s+(\d+)", text)
    failed = re.search(r"Failed packets:\s+(\d+)", text)
    rated = re.search(r"Rated:.*?([\d.]+) pps", text)
    seconds = re.search(r"Actual: \d+ packets \(\d+ bytes\) sent in ([\d.]+) seconds", text)
    cpu = re.search(r"tcpreplay cpu ([\d.]+) user ([\d.]+) sys", text)
    return (int(sent.group(1)) if sent else 0, int(failed.group(1)) if failed else 0,
            float(rated.group(1)) if rated else 0.0, float(seconds.group(1)) if seconds else 0.0,
            float(cpu.group(1)) + float(cpu.group(2)) if cpu else None)


def report(ref_file, metrics_file, threads_file, tcpreplay_log, recordings, rate, workers, load_before, load_after):
    ref = json.loads(open(ref_file).read())
    metrics = open(metrics_file).read()
    cpu = json.loads(open(threads_file).read())
    sent, failed, rated, seconds, sender_cpu = tcpreplay_figures(tcpreplay_log)
    seen = int(total(metrics, "appliance_capture_packets_total"))
    kernel = int(total(metrics, "appliance_capture_dropped_packets_total", 'stage="kernel"'))
    interface = int(total(metrics, "appliance_capture_dropped_packets_total", 'stage="interface"'))
    queue = int(total(metrics, "appliance_capture_dropped_packets_total", 'stage="queue"'))
    sidecars = [json.load(open(f)) for f in glob.glob(recordings + "/**/*.json", recursive=True)]
    packets = sum(s.get("packets", 0) for s in sidecars)
    lost = sum(s.get("packetsLost", 0) for s in sidecars)
    late = sum(s.get("packetsLate", 0) for s in sidecars)
    call_seconds = sum(s.get("mediaDurationSeconds", 0) for s in sidecars)
    # packetsDropped by reason beyond what the offline replay of the same capture drops (a spool's limit, say).
    live_dropped = dropped_by_reason(sidecars)
    dropped = {r: n - ref["dropped"].get(r, 0) for r, n in live_dropped.items() if n > ref["dropped"].get(r, 0)}
    # Whatever the appliance exports about a spool, and any other drop counter, is shown as it is.
    spool = {n + l: v for n, l, v in samples(metrics) if "spool" in n + l}
    other_drops = {n + l: v for n, l, v in samples(metrics)
                   if "drop" in n and n != "appliance_capture_dropped_packets_total" and v and n.startswith("appliance_")}
    missing = max(0, ref["packets"] - packets)
    clean = (kernel == 0 and interface == 0 and queue == 0 and not dropped and missing == 0
             and len(sidecars) == ref["calls"] and seen >= sent and failed == 0)
    print(f"sent: {sent} packets in {seconds:.1f} s ({rated:.0f} pps; tcpreplay failed {failed}); rate asked {rate}, workers {workers}")
    print(f"appliance: {seen} packets seen, kernel drops {kernel}, interface drops {interface}, queue drops {queue}")
    print(f"recordings: {len(sidecars)} of {ref['calls']} calls; media packets {packets} of {ref['packets']} in the offline replay"
          f" (missing {missing}); packetsLost {lost}, packetsLate {late}; sidecars' packetsDropped {live_dropped or 0}"
          f" (offline {ref['dropped'] or 0})")
    if "seconds" in ref:
        # Faster than the capture's own pace each call's packets come ahead of their RTP clock: the recordings are not
        # the calls' real length, which this line shows.
        print(f"recorded call-seconds: {call_seconds:.0f} (offline replay {ref['seconds']:.0f})")
    for name, value in sorted(spool.items()):
        print(f"spool: {name} {value:.0f}")
    for name, value in sorted(other_drops.items()):
        print(f"drops: {name} {value:.0f}")
    busy = max(seconds, 1e-9)
    print(f"cpu: capture thread {cpu['capture']:.1f} s ({cpu['capture'] / busy:.0%} of a core while sending), media workers "
          f"{cpu['workers']:.1f} s, other threads {cpu['other']:.1f} s; tcpreplay {'?' if sender_cpu is None else f'{sender_cpu:.1f}'} s; load average {load_before.split()[0]} before, "
          f"{load_after.split()[0]} after")
    print(json.dumps({"rate": rate, "pps": round(rated), "workers": workers, "sent": sent, "seen": seen, "kernel": kernel,
                      "interface": interface, "queue": queue, "dropped": dropped, "recordings": len(sidecars),
                      "calls": ref["calls"], "packets": packets, "reference_packets": ref["packets"], "missing": missing,
                      "capture_cpu": round(cpu["capture"], 2), "worker_cpu": round(cpu["workers"], 2), "seconds": seconds,
                      "sender_cpu": sender_cpu, "call_seconds": round(call_seconds), "nice": os.environ.get("NICE", "0"),
                      "spool": spool, "load": [load_before.split()[0], load_after.split()[0]], "clean": clean}))


def rate_key(rate):
    return float(rate[1:]) * 1e6 if rate.startswith("x") else float(rate)


def table(results_file, default_workers):
    runs = [json.loads(line) for line in open(results_file) if line.startswith("{")]
    rates = sorted({r["rate"] for r in runs}, key=rate_key)
    workers = sorted({str(r["workers"]) for r in runs})
    print("| rate asked (pps) | " + " | ".join(f"{w} worker(s): media packets lost, each run" for w in workers) + " |")
    print("| --- |" + " --- |" * len(workers))
    for rate in rates:
        cells = []
        for w in workers:
            mine = [r for r in runs if r["rate"] == rate and str(r["workers"]) == w]
            cells.append(", ".join(
                ("0" if r["clean"] else f"{r['missing']:,}"
                 + ("" if r["recordings"] == r["calls"] else f" ({r['recordings']}/{r['calls']} recorded)"))
                for r in mine) or "-")
        print(f"| {rate} | " + " | ".join(cells) + " |")
    loads = [float(x) for r in runs for x in r["load"]]
    nice = ",".join(sorted({str(r.get("nice", "0")) for r in runs}))
    print(f"load average during the runs: {min(loads):.2f}-{max(loads):.2f}; nice {nice}")
    for w in workers:
        mine = [r for r in runs if str(r["workers"]) == w]
        best = highest_clean(mine, rates)
        print(f"highest rate without loss in every run, {w} worker(s): {best or 'none of the rates'}")
    best = highest_clean([r for r in runs if str(r["workers"]) == str(default_workers)], rates)
    print(f"live replay (tcpreplay on veth, load capture): highest rate without loss at the default settings "
          f"({default_workers} worker(s), nice {nice}): {best or 'none'} pps, {len([r for r in runs if str(r['workers']) == str(default_workers)])} runs, "
          f"load average {min(loads):.2f}-{max(loads):.2f}, {time.strftime('%Y-%m-%d', time.gmtime())}")


def highest_clean(runs, rates):
    """The highest rate at which every run was clean, all lower rates clean too."""
    best = None
    for rate in rates:
        mine = [r for r in runs if r["rate"] == rate]
        if not mine:
            continue
        if not all(r["clean"] for r in mine):
            break
        best = rate
    return best


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"free-port": free_port, "ready": ready, "drain": drain, "threads": threads, "reference": reference,
     "report": report, "table": table}[command](*args)
