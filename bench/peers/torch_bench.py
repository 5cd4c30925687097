"""PyTorch peer of the engine's benchmarks: the same networks, batch sizes and steps in fp32.

Called by bench/cnn.ts, bench/vgg.ts and bench/device.sh as a subprocess, in the same run
as the engine; prints one JSON line per benchmark (the last line is what the caller reads).

    python3 bench/peers/torch_bench.py [--device cpu|cuda] [--threads N] [--quick]
        fashion|scene|vgg|matmul ...

- fashion: Conv16-ReLU-MaxPool-Conv32-ReLU-MaxPool-FC128-ReLU-FC10-LogSoftmax, NLL, Adam
  1e-3, random 28x28x1 input, batch 64 (models/nets.ts fashionCnn).
- scene: 3 x (conv5 + BatchNorm + ReLU + AvgPool 3), FC 144-4000-4000-1000-6 with
  BatchNorm1d, ReLU and Dropout 0.5, LogSoftmax, NLL, Adam, 150x150x3, batch 16
  (models/nets.ts sceneCnn).
- vgg: VGG16's 13 convolutions and 5 max pools (torchvision's "D" features), inference,
  150x150, batch 8 (bench/vgg.ts).
- matmul: n x n products A.B, A.B^T, A^T.B (n = 1024), GFLOP/s.

Threads default to the machine's cores; on CUDA, TF32 is off (fp32 products) and cuDNN
picks its fastest algorithms (benchmark mode), which is PyTorch at its fastest.
Works with PyTorch 1.13 (Debian) and 2.x.
"""

import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except Exception as e:  # noqa: BLE001 - report any import failure as one JSON line
    print(json.dumps({"peer": "pytorch", "error": f"import torch failed: {e}"}))
    sys.exit(0)


def fashion_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10),
        nn.LogSoftmax(dim=1),
    )


def scene_cnn(classes=6):
    def block(i, o):
        return [nn.Conv2d(i, o, 5), nn.BatchNorm2d(o), nn.ReLU(), nn.AvgPool2d(3, 3)]

    return nn.Sequential(
        *block(3, 64), *block(64, 32), *block(32, 16), nn.Flatten(),
        nn.Linear(144, 4000), nn.BatchNorm1d(4000), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4000, 4000), nn.BatchNorm1d(4000), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4000, 1000), nn.BatchNorm1d(1000), nn.ReLU(),
        nn.Linear(1000, classes), nn.LogSoftmax(dim=1),
    )


VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_features():
    layers, ch = [], 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(ch, v, 3, padding=1), nn.ReLU(inplace=True)]
            ch = v
    return nn.Sequential(*layers)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, items, steps, rounds):
    """Items per second: median over `rounds` of `steps` calls between two syncs."""
    rates = []
    for _ in range(rounds):
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync(dev)
        rates.append(items * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def train_bench(name, model, shape, batch, classes, steps, rounds, dev):
    torch.manual_seed(0)
    model = model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, *shape, device=dev)
    y = torch.randint(0, classes, (batch,), device=dev)
    loss_fn = nn.NLLLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    ips = timed(step, dev, batch, steps, rounds)
    return {"bench": name, "batch": batch, "imagesPerSec": ips}


def vgg_bench(size, batch, steps, rounds, dev):
    torch.manual_seed(0)
    net = vgg16_features().to(dev).eval()
    x = torch.rand(batch, 3, size, size, device=dev) * 4 - 2
    with torch.no_grad():
        net(x)
        ips = timed(lambda: net(x), dev, batch, steps, rounds)
    return {"bench": "vgg16-features", "size": size, "batch": batch, "imagesPerSec": ips}


def matmul_bench(n, rounds, dev):
    torch.manual_seed(0)
    a = torch.rand(n, n, device=dev) * 2 - 1
    b = torch.rand(n, n, device=dev) * 2 - 1
    forms = {"A.B": lambda: a @ b, "A.B^T": lambda: a @ b.t(), "A^T.B": lambda: a.t() @ b}
    out = {"bench": "matmul", "n": n}
    for k, f in forms.items():
        f()
        sync(dev)
        t0 = time.perf_counter()
        f()
        sync(dev)
        once = time.perf_counter() - t0
        reps = max(1, min(200, round(0.3 / max(once, 1e-6))))
        out[k] = timed(f, dev, 2 * n**3 / 1e9, reps, rounds)  # GFLOP/s
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("benches", nargs="+", choices=["fashion", "scene", "vgg", "matmul"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke test)")
    ap.add_argument("--vgg-size", type=int, default=150)
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            print(json.dumps({"peer": "pytorch", "error": "CUDA is not available"}))
            return
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(a.threads)
    cfg = torch.__config__.show()
    blas = next((p.split("=")[1] for p in cfg.replace(",", " ").split() if "BLAS_INFO=" in p), "?")
    meta = {
        "peer": "pytorch",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "blas": blas,
        "fp32": True,
    }
    q = a.quick
    for b in a.benches:
        try:
            if b == "fashion":
                r = train_bench("fashion-cnn", fashion_cnn(), (1, 28, 28), 64, 10,
                                3 if q else (100 if dev.type == "cuda" else 20), 1 if q else 3, dev)
            elif b == "scene":
                r = train_bench("scene-cnn", scene_cnn(), (3, 150, 150), 16, 6,
                                1 if q else (50 if dev.type == "cuda" else 3), 1 if q else 3, dev)
            elif b == "vgg":
                r = vgg_bench(a.vgg_size, 8, 1 if q else (20 if dev.type == "cuda" else 2),
                              1 if q else 3, dev)
            else:
                r = matmul_bench(256 if q else 1024, 1 if q else 3, dev)
        except Exception as e:  # noqa: BLE001 - one failing bench must not hide the others
            r = {"bench": b, "error": str(e).splitlines()[0] if str(e) else repr(e)}
        print(json.dumps({**meta, **r}), flush=True)


if __name__ == "__main__":
    main()
