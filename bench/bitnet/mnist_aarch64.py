"""The MNIST-5k CNN quantized by ronn-aot, cross-compiled for aarch64 and run under qemu-user with
a cross-built runtime_min, against the same model compiled for this host.

    .venv/bin/python bench/bitnet/mnist_aarch64.py [--images 100]

Needs build/bitnet/mnist_cnn_qat_*.onnx from bench/bitnet/mnist_cnn.py. Prints, per mode, the
accuracy under qemu, the agreement of predictions with the host artifact, and the largest
difference of logits.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import ronn_aot
from ronn_aot.tools.runtime_build import build_runtime
from ronn_aot.targets import get_target

MODES = {"ternary": ("ternary", 8), "binary-xnor": ("binary", 1)}
HERE = Path(__file__).resolve().parent


def main() -> None:
    import sys

    sys.path.insert(0, str(HERE))
    from mnist_cnn import load_mnist

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("build/bitnet"))
    ap.add_argument("--images", type=int, default=100)
    args = ap.parse_args()
    target = get_target("aarch64")
    prefix = target.run.command_prefix(target.arch)
    if prefix is None:
        raise SystemExit("qemu-aarch64 not found: apt-get install qemu-user")
    ronn_run = build_runtime(target).ronn_run
    _, _, xte, yte = load_mnist()
    xte, yte = xte[:args.images], yte[:args.images]
    for name, (weights, bits) in MODES.items():
        onnx_path = args.out / f"mnist_cnn_qat_{name}.onnx"
        opts = ronn_aot.CompileOptions().with_bitnet(weights, bits)
        arm = ronn_aot.compile(onnx_path, opts.with_target("aarch64").with_output(args.out / f"mnist_{name}_aarch64.so"))
        host = ronn_aot.compile(onnx_path, opts.with_output(args.out / f"mnist_{name}_host.so"))
        sess = host.session(num_threads=1)
        preds_arm, preds_host, diff = [], [], 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(len(xte)):
                x = xte[i:i + 1]
                np.save(f"{tmp}/x.npy", x)
                subprocess.run([*prefix, str(ronn_run), str(arm.path), "--input", f"x={tmp}/x.npy",
                                "--output-dir", tmp], check=True, capture_output=True)
                out_arm = np.load(f"{tmp}/{arm.output_names[0]}.npy")
                out_host = sess.run(None, {"x": x})[0]
                diff = max(diff, float(np.abs(out_arm - out_host).max()))
                preds_arm.append(int(out_arm.argmax()))
                preds_host.append(int(out_host.argmax()))
        pa, ph = np.array(preds_arm), np.array(preds_host)
        print(f"{name:<12} aarch64 (qemu) accuracy {float((pa == yte).mean()):.3f}, host {float((ph == yte).mean()):.3f}, "
              f"predictions agree {float((pa == ph).mean()):.3f}, max |logit diff| {diff:.2e} on {len(xte)} images")


if __name__ == "__main__":
    main()
