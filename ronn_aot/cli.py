"""The `ronn-aot` command line: compile, run, inspect, keygen, sign, bench, demo.

Exit codes: 0 success; 1 generic ronn-aot error; 2 usage; 3 invalid model; 4 unsupported operator;
5 shape problem; 6 unknown target; 7 missing or failing toolchain; 8 compiler bug;
9 corrupted or incompatible artifact; 10 runtime error while running an artifact.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .build import STAGE_NAMES
from .errors import RonnError
from .stages.freeze import parse_freeze_input
from .options import DEFAULT_OPT_LEVEL, CompileOptions, parse_input_shape
from .dual.routers import ROUTERS
from .tools.peer_isa import PEER_ISA_MODES

RUNTIME_EXIT = 10


def _compile(args: argparse.Namespace) -> int:
    from . import compile as compile_model
    from .tools.report import format_compile_report

    opts = CompileOptions().with_target(args.target).with_optimization_level(args.opt_level)
    for spec in args.input_shape or []:
        opts = opts.with_input_shape(*parse_input_shape(spec))
    for spec in args.freeze_input or []:
        opts = opts.with_frozen_input(*parse_freeze_input(spec))
    if args.output:
        opts = opts.with_output(args.output)
    if args.dump_ir:
        opts = opts.with_dump_ir(args.dump_ir)
    if args.no_records:
        opts = opts.with_records(False)
    if args.bitnet_calibration and not (args.bitnet or args.dual):
        raise RonnError("--bitnet-calibration needs --bitnet ternary|binary (or --dual ternary|binary)")
    route_flags = [f for f, v in (("--route", args.route), ("--route-calibration", args.route_calibration),
                                  ("--route-output", args.route_output), ("--route-signal", args.route_signal))
                   if v is not None]
    if route_flags and not args.dual:
        raise RonnError(f"{', '.join(route_flags)} configure a dual artifact: add --dual ternary|binary")
    if args.dual:
        if args.bitnet:
            raise RonnError("--dual takes System 1's quantization itself (--dual ternary|binary, with the "
                            "--bitnet-* options); drop --bitnet")
        bitnet_calibration = None
        if args.bitnet_calibration:
            from .bitnet.calibrate import load_npz, model_input_names

            bitnet_calibration = load_npz(args.bitnet_calibration, model_input_names(args.model))
        opts = opts.with_dual(args.dual, args.route or "confidence", args.route_calibration,
                              args.route_min_agreement, activation_bits=args.bitnet_act_bits,
                              layers=args.bitnet_layers, kernel=args.bitnet_kernel,
                              bitnet_calibration=bitnet_calibration, output=args.route_output,
                              signal=args.route_signal, weight_fit=args.bitnet_weight_fit)
    if args.bitnet:
        calibration = None
        if args.bitnet_calibration:
            from .bitnet.calibrate import load_npz, model_input_names

            calibration = load_npz(args.bitnet_calibration, model_input_names(args.model))
        opts = opts.with_bitnet(args.bitnet, args.bitnet_act_bits, args.bitnet_layers, calibration,
                                args.bitnet_kernel, args.bitnet_weight_fit)
    if args.stop_after is not None and args.stop_after != "pack":
        return _compile_partly(args, opts)
    art = compile_model(args.model, opts)
    print(f"wrote {art.path} ({art.path.stat().st_size} bytes, target {art.target}, -O{art.opt_level})")
    if args.dual and not args.bitnet_calibration:
        # System 1 then quantizes with BitNet's data-free rule and measures its scales per run
        print("note: System 1 has absmean weights and run-time activation scales; --bitnet-calibration cal.npz "
              "(it may be the --route-calibration file) fits its weights to the model's outputs and fixes its "
              "scales: usually far more inputs answered by System 1, and faster kernels")
    weights = args.dual or args.bitnet
    if weights and args.bitnet_act_bits == 8:
        from .bitnet import BitnetConfig
        from .targets import get_target

        if BitnetConfig(weights, 8, kernel=args.bitnet_kernel).dot_for(get_target(art.target)) == "neon":
            # the neon kernels sum products in bytes only when two of them fit one
            print("note: without dot products (target aarch64) BitNet layers with --bitnet-act-bits 7 or 6 sum two "
                  "or four byte products before widening them: MNIST's System 1 0.44 M -> 0.41 M / 0.38 M "
                  "instructions per inference, the same agreement with fp32 (docs/dual.md)")
    if args.sign_key:
        from .artifact.signing import sign

        print(f"signed {art.path} with key {sign(art.path, args.sign_key).key_id}")
    if args.report:
        print(format_compile_report(art))
    return 0


def _compile_partly(args: argparse.Namespace, opts: CompileOptions) -> int:
    """--stop-after: the stages up to one, no artifact; with --dump-ir the IR after each."""
    import tempfile

    from .build import run_stages

    if opts.dual is not None:
        raise RonnError("--stop-after runs one model's stages; drop --dual (or stop after pack)")
    with tempfile.TemporaryDirectory(prefix="ronn-aot-") as tmp:
        state = run_stages(args.model, opts, Path(tmp), stop_after=args.stop_after)
    ran = ", ".join(f"{n} {state.stage_seconds[n]:.2f} s" for n in state.done)
    print(f"stopped after {args.stop_after}; stages run: {ran}")
    if state.built is not None:
        print(f"{len(state.built.kernels)} kernels, {len(state.plan.steps)} steps, arena {state.plan.arena_size} bytes")
    if opts.dump_ir_dir is not None:
        print(f"IR after each stage in {opts.dump_ir_dir}")
    return 0


def _positive(kind: type[int] | type[float]) -> Any:
    """An argparse type: a number of `kind` above zero."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names it in "invalid int value: 'x'"
    return parse


