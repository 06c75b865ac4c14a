"""A 4096x4096 dense layer through ronn-aot: fp32 vs ternary vs binary (int8 and XNOR), on the
bit-serial popcount kernels and, where the target has AVX-512 VNNI, the VNNI kernels.

    .venv/bin/python bench/bitnet/bench_dense.py [--target host] [--size 4096] [--batch 1] [--repeat 200] [--threads 0]

Compiles one ONNX MatMul (y = x @ W, W constant, x [batch, size]) once per mode (fp32; ternary and
binary weights with int8 activations on each kernel family; binary/sign = XNOR-popcount), runs
each artifact through runtime_min (same inputs and thread count, engines alternated round by
round) and reports the median latency, the speedup over our fp32 artifact, and numpy's fp32
matmul for context. --batch > 1 is the regime of convolutions (rows = output pixels), where a
weight word serves many rows. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

MODES = {"fp32": None, "ternary int8 popcount": ("ternary", 8, "popcount"),
         "ternary int8 vnni": ("ternary", 8, "vnni"), "binary int8 popcount": ("binary", 8, "popcount"),
         "binary int8 vnni": ("binary", 8, "vnni"), "binary XNOR (sign act)": ("binary", 1, "popcount")}


def dense_model(size: int, seed: int = 0, batch: int = 1) -> "object":
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = (np.random.default_rng(seed).standard_normal((size, size)) / np.sqrt(size)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, size])],
        [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    import ronn_aot
    import ronn_runtime

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="host")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=1, help="rows of x (default 1)")
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0, help="runtime threads (0: all CPUs)")
    ap.add_argument("--out", type=Path, default=Path("build/bitnet"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from ronn_aot.bitnet.config import target_has_vnni
    from ronn_aot.targets import get_target

    model = dense_model(args.size, batch=args.batch)
    x = np.random.default_rng(1).standard_normal((args.batch, args.size)).astype(np.float32)
    has_vnni = target_has_vnni(get_target(args.target))
    modes = {n: m for n, m in MODES.items() if m is None or m[2] != "vnni" or has_vnni}
    sessions, sizes, results = {}, {}, {}
    for name, mode in modes.items():
        opts = ronn_aot.CompileOptions().with_target(args.target).with_output(
            args.out / f"dense{args.size}x{args.batch}_{name.replace(' ', '_').replace('(', '').replace(')', '')}.so")
        if mode is not None:
            opts = opts.with_bitnet(mode[0], mode[1], layers="all", kernel=mode[2])
        print(f"compiling {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        art = ronn_aot.compile(model, opts)
        sizes[name] = (art.footer.weights_size, time.perf_counter() - t0)
        sessions[name] = ronn_runtime.InferenceSession(str(art.path), num_threads=args.threads)
        results[name] = sessions[name].run(None, {"x": x})[0]

    w = np.asarray(__import__("onnx").numpy_helper.to_array(model.graph.initializer[0]))
    times: dict[str, list[float]] = {name: [] for name in [*modes, "numpy fp32"]}
    for _ in range(5):
        for s in sessions.values():
            s.run(None, {"x": x})
    for _ in range(args.repeat):
        for name, s in sessions.items():
            t0 = time.perf_counter()
            s.run(None, {"x": x})
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        x @ w
        times["numpy fp32"].append(time.perf_counter() - t0)

    exact = x @ w
    base = float(np.median(times["fp32"]))
    print(f"{args.size}x{args.size} dense, batch {args.batch}, target {args.target}, threads {args.threads or 'all'}, "
          f"median of {args.repeat} (ronn-aot artifacts run through runtime_min)")
    print(f"{'engine':<24}{'ms':>9}{'vs fp32':>9}{'weights B':>12}{'compile s':>10}{'rel. err':>10}")
    for name, ts in times.items():
        ms = float(np.median(ts)) * 1e3
        wb, cs = sizes.get(name, ("", ""))
        err = "" if name not in results else \
            f"{np.linalg.norm(results[name] - exact) / np.linalg.norm(exact):.3f}"
        print(f"{name:<24}{ms:>9.3f}{base * 1e3 / ms:>8.1f}x{wb!s:>12}"
              f"{'' if cs == '' else f'{cs:.1f}':>10}{err:>10}")


if __name__ == "__main__":
    main()
