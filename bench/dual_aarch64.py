"""A dual artifact's route=auto on aarch64, under qemu-user: instructions per input over many real
inputs (not one random one, which takes one route), against the fp32 artifact's, and the routes taken.

    python -m bench.dual_aarch64 DUAL.so FP32.so --inputs heldout.npz [--labels heldout_labels.npy]
                                 [--target aarch64-dotprod] [--cpu cortex-a76] [--n 300]

bench/dual_timer.c, cross-built with the target's toolchain against runtime_min's static library,
runs the first 2N inputs of the .npz (one array [S, *input shape]) through one artifact per process,
one thread, under qemu with the instruction counter (bench.aarch64's): per input = (count over 2N
inputs - count over the first N) / N, i.e. the mean over inputs N..2N-1, start-up and loading
cancelled. Artifacts: FP32.so, DUAL.so@auto, DUAL.so@fast (System 1 alone) and DUAL.so@full
(System 2 alone). The routes: the timer's route counters of route=auto over the 2N inputs (one more
run, no counter); the answers (argmax of output 0) of each over the 2N inputs, their agreement with
fp32's and, with --labels, their accuracy. As bench.aarch64: instructions are the proxy for a narrow Arm core's time (no
board is reachable from here); the x86 numbers of the same task come from bench.dual.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np

from bench.aarch64 import CACHE, Engine, ensure_counter, measure

_TIMER = Path(__file__).resolve().parent / "dual_timer.c"


def build_timer(target_name: str) -> Path:
    """dual_timer.c for the target, linked with runtime_min's static library built for it."""
    from ronn_aot import resources
    from ronn_aot.targets import get_target
    from ronn_aot.tools.runtime_build import build_runtime

    target = get_target(target_name)
    runtime = build_runtime(target, CACHE / "runtime" / target_name)
    cc, _ = target.toolchain.require()
    exe = runtime.static_library.parent / "dual_timer"
    include = resources.runtime_source_dir() / "include"
    subprocess.run([cc, "-O2", "-std=c99", "-o", str(exe), str(_TIMER), f"-I{include}", str(runtime.static_library),
                    "-lpthread", "-ldl", "-lm"], check=True)
    return exe


class TimerEngine(Engine):
    """dual_timer over the first `runs` inputs of `data`, one artifact (path[@route]), one pass."""

    def __init__(self, cpu: str, counter: Path, timer: Path, data: Path, artifact: str, name: str) -> None:
        super().__init__(cpu, counter)
        self.timer, self.data, self.artifact, self.name = timer, data, artifact, name

    def sysroot(self) -> Path:
        return Path("/usr/aarch64-linux-gnu")

    def guest(self, runs: int, threads: int, out_dir: Path) -> list[str]:
        out_dir.mkdir(parents=True, exist_ok=True)
        # one pass, no warm-up, one block (so both counts hold the same one untimed run)
        return [str(self.timer), str(threads), "1", "0", str(self.data), str(runs), str(out_dir / "timer"),
                str(4 * runs), self.artifact]


def route_counts(engine: TimerEngine, n: int, work: Path) -> dict[str, int]:
    cmd = ["qemu-aarch64", "-cpu", engine.cpu, "-L", str(engine.sysroot()), *engine.guest(n, 1, work / "routes")]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    counts = {"fast": 0, "full": 0, "escalated": 0}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "artifact":
            for key, value in zip(f[2::2], f[3::2]):
                counts[key] += int(value)
    return counts


def run(dual: Path, fp32: Path, inputs: Path, target: str, cpu: str, n: int,
        labels: Path | None = None) -> dict[str, object]:
    with np.load(inputs) as z:
        (x,) = [z[k] for k in z.files]
    if len(x) < 2 * n:
        raise SystemExit(f"bench.dual_aarch64: {inputs} holds {len(x)} inputs; --n {n} needs {2 * n}")
    work = CACHE / "runs" / f"dual-{dual.stem}-{target}"
    work.mkdir(parents=True, exist_ok=True)
    data = work / "inputs.f32"
    np.ascontiguousarray(x[:2 * n], dtype=np.float32).tofile(data)
    timer, counter = build_timer(target), ensure_counter()
    specs = {"fp32": str(fp32), "auto": f"{dual}@auto", "fast": f"{dual}@fast", "full": f"{dual}@full"}
    per_input = {}
    for key, spec in specs.items():
        m = measure(TimerEngine(cpu, counter, timer, data, spec, key), n, 1, work, wall=False)
        per_input[key] = m.instructions
        print(f"{key:5s} {m.instructions / 1e6:.3f} M instructions per input", flush=True)
    counts = route_counts(TimerEngine(cpu, counter, timer, data, specs["auto"], "auto"), 2 * n, work)
    total = max(1, counts["fast"] + counts["full"])
    # the answers of the counted runs over all 2N inputs (the timer's argmax of output 0, on aarch64)
    answers = {k: np.fromfile(work / f"{k}-out" / "timer.0.argmax", dtype=np.int32) for k in specs}
    result: dict[str, object] = {
        "target": target, "cpu": cpu, "inputs": f"{inputs} [{n}:{2 * n}] (counts), [0:{2 * n}] (routes, answers)",
        "instructions_per_input": per_input, "auto_over_fp32": per_input["auto"] / per_input["fp32"],
        "fast_over_fp32": per_input["fast"] / per_input["fp32"], "route_counts": counts,
        "fast_fraction": counts["fast"] / total,
        "agreement_with_fp32": {k: float((a == answers["fp32"]).mean()) for k, a in answers.items()}}
    if labels is not None:
        y = np.load(labels)[:2 * n]
        result["accuracy"] = {k: float((a == y).mean()) for k, a in answers.items()}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dual", type=Path)
    ap.add_argument("fp32", type=Path)
    ap.add_argument("--inputs", type=Path, required=True, help=".npz with one array [S, *input shape]")
    ap.add_argument("--target", default="aarch64-dotprod")
    ap.add_argument("--cpu", default="cortex-a76")
    ap.add_argument("--n", type=int, default=300, help="inputs per count (2N are read)")
    ap.add_argument("--labels", type=Path, help=".npy of the inputs' labels: accuracy of each route")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    r = run(args.dual, args.fp32, args.inputs, args.target, args.cpu, args.n, args.labels)
    print(f"{args.dual.name} on {r['target']} (qemu -cpu {r['cpu']}), one thread: route=auto "
          f"{r['auto_over_fp32']:.3f}x fp32's instructions per input (System 1 alone {r['fast_over_fp32']:.3f}x); "
          f"fast fraction {r['fast_fraction']:.3f} {r['route_counts']}; agreement with fp32 "
          + ", ".join(f"{k} {v:.4f}" for k, v in r["agreement_with_fp32"].items())  # type: ignore[union-attr]
          + ("; accuracy " + ", ".join(f"{k} {v:.4f}" for k, v in r["accuracy"].items())  # type: ignore[union-attr]
             if "accuracy" in r else ""))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
