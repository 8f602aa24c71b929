#!/usr/bin/python3
"""Train the small Fashion-MNIST demo models and export them to ONNX.

Run with Debian's interpreter (python3-torch, python3-onnx):
    /usr/bin/python3 tools/train_fmnist.py --out demo

Input contract (matches qconvert's default preprocessing, scale 1/255):
    input  "input"  float32 [N,1,28,28], pixel/255, no mean/std
    output "logits" float32 [N,10]

BatchNormalization is kept in the graph (PRESERVE + no constant folding) so
qconvert's BN folding is exercised; the model is in eval() mode so BN uses
running statistics.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 1234
SUBSET = 256  # first SUBSET test images: accuracy also recorded for quick tests


def read_idx(path):
    """Minimal IDX reader (ubyte only), handles .gz."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    n = int(np.prod(dims))
    if len(data) - off < n:
        raise ValueError(f"{path}: truncated")
    return np.frombuffer(data, np.uint8, n, off).reshape(dims)


def load_split(split):
    pre = "train" if split == "train" else "t10k"
    x = read_idx(f"{DATA_DIR}/{pre}-images-idx3-ubyte.gz")
    y = read_idx(f"{DATA_DIR}/{pre}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


def conv_bn(cin, cout, k=3, stride=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class CNN(nn.Module):
    """Classic MNIST CNN: conv 32, conv 64, two pools, fc 128 (~1.7 MB).

    The widths are chosen so that layers with hundreds of inputs per output
    channel dominate, as in real CNNs; see docs/demo.md ("Why these widths").
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 32), nn.MaxPool2d(2),    # 14x14
            conv_bn(32, 64), nn.MaxPool2d(2))   # 7x7
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return self.fc2(self.drop(F.relu(self.fc1(x))))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn(cin, cout, stride=stride)
        self.b = conv_bn(cout, cout, act=None)
        # 1x1 projection when the shape changes, identity otherwise.
        self.skip = (conv_bn(cin, cout, k=1, stride=stride, act=None)
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return F.relu(self.b(self.a(x)) + self.skip(x))


class ResNet(nn.Module):
    """Strided stem, two residual blocks (identity and projection skip), fc head (~1.9 MB)."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 32, stride=2)       # 14x14
        self.block1 = ResBlock(32, 32, 1)          # 14x14, identity skip
        self.block2 = ResBlock(32, 64, 2)          # 7x7, 1x1 projection skip
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class DWNet(nn.Module):
    """Depthwise-separable convs (depthwise 3x3 groups=C + pointwise 1x1, each
    BN + HardSwish), fc head (~1.6 MB).

    Strided stem: depthwise convs are slow on CPU in torch, and 14x14 keeps
    training to a few minutes. Layers are direct attributes (not nested
    Sequentials) so the exported tensor names stay short.
    """

    def __init__(self):
        super().__init__()
        hs = nn.Hardswish
        self.stem = conv_bn(1, 32, stride=2, act=hs)                  # 14x14
        self.dw1 = conv_bn(32, 32, groups=32, act=hs)                 # 14x14
        self.pw1 = conv_bn(32, 64, k=1, act=hs)
        self.dw2 = conv_bn(64, 64, stride=2, groups=64, act=hs)       # 7x7
        self.pw2 = conv_bn(64, 64, k=1, act=hs)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.act = hs()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pw2(self.dw2(self.pw1(self.dw1(self.stem(x)))))
        return self.fc2(self.act(self.fc1(torch.flatten(x, 1))))


# name -> (constructor, opset). HardSwish only exists as an ONNX op from
# opset 14; at 13 torch decomposes it, so dwnet is exported at 14.
MODELS = {
    "fmnist_cnn": (CNN, 13),
    "fmnist_resnet": (ResNet, 13),
    "fmnist_dwnet": (DWNet, 14),
}


def evaluate(model, x, y, bs=1000):
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), bs):
            preds.append(model(x[i:i + bs]).argmax(1))
    correct = (torch.cat(preds) == y)
    return correct.float().mean().item(), correct[:SUBSET].float().mean().item()


def train(name, epochs, xtr, ytr, xte, yte):
    torch.manual_seed(SEED)
    ctor, opset = MODELS[name]
    model = ctor()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * ((len(xtr) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(SEED)
    for ep in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc, _ = evaluate(model, xte, yte)
        print(f"{name}: epoch {ep + 1}/{epochs} loss {loss.item():.3f} "
              f"test acc {acc:.4f} ({time.time() - t0:.0f}s)", flush=True)
    return model, opset


def export(model, opset, path):
    model.eval()  # BN running stats, Dropout off
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), path,
        opset_version=opset,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = {n.op_type for n in m.graph.node}
    if "BatchNormalization" not in ops:
        sys.exit(f"{path}: BatchNormalization was folded away")
    return sorted(ops)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="demo")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    xtr, ytr = load_split("train")
    xte, yte = load_split("test")
    for name in args.models.split(","):
        if name not in MODELS:
            sys.exit(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
        model, opset = train(name, args.epochs, xtr, ytr, xte, yte)
        acc, acc_sub = evaluate(model, xte, yte)
        onnx_path = os.path.join(args.out, name + ".onnx")
        ops = export(model, opset, onnx_path)
        meta = {
            "model": name, "opset": opset, "seed": SEED, "epochs": args.epochs,
            "test_accuracy": round(acc, 4),
            "subset": SUBSET, "subset_accuracy": round(acc_sub, 4),
            "preprocessing": "pixel/255, no mean/std",
            "input": "input [N,1,28,28] float32", "output": "logits [N,10] float32",
            "torch": torch.__version__, "ops": ops,
        }
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        print(f"{name}: wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), "
              f"test acc {acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
