#!/usr/bin/env python3
"""Training reference for tests/models/test_train_equivalence.cpp: is pepr's training step
PyTorch's, not only its forward pass?

For each model and optimizer, builds timm's model with the fill rule of
../shared/data/timm-reference/README.md (the one tests/models/timm_reference.cpp implements), in
float64 on CPU, BatchNorm in training mode, and trains it for STEPS steps on fixed batches made by
the same counter-based generator. The engine's step (src/train/engine.cpp): zero_grad,
cross_entropy (mean), backward, step. Writes tests/models/train_reference/<model>_<optimizer>.json:
the settings, torch and timm versions, the losses of every step, and a fingerprint of every
state-dict entry after the last step (sum, sum of squares, and the elements at FINGERPRINT_POINTS
indices chosen by a rule from the name).

Run with a Python that has torch and timm (the project's venv):
    .cache/cuda-venv/bin/python scripts/gen_train_reference.py [--check-forward]
--check-forward first checks this fill rule against timm's recorded logits of resnet18
(../shared/data/timm-reference/resnet18.json, float32, eval mode).
"""
import argparse
import json
import pathlib
import sys

import numpy as np
import timm
import torch

MODELS = ["resnet18", "mobilenetv2_050", "ghostnet_100", "mobilevitv2_050"]
NUM_CLASSES = 10
BATCH = 8
IMAGE = (3, 32, 32)
# Larger images where 32 px leaves 1x1 maps in the last stages: BatchNorm over 8 values there made
# the training trajectory chaotic (mobilenetv2_050 with SGD at 32 px: initial weights changed by a
# relative 1e-13 changed the 20th loss by 10%; at 64 px by 5e-10). With 4 images per batch
# resnet18 was chaotic at 32 px too, hence 8.
IMAGE_BY_MODEL = {"mobilenetv2_050": (3, 64, 64), "mobilevitv2_050": (3, 64, 64)}
STEPS = 20
FINGERPRINT_POINTS = 4
OPTIMIZERS = {
    # The paper's optimizer, as pepr's engine builds it (LibTorch's AdamOptions defaults).
    "adam": {"lr": 5e-4, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
    # SGD with momentum and weight decay, the engine's other optimizer (dampening 0 and no
    # Nesterov are LibTorch's defaults, which the engine keeps).
    "sgd": {"lr": 1e-3, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
            "weight_decay": 1e-4},
}

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def splitmix64(seed, k):
    """splitmix64 at counters k (a numpy uint64 array), wrapping mod 2^64."""
    with np.errstate(over="ignore"):
        x = np.uint64(seed) + (k + np.uint64(1)) * np.uint64(GOLDEN)
        z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def unit(seed, n):
    z = splitmix64(seed, np.arange(n, dtype=np.uint64))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def fill_rule(name, shape):
    """The README's rule: computed in double, cast to float32 (as the C++ helper does)."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = unit(fnv1a64(name), n)
    r = 2.0 * u - 1.0
    last = name.rsplit(".", 1)[-1]
    if last == "running_var":
        v = 0.5 + u
    elif last == "running_mean":
        v = 0.1 * r
    elif len(shape) >= 2:
        v = r * np.sqrt(6.0 / (n / shape[0]))
    elif last == "weight" or "gamma" in last or "scale" in last:
        v = 1.0 + 0.1 * r
    else:
        v = 0.1 * r
    return v.astype(np.float32).reshape(shape)


def fill_by_rule(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.from_numpy(fill_rule(name, tuple(t.shape))))


def batch(k, image=IMAGE):
    """Batch k (0-based): images from the generator seeded with FNV-1a of "batch<k>" (element j
    in row-major order is 2u-1, in double), labels (k * BATCH + i) * 7 % NUM_CLASSES."""
    n = BATCH * int(np.prod(image))
    x = 2.0 * unit(fnv1a64(f"batch{k}"), n) - 1.0
    y = [(k * BATCH + i) * 7 % NUM_CLASSES for i in range(BATCH)]
    return (torch.from_numpy(x.reshape((BATCH,) + image)),
            torch.tensor(y, dtype=torch.int64))


def fingerprint_indices(name, numel):
    z = splitmix64(fnv1a64(name), np.arange(FINGERPRINT_POINTS, dtype=np.uint64))
    return [int(v % np.uint64(numel)) for v in z]


def fingerprint(name, t):
    flat = t.detach().reshape(-1)
    if not t.is_floating_point():
        return {"name": name, "int": [int(v) for v in flat.tolist()]}
    flat = flat.to(torch.float64)
    idx = fingerprint_indices(name, flat.numel())
    return {"name": name, "sum": flat.sum().item(), "sumsq": (flat * flat).sum().item(),
            "at": [flat[i].item() for i in idx]}


def make_optimizer(kind, params):
    """foreach=False: the per-tensor code path (PyTorch's default on CPU anyway), as LibTorch's."""
    o = OPTIMIZERS[kind]
    if kind == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"],
                                weight_decay=o["weight_decay"], foreach=False)
    return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"], dampening=o["dampening"],
                           nesterov=o["nesterov"], weight_decay=o["weight_decay"], foreach=False)


def train(model_name, kind):
    # No dropout, no stochastic depth (pepr's defaults; ghostnet takes no drop_path_rate).
    kwargs = {"num_classes": NUM_CLASSES, "drop_rate": 0.0}
    if model_name != "ghostnet_100":
        kwargs["drop_path_rate"] = 0.0
    model = timm.create_model(model_name, pretrained=False, **kwargs)
    model = model.to(torch.float64)
    fill_by_rule(model)
    model.train()
    image = IMAGE_BY_MODEL.get(model_name, IMAGE)
    opt = make_optimizer(kind, model.parameters())
    losses = []
    for k in range(STEPS):
        x, y = batch(k, image)
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "model": model_name,
        "optimizer": kind,
        "optimizer_settings": OPTIMIZERS[kind],
        "torch": torch.__version__,
        "timm": timm.__version__,
        "dtype": "float64",
        "device": "cpu",
        "num_classes": NUM_CLASSES,
        "batch": BATCH,
        "image": list(image),
        "steps": STEPS,
        "fingerprint_points": FINGERPRINT_POINTS,
        "rules": {
            "weights": "fill rule of ../shared/data/timm-reference/README.md (float32 values)",
            "images": "batch k: element j = 2u-1 of splitmix64 at j, seed FNV-1a('batch<k>')",
            "labels": "batch k, image i: (k * batch + i) * 7 % num_classes",
            "fingerprint": "sum, sum of squares, elements at splitmix64(FNV-1a(name), j) % numel "
                           "for j < fingerprint_points; integer buffers in full",
            "step": "train mode; zero_grad, cross_entropy (mean), backward, step",
        },
        "losses": losses,
        "state_dict": [fingerprint(n, t) for n, t in model.state_dict().items()],
    }


def check_forward(shared):
    ref = json.loads((shared / "resnet18.json").read_text())
    model = timm.create_model("resnet18", pretrained=False)
    fill_by_rule(model)
    model.eval()
    c, h, w = ref["input_size"]
    x = (2.0 * unit(fnv1a64("input"), 2 * c * h * w) - 1.0).astype(np.float32)
    with torch.no_grad():
        out = model(torch.from_numpy(x.reshape(2, c, h, w)))
    want = torch.tensor(ref["logits"])
    diff = (out - want).abs().max().item()
    tol = 1e-3 * max(1.0, want.abs().max().item())
    print(f"forward check resnet18: max |diff| {diff:.3g} (tolerance {tol:.3g})")
    if diff > tol:
        sys.exit("the fill rule does not reproduce timm's recorded logits")


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=root / "tests/models/train_reference")
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--check-forward", action="store_true")
    ap.add_argument("--shared", type=pathlib.Path,
                    default=root.parent / "shared/data/timm-reference")
    args = ap.parse_args()
    torch.set_num_threads(1)  # one reduction order, whatever the machine
    if args.check_forward:
        check_forward(args.shared)
    args.out.mkdir(parents=True, exist_ok=True)
    for m in args.models:
        for kind in OPTIMIZERS:
            rec = train(m, kind)
            path = args.out / f"{m}_{kind}.json"
            text = json.dumps(rec, separators=(",", ":"))
            path.write_text(text.replace('{"name"', '\n{"name"') + "\n")
            print(f"{path.name}: losses {rec['losses'][0]:.6f} .. {rec['losses'][-1]:.6f}, "
                  f"{len(rec['state_dict'])} entries, {len(text) // 1024} KiB")


if __name__ == "__main__":
    main()
