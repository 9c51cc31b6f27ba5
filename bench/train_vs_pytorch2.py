#!/usr/bin/env python3
"""pepr train against today's peer on the CPU: PyTorch 2.x with timm, in eager mode and with
torch.compile (inductor, default mode), on the same machine, alternating, in one run.

Per (model, image size): the same seeded synthetic dataset (`pepr data synth`, MedMNIST layout,
uint8, 2 classes) is trained for 2 epochs at batch 32 with Adam (lr 5e-4), fp32, 2 threads, and
evaluated on its val and test splits after each epoch, by
  - pepr:    `pepr train --threads 2` (its defaults: channels_last from 64 px, batches assembled on
             a second thread);
  - eager:   timm.create_model(MODEL, num_classes=2) in PyTorch 2.x, the whole dataset converted
             to one float tensor up front and batched by index (no DataLoader: the fastest input
             path a Python user has), model.train() / model.eval() + torch.no_grad();
  - compile: the same with torch.compile(model) (inductor, default mode). Its compile time is
             reported apart: epoch 1's train + eval time minus epoch 2's.
The second epoch is timed. Reported per run: training images/s, evaluation images/s (val + test
images over the evaluation time), CPU seconds of the second epoch's training, peak RSS of the
process, and the share of the machine's peak fp32 FLOP rate pepr's training reaches:
  FLOPs per training image: 3 x the forward's, counted by torch.utils.flop_counter.FlopCounterMode
  on the timm model at the size (convolutions and matrix products; elementwise work not counted;
  its backward formula is not used: in torch 2.11 it ignores the groups of a convolution's weight
  gradient and overcounts depthwise layers C-fold), divided by the batch;
  peak: cores x FLOP per cycle per core x clock, with FLOP per cycle from /proc/cpuinfo's flags
  (AVX-512: 2 FMA units x 16 lanes x 2; AVX2 + FMA: 2 x 8 x 2 = 32) and the clock from its
  "cpu MHz" (the current clock, not a turbo figure: the share is approximate).
Figures are medians over --repeats alternating rounds.

--also-pepr NAME=BINARY (repeatable) runs another pepr binary in the same rounds, e.g. pepr built
against another LibTorch (scripts/check-cuda-build.sh's build-cuda/pepr links PyPI's LibTorch 2.11
and computes on the CPU as well): its training img/s, its ratio against each peer, the median of
its per-round ratios against pepr's (paired: the same round, one right after the other) and its
RSS are added to the row, so both LibTorch builds meet the same peers on the same data in one run.
`--peers none` runs the pepr binaries alone (an A/B of two builds: --repeats 3 or more).

Usage: <venv>/bin/python bench/train_vs_pytorch2.py [PEPR_BINARY] [--repeats K]
           [--sizes 28,64,128] [--models ghostnet_100,...] [--peers eager,compile]
           [--also-pepr NAME=BINARY ...]
The venv: torch==2.11.0 timm==1.0.31 (scripts/check-cuda-build.sh makes it in .cache/cuda-venv;
PyPI's CUDA build runs on the CPU as well).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

MODELS = "ghostnet_100,resnet14t,resnet18,resnet34d,mobilenetv2_100,mobilevit_s"
# Training images per size: about the same work per run (fewer big images).
TRAIN_IMAGES = {28: 1600, 64: 640, 128: 256}
EVAL_IMAGES = 256  # val and test: 128 each

PEER = r"""
import json, resource, sys, time
import numpy as np, torch, timm
from torch.utils.flop_counter import FlopCounterMode
data, model_name, threads, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
torch.manual_seed(0)
z = np.load(data)

def tensors(split):
    x = torch.from_numpy(z[split + "_images"]).float().div_(255)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous() if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(z[split + "_labels"].reshape(-1).astype(np.int64))

