"""System 1 / System 2 on a suite CNN with agreement-based routing (no labels): the bench.dual
report (agreement, fast fraction, latency in C against fp32, bytes, the threshold curve) for
EfficientNet-Lite0 on real photos.

    python -m bench.dual_suite efficientnet-lite0 [--layers 32,33 [-- more choices...]]
        [--min-agreement 0.99] [--weights ternary] [--router confidence] [--per-photo 24]
        [--threads 2] [--c-passes 3] --target x86_64-avx512 --out build/dual/effnet

Inputs: bench/dual_photos.py (scikit-image's and scikit-learn's photos, each expanded into
--per-photo random views); the router is calibrated on the views of one half of the photos and
everything is measured on the views of the other half (split by photo and kind of photo, so no
held-out input is a near-copy of a calibration one). There are no ImageNet labels here: quality
is top-1 agreement with System 2 (the fp32 model), the quantity the router is calibrated for.

--layers: one or more System 1 layer choices (each as --bitnet-layers takes it: "default", "all"
or indices over the model's quantizable layers, Conv with groups 1 / Gemm / MatMul in graph
order, negative from the end; EfficientNet-Lite0 has 34: 0 the stem conv, 1..31 the blocks' 1x1
expand / project convs, 32 the head 1x1 conv, 33 the classifier; the depthwise convs are not
quantizable). Each choice gets its own System 1 artifact, dual artifact and report; a table
compares them at the end. `--sensitivity STEP` prints instead how far each layer alone moves the
top-1 answers (a weight-only simulation in onnxruntime).

Compiles and timings can be split, so that the timings run on a quiet machine and the compiles do
not: `--stop-after system1` (compile), `--reuse --stop-after costs` (time the router's cost
model), `--reuse --stop-after dual` (compile the dual artifact with it), `--reuse` (measure).
The report goes to OUT/report_<choices>_<weights>_<min agreement>.txt (and .json); each choice's
artifacts and threshold curve (curve_<dual artifact>.png) to OUT/layers_<choice>/.

Latency (the issue's metric): the mean per input, batch 1, in runtime_min's own loop
(bench/dual_timer.c, bench.dual's `_c_timing`: each artifact in a process of its own, the order
rotating over --c-passes passes). The router's cost model is each system's mean in C on the
first 64 calibration inputs, measured the same way before the dual compile.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench import dual_photos
from bench.dual import _c_timing

# The suite's CNNs with trained weights (agreement on photos says nothing for random weights: the
# suite's mobilenetv2-224 has random ones, bench/models/export.py).
MODELS = ("efficientnet-lite0",)


def _model_path(name: str) -> Path:
    from bench.suite import SUITE

    path = SUITE[name]
    if not path.is_file():
        raise SystemExit(f"{path} is missing: `python -m bench.models.export` writes the suite's exported models")
    return path


def _input_name(model: Path) -> str:
    import onnx

    m = onnx.load(str(model), load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    return next(i.name for i in m.graph.input if i.name not in init)


def _layers_arg(text: str) -> Any:
    from ronn_aot.bitnet import parse_layers

    return parse_layers(text)


def _outputs(path: Path, name: str, xs: np.ndarray, threads: int, route: str | None = None) -> tuple[np.ndarray, Any]:
    """Output 0 of every input (one run each) and the session (for its route counts)."""
    import ronn_runtime

    sess = ronn_runtime.InferenceSession(str(path), num_threads=threads)
    outs = [sess.run(None, {name: xs[i]}, route=route)[0] if route else sess.run(None, {name: xs[i]})[0]
            for i in range(len(xs))]
    return np.concatenate(outs), sess


STAGES = ("system1", "costs", "dual", "measure")


def _compiled(path: Path, reuse: bool, build: Any) -> Path:
    """`path`, compiled by `build(path)` unless --reuse finds it there."""
    if reuse and path.is_file():
        return path
    return build(path)


def run_choice(args: argparse.Namespace, model: Path, name: str, fp32: Path, data: dict[str, np.ndarray],
               layers: Any) -> dict[str, Any] | None:
    """One System 1 layer choice: its BitNet artifact, dual artifact and measurements (None when
    --stop-after ends it early)."""
    import ronn_aot
    from ronn_aot.artifact.inspect import inspect_artifact
    from ronn_aot.dual import signals
    from ronn_aot.dual.sweep import plot, route_sweep

    tag = "default" if layers is None else ("all" if layers == "all" else "_".join(str(i) for i in layers))
    xc, xh = data["cal"], data["held"]
    # System 1's activation scales: per input at run time, or fixed on the first N calibration inputs
    scales = [{name: xc[i]} for i in range(args.fixed_scales)] or None
    if scales:
        tag += f"_fixed{args.fixed_scales}"
    out = args.out / f"layers_{tag}"
    out.mkdir(parents=True, exist_ok=True)
    base = ronn_aot.CompileOptions().with_target(args.target)
    bitnet = _compiled(out / f"system1_{args.weights}.so", args.reuse, lambda p: ronn_aot.compile(
        model, base.with_output(p).with_bitnet(args.weights, layers=layers, kernel=args.kernel,
                                               calibration=scales)).path)
    if args.stop_after == "system1":
        return None
    quantized = inspect_artifact(bitnet).metadata.get("bitnet", {})
    # The router's cost model: each system's mean per input in C (a deployed run's cost), on the
    # first 64 calibration inputs.
    costs_file = out / f"costs_{args.weights}.json"
    if args.reuse and costs_file.is_file():
        latency = tuple(json.loads(costs_file.read_text()))
    else:
        costs = _c_timing(out, {"fp32": str(fp32), "system1": str(bitnet)}, xc[:64, 0], args.threads, 3)
        latency = (costs["system1"]["mean_ms"], costs["fp32"]["mean_ms"])
        costs_file.write_text(json.dumps(latency))
    if args.stop_after == "costs":
        return None
    what_if = ""
    if args.assume_system1_cost is not None:  # a what-if cost model: System 2 measured, System 1 scaled
        latency = (args.assume_system1_cost * latency[1], latency[1])
        what_if = f"_assume{args.assume_system1_cost:g}"
    dual = _compiled(out / f"dual_{args.weights}_{args.router}_{args.min_agreement:g}{what_if}.so", args.reuse,
                     lambda p: ronn_aot.compile(model, base.with_output(p).with_dual(
                         args.weights, args.router, args.out / "cal.npz", args.min_agreement, layers=layers,
                         kernel=args.kernel, latency_ms=latency, bitnet_calibration=scales)).path)
    if args.stop_after == "dual":
        return None
    info = inspect_artifact(dual)
    cal_stats = info.metadata["dual"]["calibration"]

    full_h, _ = _outputs(fp32, name, xh, args.threads)
    fast_h, _ = _outputs(bitnet, name, xh, args.threads)
    auto_h, sess = _outputs(dual, name, xh, args.threads, "auto")
    counts = dict(sess.route_counts)
    ref = full_h.argmax(1)
    agreement = {k: float((v.argmax(1) == ref).mean()) for k, v in
                 (("fp32", full_h), ("system1", fast_h), ("auto", auto_h))}
    c = _c_timing(out, {"fp32": str(fp32), "system1": str(bitnet), "auto": f"{dual}@auto",
                        "dual_fast": f"{dual}@fast", "dual_full": f"{dual}@full"}, xh[:, 0], args.threads,
                  args.c_passes)
    for key, outs in (("fp32", full_h), ("system1", fast_h), ("auto", auto_h)):
        if not np.array_equal(c[key]["argmax"], outs.argmax(1)):
            raise SystemExit(f"bench.dual_suite: {key}'s answers differ between the C driver and the binding")
    c_mean = {k: v["mean_ms"] for k, v in c.items()}
    round_ratio = {k: np.array(v["round_ms"]) / np.array(c["fp32"]["round_ms"]) for k, v in c.items()}
    cc = c["auto"]["counts"]
    sizes = {"fp32": fp32.stat().st_size, "system1": bitnet.stat().st_size, "dual": dual.stat().st_size}
    # The curve: `ronn-aot bench DUAL.so --route-sweep heldout.npz --plot curve.png`, in-process.
    sweep = route_sweep(dual, args.out / "heldout.npz", threads=args.threads)
    curve = out / f"curve_{dual.stem}.png"
    plot(sweep, curve)
    # System 1's own top-1 agreement with System 2 on the held-out inputs, by kind of photo.
    kinds = {}
    for kind, scenes in dual_photos.KINDS.items():
        mask = np.isin(np.array(data["held_scene"]), scenes)
        if mask.any():
            kinds[kind] = {"inputs": int(mask.sum()),
                           "system1": float((fast_h[mask].argmax(1) == ref[mask]).mean()),
                           "auto": float((auto_h[mask].argmax(1) == ref[mask]).mean())}
    return {
        "layers": tag,
        "quantized": (f"{len(quantized['quantized_layers'])} of {quantized['quantizable_layers']} quantizable layers, "
                      f"{quantized['mode']} (scales: {quantized['activation_stats']}), {quantized['kernel']} kernels; "
                      f"their weights {quantized['float_bytes']} -> {quantized['packed_bytes']} bytes"),
        "router": info.router.describe() if info.router else None, "calibration": cal_stats,
        "router_costs_ms": {"system1": latency[0], "system2": latency[1]},
        "assumed_system1_cost": args.assume_system1_cost,
        "held_out": len(xh), "agreement": agreement, "by_kind": kinds,
        "fast_fraction": counts.get("fast", 0) / max(1, counts.get("fast", 0) + counts.get("full", 0)),
        "c_route_counts": cc, "c_mean_ms": c_mean,
        "c_ratio": {k: float(np.median(v)) for k, v in round_ratio.items()},
        "c_ratio_quartiles": {k: [float(q) for q in np.quantile(v, [0.25, 0.75])] for k, v in round_ratio.items()},
        "bytes": sizes, "dual_vs_separate": sizes["dual"] / (sizes["fp32"] + sizes["system1"]),
        "sweep": {"system1": sweep.system1.__dict__, "system2": sweep.system2.__dict__,
                  "router": sweep.router.__dict__, "curve": [p.__dict__ for p in sweep.curve]},
        "confidence_signal_range": _signal_range(fast_h, info.router, signals),
        "curve_png": str(curve), "artifacts": {"system1": str(bitnet), "dual": str(dual)},
    }


def _signal_range(fast: np.ndarray, router: Any, signals: Any) -> list[float] | None:
    if router is None or not router.kind & 2:
        return None
    conf = np.array([signals.confidence(o[None], router.signal, router.softmax) for o in fast])
    return [float(q) for q in np.quantile(conf, [0.1, 0.5, 0.9])]


def _dataset(args: argparse.Namespace, name: str) -> dict[str, Any]:
    cal_p, held_p = dual_photos.split(dual_photos.photos())
    held_scene = [p.name for p in held_p for _ in range(args.per_photo)]
    files = args.out / "cal.npz", args.out / "heldout.npz"
    if args.reuse and all(f.is_file() for f in files):
        xc, xh = (np.load(f)[name] for f in files)
    else:
        xc, _ = dual_photos.inputs(cal_p, args.per_photo, args.seed)
        xh, _ = dual_photos.inputs(held_p, args.per_photo, args.seed)
        np.savez(files[0], **{name: xc})  # [S, *input shape], as --route-calibration takes it
        np.savez(files[1], **{name: xh})
    if len(xc) != len(cal_p) * args.per_photo or len(xh) != len(held_scene):
        raise SystemExit(f"{args.out}: the saved inputs are for another --per-photo; drop --reuse")
    return {"cal": xc, "held": xh, "held_scene": held_scene, "cal_photos": [p.name for p in cal_p],
            "held_photos": [p.name for p in held_p]}


def sensitivity(model: Path, name: str, xs: np.ndarray, weights: str, threads: int) -> list[dict[str, Any]]:
    """Per quantizable layer (the compiler's numbering: Conv with groups 1 and Gemm/MatMul with a
    constant weight, in graph order): top-1 agreement with the float model on `xs` when that layer
    alone has its weights quantized as System 1 quantizes them (ronn_aot.bitnet.quantize), with
    float activations; onnxruntime runs the variants. A quick guide to --layers: System 1 with
    more layers cannot agree more than its worst layer alone."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper, shape_inference

    from ronn_aot.bitnet.quantize import quantize_weights

    m = onnx.load(str(model))
    layers = [n for n in m.graph.node if n.op_type in ("Gemm", "MatMul") or
              (n.op_type == "Conv" and all(a.i == 1 for a in n.attribute if a.name == "group"))]
    inits = {i.name: i for i in m.graph.initializer}
    layers = [n for n in layers if n.input[1] in inits]
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(shape_inference.infer_shapes(m).graph.value_info) + list(m.graph.output)}
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads

    def top1(proto: Any) -> np.ndarray:
        sess = ort.InferenceSession(proto.SerializeToString(), so)
        return np.array([int(sess.run(None, {name: x})[0].argmax()) for x in xs])

    ref = top1(m)
    rows = []
    for i, node in enumerate(layers):
        w = numpy_helper.to_array(inits[node.input[1]])
        # [N, K] rows = output channels: conv OIHW flattened, Gemm with transB, else the transpose
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        mat = w.reshape(w.shape[0], -1) if node.op_type == "Conv" or trans_b else w.T
        q, scale = quantize_weights(mat, weights)
        deq = q.astype(np.float32) * scale[:, None]
        deq = deq.reshape(w.shape) if node.op_type == "Conv" or trans_b else deq.T
        original = onnx.TensorProto()
        original.CopyFrom(inits[node.input[1]])
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(deq), node.input[1]))
        agree = float((top1(m) == ref).mean())
        inits[node.input[1]].CopyFrom(original)
        out = shapes.get(node.output[0], [])
        macs = int(w.size * (out[2] * out[3] if len(out) == 4 else 1))
        rows.append({"layer": i, "op": node.op_type, "weight": list(w.shape), "macs": macs, "agreement": agree})
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    import ronn_aot

    args.out.mkdir(parents=True, exist_ok=True)
    model = _model_path(args.model)
    name = _input_name(model)
    data = _dataset(args, name)
    if args.sensitivity:
        rows = sensitivity(model, name, data["cal"][::args.sensitivity], args.weights, args.threads)
        total = sum(r["macs"] for r in rows)
        print(f"{args.model}: each quantizable layer alone {args.weights} (weights only, onnxruntime), top-1 "
              f"agreement with fp32 on {len(data['cal'][::args.sensitivity])} calibration inputs")
        for r in rows:
            print(f"  {r['layer']:>3} {r['op']:<5}{str(r['weight']):<22}{r['macs'] / 1e6:>7.2f} MMAC "
                  f"({r['macs'] / total:5.1%} of the quantizable layers' MACs)  {r['agreement']:.3f}")
        (args.out / f"sensitivity_{args.weights}.json").write_text(json.dumps(rows, indent=1))
        raise SystemExit(0)
    fp32 = _compiled(args.out / "fp32.so", args.reuse, lambda p: ronn_aot.compile(
        model, ronn_aot.CompileOptions().with_target(args.target).with_output(p)).path)
    choices = [run_choice(args, model, name, fp32, data, layers) for layers in args.layers]
    if args.stop_after is not None:
        raise SystemExit(0)
    return {"model": args.model, "target": args.target, "threads": args.threads, "weights": args.weights,
            "router": args.router, "min_agreement": args.min_agreement, "per_photo": args.per_photo,
            "calibration_inputs": len(data["cal"]), "held_out_inputs": len(data["held"]),
            "calibration_photos": data["cal_photos"], "held_out_photos": data["held_photos"],
            "c_passes": args.c_passes, "choices": choices}


