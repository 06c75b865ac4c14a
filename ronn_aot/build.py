"""Every stage before pack, for one model: import -> lower -> plan -> schedule -> align -> codegen.

`pipeline.compile` packs one such build into an artifact; `dual.compile` packs two (System 1 and
System 2) into one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from . import __version__
from .artifact.format import DeviceModule, Footer, Plan, encode_device_module
from .backends.llvm_cpu import compile_kernels
from .backends.cuda import compile_device_kernels
from .stages.freeze import freeze_inputs
from .stages.frontend import ImportedModel, TensorSpec, import_model, load_model
from .stages.input_alignment import relax_input_alignment
from .stages.lower import LowerReport, lower
from .options import CompileOptions
from .stages.placement import Placement, place_kernels
from .stages.plan_builder import BuiltPlan, build_plan
from .stages.prepack import apply_packing, constant_params
from .stages.schedule import ScheduleReport, schedule
from .targets import get_target


@dataclass
class Artifact:
    """A compiled model on disk, with what the compiler learned while making it."""

    path: Path
    target: str
    opt_level: int
    inputs: list[TensorSpec]
    output_names: list[str]
    footer: Footer
    arena_size: int
    num_kernels: int
    num_steps: int
    lower_report: LowerReport
    schedule_report: ScheduleReport = field(default_factory=ScheduleReport)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    placement: Placement | None = None  # GPU targets: copies between host and device
    device_module: DeviceModule | None = None  # GPU targets: the embedded images and kernels

    def session(self, num_threads: int = 0) -> Any:
        """An InferenceSession on this artifact (host targets only)."""
        import ronn_runtime

        return ronn_runtime.InferenceSession(str(self.path), num_threads=num_threads)


def default_output(model: str | Path | onnx.ModelProto, target: str) -> Path:
    stem = Path(model).stem if not isinstance(model, onnx.ModelProto) else (model.graph.name or "model")
    return Path.cwd() / f"{stem}-{target}.so"


@dataclass
class BuiltSystem:
    """One model compiled down to object files and a plan: what `pack` links into an artifact."""

    imported: ImportedModel
    lower_report: LowerReport
    scheduled: ScheduleReport
    built: BuiltPlan
    plan: Plan
    objects: list[Path]
    device_blob: bytes
    placement: Placement | None
    device_module: DeviceModule | None
    stage_seconds: dict[str, float]


def build(model: str | Path | onnx.ModelProto, options: CompileOptions, work: Path) -> BuiltSystem:
    """Every stage before pack (import, lower, plan, schedule, align, codegen), objects into `work`."""
    target = get_target(options.target)
    tvm_target = target.tvm_target(options.num_threads)
    times: dict[str, float] = {}

    def timed(name: str, fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        result = fn(*args)
        times[name] = time.perf_counter() - t0
        return result

    if options.frozen_inputs:
        model = freeze_inputs(load_model(model), options.frozen_inputs)
    imported: ImportedModel = timed("import", import_model, model, options.input_shapes)
    bitnet_meta: dict[str, Any] = {}
    if options.bitnet is not None:  # ternary / binary layers become bit-serial kernel calls
        from .bitnet.rewrite import quantize_module

        imported.mod, bitnet_report = timed("bitnet", quantize_module, imported.mod, options.bitnet, target)
        bitnet_meta = {"bitnet": bitnet_report.metadata()}
    lowered, report = timed("lower", lower, imported.mod, tvm_target, target.name, options.opt_level,
                            options.dump_ir_dir)
    metadata = {
        "producer": f"ronn-aot {__version__}", "target": target.name, "opt_level": options.opt_level,
        "llvm": target.llvm, "opset": imported.opset,
        "inputs": [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in imported.inputs],
        **bitnet_meta,
    }
    built: BuiltPlan = timed("plan", build_plan, lowered, imported.inputs, imported.outputs, metadata)
    lowered, scheduled = timed("schedule", schedule, lowered, built.kernels, target, tvm_target,
                               constant_params(built.plan, built.kernels), options.use_records)
    built = apply_packing(built, scheduled.packed)
    on_device = scheduled.on_device()
    plan, placement, device_module = built.plan, None, None
    if on_device:
        placement = timed("place", place_kernels, lowered, built.plan, built.kernels, on_device)
        plan = placement.plan
        metadata["device"] = {"kind": "cuda", **target.to_json().get("cuda", {}),
                              "host_kernels": sorted(set(built.kernels) - on_device)}
    lowered, plan = timed("align", relax_input_alignment, lowered, plan, built.kernels, frozenset(on_device))
    host_target = tvm_target if target.cuda is None else tvm_target.host

    objects = []
    if timed("codegen", compile_kernels, lowered, built.kernels, host_target, work / "kernels.o",
             frozenset(on_device)):
        objects.append(work / "kernels.o")
    device_blob = b""
    if placement is not None and target.cuda is not None:
        device = timed("codegen_cuda", compile_device_kernels, lowered, built.kernels, on_device,
                       tvm_target, target.cuda, work)
        device.module.arena_size = placement.device_arena_size
        device_module = device.module
        objects.append(device.host_object)
        device_blob = encode_device_module(device.module)
    return BuiltSystem(imported, report, scheduled, built, plan, objects, device_blob, placement, device_module,
                       times)
