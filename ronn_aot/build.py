"""Every stage before pack, for one model, as a list of named stages (`STAGES`):

    freeze -> import -> bitnet -> lower -> plan -> schedule -> place -> align -> codegen -> codegen_device

Each stage reads and extends one `BuildState`; a stage whose `applies` is false for this build
(bitnet without --bitnet, place and codegen_device without kernels on a device) is skipped.
Host kernels go through the llvm-cpu backend, device kernels through the target kind's device
backend (ronn_aot.backends).
`run_stages(..., stop_after=NAME)` stops after a stage (`ronn-aot compile --stop-after`, and
`tune`, which needs the kernels as the compile plans them); with `options.dump_ir_dir` the Relax
module after each stage is written there. `pipeline.compile` packs one build into an artifact;
`dual.compile` packs two (System 1 and System 2) into one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable
from pathlib import Path
from typing import Any

import onnx

from . import __version__
from .artifact.format import DeviceModule, Footer, Plan, encode_device_module
from .backends.llvm_cpu import compile_kernels
from .backends import device_backend
from .stages.freeze import freeze_inputs
from .stages.frontend import ImportedModel, TensorSpec, import_model, load_model
from .stages.input_alignment import relax_input_alignment
from .stages.lower import LowerReport, lower
from .options import CompileOptions
from .stages.placement import Placement, place_kernels
from .stages.plan_builder import BuiltPlan, build_plan
from .stages.prepack import apply_packing, constant_params
from .stages.schedule import ScheduleReport, schedule
from .errors import RonnError
from .targets import Target, get_target


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


@dataclass
class BuildState:
    """What the stages have made so far (each stage fills its fields)."""

    model: str | Path | onnx.ModelProto
    options: CompileOptions
    target: Target
    tvm_target: Any
    work: Path
    imported: ImportedModel | None = None
    mod: Any = None  # the Relax module as the last stage left it
    lower_report: LowerReport | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    built: BuiltPlan | None = None
    scheduled: ScheduleReport | None = None
    plan: Plan | None = None
    placement: Placement | None = None
    device_module: DeviceModule | None = None
    objects: list[Path] = field(default_factory=list)
    device_blob: bytes = b""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)  # the stages that ran, in order

    @property
    def on_device(self) -> frozenset[str]:
        return frozenset(self.scheduled.on_device()) if self.scheduled is not None else frozenset()


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[BuildState], None]
    doc: str
    applies: Callable[[BuildState], bool] = lambda s: True


def _freeze(s: BuildState) -> None:
    s.model = freeze_inputs(load_model(s.model), s.options.frozen_inputs)


def _import(s: BuildState) -> None:
    s.imported = import_model(s.model, s.options.input_shapes)
    s.mod = s.imported.mod


def _bitnet(s: BuildState) -> None:
    from .bitnet.rewrite import quantize_module

    s.mod, report = quantize_module(s.mod, s.options.bitnet, s.target)
    s.imported.mod = s.mod
    s.metadata["bitnet"] = report.metadata()


def _lower(s: BuildState) -> None:
    o, imported = s.options, s.imported
    s.mod, s.lower_report = lower(s.mod, s.tvm_target, s.target.name, o.opt_level, o.dump_ir_dir)
    s.metadata = {
        "producer": f"ronn-aot {__version__}", "target": s.target.name, "opt_level": o.opt_level,
        "llvm": s.target.llvm, "opset": imported.opset,
        "inputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)} for t in imported.inputs],
        **s.metadata,
    }


def _plan(s: BuildState) -> None:
    s.built = build_plan(s.mod, s.imported.inputs, s.imported.outputs, s.metadata)
    s.plan = s.built.plan


def _schedule(s: BuildState) -> None:
    s.mod, s.scheduled = schedule(s.mod, s.built.kernels, s.target, s.tvm_target,
                                  constant_params(s.built.plan, s.built.kernels), s.options.use_records)
    s.built = apply_packing(s.built, s.scheduled.packed)
    s.plan = s.built.plan


def _place(s: BuildState) -> None:
    s.placement = place_kernels(s.mod, s.built.plan, s.built.kernels, s.on_device)
    s.plan = s.placement.plan
    s.metadata["device"] = {"kind": s.target.device_kind, **s.target.to_json().get(s.target.device_kind, {}),
                            "host_kernels": sorted(set(s.built.kernels) - s.on_device)}


def _align(s: BuildState) -> None:
    s.mod, s.plan = relax_input_alignment(s.mod, s.plan, s.built.kernels, s.on_device)


def _codegen(s: BuildState) -> None:
    host_target = s.tvm_target if s.target.device_kind is None else s.tvm_target.host
    if compile_kernels(s.mod, s.built.kernels, host_target, s.work / "kernels.o", s.on_device):
        s.objects.append(s.work / "kernels.o")


def _codegen_device(s: BuildState) -> None:
    device = device_backend(s.target).compile_device_kernels(s.mod, s.built.kernels, s.on_device, s.tvm_target,
                                                            s.target.cuda, s.work)
    device.module.arena_size = s.placement.device_arena_size
    s.device_module = device.module
    s.objects.append(device.host_object)
    s.device_blob = encode_device_module(device.module)


STAGES: tuple[Stage, ...] = (
    Stage("freeze", _freeze, "graph inputs given as constants (--freeze-input)",
          lambda s: bool(s.options.frozen_inputs)),
    Stage("import", _import, "onnx checks, shapes, functions, folding, converters -> Relax"),
    Stage("bitnet", _bitnet, "ternary/binary layers as bit-serial kernel calls (--bitnet)",
          lambda s: s.options.bitnet is not None),
    Stage("lower", _lower, "graph passes by level, legalize, fuse, memory plan"),
    Stage("plan", _plan, "arena offsets, weights blob, kernel calls"),
    Stage("schedule", _schedule, "each kernel's tuning record or rule schedule"),
    Stage("place", _place, "host/device memory and copies (GPU targets)", lambda s: bool(s.on_device)),
    Stage("align", _align, "kernels read graph inputs at the caller's alignment"),
    Stage("codegen", _codegen, "LLVM for the target: one object file"),
    Stage("codegen_device", _codegen_device, "device kernels by the target's device backend (CUDA: cubin)",
          lambda s: s.placement is not None and s.target.device_kind is not None),
)
# pack (pipeline.compile, dual.compile) follows the last of these.
STAGE_NAMES: tuple[str, ...] = (*(s.name for s in STAGES), "pack")


def run_stages(model: str | Path | onnx.ModelProto, options: CompileOptions, work: Path,
               stop_after: str | None = None) -> BuildState:
    """Run the stages in order (those that apply), stopping after `stop_after` when given."""
    if stop_after is not None and stop_after not in STAGE_NAMES:
        raise RonnError(f"unknown stage {stop_after!r} for --stop-after; stages: {', '.join(STAGE_NAMES)}")
    target = get_target(options.target)
    state = BuildState(model, options, target, target.tvm_target(options.num_threads), work)
    for stage in STAGES:
        if stage.applies(state):
            t0 = time.perf_counter()
            stage.run(state)
            state.stage_seconds[stage.name] = time.perf_counter() - t0
            state.done.append(stage.name)
            _dump(state, stage.name)
        if stage.name == stop_after:
            break
    return state


def _dump(state: BuildState, name: str) -> None:
    """With --dump-ir, the Relax module after each stage (the passes inside lower dump their own)."""
    d = state.options.dump_ir_dir
    if d is None or state.mod is None:
        return
    d.mkdir(parents=True, exist_ok=True)
    (d / f"stage-{len(state.done):02d}-{name}.py").write_text(state.mod.script())


def build(model: str | Path | onnx.ModelProto, options: CompileOptions, work: Path) -> BuiltSystem:
    """Every stage before pack, objects into `work`."""
    s = run_stages(model, options, work)
    return BuiltSystem(s.imported, s.lower_report, s.scheduled, s.built, s.plan, s.objects, s.device_blob,
                       s.placement, s.device_module, s.stage_seconds)
