#!/usr/bin/env python3
"""pepr train vs timm + PyTorch on the same NVIDIA GPU, alternating, same precision.

Per (image size, model): the same seeded synthetic dataset (`pepr data synth`, MedMNIST layout,
uint8, 4 classes) is trained for 2 epochs at batch 32 with Adam (lr 5e-4), evaluating val and test
after every epoch (as pepr does), by
  - pepr:   `pepr train --device cuda --precision P` (its defaults on a GPU: the uint8 dataset
            on the device when it fits, cuDNN benchmark mode, channels_last with bf16/fp16),
  - Python: timm.create_model(name, num_classes=4), a torch.utils.data.Dataset over the same uint8
            arrays returning one float tensor per image (/255, gray -> 3 channels), a DataLoader
            (batch 32, shuffle, num_workers=4, pin_memory=True, persistent workers), tensors moved
            with non_blocking=True, torch.autocast for bf16/fp16 (GradScaler for fp16), cuDNN
            benchmark mode on: the way a timm user trains.
The training pass of epoch 2 is timed after a device synchronise (epoch 1 warms up both).
Reported per run: training images/s, the ratio pepr / Python, the caching allocator's peak
reserved and allocated GPU memory (torch.cuda.max_memory_*; pepr's run record), and the GPU's
energy over the whole run from NVML's total-energy counter (both processes read the same GPU).

Prints one JSON object on stdout (and a table on stderr).
Usage: bench/train_vs_timm_gpu.py PEPR_BINARY [--sizes 28,224] [--models a,b] [--precision fp32]
                                  [--repeats 1] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TRAIN_IMAGES = {28: 8000, 64: 6000, 128: 4000, 224: 3000}
EVAL_IMAGES = 500

PY_PEER = r"""
import json, sys, time
import numpy as np, torch, timm
data, model_name, precision, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    import pynvml
    pynvml.nvmlInit()
    gpu = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    energy0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(gpu)
except Exception:
    gpu = None
torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
dev = torch.device("cuda")
z = np.load(data)
split = {k: (z[k + "_images"], z[k + "_labels"].reshape(-1).astype(np.int64))
         for k in ("train", "val", "test")}
classes = int(split["train"][1].max()) + 1

class Images(torch.utils.data.Dataset):
    def __init__(self, name):
        self.x, self.y = split[name]
    def __len__(self):
        return len(self.x)
    def __getitem__(self, i):
        img = torch.from_numpy(self.x[i]).float().div(255)
        img = img.unsqueeze(0).expand(3, -1, -1) if img.dim() == 2 else img.permute(2, 0, 1)
        return img, int(self.y[i])

def loader(name, shuffle, batch):
    return torch.utils.data.DataLoader(Images(name), batch_size=batch, shuffle=shuffle,
                                       num_workers=4, pin_memory=True, persistent_workers=True)

train, val, test = loader("train", True, 32), loader("val", False, 256), loader("test", False, 256)
model = timm.create_model(model_name, num_classes=classes).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=5e-4)
loss_fn = torch.nn.CrossEntropyLoss()
amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")

def evaluate(dl):
    model.eval()
    correct = n = 0
    with torch.no_grad(), torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None):
        for xb, yb in dl:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            correct += (model(xb).argmax(1) == yb).sum()
            n += len(yb)
    return float(correct) / n

times, accs = [], []
torch.cuda.reset_peak_memory_stats()
t_run = time.perf_counter()
for epoch in range(2):
    model.train()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for xb, yb in train:
        xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None):
            loss = loss_fn(model(xb), yb)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    torch.cuda.synchronize()
    times.append(time.perf_counter() - t0)
    accs.append((evaluate(val), evaluate(test)))
run_s = time.perf_counter() - t_run
energy_j = None
if gpu is not None:
    energy_j = (pynvml.nvmlDeviceGetTotalEnergyConsumption(gpu) - energy0) / 1000.0
print(json.dumps({"images_per_s": len(split["train"][0]) / times[1], "epoch_train_s": times[1],
                  "run_s": run_s, "gpu_reserved_gb": torch.cuda.max_memory_reserved() / 1e9,
                  "gpu_allocated_gb": torch.cuda.max_memory_allocated() / 1e9,
                  "energy_j": energy_j, "test_acc": accs[-1][1], "loss": float(loss)}))
