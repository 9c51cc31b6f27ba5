#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<harness>/ (standard library only; the JPEG
seeds are committed files, see below). Run from anywhere; rewrites the seeds.
The first lines of ../shared/data/pepr-paper/all_results.csv become a CSV seed when present."""
import json
import pathlib
import shutil
import struct
import subprocess
import zipfile
import zlib

root = pathlib.Path(__file__).resolve().parent / "corpus"


def out(harness, name, data):
    d = root / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# ---- CSV
out("fuzz_csv", "simple.csv", "model,energy_kwh,acc\na,0.1,0.7\nb,0.25,0.8\n")
out("fuzz_csv", "quoted.csv",
    'name,note,x\n"a, b","he said ""hi""",1\n"multi\nline",  spaced  ,-2.5e3\n,,\n')
out("fuzz_csv", "crlf_missing.csv", "a,b,c\r\n1,,3\r\n4,5,6\r\n")
out("fuzz_csv", "one_column.csv", "only\n1\n\n2\n")
out("fuzz_csv", "numbers.csv", "v,w\n+1,inf\nnan,1e308\n0x10, 7 \n-0,1e-320\n")
paper = pathlib.Path(__file__).resolve().parents[3] / "shared/data/pepr-paper/all_results.csv"
if paper.exists():
    out("fuzz_csv", "paper_head.csv", b"".join(paper.read_bytes().splitlines(True)[:3]))


# ---- NPY
def npy(descr, shape, data, fortran=False):
    shape_txt = "(" + "".join(f"{s}, " for s in shape)[:-2] + ("," if len(shape) == 1 else "") + ")"
    if not shape:
        shape_txt = "()"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_txt)
    pad = 64 - (10 + len(d) + 1) % 64
    header = (d + " " * pad + "\n").encode()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


out("fuzz_npy", "u1_2x3.npy", npy("|u1", [2, 3], bytes(range(6))))
out("fuzz_npy", "i8_3.npy", npy("<i8", [3], struct.pack("<3q", 0, 1, -7)))
out("fuzz_npy", "f4_be_fortran.npy", npy(">f4", [2, 2], struct.pack(">4f", 1, 2, 3, 4), True))
out("fuzz_npy", "b1_scalar.npy", npy("|b1", [], b"\x01"))
out("fuzz_npy", "u2_empty.npy", npy("<u2", [0, 5], b""))


# ---- NPZ: MedMNIST layout, 2 images of 4x4 per split, two classes
def npz(path_name, compress, rgb=False):
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    tmp = root / "_tmp.npz"
    with zipfile.ZipFile(tmp, "w", method) as z:
        for sp in ("train", "val", "test"):
            shape = [2, 4, 4, 3] if rgb else [2, 4, 4]
            n = 1
            for s in shape:
                n *= s
            z.writestr(sp + "_images.npy", npy("|u1", shape, bytes((i * 7) % 256 for i in range(n))))
            z.writestr(sp + "_labels.npy", npy("|u1", [2, 1], b"\x00\x01"))
    data = tmp.read_bytes()
    tmp.unlink()
    out("fuzz_npz", path_name, data)


npz("stored.npz", False)
npz("deflated.npz", True)
npz("rgb_deflated.npz", True, rgb=True)


# ---- PNG (zlib by hand) and JPEG (ImageMagick, when present)
def png(w, h, color_type, bit_depth, rows, palette=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + r for r in rows)
    s = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if palette:
        s += chunk(b"PLTE", palette)
    return s + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


out("fuzz_image", "gray_4x4.png", png(4, 4, 0, 8, [bytes(range(r * 4, r * 4 + 4)) for r in range(4)]))
out("fuzz_image", "rgb_3x2.png", png(3, 2, 2, 8, [bytes(range(9)), bytes(range(9, 18))]))
out("fuzz_image", "rgba_2x2.png", png(2, 2, 6, 8, [bytes(8), bytes(range(8))]))
out("fuzz_image", "palette_2x2.png", png(2, 2, 3, 8, [b"\x00\x01", b"\x01\x00"], b"\xff\x00\x00\x00\x00\xff"))
out("fuzz_image", "gray16_2x1.png", png(2, 1, 0, 16, [b"\x12\x34\xff\xff"]))
# The JPEG seeds (*.jpg: 8x8 gray and RGB, 16x8 RGB progressive) were written once with libjpeg
# (quality 75, optimised Huffman tables) and are kept
# as they are: the standard library has no JPEG encoder.


# ---- safetensors
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


out("fuzz_safetensors", "two.safetensors", safetensors(
    [("a.weight", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)), ("a.bias", "I64", [1], struct.pack("<q", 5))],
    {"format": "pt"}))
out("fuzz_safetensors", "scalar_empty.safetensors", safetensors(
    [("s", "BF16", [], b"\x80\x3f"), ("e", "U8", [0, 3], b"")]))
