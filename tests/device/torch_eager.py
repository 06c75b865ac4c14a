"""The PyTorch eager baseline of the device check: an ONNX graph exported by prepare.py (node list +
initializers) run with plain torch ops, the ops an nn.Module written by hand for the same model
would call (F.conv2d, torch.matmul, F.layer_norm, ...), on the same GPU.

The GPU machine has neither onnx nor onnx2torch, so the graph is resolved once into a list of
closures over CUDA tensors; a forward pass is that list run in order (the Python cost per op is
that of an nn.Module's forward). Supported: the ops of EfficientNet-Lite0 and of
tests/graphs.py attention_block.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

Env = dict[str, Any]


def _conv(a: dict[str, Any]) -> Callable[..., Any]:
    kernel = a.get("kernel_shape")
    pads = a.get("pads", [0] * (2 * len(kernel or [0, 0])))
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError(f"Conv auto_pad={a['auto_pad']}")
    half = len(pads) // 2
    symmetric = pads[:half] == pads[half:]

    def conv(x: Any, w: Any, b: Any = None) -> Any:
        if not symmetric:
            x = F.pad(x, [p for i in reversed(range(half)) for p in (pads[i], pads[i + half])])
        return F.conv2d(x, w, b, stride=a.get("strides", 1), padding=pads[:half] if symmetric else 0,
                        dilation=a.get("dilations", 1), groups=a.get("group", 1))
    return conv


def _gemm(a: dict[str, Any]) -> Callable[..., Any]:
    def gemm(x: Any, w: Any, c: Any = None) -> Any:
        x = x.t() if a.get("transA", 0) else x
        w = w.t() if a.get("transB", 0) else w
        y = a.get("alpha", 1.0) * (x @ w)
        return y if c is None else y + a.get("beta", 1.0) * c
    return gemm


def _reduce_mean(a: dict[str, Any]) -> Callable[..., Any]:
    def mean(x: Any, axes: Any = None) -> Any:
        dims = [int(d) for d in (axes.tolist() if axes is not None else a.get("axes", range(x.dim())))]
        return x.mean(dim=dims, keepdim=bool(a.get("keepdims", 1)))
    return mean


def _layer_norm(a: dict[str, Any]) -> Callable[..., Any]:
    def ln(x: Any, g: Any, b: Any = None) -> Any:
        axis = a.get("axis", -1) % x.dim()
        return F.layer_norm(x, x.shape[axis:], g, b, eps=a.get("epsilon", 1e-5))
    return ln


OPS: dict[str, Callable[[dict[str, Any]], Callable[..., Any]]] = {
    "Conv": _conv,
    "Gemm": _gemm,
    "ReduceMean": _reduce_mean,
    "LayerNormalization": _layer_norm,
    "Add": lambda a: torch.add,
    "Mul": lambda a: torch.mul,
    "MatMul": lambda a: torch.matmul,
    "Clip": lambda a: lambda x, lo=None, hi=None: torch.clamp(x, lo, hi),
    "Relu": lambda a: F.relu,
    "Softmax": lambda a: lambda x: torch.softmax(x, dim=a.get("axis", -1)),
    "Transpose": lambda a: lambda x: x.permute(*a["perm"]),
    "Reshape": lambda a: lambda x, shape: x.reshape([int(d) if d != 0 else x.shape[i]
                                                      for i, d in enumerate(shape.tolist())]),
}


def load_weights(graph: dict[str, Any], prefix: Path) -> Any:
    """The initializers by key: from the .npz beside the graph, or, for a model whose .onnx is
    tracked in the repository, from that file (read with onnx)."""
    if "weights_onnx" not in graph:
        return np.load(f"{prefix}.npz")
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        raise SystemExit(f"torch_eager: reading {graph['weights_onnx']} needs the onnx package ({e})")
    model = onnx.load(str(Path(__file__).resolve().parents[2] / graph["weights_onnx"]))
    by_name = {t.name: t for t in model.graph.initializer}
    return {key: numpy_helper.to_array(by_name[name]) for name, key in graph["initializers"].items()}


class EagerGraph:
    """An exported ONNX graph as torch eager calls on `device`."""

    def __init__(self, prefix: Path, device: str = "cuda") -> None:
        graph = json.loads(Path(f"{prefix}.json").read_text())
        weights = load_weights(graph, prefix)
        self.inputs: list[str] = graph["inputs"]
        self.outputs: list[str] = graph["outputs"]
        # Shape operands stay on the CPU (torch reads them as Python ints), the rest on the GPU.
        shape_inputs = {n["inputs"][1] for n in graph["nodes"] if n["op"] == "Reshape"}
        shape_inputs |= {n["inputs"][1] for n in graph["nodes"] if n["op"] == "ReduceMean" and len(n["inputs"]) > 1}
        self.constants: Env = {}
        for name, key in graph["initializers"].items():
            t = torch.from_numpy(np.array(weights[key]))  # a writable copy
            self.constants[name] = t if name in shape_inputs else t.to(device)
        self.steps: list[tuple[Callable[..., Any], list[str], str]] = []
        for n in graph["nodes"]:
            if n["op"] not in OPS:
                raise NotImplementedError(f"torch_eager: no torch mapping for ONNX op {n['op']}")
            self.steps.append((OPS[n["op"]](n["attrs"]), n["inputs"], n["outputs"][0]))

    @torch.no_grad()
    def __call__(self, *args: Any) -> list[Any]:
        env: Env = dict(self.constants)
        env.update(zip(self.inputs, args))
        for fn, ins, out in self.steps:
            env[out] = fn(*[env[i] if i else None for i in ins])
        return [env[o] for o in self.outputs]