"""


def pepr_run(binary, data, model, precision, tmp):
    rec_path = os.path.join(tmp, "run.json")
    t0 = time.perf_counter()
    subprocess.run([binary, "train", "-m", model, "-d", data, "-e", "2", "--device", "cuda",
                    "--precision", precision, "-q", "-o", rec_path], check=True)
    wall = time.perf_counter() - t0
    rec = json.load(open(rec_path))
    e = rec["epochs"][1]
    t = rec["totals"]
    return {"images_per_s": e["train_images_per_s"], "epoch_train_s": e["train_time_s"],
            "run_s": t["time_s"], "process_s": wall,
            "gpu_reserved_gb": t.get("gpu_mem_reserved_peak_gb"),
            "gpu_allocated_gb": t.get("gpu_mem_allocated_peak_gb"),
            "energy_j": t["energy_raw_kwh"] * 3.6e6,
            "energy_method": rec["environment"]["meter_methods"]["energy"],
            "data_placement": rec["data"].get("placement"),
            "memory_format": rec["config"].get("memory_format"),
            "test_acc": e["test_acc"], "environment": rec["environment"]}


def python_run(data, model, precision, size, tmp):
    script = os.path.join(tmp, "peer.py")
    with open(script, "w") as f:
        f.write(PY_PEER)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, script, data, model, precision, str(size)],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["process_s"] = time.perf_counter() - t0
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--sizes", default="28,224")
    ap.add_argument("--models", default="resnet18,mobilenetv2_050,mobilevitv2_050")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    result = {"benchmark": "train_vs_timm_gpu", "precision": a.precision, "batch_size": 32,
              "epochs": 2, "timed": "training pass of epoch 2, after torch.cuda.synchronize",
              "runs": []}
    try:
        import torch
        import timm
        result["python_torch"] = torch.__version__
        result["timm"] = timm.__version__
        result["gpu"] = torch.cuda.get_device_name(0)
    except Exception as e:  # the table still says what pepr did
        result["python_error"] = str(e)
    log = sys.stderr
    print(f"{'model':<18}{'size':>5}{'pepr img/s':>12}{'timm img/s':>12}{'ratio':>7}"
          f"{'pepr GB':>9}{'timm GB':>9}{'pepr J':>9}{'timm J':>9}", file=log, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in a.sizes.split(",")]:
            data = os.path.join(tmp, f"synth{size}.npz")
            subprocess.run([a.binary, "data", "synth", "-o", data, "--size", str(size),
                            "--train", str(TRAIN_IMAGES.get(size, 2000)), "--val",
                            str(EVAL_IMAGES), "--test", str(EVAL_IMAGES), "--stored"],
                           check=True, capture_output=True)
            for model in a.models.split(","):
                p, q = [], []
                for _ in range(a.repeats):
                    try:
                        p.append(pepr_run(a.binary, data, model, a.precision, tmp))
                    except Exception as e:
                        p.append({"error": str(e)})
                    try:
                        q.append(python_run(data, model, a.precision, size, tmp))
                    except subprocess.CalledProcessError as e:
                        q.append({"error": (e.stderr or "")[-800:]})
                    except Exception as e:
                        q.append({"error": str(e)})
                ok_p = [r for r in p if "error" not in r]
                ok_q = [r for r in q if "error" not in r]
                row = {"model": model, "size": size, "train_images": TRAIN_IMAGES.get(size, 2000),
                       "pepr": p, "python": q}
                if ok_p and ok_q:
                    pi = statistics.median(r["images_per_s"] for r in ok_p)
                    qi = statistics.median(r["images_per_s"] for r in ok_q)
                    row["ratio"] = pi / qi
                    print(f"{model:<18}{size:>5}{pi:>12.0f}{qi:>12.0f}{pi / qi:>6.2f}x"
                          f"{ok_p[0]['gpu_reserved_gb'] or 0:>9.2f}{ok_q[0]['gpu_reserved_gb']:>9.2f}"
                          f"{ok_p[0]['energy_j'] or 0:>9.0f}{ok_q[0]['energy_j'] or 0:>9.0f}",
                          file=log, flush=True)
                else:
                    print(f"{model:<18}{size:>5}  failed: {p} {q}", file=log, flush=True)
                result["runs"].append(row)
                if a.out:  # after every row: a run cut short still leaves what it measured
                    with open(a.out, "w") as f:
                        f.write(json.dumps(result, indent=1) + "\n")
    text = json.dumps(result, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