def _tune(args: argparse.Namespace) -> int:
    from .tools.tune import tune

    opts = CompileOptions().with_target(args.target).with_optimization_level(args.opt_level)
    for spec in args.input_shape or []:
        opts = opts.with_input_shape(*parse_input_shape(spec))
    if args.bitnet:
        opts = opts.with_bitnet(args.bitnet, args.bitnet_act_bits)
    s = tune(args.model, opts, args.trials, work_dir=Path(args.work_dir) if args.work_dir else None,
             top=args.top, minutes=args.minutes)
    print(f"tuned {s.tuned_now} of {s.kernels} kernels ({s.skipped} already had records) with "
          f"{s.measured} of {s.trials} planned trials in {s.seconds:.0f} s; records in {s.database}")
    # A qemu target's records skip the model check (instruction counts add up over kernels).
    qemu = s.model_check.startswith("costs are guest instructions")
    kept_by = "no model check under qemu" if qemu else "kept by the model check"
    print(f"  records applied (5% faster than the rule in pairs, {kept_by}): "
          f"{len(s.beat_rule)} of {s.paired} ({', '.join(s.beat_rule) or 'none'})")
    if s.model_check:
        print(f"  {s.model_check}")
    if s.left_on_rules:
        print(f"  not tuned (below --top or past --minutes), on their rules: {len(s.left_on_rules)} kernels")
    for line in s.untunable:
        print(f"  not tunable, keeps its rule-based schedule: {line}")
    return 0


def _load_inputs(specs: Sequence[str]) -> dict[str, Any]:
    import numpy as np

    feeds = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise RonnError(f"--input expects NAME=FILE.npy, got {spec!r}")
        if not Path(file).is_file():
            raise RonnError(f"input file {file} (for input {name!r}) does not exist")
        try:
            feeds[name] = np.load(file, allow_pickle=False)
        except ValueError as e:
            raise RonnError(f"{file} is not a readable .npy file: {e}") from e
    return feeds


# `run --spin`: InferenceSession's spin (None: spin briefly, less on a busy machine).
_SPIN_MODES: dict[str, bool | None] = {"auto": None, "on": True, "off": False}


