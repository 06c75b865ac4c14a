"""The kernel graph of a compiled plan, for structural tests: which kernel feeds which, and what
each kernel computes (from the op names FuseTIR joins into a fused kernel's name)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from ronn_aot.artifact.format import Plan, StepKind, Storage


CONV = {"conv2d", "matmul", "dense"}
ELEMENTWISE = {"add", "subtract", "multiply", "divide", "relu", "clip", "maximum", "minimum", "sigmoid",
               "tanh", "batch_norm"}
LAYOUT = {"transpose", "layout_transform"}


def ops_of(kernel: str) -> set[str]:
    """The ops a kernel computes: 'fused_conv2d3_multiply2_add2_relu1' -> {conv2d, multiply, add, relu}."""
    name = kernel.removeprefix("fused_")
    for joined in ("batch_norm", "layout_transform", "max_pool2d", "avg_pool2d"):
        name = re.sub(joined + r"\d*", joined.replace("_", "~"), name)
    return {re.sub(r"\d+$", "", part).replace("~", "_") for part in name.split("_") if part}


@dataclass
class KernelGraph:
    """Kernel steps of a plan with their producers and consumers (single-output kernels)."""

    names: list[str]
    inputs: list[list[int | None]]  # per step: producing step of each input, None for inputs/weights
    weight_inputs: list[bool]  # per step: reads a weight
    consumers: dict[int, list[int]] = field(default_factory=dict)

    @staticmethod
    def of(plan: Plan) -> KernelGraph:
        last_writer: dict[tuple[int, int, int], int] = {}

        def key(t: int) -> tuple[int, int, int]:
            rec = plan.tensors[t]
            return (int(rec.storage), rec.offset, rec.index if rec.storage == Storage.OUTPUT else 0)

        g = KernelGraph([], [], [])
        for step in plan.steps:
            if step.kind != StepKind.KERNEL:
                continue
            i = len(g.names)
            g.names.append(step.name)
            g.inputs.append([last_writer.get(key(t)) for t in step.args[:-1]])
            g.weight_inputs.append(any(plan.tensors[t].storage == Storage.WEIGHTS for t in step.args[:-1]))
            for p in g.inputs[i]:
                if p is not None:
                    g.consumers.setdefault(p, []).append(i)
            last_writer[key(step.args[-1])] = i
        return g

    def ops(self, i: int) -> set[str]:
        return ops_of(self.names[i])

    def reaches(self, start: int, want: set[str], downstream: bool) -> bool:
        """Whether a kernel computing one of `want` lies upstream/downstream of step `start`."""
        seen, todo = set(), [start]
        while todo:
            i = todo.pop()
            nxt = self.consumers.get(i, []) if downstream else [p for p in self.inputs[i] if p is not None]
            for j in nxt:
                if j not in seen:
                    seen.add(j)
                    if self.ops(j) & want:
                        return True
                    todo.append(j)
        return False


def lowered_plan(model: str | Path | onnx.ModelProto, opt_level: int, target: str = "host") -> tuple[Plan, Any]:
    """Import, optimize and plan a model without code generation: (plan, lower report)."""
    from ronn_aot.stages.frontend import import_model
    from ronn_aot.stages.lower import lower
    from ronn_aot.stages.plan_builder import build_plan
    from ronn_aot.targets import get_target

    t = get_target(target)
    imported = import_model(model, {})
    mod, report = lower(imported.mod, t.tvm_target(), t.name, opt_level, verify_ir=True)
    return build_plan(mod, imported.inputs, imported.outputs, {}).plan, report
