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
            with non_blocking=True, torch.autocast for bf16/fp16 (GradScaler for fp16), the model
            and its inputs channels_last with bf16/fp16 (as pepr on a GPU), cuDNN benchmark mode
            on: the way a timm user trains.
The training pass of epoch 2 is timed after a device synchronise (epoch 1 warms up both).
Reported per run: training images/s, the ratio pepr / Python, the caching allocator's peak
reserved and allocated GPU memory (torch.cuda.max_memory_*; pepr's run record), the memory format,
and gpu_energy_j: the GPU's NVML total-energy counter read by THIS driver immediately before and
after each process, pepr's and Python's alike (the same component, the GPU alone, over the same
window, the whole process with its start-up). pepr's own record figure (CPU + GPU from its
tracker's start) is kept apart as pepr_record_energy_raw_j. Without pynvml gpu_energy_j is null
and "nvml" says why. The driver itself never initialises CUDA (torch's versions come from a child).

Prints one JSON object on stdout (and a table on stderr); with --out also writes it there after
every row. Exit status 1 when any row has no ratio (a pepr or Python run failed), else 0.
Usage: bench/train_vs_timm_gpu.py PEPR_BINARY [--sizes 28,224] [--models a,b] [--precision fp32]
                                  [--repeats 1] [--run-timeout 300] [--out FILE]
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
# As pepr on a GPU: channels_last (NHWC, what cuDNN's tensor-core kernels want) with bf16/fp16.
channels_last = precision in ("bf16", "fp16")
fmt = torch.channels_last if channels_last else torch.contiguous_format
if channels_last:
    model = model.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(model.parameters(), lr=5e-4)
loss_fn = torch.nn.CrossEntropyLoss()
amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")

def evaluate(dl):
    model.eval()
    correct = n = 0
    with torch.no_grad(), torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None):
        for xb, yb in dl:
            xb = xb.to(dev, non_blocking=True, memory_format=fmt)
            yb = yb.to(dev, non_blocking=True)
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
        xb = xb.to(dev, non_blocking=True, memory_format=fmt)
        yb = yb.to(dev, non_blocking=True)
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
print(json.dumps({"images_per_s": len(split["train"][0]) / times[1], "epoch_train_s": times[1],
                  "run_s": run_s, "gpu_reserved_gb": torch.cuda.max_memory_reserved() / 1e9,
                  "gpu_allocated_gb": torch.cuda.max_memory_allocated() / 1e9,
                  "memory_format": "channels_last" if channels_last else "contiguous",
                  "test_acc": accs[-1][1], "loss": float(loss)}))
"""

# torch's, timm's and the GPU's names, from a child: the driver must not hold a CUDA context.
INFO = r"""
import json
r = {}
try:
    import torch
    r["python_torch"] = torch.__version__
    r["gpu"] = torch.cuda.get_device_name(0)
    u = getattr(torch.cuda.get_device_properties(0), "uuid", None)
    r["gpu_uuid"] = str(u) if u is not None else None
except Exception as e:
    r["python_error"] = repr(e)
try:
    import timm
    r["timm"] = timm.__version__
except Exception as e:
    r["python_error"] = r.get("python_error", "") + " timm: " + repr(e)
print(json.dumps(r))
"""


class GpuEnergy:
    """The GPU's NVML total-energy counter (millijoules), read in this driver process."""

    def __init__(self, gpu_uuid=None):
        self.nvml, self.handle = None, None
        self.info = {"available": False}
        try:
            import pynvml
            pynvml.nvmlInit()
            handle, how = None, "index 0"
            if gpu_uuid:  # the device CUDA calls 0 (CUDA and NVML may order GPUs differently)
                for i in range(pynvml.nvmlDeviceGetCount()):
                    h = pynvml.nvmlDeviceGetHandleByIndex(i)
                    u = pynvml.nvmlDeviceGetUUID(h)
                    u = u.decode() if isinstance(u, bytes) else u
                    if u.lower().removeprefix("gpu-") == gpu_uuid.lower().removeprefix("gpu-"):
                        handle, how = h, "uuid"
                        break
            handle = handle or pynvml.nvmlDeviceGetHandleByIndex(0)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # supported on this GPU?
            name = pynvml.nvmlDeviceGetName(handle)
            self.nvml, self.handle = pynvml, handle
            self.info = {"available": True, "matched_by": how,
                         "name": name.decode() if isinstance(name, bytes) else name}
        except Exception as e:
            self.info["error"] = repr(e)

    def read_mj(self):
        return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) if self.nvml else None

    def around(self, fn):
        """fn() with gpu_energy_j (whole process) and the window added to its result."""
        e0, t0 = self.read_mj(), time.perf_counter()
        r = fn()
        e1, t1 = self.read_mj(), time.perf_counter()
        r["gpu_energy_j"] = (e1 - e0) / 1000.0 if e0 is not None and e1 is not None else None
        r["gpu_energy_window_s"] = t1 - t0
        return r


def pepr_run(binary, data, model, precision, tmp, timeout):
    rec_path = os.path.join(tmp, "run.json")
    if os.path.exists(rec_path):
        os.remove(rec_path)
    t0 = time.perf_counter()
    subprocess.run([binary, "train", "-m", model, "-d", data, "-e", "2", "--device", "cuda",
                    "--precision", precision, "-q", "-o", rec_path], check=True, timeout=timeout)
    wall = time.perf_counter() - t0
    rec = json.load(open(rec_path))
    e = rec["epochs"][1]
    t = rec["totals"]
    return {"images_per_s": e["train_images_per_s"], "epoch_train_s": e["train_time_s"],
            "run_s": t["time_s"], "process_s": wall,
            "gpu_reserved_gb": t.get("gpu_mem_reserved_peak_gb"),
            "gpu_allocated_gb": t.get("gpu_mem_allocated_peak_gb"),
            # pepr's own figure (CPU + GPU, from its tracker's start): not like for like with
            # the peer; gpu_energy_j (the driver's NVML reading) is.
            "pepr_record_energy_raw_j": t["energy_raw_kwh"] * 3.6e6,
            "pepr_record_energy_method": rec["environment"]["meter_methods"]["energy"],
            "data_placement": rec["data"].get("placement"),
            "memory_format": rec["config"].get("memory_format"),
            "test_acc": e["test_acc"], "environment": rec["environment"]}