out("fuzz_safetensors", "dtypes.safetensors", safetensors(
    [("h", "F16", [1], b"\x00\x3c"), ("b", "BOOL", [2], b"\x01\x00"), ("d", "F64", [1], struct.pack("<d", 2.5)),
     ("i", "I8", [1], b"\xff"), ("j", "I16", [1], b"\x01\x00"), ("k", "I32", [1], b"\x01\x00\x00\x00")]))
out("fuzz_safetensors", "empty.safetensors", safetensors([]))

# ---- sweep plans
examples = pathlib.Path(__file__).resolve().parents[2] / "examples/plan.toml"
if examples.exists():
    out("fuzz_plan", "example.toml", examples.read_bytes())
out("fuzz_plan", "filter.toml", """[sweep]
name = "f"
epochs = 1
seeds = [0, 1]
train_fractions = [1.0, 0.25]
regimes = ["scratch", "pretrained"]
device = "cpu"
precision = "bf16"
[models]
max_params = 6e6
efficient = 1
type = "CNN"
[[datasets]]
pull = "pneumoniamnist"
[[datasets]]
name = "local"
file = "data/x.npz"
""")
out("fuzz_plan", "names.toml", """[sweep]
lr = 1e-3
batch_size = 8
optimizer = "sgd"
image_size = 32
train_args = ["--threads", "1"]
[models]
names = ["resnet18", "models/m.pt"]
[[datasets]]
name = "s"
synth = true
synth_args = ["--classes", "3"]
""")

# ---- carbon: run records as `pepr track -o` writes them
out("fuzz_carbon", "record.json", json.dumps({
    "command": ["sleep", "1"], "total": {"energy_raw_j": 12.5, "idle_j": 3.0, "time_s": 1.0},
    "intervals": [{"energy_raw_j": 6.0, "idle_j": 1.5}, {"energy_raw_j": 6.5}],
    "carbon": {"intensity_g_per_kwh": 480, "pue": 1.0}}, indent=1))
out("fuzz_carbon", "minimal.json", '{"total": {"energy_raw_j": 3.6e6}}')
out("fuzz_carbon", "no_intervals.json", '{"total": {"energy_raw_j": 0}, "intervals": []}')
out("fuzz_carbon", "country_dk.txt", "DK")
out("fuzz_carbon", "country_fr.txt", "fr")

# ---- tegrastats: its lines on L4T 32 (mW without a unit) and 34+ ("mW")
out("fuzz_tegrastats", "l4t32.txt",
    "RAM 1552/3964MB (lfb 118x4MB) SWAP 0/1982MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
    "CPU [3%@102,2%@102] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25 PLL@21.5C "
    "POM_5V_IN 2048/2048 POM_5V_GPU 0/0 POM_5V_CPU 409/409\n")
out("fuzz_tegrastats", "l4t35.txt",
    "12-06-2026 21:00:00 RAM 2232/7620MB CPU [2%@729,off] VDD_IN 4752mW/4000mW "
    "VDD_CPU_GPU_CV 557mW/600mW VDD_SOC 1354mW/1354mW\n")

# ---- run configurations: command lines (one argument per line) and JSON
out("fuzz_run_config", "args.txt", "\n".join([
    "-m", "resnet18", "--data=x.npz", "-e", "3", "--precision", "bf16", "--deterministic",
    "--lr", "0.001", "--max-time-s", "60", "-o", "run.json"]))
out("fuzz_run_config", "config.json", json.dumps({
    "model": "resnet18", "data": "x.npz", "epochs": 3, "optimizer": "sgd", "momentum": 0.9,
    "seed": 7, "max_energy_wh": None, "memory_format": "channels_last"}))

# ---- run records: one with every section (members of each type), and two written by pepr
out("fuzz_run_record", "sections.json", json.dumps({
    "schema": "pepr.run/1", "run_id": "r", "status": "pruned", "error": None,
    "stop_reason": "pruned", "config": {"model": "m", "seed": 1, "lr": 5e-4, "pretrained": False},
    "model": {"params": 3, "efficient": 1}, "data": {"train_samples": 9, "placement": "host"},
    "environment": {"meter_methods": {"cpu": "estimate"}}, "weights": None, "meter": {},
    "epochs": [{"epoch": 1, "test_acc": None, "energy_kwh": 1, "later": [1]}],
    "totals": {"energy_kwh": 0.0}, "budget": {"predicted_energy_kwh": 2e-6},
    "probe": {"test_acc": 0.5}, "pruned": {"reason": "x", "top_k": 3},
    "sweep": {"argv": ["pepr", "train"], "attempt": 2, "wall_s": 1}, "unknown": True}))
records = pathlib.Path(__file__).resolve().parents[1] / "run" / "records"
for name in ("completed.json", "sweep-probed.json"):
    if (records / name).exists():
        out("fuzz_run_record", name, (records / name).read_bytes())