xtr, ytr = tensors("train")
evals = [tensors("val"), tensors("test")]
classes = int(ytr.max()) + 1
model = timm.create_model(model_name, pretrained=False, num_classes=classes)
flops = None
if mode == "eager":
    # Training FLOPs = 3 x the forward's (backward about twice the forward): FlopCounterMode's
    # forward formula counts grouped convolutions right, its weight-gradient formula does not
    # (torch 2.11 ignores the groups there, overcounting depthwise layers C-fold).
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(xtr[:32])
    flops = 3 * fc.get_total_flops() / 32
net = torch.compile(model) if mode == "compile" else model
opt = torch.optim.Adam(model.parameters(), lr=5e-4)
loss_fn = torch.nn.CrossEntropyLoss()

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

train_s, eval_s, cpu_s = [], [], []
for epoch in range(2):
    net.train()
    perm = torch.randperm(len(xtr))
    t0, c0 = time.perf_counter(), cpu()
    for i in range(0, len(perm), 32):
        idx = perm[i:i + 32]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
    train_s.append(time.perf_counter() - t0)
    cpu_s.append(cpu() - c0)
    net.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        for x, y in evals:
            for i in range(0, len(x), 32):
                net(x[i:i + 32]).argmax(1)
    eval_s.append(time.perf_counter() - t0)
n_eval = sum(len(x) for x, _ in evals)
print(json.dumps({"train_ips": len(xtr) / train_s[1], "eval_ips": n_eval / eval_s[1],
                  "cpu_s": cpu_s[1], "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
                  "compile_s": (train_s[0] + eval_s[0]) - (train_s[1] + eval_s[1]),
                  "flops_per_image": flops, "loss": float(loss)}))