def python_run(data, model, precision, size, tmp, timeout):
    script = os.path.join(tmp, "peer.py")
    with open(script, "w") as f:
        f.write(PY_PEER)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, script, data, model, precision, str(size)],
                         check=True, capture_output=True, text=True, timeout=timeout).stdout
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
    ap.add_argument("--run-timeout", type=float, default=300,
                    help="seconds one pepr or Python run may take (default 300)")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    result = {"benchmark": "train_vs_timm_gpu", "precision": a.precision, "batch_size": 32,
              "epochs": 2, "timed": "training pass of epoch 2, after torch.cuda.synchronize",
              "gpu_energy": "gpu_energy_j: NVML total-energy counter of the GPU, read by the "
                            "driver immediately before and after each process (pepr's and "
                            "Python's alike): the GPU alone, the whole process",
              "runs": []}
    try:
        info = subprocess.run([sys.executable, "-c", INFO], capture_output=True, text=True,
                              timeout=120)
        result.update(json.loads(info.stdout.strip().splitlines()[-1]))
    except Exception as e:  # the table still says what pepr did
        result["python_error"] = repr(e)
    energy = GpuEnergy(result.pop("gpu_uuid", None))
    result["nvml"] = energy.info
    log = sys.stderr

    def write():
        if a.out:  # after every row: a run cut short still leaves what it measured
            with open(a.out, "w") as f:
                f.write(json.dumps(result, indent=1) + "\n")

    def num(v, width, digits):
        return f"{v:>{width}.{digits}f}" if isinstance(v, (int, float)) else f"{'-':>{width}}"

    print(f"{'model':<18}{'size':>5}{'pepr img/s':>12}{'timm img/s':>12}{'ratio':>7}"
          f"{'pepr GB':>9}{'timm GB':>9}{'pepr J':>9}{'timm J':>9}  memory format (pepr/timm)",
          file=log, flush=True)
    print("(J: the GPU's NVML energy over each whole process, read by this driver)", file=log,
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in a.sizes.split(",")]:
            data = os.path.join(tmp, f"synth{size}.npz")
            try:
                subprocess.run([a.binary, "data", "synth", "-o", data, "--size", str(size),
                                "--train", str(TRAIN_IMAGES.get(size, 2000)), "--val",
                                str(EVAL_IMAGES), "--test", str(EVAL_IMAGES), "--stored"],
                               check=True, capture_output=True, timeout=a.run_timeout)
                synth_error = None
            except subprocess.CalledProcessError as e:
                synth_error = "pepr data synth: exit %d: %s" % (
                    e.returncode, (e.stderr or b"").decode(errors="replace")[-800:])
            except Exception as e:
                synth_error = "pepr data synth: %r" % e
            for model in a.models.split(","):
                p, q = [], []
                for _ in range(a.repeats if synth_error is None else 0):
                    try:
                        p.append(energy.around(
                            lambda: pepr_run(a.binary, data, model, a.precision, tmp,
                                             a.run_timeout)))
                    except Exception as e:
                        p.append({"error": str(e)})
                    try:
                        q.append(energy.around(
                            lambda: python_run(data, model, a.precision, size, tmp,
                                               a.run_timeout)))
                    except subprocess.CalledProcessError as e:
                        q.append({"error": (e.stderr or "")[-800:]})
                    except Exception as e:
                        q.append({"error": str(e)})
                if synth_error is not None:
                    p.append({"error": synth_error})
                ok_p = [r for r in p if "error" not in r]
                ok_q = [r for r in q if "error" not in r]
                row = {"model": model, "size": size, "train_images": TRAIN_IMAGES.get(size, 2000),
                       "pepr": p, "python": q}
                if ok_p and ok_q:
                    pi = statistics.median(r["images_per_s"] for r in ok_p)
                    qi = statistics.median(r["images_per_s"] for r in ok_q)
                    row["ratio"] = pi / qi
                    print(f"{model:<18}{size:>5}{pi:>12.0f}{qi:>12.0f}{pi / qi:>6.2f}x"
                          f"{num(ok_p[0].get('gpu_reserved_gb'), 9, 2)}"
                          f"{num(ok_q[0].get('gpu_reserved_gb'), 9, 2)}"
                          f"{num(ok_p[0].get('gpu_energy_j'), 9, 0)}"
                          f"{num(ok_q[0].get('gpu_energy_j'), 9, 0)}"
                          f"  {ok_p[0].get('memory_format')}/{ok_q[0].get('memory_format')}",
                          file=log, flush=True)
                else:
                    print(f"{model:<18}{size:>5}  failed: {p} {q}", file=log, flush=True)
                result["runs"].append(row)
                write()
    failed = [f"{r['model']}@{r['size']}" for r in result["runs"] if "ratio" not in r]
    result["failed_rows"] = failed
    write()
    print(json.dumps(result, indent=1))
    if failed or not result["runs"]:
        print(f"train_vs_timm_gpu: {len(failed)} of {len(result['runs'])} rows have no ratio "
              f"(a failed pepr or Python run): {', '.join(failed)}", file=log, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
