#!/usr/bin/python3
"""pepr score vs pandas on a synthesised 1,000,000-row results table.

Both do the same end-to-end work: parse the CSV, min-max normalise energy within each dataset,
compute PePR-E = P / (1 + E_n), and write every input column plus E_n and pepr_e as CSV. pandas
is timed inside one warm interpreter (its start-up is not counted); pepr as a whole process.
Runs alternate so both see the same machine state. Prints medians and the ratio.

Usage: bench/score_vs_pandas.py [PEPR_BINARY] [--rows N] [--repeats K]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd


def synthesise(path, rows, seed=7):
    rng = np.random.default_rng(seed)
    datasets = np.array(["derma_pt", "derma", "derma_small", "lidc", "lidc_small",
                         "pneumonia", "pneumonia_small", "derma_smallest"])
    df = pd.DataFrame({
        "model": np.char.add("model_", rng.integers(0, 5000, rows).astype(str)),
        "dataset": datasets[rng.integers(0, len(datasets), rows)],
        "num_param": rng.integers(1_000_000, 130_000_000, rows),
        "energy": rng.uniform(0.001, 0.2, rows),
        "co2": rng.uniform(0.05, 15.0, rows),
        "train_time": rng.uniform(0.5, 60.0, rows),
        "test_09": rng.uniform(0.3, 0.99, rows),
    })
    df.to_csv(path, index=False)


def run_pandas(src, dst):
    df = pd.read_csv(src)
    g = df.groupby("dataset")["energy"]
    lo, hi = g.transform("min"), g.transform("max")
    df["E_n"] = (df["energy"] - lo) / (hi - lo)
    df["pepr_e"] = df["test_09"] / (1 + df["E_n"])
    df.to_csv(dst, index=False)


def run_pepr(binary, src, dst):
    subprocess.run([binary, "score", src, "--group-by", "dataset", "--performance", "test_09",
                    "--resource", "energy", "-o", dst], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", nargs="?", default=os.path.join(os.path.dirname(__file__), "..",
                                                             "build", "pepr"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "results.csv")
        synthesise(src, a.rows)
        print(f"table: {a.rows} rows, {os.path.getsize(src) / 1e6:.1f} MB; "
              f"pandas {pd.__version__}, repeats {a.repeats}, alternating")
        t_pepr, t_pandas = [], []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            run_pepr(a.binary, src, os.path.join(tmp, "pepr.csv"))
            t_pepr.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_pandas(src, os.path.join(tmp, "pandas.csv"))
            t_pandas.append(time.perf_counter() - t0)
        # Same answer: compare the scores of both outputs.
        a_df = pd.read_csv(os.path.join(tmp, "pepr.csv"))
        b_df = pd.read_csv(os.path.join(tmp, "pandas.csv"))
        diff = float(np.max(np.abs(a_df["pepr_e"].to_numpy() - b_df["pepr_e"].to_numpy())))
        mp, mq = statistics.median(t_pepr), statistics.median(t_pandas)
        print(f"pepr score  : median {mp:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in t_pepr)})")
        print(f"pandas      : median {mq:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in t_pandas)})")
        print(f"ratio pandas/pepr: {mq / mp:.2f}x   max |pepr_e difference|: {diff:.3g}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
