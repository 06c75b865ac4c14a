"""`--dual`: build System 2 (full precision) and System 1 (BitNet layers) with the ordinary
pipeline, calibrate the router on both, and pack them into one artifact.

    build(full) ─┐                       ┌─ plain artifacts (temporary): calibration runs them
    build(fast) ─┴─ calibrate router ────┴─ merge (one kernel table, shared weights) ─ pack
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..artifact.format import encode_plan, read_footer
from ..errors import CompilationError, RonnError
from ..options import CompileOptions
from ..build import Artifact, BuiltSystem, build, default_output
from ..stages.pack import pack
from ..targets import Target, get_target
from . import signals
from .config import DualConfig, calibration_feeds
from .costs import qemu_costs
from .format import Feature, Signal, encode_dual
from .merge import rename_kernels, share_weights, shift_kernels
from .routers import Calibration, get_router

FEATURES = list(Feature)


def _check_systems(full: BuiltSystem, fast: BuiltSystem, cfg: DualConfig) -> None:
    quantized = fast.plan.metadata.get("bitnet", {}).get("quantized_layers", [])
    if not quantized:
        raise RonnError(f"--dual {cfg.bitnet.weights}: the layer choice {cfg.bitnet.layers or 'default'!s} "
                        "quantizes no layer of this model, so System 1 would be System 2; choose layers with "
                        "--bitnet-layers (e.g. all) or compile without --dual")
    def io(s: BuiltSystem) -> Any:
        return ([(t.name, t.dtype, t.shape) for t in s.imported.inputs], s.imported.outputs)
    if io(full) != io(fast):
        raise CompilationError("System 1 and System 2 ended with different graph inputs or outputs")


def _pick_output(cfg: DualConfig, outputs: list[str], results: list[np.ndarray]) -> int:
    def classy(i: int) -> bool:
        r = results[i]
        return r.dtype == np.float32 and r.ndim >= 1 and r.shape[-1] >= 2
    if cfg.output is not None:
        index = outputs.index(cfg.output) if isinstance(cfg.output, str) and cfg.output in outputs else cfg.output
        if not isinstance(index, int) or not 0 <= index < len(outputs):
            raise RonnError(f"route output {cfg.output!r} is not an output of the model; outputs: {outputs}")
        if not classy(index):
            raise RonnError(f"route output {outputs[index]!r} is {results[index].dtype}{list(results[index].shape)}: "
                            "routing reads class scores (float32, last dimension >= 2)")
        return index
    for i in range(len(outputs)):
        if classy(i):
            return i
    raise RonnError(f"no output of the model holds class scores (float32, last dimension >= 2: "
                    f"{', '.join(f'{n} {r.dtype}{list(r.shape)}' for n, r in zip(outputs, results))}), so "
                    "neither confidence nor agreement can be read: a dual artifact needs a classifier-like output")


def _run_both(fast: Path, full: Path, feeds: list[dict[str, np.ndarray]],
              threads: int) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]], float, float]:
    """Every feed's outputs from both systems, and the median milliseconds of one run of each
    (batch as compiled). The two systems alternate feed by feed, so that a burst of other work on
    a shared machine lands on both and cannot make System 1 look slower than System 2."""
    import ronn_runtime

    sessions = [ronn_runtime.InferenceSession(str(p), num_threads=threads) for p in (fast, full)]
    outs: list[list[list[np.ndarray]]] = [[], []]
    times: list[list[float]] = [[], []]
    for warm in (False, True):  # a second, warm pass over a few: the first paid for page faults
        for feed in (feeds[:200] if warm else feeds):
            for k, sess in enumerate(sessions):
                t0 = time.perf_counter()
                out = sess.run(None, feed)
                times[k].append(time.perf_counter() - t0)
                if not warm:
                    outs[k].append(out)
    for sess in sessions:
        sess.close()
    return outs[0], outs[1], 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def calibrate(cfg: DualConfig, fast_so: Path, full_so: Path, feeds: list[dict[str, np.ndarray]],
              input_names: list[str], output_names: list[str], threads: int) -> Any:
    fast_out, full_out, t1, t2 = _run_both(fast_so, full_so, feeds, threads)
    if cfg.latency_ms is not None:
        t1, t2 = cfg.latency_ms
    out = _pick_output(cfg, output_names, full_out[0])
    rows = [signals.class_rows(o[out]) for o in full_out]
    probabilities = all(r.min() >= 0 and np.allclose(r.sum(axis=1), 1.0, atol=1e-3) for r in rows)
    softmax = not probabilities
    floats = [i for i, n in enumerate(input_names) if feeds[0][n].dtype == np.float32]
    if not floats and cfg.route != "confidence":
        raise RonnError(f"the {cfg.route} router reads statistics of a float32 input; this model's inputs are "
                        f"{input_names}: use --route confidence")
    cx = floats[0] if floats else 0
    cal = Calibration(
        confidence={s: np.array([signals.confidence(o[out], s, softmax) for o in fast_out]) for s in Signal},
        agree=np.array([signals.agrees(a[out], b[out]) for a, b in zip(fast_out, full_out)]),
        complexity_x=(np.stack([signals.features(f[input_names[cx]], FEATURES) for f in feeds])
                      if floats else np.zeros((len(feeds), len(FEATURES)))),
        features=FEATURES, system1_ms=t1, system2_ms=t2, min_agreement=cfg.min_agreement, output=out,
        softmax=softmax, complexity_input=cx, signal=cfg.signal)
    return get_router(cfg.route)(cal)


def _runs_here(target: Target) -> bool:
    return target.cuda is None and target.run.command_prefix(target.arch) == []


def compile_dual(model: str | Path | onnx.ModelProto, options: CompileOptions) -> Artifact:
    """One artifact: System 2's plan, System 1's plan, the calibrated router."""
    cfg: DualConfig = options.dual
    target = get_target(options.target)
    if target.cuda is not None:
        raise RonnError(f"--dual builds CPU artifacts; target {target.name} runs kernels on a GPU. Compile the "
                        "dual artifact for a CPU target, or compile for the GPU without --dual")
    if options.bitnet is not None:
        raise RonnError("--dual takes System 1's quantization itself (--dual ternary|binary with --bitnet-* "
                        "options); drop --bitnet, which makes a single BitNet artifact")
    if options.frozen_inputs:
        from ..stages.freeze import freeze_inputs
        from ..stages.frontend import load_model

        model = freeze_inputs(load_model(model), options.frozen_inputs)
        options = replace(options, frozen_inputs={})
    out_path = options.output_path or default_output(model, target.name)
    full_opts = replace(options, dual=None, bitnet=None)
    fast_opts = replace(options, dual=None, bitnet=cfg.bitnet)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ronn-aot-dual-") as tmp:
        work = Path(tmp)
        (work / "full").mkdir()
        (work / "fast").mkdir()
        full = build(model, full_opts, work / "full")
        fast = build(model, fast_opts, work / "fast")
        _check_systems(full, fast, cfg)
        feeds = calibration_feeds(cfg, full.imported.inputs)

        def plain(system: BuiltSystem, where: Path, target: Target = target) -> Path:
            pack(target, system.objects, system.built.kernels, encode_plan(system.plan), system.built.weights,
                 where, where / "plain.so")
            return where / "plain.so"

        full_so, fast_so = plain(full, work / "full"), plain(fast, work / "fast")
        calibrated_on = target.name
        costs_from = "given" if cfg.latency_ms is not None else f"median run times on {target.name}"
        if not _runs_here(target) and cfg.latency_ms is None:
            # the host's times are not the target's: count each system's instructions on its own code
            latency, why = qemu_costs(target, fast_so, full_so, feeds[0])
            if latency is not None:
                cfg = replace(cfg, latency_ms=latency)
                costs_from = why
            else:
                costs_from = f"median run times of host builds ({why})"
        if not _runs_here(target):  # calibrate on host builds of the same two systems
            host = get_target("host")
            calibrated_on = host.name
            (work / "host_full").mkdir()
            (work / "host_fast").mkdir()
            full_so = plain(build(model, replace(full_opts, target="host"), work / "host_full"), work / "host_full",
                            host)
            fast_so = plain(build(model, replace(fast_opts, target="host"), work / "host_fast"), work / "host_fast",
                            host)
        t0 = time.perf_counter()
        params = calibrate(cfg, fast_so, full_so, feeds, [s.name for s in full.imported.inputs],
                           full.imported.outputs, options.num_threads or 0)
        calibrate_s = time.perf_counter() - t0

        n2 = len(full.built.kernels)
        shared = share_weights(full.plan, full.built.weights, fast.plan, fast.built.weights)
        fast_plan = shift_kernels(shared.plan, n2)
        fast_objects = [rename_kernels(o, fast.built.kernels, n2, target.toolchain.strip, work / "fast" / "dual.o")
                        for o in fast.objects]
        fast_plan_blob = encode_plan(fast_plan)
        plain_bytes = {"system2_artifact": (work / "full" / "plain.so").stat().st_size,
                       "system1_artifact": (work / "fast" / "plain.so").stat().st_size}
        # Each system's kernels alone: the code bytes of its plain artifact (both sit in the dual one).
        code = {k: read_footer(work / k / "plain.so", verify=False).code_size for k in ("full", "fast")}
        full.plan.metadata = {**full.plan.metadata, "dual": {
            "router": params.name, "rule": params.describe(), "calibration": params.stats,
            "calibrated_on": calibrated_on, "costs": costs_from, "calibration_seconds": round(calibrate_s, 2),
            "system1": {"bitnet": fast.plan.metadata.get("bitnet", {}), "plan_bytes": len(fast_plan_blob),
                        "arena_bytes": fast_plan.arena_size, "kernels": len(fast.built.kernels),
                        "code_bytes": code["fast"],
                        "own_weight_bytes": shared.own_bytes, "shared_weight_bytes": shared.shared_bytes},
            "system2": {"arena_bytes": full.plan.arena_size, "kernels": n2, "code_bytes": code["full"],
                        "weight_bytes": len(full.built.weights)},
            "plain_artifact_bytes": plain_bytes}}
        footer = pack(target, full.objects + fast_objects, full.built.kernels + fast.built.kernels,
                      encode_plan(full.plan), shared.blob, work, out_path,
                      dual_blob=encode_dual(params, fast_plan_blob))
    times = {**{f"full.{k}": v for k, v in full.stage_seconds.items()},
             **{f"fast.{k}": v for k, v in fast.stage_seconds.items()},
             "calibrate": calibrate_s, "total": time.perf_counter() - t_start}
    return Artifact(out_path, target.name, options.opt_level, full.imported.inputs, full.imported.outputs, footer,
                    max(full.plan.arena_size, fast_plan.arena_size), n2 + len(fast.built.kernels),
                    len(full.plan.steps) + len(fast_plan.steps), full.lower_report, full.scheduled, times)
