"""Instructions per inference of a BitNet dense layer against the fp32 one on the aarch64 targets,
counted under qemu-user (deterministic: the host's load does not change them).

    .venv/bin/python -m bench.bitnet.aarch64_dense [--target aarch64-dotprod] [--size 1024] [--batch 1 8]
        [--modes fp32 ternary:popcount ternary:sdot binary:popcount binary:sdot] [--cpu max]

Compiles one ONNX MatMul (y = x @ W, W constant [size, size], x [batch, size]; bench_dense's
model) per mode (fp32, or WEIGHTS:KERNEL[:BITS] with int activations of BITS (default 8) bits;
binary:xnor = sign activations),
runs it N and 2N times on one thread under the counting plugin (bench/aarch64/icount.c) and prints
(2N - N) / N instructions per inference, the share of the layer's kernels and whether its .text
has `sdot`/`udot`, `cnt`, `addv`/`uaddlp`/`uadalp`. Emulated; not a board's latency.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.aarch64 import CACHE, RonnEngine, ensure_counter, ensure_ronn_run
from bench.aarch64_profile import charge, functions
from bench.bitnet.bench_dense import dense_model

MNEMONICS = ("sdot", "udot", "cnt", "sadalp", "addv", "uaddlp", "uadalp", "fmla")


def compile_with_symbols(model: object, target: str, out: Path, mode: str) -> Path:
    """Compile `model` (fp32, or "weights:kernel") into `out`, its symbols kept (no final strip)."""
    import ronn_aot
    import ronn_aot.stages.pack as pack_stage

    opts = ronn_aot.CompileOptions().with_target(target).with_output(out)
    if mode != "fp32":
        weights, kernel, *rest = mode.split(":")
        bits = 1 if kernel == "xnor" else int(rest[0]) if rest else 8
        opts = opts.with_bitnet(weights, bits, layers="all", kernel="popcount" if kernel == "xnor" else kernel)
    link = pack_stage._run

    def keep_symbols(cmd: list[str], what: str) -> None:
        if "--strip-all" not in cmd:
            link(cmd, what)

    pack_stage._run = keep_symbols
    try:
        ronn_aot.compile(model, opts)
    finally:
        pack_stage._run = link
    return out


def mnemonic_counts(so: Path) -> dict[str, int]:
    """How many times each of MNEMONICS appears in the artifact's disassembled .text."""
    text = subprocess.run(["aarch64-linux-gnu-objdump", "-d", "-j", ".text", str(so)], capture_output=True,
                          text=True, check=True).stdout
    ops = re.findall(r"^\s*[0-9a-f]+:\s+[0-9a-f]{8}\s+(\S+)", text, re.M)
    return {m: sum(1 for o in ops if o == m) for m in MNEMONICS}


def measure(target: str, size: int, batch: int, mode: str, cpu: str, runs: int,
            ronn_run: Path | None = None) -> tuple[float, float, dict[str, int]]:
    """(instructions per inference, of them in the layer's kernels, .text mnemonic counts)."""
    work = CACHE / "runs" / f"bitnet-dense{size}x{batch}-{target}-{mode.replace(':', '-')}"
    work.mkdir(parents=True, exist_ok=True)
    so = compile_with_symbols(dense_model(size, batch=batch), target, work / "dense.so", mode)
    x = np.random.default_rng(1).standard_normal((batch, size)).astype(np.float32)
    np.save(work / "x.npy", x)
    engine = RonnEngine(cpu, ensure_counter(), ronn_run or ensure_ronn_run(target), so, [("x", work / "x.npy")])
    starts, names = functions(so, "aarch64-linux-gnu-nm")
    per_run = []
    for n in (runs, 2 * runs):
        blocks = work / f"blocks-{n}.txt"
        engine.run(n, 1, work / "out", work / f"count-{n}.txt", blocks=blocks)
        per_run.append(charge(blocks, so, starts, names))
    per = {k: (per_run[1].get(k, 0) - per_run[0].get(k, 0)) / runs for k in per_run[1]}
    total = sum(per.values())
    layer = sum(v for k, v in per.items() if not k.startswith("["))
    return total, layer, mnemonic_counts(so)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bitnet.aarch64_dense", description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="aarch64-dotprod")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--modes", nargs="+", default=["fp32", "ternary:auto", "binary:auto"])
    ap.add_argument("--cpu", default=None, help="qemu -cpu (default: max for aarch64-dotprod, cortex-a72 else)")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--ronn-run", type=Path, help="an aarch64 ronn-run (default: build runtime_min's into the cache)")
    args = ap.parse_args(argv)
    cpu = args.cpu or ("max" if "dotprod" in args.target else "cortex-a72")
    print(f"{args.size}x{args.size} dense, {args.target}, qemu -cpu {cpu}, one thread, instructions per inference")
    print(f"{'batch':>5} {'mode':<18} {'M instr':>9} {'kernels M':>10} {'vs fp32':>8}  .text mnemonics")
    for batch in args.batch:
        base = None
        for mode in args.modes:
            total, layer, ops = measure(args.target, args.size, batch, mode, cpu, args.runs, args.ronn_run)
            base = total if mode == "fp32" else base
            ratio = f"{total / base:.3f}" if base else "-"
            print(f"{batch:>5} {mode:<18} {total / 1e6:>9.3f} {layer / 1e6:>10.3f} {ratio:>8}  "
                  + " ".join(f"{k}={v}" for k, v in ops.items() if v), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