def format_report(r: dict[str, Any]) -> str:
    lines = [f"{r['model']}, target {r['target']}, {r['threads']} threads, batch 1, System 1 {r['weights']}, "
             f"router {r['router']} calibrated for top-1 agreement >= {r['min_agreement']} with System 2 (no labels)",
             f"calibration: {r['calibration_inputs']} views of {len(r['calibration_photos'])} photos "
             f"({', '.join(r['calibration_photos'])})",
             f"held out:    {r['held_out_inputs']} views of {len(r['held_out_photos'])} other photos "
             f"({', '.join(r['held_out_photos'])})",
             f"latency: C mean ms per input (bench/dual_timer.c, {r['c_passes']} passes, one process per artifact); "
             "ratio = median over passes of the pass's mean over fp32's"]
    for ch in r["choices"]:
        cal, cm, cr, b = ch["calibration"], ch["c_mean_ms"], ch["c_ratio"], ch["bytes"]
        lines += ["", f"System 1 layers {ch['layers']}: {ch['quantized']}",
                  f"  router: {ch['router']}",
                  f"  calibrated: fast fraction {cal['fast_fraction']:.3f}, agreement {cal['agreement']:.4f} "
                  f"(System 1 alone {cal['system1_agreement']:.4f}); cost model System 1 "
                  f"{ch['router_costs_ms']['system1']:.3f} ms, System 2 {ch['router_costs_ms']['system2']:.3f} ms"
                  + (f" (System 1 ASSUMED {ch['assumed_system1_cost']:g}x System 2: a what-if; the timings below "
                     "are this machine's)" if ch["assumed_system1_cost"] is not None else ""),
                  f"  held out ({ch['held_out']}): agreement with fp32: System 1 {ch['agreement']['system1']:.4f}, "
                  f"route=auto {ch['agreement']['auto']:.4f}; fast fraction {ch['fast_fraction']:.3f} "
                  f"(C: {ch['c_route_counts']})"]
        for key, label in (("fp32", "fp32 (System 2)"), ("system1", "System 1 alone"), ("auto", "dual route=auto"),
                           ("dual_fast", "dual route=fast"), ("dual_full", "dual route=full")):
            lines.append(f"  {label:<18}{cm[key]:>9.3f} ms{cr[key]:>8.3f}x  (passes' quartiles "
                         f"{ch['c_ratio_quartiles'][key][0]:.3f}-{ch['c_ratio_quartiles'][key][1]:.3f})")
        lines += [f"  bytes: dual {b['dual']} vs fp32 {b['fp32']} + System 1 {b['system1']} = "
                  f"{b['fp32'] + b['system1']} ({ch['dual_vs_separate']:.3f}x)",
                  "  by kind (held out, agreement): " + "; ".join(
                      f"{k} ({v['inputs']}): S1 {v['system1']:.3f} auto {v['auto']:.3f}"
                      for k, v in ch["by_kind"].items()),
                  "  curve (modelled from the sweep's runs, binding): " + ", ".join(
                      f"fast {p['fast_fraction']:.2f}: {p['quality']:.3f} @ {p['ms']:.2f} ms"
                      for p in ch["sweep"]["curve"][::4]),
                  f"  plot: {ch['curve_png']}"]
    lines += ["", f"{'layers':<28}{'S1 agree':>9}{'auto agree':>11}{'fast':>6}{'S1/fp32':>9}{'auto/fp32':>10}"
                  f"{'dual bytes':>12}"]
    for ch in r["choices"]:
        lines.append(f"{ch['layers'][:27]:<28}{ch['agreement']['system1']:>9.3f}{ch['agreement']['auto']:>11.3f}"
                     f"{ch['fast_fraction']:>6.2f}{ch['c_ratio']['system1']:>8.3f}x{ch['c_ratio']['auto']:>9.3f}x"
                     f"{ch['bytes']['dual']:>12}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("--layers", nargs="+", type=_layers_arg, default=[(32, 33)],
                    help="System 1 layer choices, each as --bitnet-layers takes it (default: 32,33)")
    ap.add_argument("--min-agreement", type=float, default=0.99)
    ap.add_argument("--weights", choices=["ternary", "binary"], default="ternary")
    ap.add_argument("--router", default="confidence")
    ap.add_argument("--kernel", default="auto", choices=["auto", "popcount", "vnni"])
    ap.add_argument("--target", default="host")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-photo", type=int, default=24, help="views per photo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fixed-scales", type=int, default=0, metavar="N",
                    help="fix System 1's activation scales on the first N calibration inputs (default: per input, "
                         "at run time)")
    ap.add_argument("--c-passes", type=int, default=3)
    ap.add_argument("--out", type=Path, help="default: build/dual/<model>")
    ap.add_argument("--sensitivity", type=int, metavar="STEP", default=0,
                    help="only print each layer's agreement quantized alone (every STEP-th calibration input)")
    ap.add_argument("--assume-system1-cost", type=float, metavar="F",
                    help="calibrate the router as if System 1 cost F times System 2 (a device where the BitNet "
                         "kernels are that much faster); agreement and latency are still measured here")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the inputs, artifacts and cost model already in --out (same options)")
    ap.add_argument("--stop-after", choices=STAGES[:-1],
                    help="stop each choice after this stage (build under load, time on a quiet machine)")
    ap.add_argument("--json", type=Path, help="also write the numbers here (default: OUT/report_<choices>_....json)")
    args = ap.parse_args()
    args.out = args.out or Path("build/dual") / args.model
    report = run(args)
    text = format_report(report)
    print(text)
    stem = f"report_{'+'.join(c['layers'] for c in report['choices'])}_{args.weights}_{args.min_agreement:g}"
    if args.assume_system1_cost is not None:
        stem += f"_assume{args.assume_system1_cost:g}"
    (args.out / f"{stem}.txt").write_text(text + "\n")
    (args.json or args.out / f"{stem}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
