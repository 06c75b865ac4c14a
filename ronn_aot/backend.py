"""ronn-aot as an `onnx.backend.base.Backend`, so onnx's own runner (`onnx.backend.test.BackendTest`)
and any code written against that interface can drive it.

    import ronn_aot.backend as backend
    rep = backend.prepare(model)          # checks the model; compiles on the first run
    outputs = rep.run([x, shape])         # compiled for these shapes, runs through runtime_min

An ahead-of-time compiler needs static shapes and constant shape arguments, which a Backend is
not given at `prepare`: a rep compiles when it first sees inputs, for their shapes, with the
inputs that decide shapes (freeze.shape_deciding_inputs: a Reshape's target, TopK's k, axes, pads,
sizes, ...) frozen to the values given. Artifacts are cached on disk by everything that decides
them (model bytes, target, level, shapes, frozen values, the compiler's own source), so a suite
compiles each case once: `RONN_AOT_CACHE` (default ~/.cache/ronn-aot/backend).
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from .errors import RonnError
from .stages.freeze import graph_inputs, shape_deciding_inputs
from .stages.frontend import load_model
from .options import DEFAULT_OPT_LEVEL, CompileOptions

CACHE_ENV = "RONN_AOT_CACHE"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ronn-aot" / "backend")


@cache
def compiler_fingerprint() -> str:
    """A hash of the compiler's sources, the schedule rules and records, and the target files: an
    artifact cached by other code is not reused."""
    import importlib.util

    from . import __version__

    h = hashlib.sha256(__version__.encode())
    roots = [Path(__file__).resolve().parent]
    spec = importlib.util.find_spec("ronn_aot.schedules")
    if spec is not None and spec.origin:
        roots.append(Path(spec.origin).resolve().parent)
    try:
        from .resources import targets_dir

        roots.append(targets_dir())
    except (ImportError, RonnError):
        pass
    for root in dict.fromkeys(roots):
        for f in sorted(root.rglob("*")):
            if f.suffix in (".py", ".toml", ".json", ".c", ".h") and f.is_file():
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


class RonnBackendRep(BackendRep):
    """A prepared model: compiled per distinct input shapes and frozen values, run by runtime_min."""

    def __init__(self, model: onnx.ModelProto, target: str = "host", opt_level: int = DEFAULT_OPT_LEVEL,
                 num_threads: int = 0) -> None:
        self.model = model
        self.target = target
        self.opt_level = opt_level
        self.num_threads = num_threads
        self.input_names = [i.name for i in graph_inputs(model)]
        self.output_names = [o.name for o in model.graph.output]
        self.frozen_names = shape_deciding_inputs(model)
        self._bytes = model.SerializeToString()
        self._sessions: dict[str, Any] = {}
        self.last_artifact: Path | None = None

    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        if isinstance(inputs, Mapping):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            if len(inputs) > len(self.input_names):
                raise RonnError(f"{len(inputs)} inputs given, the model takes {len(self.input_names)}: "
                                f"{self.input_names}")
            feeds = dict(zip(self.input_names, inputs))  # trailing optional inputs may be left out
        out = {}
        for k, v in feeds.items():
            if isinstance(v, (list, tuple)) or v is None:
                raise RonnError(f"input {k!r} is a sequence or an optional value; ronn-aot artifacts take "
                                "tensors only: re-export the model with tensor inputs")
            out[k] = np.asarray(v)
        return out

    def _key(self, feeds: Mapping[str, np.ndarray], frozen: Mapping[str, np.ndarray]) -> str:
        h = hashlib.sha256(self._bytes)
        h.update(f"{self.target}|O{self.opt_level}|{compiler_fingerprint()}".encode())
        for name in sorted(feeds):
            v = feeds[name]
            h.update(f"|{name}:{v.dtype}:{v.shape}".encode())
            if name in frozen:
                h.update(np.ascontiguousarray(v).tobytes())
        return h.hexdigest()[:24]

    def compile_for(self, feeds: Mapping[str, np.ndarray]) -> tuple[Path, list[str]]:
        """The artifact for these inputs (from the cache, or compiled now) and the inputs it takes."""
        from . import compile as compile_model

        # Inputs that decide shapes, and empty tensors (their value is their shape: CastLike's
        # `like`, an absent optional given as []), are compiled as constants.
        frozen = {n: feeds[n] for n in self.input_names
                  if n in feeds and (n in self.frozen_names or feeds[n].size == 0)}
        key = self._key(feeds, frozen)
        path = cache_dir() / f"{key}.so"
        model = self.model
        given = [n for n in self.input_names if n in feeds]
        if len(given) < len(self.input_names):  # optional inputs left out: drop them from the graph
            model = _without_inputs(model, set(self.input_names) - set(given))
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            opts = (CompileOptions().with_target(self.target).with_optimization_level(self.opt_level)
                    .with_output(path.with_suffix(f".{os.getpid()}.tmp.so")))
            for name in given:
                if name in frozen:
                    opts = opts.with_frozen_input(name, frozen[name])
                elif feeds[name].ndim:
                    opts = opts.with_input_shape(name, feeds[name].shape)
            art = compile_model(model, opts)
            os.replace(art.path, path)  # atomic: concurrent runners never see half a file
        self.last_artifact = path
        return path, [n for n in given if n not in frozen]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        import ronn_runtime

        feeds = self._feeds(inputs)
        path, takes = self.compile_for(feeds)
        sess = self._sessions.get(str(path))
        if sess is None:
            sess = self._sessions[str(path)] = ronn_runtime.InferenceSession(str(path),
                                                                             num_threads=self.num_threads)
        outputs = sess.run(None, {n: feeds[n] for n in takes})
        return namedtupledict("Outputs", self.output_names)(*outputs)


def _without_inputs(model: onnx.ModelProto, names: set[str]) -> onnx.ModelProto:
    """Optional inputs the caller left out become empty names in the nodes that read them."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for node in m.graph.node:
        for i, n in enumerate(node.input):
            if n in names:
                node.input[i] = ""
    kept = [i for i in m.graph.input if i.name not in names]
    del m.graph.input[:]
    m.graph.input.extend(kept)
    return m


class RonnBackend(Backend):
    """onnx's Backend interface over ronn-aot: the host's CPU target, compiled ahead of time."""

    target = "host"

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: onnx.ModelProto | str, device: str = "CPU", **kwargs: Any) -> RonnBackendRep:
        if not cls.supports_device(device):
            raise RonnError(f"ronn-aot's Backend runs on CPU, not {device!r}; compile for a CUDA target with "
                            "`ronn-aot compile --target cuda-sm80` instead")
        proto = load_model(model)
        return RonnBackendRep(proto, kwargs.get("target", cls.target),
                              kwargs.get("opt_level", DEFAULT_OPT_LEVEL), kwargs.get("num_threads", 0))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence[tuple[Any, tuple[int, ...]]] | None = None,
                 **kwargs: Any) -> tuple[Any, ...] | None:
        raise RonnError("ronn-aot compiles whole models: wrap the node in a model (onnx.helper.make_model) "
                        "and use run_model")

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return Device(device).type == DeviceType.CPU


prepare = RonnBackend.prepare
run_model = RonnBackend.run_model
run_node = RonnBackend.run_node
supports_device = RonnBackend.supports_device