"""


def peak_gflops():
    flags, mhz, model = set(), 0.0, "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            k = k.strip()
            if k == "flags" and not flags:
                flags = set(v.split())
            elif k == "cpu MHz" and not mhz:
                mhz = float(v)
            elif k == "model name" and model == "?":
                model = v.strip()
    per_cycle = 64 if "avx512f" in flags else 32 if {"avx2", "fma"} <= flags else 8
    cores = os.cpu_count() or 1
    return cores * per_cycle * mhz / 1e3, f"{model}: {cores} CPUs x {per_cycle} FLOP/cycle x " \
        f"{mhz / 1e3:.2f} GHz"


def pepr_run(binary, data, model, tmp):
    rec_path = os.path.join(tmp, "run.json")
    subprocess.run([binary, "train", "-m", model, "-d", data, "-e", "2", "--threads", "2", "-q",
                    "-o", rec_path], check=True, timeout=1800)
    rec = json.load(open(rec_path))
    e = rec["epochs"][1]
    eval_s = e["time_s"] - e["train_time_s"]
    return {"train_ips": e["train_images_per_s"], "eval_ips": EVAL_IMAGES / eval_s,
            "cpu_s": e["cpu_time_s"] * e["train_time_s"] / e["time_s"],
            "rss_gb": rec["totals"]["mem_peak_gb"]}


def peer_run(python, data, model, mode, tmp):
    script = os.path.join(tmp, "peer.py")
    with open(script, "w") as f:
        f.write(PEER)
    out = subprocess.run([python, script, data, model, "2", mode], check=True,
                         capture_output=True, text=True, timeout=1800).stdout
    return json.loads(out.strip().splitlines()[-1])


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("binary", nargs="?", default=os.path.join(here, "..", "build", "pepr"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--sizes", default="28,64,128")
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--peers", default="eager,compile")
    ap.add_argument("--also-pepr", action="append", default=[], metavar="NAME=BINARY",
                    help="another pepr binary to run in the same rounds (repeatable)")
    a = ap.parse_args()
    also = []
    for item in a.also_pepr:
        name, sep, path = item.partition("=")
        if not sep or not name or not os.access(path, os.X_OK):
            ap.error(f"--also-pepr '{item}': expected NAME=BINARY with an executable BINARY")
        also.append((name, path))
    import torch  # noqa: F401 (the versions, for the header)
    import timm
    peak, how = peak_gflops()
    peers = [] if a.peers == "none" else a.peers.split(",")
    print(f"pepr vs PyTorch {torch.__version__} + timm {timm.__version__} ({', '.join(peers)}), "
          f"2 threads, batch 32, Adam, fp32; median of {a.repeats} alternating round(s); second "
          f"epoch timed")
    print(f"peak fp32: {peak:.1f} GFLOP/s ({how})")
    cols = ["model", "size", "pepr tr img/s", "pepr ev img/s"]
    for p in peers:
        cols += [f"{p} tr img/s", f"x vs {p}", f"{p} ev img/s"]
    for name, _ in also:
        cols += [f"{name} tr img/s"] + [f"{name} x vs {p}" for p in peers + ["pepr"]]
        cols += [f"{name} ev img/s"]
    cols += ["pepr RSS GB"] + [f"{name} RSS GB" for name, _ in also]
    cols += [f"{p} RSS GB" for p in peers]
    cols += ["pepr CPU s"] + [f"{p} CPU s" for p in peers]
    cols += ["compile s", "GFLOP/img", "pepr % peak"]
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in a.sizes.split(",")]:
            data = os.path.join(tmp, f"synth{size}.npz")
            subprocess.run([a.binary, "data", "synth", "-o", data, "--size", str(size),
                            "--train", str(TRAIN_IMAGES.get(size, 256)), "--val", "128",
                            "--test", "128", "--classes", "2", "--stored"],
                           check=True, capture_output=True)
            for model in a.models.split(","):
                runs = {"pepr": []}
                runs.update({p: [] for p in peers})
                runs.update({name: [] for name, _ in also})
                for r in range(a.repeats):
                    # The pepr binaries in turn, the order reversed every other round.
                    builds = [("pepr", a.binary)] + also
                    for name, path in builds if r % 2 == 0 else builds[::-1]:
                        runs[name].append(pepr_run(path, data, model, tmp))
                    for p in peers:
                        try:
                            runs[p].append(peer_run(sys.executable, data, model, p, tmp))
                        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                            print(f"  {model} {size} {p}: failed: {str(e)[:200]}",
                                  file=sys.stderr)
                pt = med(runs["pepr"], "train_ips")
                row = [model, str(size), f"{pt:.0f}", f"{med(runs['pepr'], 'eval_ips'):.0f}"]
                for p in peers:
                    t = med(runs[p], "train_ips")
                    row += [f"{t:.0f}", f"{pt / t:.2f}", f"{med(runs[p], 'eval_ips'):.0f}"]
                for name, _ in also:
                    at = med(runs[name], "train_ips")
                    row += [f"{at:.0f}"] + [f"{at / med(runs[p], 'train_ips'):.2f}" for p in peers]
                    paired = [o["train_ips"] / b["train_ips"] for o, b in zip(runs[name], runs["pepr"])]
                    row += [f"{statistics.median(paired):.2f}"]
                    row += [f"{med(runs[name], 'eval_ips'):.0f}"]
                row += [f"{med(runs['pepr'], 'rss_gb'):.2f}"]
                row += [f"{med(runs[name], 'rss_gb'):.2f}" for name, _ in also]
                row += [f"{med(runs[p], 'rss_gb'):.2f}" for p in peers]
                row += [f"{med(runs['pepr'], 'cpu_s'):.1f}"]
                row += [f"{med(runs[p], 'cpu_s'):.1f}" for p in peers]
                comp = med(runs.get("compile", []), "compile_s")
                flops = med(runs.get("eager", []), "flops_per_image")
                share = pt * flops / 1e9 / peak if flops == flops else float("nan")
                row += [f"{comp:.0f}", f"{flops / 1e9:.3f}", f"{100 * share:.0f}"]
                print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
