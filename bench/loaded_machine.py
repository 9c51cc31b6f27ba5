#!/usr/bin/env python3
"""The same training alone and beside a process that keeps one CPU busy (issue 31).

Runs `pepr train -m MODEL -d synth.npz -e 1` alternately alone and beside a busy loop, with pepr's
default threads (0: the CPUs other processes leave free) and with every CPU asked for (--threads
N, pepr before: the peer), and prints each run's time, CPU time, energy, threads, the others' busy
CPUs the meter saw and whether the record says loaded and stderr warned. The goal: the busy runs'
energy and CPU time within 15 % of the alone runs', or the record marked loaded with the share and
the warning printed.

  /usr/bin/python3 bench/loaded_machine.py build/pepr [--model resnet14t] [--repeats 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def busy_loop():
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def train(pepr, data, model, threads, out):
    cmd = [pepr, "train", "-m", model, "-d", data, "-e", "1", "--threads", str(threads), "-o", out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    rec = json.load(open(out))
    sharing = rec.get("meter", {}).get("sharing", {})
    return {
        "time_s": rec["totals"]["time_s"],
        "cpu_s": sum(e["cpu_time_s"] for e in rec["epochs"]),
        "wh": rec["totals"]["energy_kwh"] * 1000,
        "threads": rec["config"]["threads"],
        "others": sharing.get("others_busy_cores"),
        "loaded": bool(sharing.get("loaded")),
        "warned": "loaded machine:" in p.stderr,
        "method": rec["environment"]["meter_methods"].get("energy", ""),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pepr")
    ap.add_argument("--model", default="resnet14t")
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "synth.npz")
        subprocess.run([a.pepr, "data", "synth", "-o", data, "--train", str(a.images), "--val",
                        "100", "--test", "100"], check=True, capture_output=True)
        results = {}
        for rep in range(a.repeats):
            for threads in (0, cpus):
                for busy in (False, True):
                    comp = busy_loop() if busy else None
                    if comp:
                        time.sleep(0.5)  # the competitor is running before pepr looks
                    try:
                        r = train(a.pepr, data, a.model, threads, os.path.join(tmp, "r.json"))
                    finally:
                        if comp:
                            comp.kill()
                            comp.wait()
                    results.setdefault((threads, busy), []).append(r)
                    time.sleep(0.5)
    print(f"{a.model}, {a.images} images, 1 epoch, {cpus} CPUs, {a.repeats} repeats (medians); "
          f"energy method: {results[(0, False)][0]['method']}")
    print(f"{'threads asked':>14} {'machine':>8} {'threads':>8} {'time s':>8} {'CPU s':>8} "
          f"{'Wh':>9} {'others':>7} {'loaded':>7} {'warned':>7}")
    med = {}
    for (threads, busy), rs in sorted(results.items()):
        m = {k: statistics.median(r[k] for r in rs) for k in ("time_s", "cpu_s", "wh", "threads")}
        others = [r["others"] for r in rs if r["others"] is not None]
        m["others"] = statistics.median(others) if others else float("nan")
        m["loaded"] = sum(r["loaded"] for r in rs)
        m["warned"] = sum(r["warned"] for r in rs)
        med[(threads, busy)] = m
        print(f"{'auto (0)' if threads == 0 else threads:>14} {'busy' if busy else 'alone':>8} "
              f"{m['threads']:>8.0f} {m['time_s']:>8.2f} {m['cpu_s']:>8.2f} {m['wh']:>9.5f} "
              f"{m['others']:>7.2f} {m['loaded']:>4}/{len(rs)} {m['warned']:>4}/{len(rs)}")
    print()
    for threads in (0, cpus):
        alone, busy = med[(threads, False)], med[(threads, True)]
        de = busy["wh"] / alone["wh"] - 1
        dc = busy["cpu_s"] / alone["cpu_s"] - 1
        marked = busy["loaded"] == a.repeats and busy["warned"] == a.repeats
        ok = (abs(de) <= 0.15 and abs(dc) <= 0.15) or marked
        print(f"threads {'auto' if threads == 0 else threads}: busy vs alone energy {de:+.1%}, "
              f"CPU time {dc:+.1%}; busy runs marked loaded and warned: "
              f"{'all' if marked else 'not all'} -> goal {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
