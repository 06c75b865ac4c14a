"""MNIST-5k accuracy with calibrated (fixed) activation scales vs run-time (per-image) scales,
on the models `mnist_cnn.py` saved (it trains them; this script only compiles and evaluates).

Calibration measures each layer's input either in the quantized network (the default of
`calibrate` and of `--bitnet-calibration`: what the kernels measure at run time, averaged) or in
the float model (`calibrate(..., network="float")`); both are reported.

    .venv/bin/python bench/bitnet/mnist_calibration.py [--models build/bitnet] [--samples 16,128]

Calibration images come from the training split (the first N of it), accuracy is measured on the
held-out split, through runtime_min, one image at a time, exactly as in `mnist_cnn.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist_cnn import MODES, accuracy, load_mnist  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=Path("build/bitnet"), help="where mnist_cnn.py saved the models")
    ap.add_argument("--out", type=Path, default=Path("build/bitnet/calibration"))
    ap.add_argument("--samples", default="16,128", help="calibration set sizes, comma-separated")
    ap.add_argument("--target", default="host")
    args = ap.parse_args()
    import ronn_aot
    from ronn_aot.bitnet import BitnetConfig
    from ronn_aot.bitnet.calibrate import calibrate

    fp_onnx = args.models / "mnist_cnn.onnx"
    if not fp_onnx.is_file():
        sys.exit(f"{fp_onnx} not found: run bench/bitnet/mnist_cnn.py first")
    args.out.mkdir(parents=True, exist_ok=True)
    xtr, _, xte, yte = load_mnist()
    sizes = [int(s) for s in args.samples.split(",")]
    base = ronn_aot.CompileOptions().with_target(args.target)

    def acc(onnx_path: Path, name: str, mode: tuple[str, int] | None, calibration: list | None = None) -> float:
        opts = base.with_output(args.out / f"{name}.so")
        if mode is not None:
            opts = opts.with_bitnet(mode[0], mode[1], calibration=calibration)
        art = ronn_aot.compile(onnx_path, opts)
        return accuracy(art.path, xte, yte)[0]

    t0 = time.perf_counter()
    fp_acc = acc(fp_onnx, "fp32", None)
    rows = []
    for how, model_of in (("PTQ", lambda n: fp_onnx), ("QAT", lambda n: args.models / f"mnist_cnn_qat_{n}.onnx")):
        for name, mode in MODES.items():
            path = model_of(name)
            if not path.is_file():
                print(f"skipping {name} {how}: {path} not found")
                continue
            row = [acc(path, f"{name}_{how}_runtime", mode)]
            for n in sizes:
                feeds = [{"x": xtr[i:i + 1]} for i in range(n)]
                row.append(acc(path, f"{name}_{how}_cal{n}", mode, feeds))  # measured in the quantized network
                stats = calibrate(path, feeds, BitnetConfig(*mode), network="float")
                row.append(acc(path, f"{name}_{how}_fcal{n}", mode, list(stats)))
            rows.append((name, how, row))

    print(f"\nMNIST-5k, {len(xte)} held-out images, batch 1, target {args.target}; fp32 {fp_acc:.4f} "
          f"({time.perf_counter() - t0:.0f} s)")
    print("activation scales: per image at run time, or calibrated on the first N training images, measured in\n"
          "the quantized network (cal, the default) or in the float model (float cal)")
    head = "".join(f"{'cal ' + str(n):>10}{'float cal ' + str(n):>14}" for n in sizes)
    print(f"{'mode':<13}{'how':<5}{'run time':>10}{head}")
    for name, how, row in rows:
        print(f"{name:<13}{how:<5}{row[0]:>10.4f}"
              + "".join(f"{a:>10.4f}{b:>14.4f}" for a, b in zip(row[1::2], row[2::2])))


if __name__ == "__main__":
    main()