def _run(args: argparse.Namespace) -> int:
    import numpy as np
    import ronn_runtime

    try:
        sess = ronn_runtime.InferenceSession(str(args.artifact), num_threads=args.threads,
                                             spin=_SPIN_MODES[args.spin],
                                             trusted_keys=args.trusted_key,
                                             require_signature=args.require_signature)
        outputs = sess.run(None, _load_inputs(args.input or []), route=args.route)
        if args.route is not None or sess.is_dual:
            print(f"answered by: {'System 1 (fast)' if sess.last_route == 'fast' else 'System 2 (full)'}")
    except ronn_runtime.RonnRuntimeError as e:
        print(f"ronn-aot: error: {e}", file=sys.stderr)
        return RUNTIME_EXIT
    for meta, value in zip(sess.get_outputs(), outputs):
        if args.output_dir:
            Path(args.output_dir).mkdir(parents=True, exist_ok=True)
            dest = Path(args.output_dir) / (meta.name.replace("/", "_") + ".npy")
            np.save(dest, value)
            print(f"{meta.name}: {value.dtype}{list(value.shape)} -> {dest}")
        else:
            flat = value.reshape(-1)
            print(f"{meta.name}: {value.dtype}{list(value.shape)} {np.array2string(flat[:8], precision=5)}"
                  + (" ..." if flat.size > 8 else ""))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from .artifact.inspect import format_info, inspect_artifact

    info = inspect_artifact(args.artifact)
    print(json.dumps(info.to_dict(), indent=2) if args.json else format_info(info))
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from .artifact.signing import key_id, keygen, load_public_key

    private, public = keygen(args.out, force=args.force)
    print(f"wrote {private} (private: keep it secret, it signs artifacts) and {public} (public: "
          f"give it to devices as a trusted key); key id {key_id(load_public_key(public))}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    from .artifact.signing import sign

    signature = sign(args.artifact, args.key)
    print(f"signed {args.artifact} with key {signature.key_id}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .tools.demo import run_demo

    return run_demo(image=args.image, target=args.target, threads=args.threads, opt_level=args.opt_level)


def _bench(args: argparse.Namespace) -> int:
    import importlib.util

    from .tools.bench import plot, run_bench
    from .tools.peer_isa import masked_env, rerun_masked
    from .tools.timing import RoundPlan

    if args.same_process:
        env = masked_env(args.target, args.peer_isa)
        if env is not None:
            # onnxruntime must see the target's CPU from its first CPUID on: a child process does it all.
            return rerun_masked(["ronn_aot.cli", *args.argv], env)

    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print("ronn-aot: --plot needs matplotlib, which is not installed (pip install matplotlib); "
              "benchmarking without the plot", file=sys.stderr)
        args.plot = None
    if args.labels and not args.route_sweep:
        raise RonnError("--labels goes with --route-sweep DATA.npz")
    if args.route_sweep:  # a dual artifact: quality against latency over the router's threshold
        from .dual.sweep import plot as plot_sweep, route_sweep

        sweep = route_sweep(args.model, args.route_sweep, args.labels, args.threads)
        print(sweep.format())
        if args.plot:
            plot_sweep(sweep, Path(args.plot))
            print(f"plot: {args.plot}")
        return 0
    plan = RoundPlan(rounds=args.rounds, min_runs=args.repeat, min_seconds=args.round_seconds, warmup=args.warmup,
                     settle=args.settle)
    result = run_bench(args.model, target=args.target, threads=args.threads, plan=plan,
                       opt_level=args.opt_level, peer_isa=args.peer_isa, same_process=args.same_process)
    print(result.format())
    if args.plot:
        plot(result, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ronn-aot", description="Ahead-of-time ONNX compiler for edge devices.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compile", help="compile an ONNX model into one shared library")
    c.add_argument("model", help="path to the .onnx file")
    c.add_argument("-o", "--output", help="artifact path (default: ./<model>-<target>.so)")
    c.add_argument("--target", default="host", help="target name from targets/ (default: host)")
    c.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPT_LEVEL, choices=[0, 1, 2, 3],
                   help=f"optimization level (default {DEFAULT_OPT_LEVEL})")
    c.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...",
                   help="fix the shape of an input with symbolic dimensions (repeatable)")
    c.add_argument("--freeze-input", action="append", metavar="NAME=FILE.npy",
                   help="compile this input as a constant (e.g. a computed Reshape target, TopK's k, a Slice's "
                        "ends); the artifact no longer takes it (repeatable)")
    c.add_argument("--report", action="store_true", help="print per-pass timings and counts")
    c.add_argument("--dump-ir", metavar="DIR", help="write the IR after each pass and each stage into DIR")
    c.add_argument("--stop-after", metavar="STAGE", choices=STAGE_NAMES,
                   help=f"run the stages up to this one and stop without an artifact ({', '.join(STAGE_NAMES)})")
    c.add_argument("--no-records", action="store_true",
                   help="schedule every kernel with the rules, ignoring the target's tuning records")
    c.add_argument("--bitnet", choices=["ternary", "binary"],
                   help="quantize Conv/Gemm/MatMul weights to ternary or binary, bit-packed, bit-serial kernels")
    c.add_argument("--bitnet-act-bits", type=int, default=8, metavar="BITS",
                   help="activation bits of quantized layers: 8 (default) .. 2, or 1 = sign (XNOR-popcount, binary)")
    c.add_argument("--bitnet-layers", default="default", metavar="default|all|I,J,...",
                   help="which quantizable layers to quantize (default: all but the first and the last)")
    c.add_argument("--bitnet-calibration", metavar="FILE.npz",
                   help="fix the activation scales, measured in the quantized network over these "
                        "calibration inputs (default: measured at run time on each input). In the .npz, "
                        "an array named <input> holds samples stacked on a leading axis (shape [S, *input shape]); "
                        "arrays named <input>_<k> hold one sample each (k = 0, 1, ...)")
    c.add_argument("--bitnet-weight-fit", default="auto", choices=["auto", "absmean", "output"],
                   help="how quantized weights are chosen: absmean (BitNet's rule, no data), output (each output "
                        "channel's pattern and scale fitted to the layer's float outputs on the --bitnet-calibration "
                        "inputs), auto (default: output when --bitnet-calibration is given)")
    c.add_argument("--bitnet-kernel", default="auto", choices=["auto", "popcount", "vnni", "sdot", "neon"],
                   help="kernel family of quantized layers: auto (default: int8 dot products where the target "
                        "has them and activations are ints, AVX-512 VNNI or Arm SDOT (aarch64-dotprod), on aarch64 "
                        "SDOT's layout with MUL and pairwise adds (neon) for int4-int8 activations, "
                        "bit-serial popcount elsewhere)")
    c.add_argument("--sign-key", metavar="KEY",
                   help="sign the artifact with this Ed25519 private key (from `ronn-aot keygen`)")
    c.add_argument("--dual", choices=["ternary", "binary"],
                   help="ONE artifact holding System 1 (the model with ternary/binary BitNet layers, as the "
                        "--bitnet-* options choose them) and System 2 (the model at full precision), and a "
                        "router picking one per run (run with route=auto|fast|full)")
    c.add_argument("--route", choices=sorted(ROUTERS),
                   help="the dual artifact's router: confidence (default: run System 1, escalate when unsure), "
                        "complexity (decide from input statistics before running), both")
    c.add_argument("--route-calibration", metavar="FILE.npz",
                   help="calibration inputs for the router's thresholds (inputs only: agreement is measured "
                        "against System 2's own outputs; same .npz layout as --bitnet-calibration); needed "
                        "with --dual")
    c.add_argument("--route-min-agreement", type=float, default=0.99, metavar="F",
                   help="route=auto must answer as System 2 on at least this fraction of the calibration "
                        "inputs (default 0.99); the thresholds reach it at the least expected latency")
    c.add_argument("--route-output", metavar="NAME",
                   help="the output confidence and agreement are read from (default: the first float "
                        "output with a class axis)")
    c.add_argument("--route-signal", choices=["max_prob", "margin", "neg_entropy"],
                   help="the confidence signal (default: the one calibration finds cheapest)")
    c.set_defaults(fn=_compile)

    t = sub.add_parser("tune", help="tune a model's kernels with MetaSchedule into schedules/<target>/")
    t.add_argument("model")
    t.add_argument("--target", default="host")
    t.add_argument("--trials", type=int, default=64 * 20, help="measurements in total (default 1280)")
    t.add_argument("--top", type=_positive(int), metavar="K",
                   help="tune only the K kernels with the most rule-schedule time per inference (default: all)")
    t.add_argument("--minutes", type=_positive(float),
                   help="stop after this many minutes (the batch being measured finishes; resumable)")
    t.add_argument("--work-dir", help="keep MetaSchedule's logs here (WORK_DIR/logs)")
    t.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPT_LEVEL, choices=[0, 1, 2, 3])
    t.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...")
    t.add_argument("--bitnet", choices=["ternary", "binary"], help="tune the bit-serial kernels of this mode")
    t.add_argument("--bitnet-act-bits", type=int, default=8, metavar="BITS")
    t.set_defaults(fn=_tune)

    r = sub.add_parser("run", help="run an artifact on .npy inputs (through runtime_min)")
    r.add_argument("artifact")
    r.add_argument("--input", action="append", metavar="NAME=FILE.npy")
    r.add_argument("--output-dir", help="save each output as <name>.npy here instead of printing")
    r.add_argument("--threads", type=int, default=0, help="worker threads (0: all CPUs)")
    r.add_argument("--spin", choices=list(_SPIN_MODES), default="auto",
                   help="how waiting threads wait: auto (spin briefly, less on a busy machine; "
                        "RONN_SPIN=0 turns it off), on, or off (sleep at once, for CPUs shared with "
                        "other work)")
    r.add_argument("--trusted-key", action="append", metavar="KEY.pub",
                   help="load only if signed by this public key (repeatable)")
    r.add_argument("--require-signature", action="store_true", help="refuse unsigned artifacts")
    r.add_argument("--route", choices=["auto", "fast", "full"],
                   help="dual artifacts: auto (default: the calibrated router), fast (System 1), full (System 2)")
    r.set_defaults(fn=_run)

    k = sub.add_parser("keygen", help="make an Ed25519 key pair for signing artifacts: KEY and KEY.pub")
    k.add_argument("--out", required=True, metavar="KEY", help="private key path; the public key is KEY.pub")
    k.add_argument("--force", action="store_true", help="replace existing key files")
    k.set_defaults(fn=_keygen)

    g = sub.add_parser("sign", help="sign an artifact (replacing an earlier signature) for devices that "
                                    "trust the key")
    g.add_argument("artifact")
    g.add_argument("--key", required=True, metavar="KEY", help="Ed25519 private key (ronn-aot keygen)")
    g.set_defaults(fn=_sign)

    i = sub.add_parser("inspect", help="show an artifact's inputs, outputs, target, sizes and hash")
    i.add_argument("artifact")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=_inspect)

    b = sub.add_parser("bench", help="time an artifact against onnxruntime, each in its own processes, "
                                     "same inputs and threads")
    b.add_argument("model", help="path to the .onnx file")
    b.add_argument("--target", default="host")
    b.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPT_LEVEL, choices=[0, 1, 2, 3])
    b.add_argument("--threads", type=int, default=0, help="threads for both engines (0: all CPUs)")
    b.add_argument("--rounds", type=int, default=5,
                   help="rounds per engine, alternating, each a fresh process (default 5)")
    b.add_argument("--repeat", type=int, default=10, help="at least this many timed runs a round (default 10)")
    b.add_argument("--round-seconds", type=float, default=1.0,
                   help="and at least this long a round, in seconds (default 1.0)")
    b.add_argument("--warmup", type=int, default=5, help="untimed runs first in each round (default 5)")
    b.add_argument("--settle", type=int, default=5,
                   help="run a round again when the machine was disturbed during it (a CPU slower than the "
                        "run's fastest, other processes busy, or steal time), up to this many extra rounds; "
                        "0 keeps every round and flags the disturbed ones (default 5)")
    b.add_argument("--same-process", action="store_true",
                   help="diagnostic: time both engines in ONE process, alternating in blocks (their thread "
                        "pools disturb each other: not what a user gets)")
    b.add_argument("--plot", metavar="FILE.png", help="draw the comparison (needs matplotlib)")
    b.add_argument("--route-sweep", metavar="DATA.npz",
                   help="MODEL is a dual artifact (compile --dual): sweep its router's threshold over these "
                        "inputs and report accuracy (or agreement with System 2) against latency per run for "
                        "System 1, System 2 and the calibrated router")
    b.add_argument("--labels", metavar="LABELS.npy", help="with --route-sweep: true classes, one row per input")
    b.add_argument("--peer-isa", choices=PEER_ISA_MODES, default="target",
                   help="instruction set onnxruntime may use: the target's (default; e.g. AVX-512 hidden "
                        "from it for x86_64-avx2 on an AVX-512 host) or all of the host's")
    b.set_defaults(fn=_bench)

    d = sub.add_parser("demo", help="compile the bundled EfficientNet-Lite0 and classify a photo")
    d.add_argument("--image", help="photo to classify (default: the bundled cat)")
    d.add_argument("--target", default="host")
    d.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPT_LEVEL, choices=[0, 1, 2, 3])
    d.add_argument("--threads", type=int, default=0)
    d.set_defaults(fn=_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that rerun themselves
    try:
        return int(args.fn(args))
    except RonnError as e:
        print(f"ronn-aot: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
