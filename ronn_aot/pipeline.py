"""The compiler: a straight pipeline of named stages.

    import -> lower (graph passes, legalize, fuse, plan memory) -> plan -> schedule -> align -> codegen -> pack

The stages before pack are the list `build.STAGES` (GPU targets add place, host/device memory and
copies, and codegen_device, the device kernels with the target's device backend); `--dual` (ronn_aot/dual) packs
two builds, System 1 and System 2, into one.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import onnx

from .artifact.format import encode_plan
from .build import Artifact, BuiltSystem, build, default_output
from .options import CompileOptions
from .stages.pack import pack
from .targets import get_target

__all__ = ["Artifact", "BuiltSystem", "build", "compile"]


def compile(model: str | Path | onnx.ModelProto, options: CompileOptions | None = None) -> Artifact:
    """Compile an ONNX model (a path or a ModelProto) into one artifact file."""
    options = options or CompileOptions()
    if options.dual is not None:  # System 1 (BitNet) + System 2 (full precision) + a router
        from .dual.compile import compile_dual

        return compile_dual(model, options)
    target = get_target(options.target)
    out_path = options.output_path or default_output(model, target.name)
    with tempfile.TemporaryDirectory(prefix="ronn-aot-") as tmp:
        work = Path(tmp)
        system = build(model, options, work)
        t0 = time.perf_counter()
        footer = pack(target, system.objects, system.built.kernels, encode_plan(system.plan),
                      system.built.weights, work, out_path, system.device_blob)
        system.stage_seconds["pack"] = time.perf_counter() - t0
    return Artifact(out_path, target.name, options.opt_level, system.imported.inputs, system.imported.outputs,
                    footer, system.plan.arena_size, len(system.built.kernels), len(system.plan.steps),
                    system.lower_report, system.scheduled, system.stage_seconds, system.placement,
                    system.device_module)
