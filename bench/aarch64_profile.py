"""Instructions per inference, kernel by kernel, of ronn-aot's aarch64 artifact under qemu-user:
where bench.aarch64's total goes.

    python -m bench.aarch64_profile MODEL.onnx [--target aarch64] [--runs 1] [--cpu cortex-a72] [--top 25]
        [--bitnet ternary|binary [--bitnet-act-bits 8] [--bitnet-calibration cal.npz]]

The model is compiled with the kernels' symbols kept (the shipped artifact is stripped; the code is
the same), run with N and 2N inferences on one thread under the counting plugin with `blocks=`
(ronn_aot/tools/qemu_icount.c: each executed block's instructions by file offset), and each block is
charged to the function of the artifact (or the library) that holds it; (2N - N) / N per function.
A kernel's parallel bodies (`<kernel>_compute_`) count with it. Rows name the rule that scheduled
it; code of the artifact before its first kernel (the PLT: calls into libm) shows as `_init`.
"""

from __future__ import annotations

import argparse
import bisect
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from bench.aarch64 import CACHE, RonnEngine, ensure_counter, ensure_ronn_run, make_inputs

# A kernel's helper functions that TVM's codegen names after it: parallel bodies, packed wrappers.
_HELPER = re.compile(r"(_compute_\d*|\.\d+)$")
_PREFIX = re.compile(r"^(__tvm_ffi_)?ronn_k\d+_")  # the artifact's name for kernel i


def compile_with_symbols(model: Path, target: str, out: Path, bitnet: str | None = None, act_bits: int = 8,
                         calibration: Path | None = None) -> dict[str, str]:
    """Compile `model` into `out` without the final strip (with `bitnet`: its BitNet build, System 1
    of a dual artifact, calibrated on the .npz `calibration`); returns {kernel: rule}."""
    import ronn_aot
    import ronn_aot.stages.pack as pack_stage

    opts = ronn_aot.CompileOptions().with_target(target).with_output(out)
    if bitnet is not None:
        from ronn_aot.bitnet.calibrate import load_npz, model_input_names

        feeds = load_npz(calibration, model_input_names(str(model))) if calibration is not None else None
        opts = opts.with_bitnet(bitnet, act_bits, calibration=feeds)

    link = pack_stage._run

    def keep_symbols(cmd: list[str], what: str) -> None:
        if "--strip-all" not in cmd:  # everything but the strip runs as in a normal compile
            link(cmd, what)

    pack_stage._run = keep_symbols
    try:
        art = ronn_aot.compile(str(model), opts)
    finally:
        pack_stage._run = link
    return {k: rule for rule, ks in art.schedule_report.kernels_by_rule().items() for k in ks}


def functions(so: Path, nm: str) -> tuple[list[int], list[str]]:
    """(sorted start offsets, names) of the functions in `so`; its code segment maps file offsets
    1:1 (one R E LOAD at offset 0, as the linker lays out our artifacts)."""
    out = subprocess.run([nm, "--defined-only", "-n", str(so)], capture_output=True, text=True, check=True).stdout
    starts, names = [], []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            starts.append(int(parts[0], 16))
            names.append(parts[2])
    return starts, names


def kernel_of(symbol: str) -> str:
    """The kernel a function of the artifact belongs to (`ronn_k<i>_<kernel>[_compute_]`)."""
    return _HELPER.sub("", _PREFIX.sub("", symbol))


def charge(blocks: Path, so: Path, starts: list[int], names: list[str]) -> dict[str, int]:
    """Instructions of the blocks report `blocks` by kernel (artifact) or library (anything else)."""
    found: dict[str, int] = defaultdict(int)
    for line in blocks.read_text().splitlines():
        count, offset, path = line.split(maxsplit=2)
        if Path(path).name == so.name:
            i = bisect.bisect_right(starts, int(offset)) - 1
            found[kernel_of(names[i]) if i >= 0 else "(artifact)"] += int(count)
        else:
            found[f"[{Path(path).name}]"] += int(count)
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.aarch64_profile", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--target", default="aarch64")
    ap.add_argument("--cpu", default="cortex-a72", help="qemu -cpu model (default cortex-a72)")
    ap.add_argument("--runs", type=int, default=1, help="N of the 2N - N difference (default 1)")
    ap.add_argument("--ronn-run", type=Path,
                    help="a ronn-run built for the target already (default: build runtime_min's into the cache)")
    ap.add_argument("--top", type=int, default=25, help="rows to print (default 25)")
    ap.add_argument("--bitnet", choices=["ternary", "binary"], help="profile the model's BitNet build")
    ap.add_argument("--bitnet-act-bits", type=int, default=8)
    ap.add_argument("--bitnet-calibration", type=Path, help="calibration inputs (.npz) for the BitNet build")
    args = ap.parse_args(argv)

    from ronn_aot.targets import get_target

    tag = f"-{args.bitnet}{args.bitnet_act_bits}" if args.bitnet else ""
    work = CACHE / "runs" / f"{args.model.stem}-{args.target}{tag}-profile"
    work.mkdir(parents=True, exist_ok=True)
    so = work / f"{args.model.stem}.so"
    rules = compile_with_symbols(args.model, args.target, so, args.bitnet, args.bitnet_act_bits, args.bitnet_calibration)
    engine = RonnEngine(args.cpu, ensure_counter(),
                        args.ronn_run or ensure_ronn_run(args.target), so, make_inputs(args.model, work))
    nm = get_target(args.target).toolchain.cc.replace("gcc", "nm")
    starts, names = functions(so, nm)
    per_run = []
    for runs in (args.runs, 2 * args.runs):
        blocks = work / f"blocks-{runs}.txt"
        engine.run(runs, 1, work / "out", work / f"count-{runs}.txt", blocks=blocks)
        per_run.append(charge(blocks, so, starts, names))
    per = {k: (per_run[1].get(k, 0) - per_run[0].get(k, 0)) / args.runs for k in per_run[1]}
    total = sum(per.values())
    print(f"\n{args.model.name} ({args.target}, qemu -cpu {args.cpu}, one thread): "
          f"{total / 1e6:.3f}M instructions per inference")
    print(f"  {'M instr':>9} {'share':>6}  {'rule':<16} kernel / [library]")
    for name, n in sorted(per.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {n / 1e6:>9.3f} {n / total:>6.1%}  {rules.get(name, ''):<16} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
