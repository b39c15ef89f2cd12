#!/usr/bin/env python3
"""Steady-state memory of `artrt run`: minor page faults per classified clip
and the spread of the resident set, sampled from /proc while it runs.

    runtime/scripts/steady-state.py [--from S] [--artrt BIN] -- RUN-ARGS...

runs `BIN run RUN-ARGS...` (for example `--source synthetic:3 --fast
--scoreboard none --backend ort-cpu --threads 2 --duration 60`), samples its
minor faults and RSS every 0.2 s, and reports both from `--from` seconds on.
Clips in that stretch are the run's clip count (its summary line) scaled by
the stretch's share of the serving time, which `--fast` keeps steady.
"""

import argparse
import json
import re
import subprocess
import sys
import time


def sample(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    minflt = int(fields[7])
    with open(f"/proc/{pid}/status") as f:
        kb = {l.split(":")[0]: int(l.split()[1]) for l in f
              if l.startswith(("VmRSS:", "RssAnon:", "RssFile:"))}
    return minflt, kb["VmRSS"], kb["RssAnon"], kb["RssFile"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--from", dest="start", type=float, default=15.0)
    p.add_argument("--artrt", default="target/release/artrt")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    a = p.parse_args()
    args = [x for x in a.rest if x != "--"]
    t0 = time.monotonic()
    proc = subprocess.Popen([a.artrt, "run", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    serving_at, samples = None, []
    log = []

    import threading

    def read_log():
        nonlocal serving_at
        for line in proc.stderr:
            log.append(line)
            if serving_at is None and "serving " in line:
                serving_at = time.monotonic() - t0

    reader = threading.Thread(target=read_log)
    reader.start()
    while proc.poll() is None:
        try:
            samples.append((time.monotonic() - t0, *sample(proc.pid)))
        except (OSError, StopIteration):
            break
        time.sleep(0.2)
    proc.wait()
    reader.join()
    summary = next((l for l in log if "stopped after" in l), "")
    m = re.search(r"stopped after ([0-9.]+) s.*?(\d+) clips", summary)
    if proc.returncode != 0 or not m or serving_at is None:
        sys.stderr.write("".join(log[-20:]))
        sys.exit(f"artrt run failed or gave no summary (exit {proc.returncode})")
    total_s, clips = float(m.group(1)), int(m.group(2))
    steady = [s for s in samples if s[0] >= a.start]
    if len(steady) < 2:
        sys.exit(f"the run ended before {a.start} s")
    span = steady[-1][0] - steady[0][0]
    share = span / max(total_s - serving_at, 1e-9)
    steady_clips = clips * share
    faults = steady[-1][1] - steady[0][1]
    rss = [s[2] for s in steady]
    print(json.dumps({
        "args": args,
        "clips": clips,
        "steady_from_s": a.start,
        "steady_span_s": round(span, 1),
        "steady_clips": round(steady_clips),
        "minor_faults": faults,
        "minor_faults_per_clip": round(faults / max(steady_clips, 1), 2),
        "rss_min_kb": min(rss),
        "rss_max_kb": max(rss),
        "rss_spread_kb": max(rss) - min(rss),
        "rss_first_kb": rss[0],
        "rss_last_kb": rss[-1],
        "rss_anon_first_kb": steady[0][3],
        "rss_anon_last_kb": steady[-1][3],
        "rss_file_first_kb": steady[0][4],
        "rss_file_last_kb": steady[-1][4],
        "scoreboard": next((l.split("scoreboard: ", 1)[1].strip() for l in log
                            if "artrt::cmd::run] scoreboard: " in l), None),
    }, indent=1))


if __name__ == "__main__":
    main()
