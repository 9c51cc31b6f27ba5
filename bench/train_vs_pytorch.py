#!/usr/bin/python3
"""pepr train vs the paper's way of training (Python PyTorch, Dataset + DataLoader) on the same
model, the same data and the same LibTorch (Debian's python3-torch is built from the sources of
libtorch-dev), alternating the two in one run.

Per (model, image size): the same seeded synthetic dataset (`pepr data synth`, MedMNIST layout,
uint8) is trained for 2 epochs at batch 32 with Adam (lr 5e-4) on 2 threads by
  - pepr:   `pepr train --threads 2` (its defaults: allocator tuning, channels_last from 64 px,
            batches assembled on a second thread),
  - Python: a torch.utils.data.Dataset over the same uint8 arrays returning one float tensor per
            image (/255, gray -> 3 channels), a DataLoader (batch 32, shuffle, num_workers=0,
            default settings), torchvision's resnet18 / mobilenet_v2 (the same architectures as
            timm's resnet18 / mobilenetv2_100, the same parameter counts).
The second epoch is timed (the first warms up both); evaluation is not counted. Reported:
images/s of each, their ratio, pepr's data-loading share of its step time (time waiting for the
next batch / epoch time), and the peak RSS of each process.

Usage: bench/train_vs_pytorch.py [PEPR_BINARY] [--repeats K] [--sizes 28,64,128]
                                 [--models resnet18,mobilenetv2_100]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

TORCHVISION = {"resnet18": "resnet18", "mobilenetv2_100": "mobilenet_v2"}
# Training images per size: about the same work per run (fewer big images).
TRAIN_IMAGES = {28: 1600, 64: 640, 128: 256, 224: 96}

PY_PEER = r"""
import json, resource, sys, time
import numpy as np, torch, torchvision
data, model_name, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
z = np.load(data)
x, y = z["train_images"], z["train_labels"].reshape(-1).astype(np.int64)
classes = int(y.max()) + 1

class Images(torch.utils.data.Dataset):
    def __len__(self):
        return len(x)
    def __getitem__(self, i):
        img = torch.from_numpy(x[i]).float().div(255)
        img = img.unsqueeze(0).expand(3, -1, -1) if img.dim() == 2 else img.permute(2, 0, 1)
        return img, int(y[i])

loader = torch.utils.data.DataLoader(Images(), batch_size=32, shuffle=True, num_workers=0)
model = getattr(torchvision.models, model_name)(num_classes=classes)
opt = torch.optim.Adam(model.parameters(), lr=5e-4)
loss_fn = torch.nn.CrossEntropyLoss()
model.train()
times = []
for epoch in range(2):
    t0 = time.perf_counter()
    for xb, yb in loader:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    times.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
print(json.dumps({"images_per_s": len(x) / times[1], "epoch_s": times[1], "rss_gb": rss,
                  "loss": float(loss)}))
"""


def pepr_run(binary, data, model, tmp):
    rec_path = os.path.join(tmp, "run.json")
    subprocess.run([binary, "train", "-m", model, "-d", data, "-e", "2", "--threads", "2", "-q",
                    "-o", rec_path], check=True)
    rec = json.load(open(rec_path))
    e = rec["epochs"][1]
    return {"images_per_s": e["train_images_per_s"], "epoch_s": e["train_time_s"],
            "wait_s": e["data_wait_s"], "rss_gb": rec["totals"]["mem_peak_gb"]}


def python_run(data, model, tmp):
    script = os.path.join(tmp, "peer.py")
    with open(script, "w") as f:
        f.write(PY_PEER)
    out = subprocess.run(["/usr/bin/python3", script, data, TORCHVISION[model], "2"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?",
                    default=os.path.join(os.path.dirname(__file__), "..", "build", "pepr"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="28,64,128")
    ap.add_argument("--models", default="resnet18,mobilenetv2_100")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    models = a.models.split(",")
    print(f"pepr train vs Python PyTorch (DataLoader, num_workers=0), 2 threads, batch 32, "
          f"Adam; median of {a.repeats} alternating runs; second epoch timed")
    print(f"{'model':<16}{'size':>5}{'images':>7}{'pepr img/s':>12}{'python img/s':>14}"
          f"{'ratio':>7}{'pepr wait':>11}{'pepr RSS':>10}{'py RSS':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            data = os.path.join(tmp, f"synth{size}.npz")
            subprocess.run([a.binary, "data", "synth", "-o", data, "--size", str(size),
                            "--train", str(TRAIN_IMAGES.get(size, 256)), "--val", "32", "--test",
                            "32", "--stored"], check=True, capture_output=True)
            for model in models:
                p, q = [], []
                for _ in range(a.repeats):
                    p.append(pepr_run(a.binary, data, model, tmp))
                    q.append(python_run(data, model, tmp))
                pi = statistics.median(r["images_per_s"] for r in p)
                qi = statistics.median(r["images_per_s"] for r in q)
                wait = statistics.median(r["wait_s"] / r["epoch_s"] for r in p)
                prss = max(r["rss_gb"] for r in p)
                qrss = max(r["rss_gb"] for r in q)
                print(f"{model:<16}{size:>5}{TRAIN_IMAGES.get(size, 256):>7}{pi:>12.1f}{qi:>14.1f}"
                      f"{pi / qi:>6.2f}x{100 * wait:>10.1f}%{prss:>8.2f}GB{qrss:>6.2f}GB",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
