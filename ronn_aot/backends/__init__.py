"""Code generation backends, by target kind.

Every target's host kernels go through `llvm_cpu` (LLVM for the target's triple, CPU and
features, with our TIR pipeline in `tir_pipeline`). A target with a device (its TOML has a table
named after the device kind, e.g. `[cuda]`) also has a device backend, registered here by that
kind: a module that provides

    lowering_error(func, tvm_target) -> str | None      why a scheduled kernel cannot run on the
                                                         device (None: it can)
    compile_device_kernels(mod, kernel_names, on_device, tvm_target, spec, work) -> DeviceBuild
                                                         the device images + the host-side object

The schedule stage asks the first, the device codegen stage calls the second; nothing else in the
compiler names a device. A new accelerator is one module here plus one `register_device_backend`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import RonnError

if TYPE_CHECKING:
    from ..targets import Target

HOST_BACKEND = "ronn_aot.backends.llvm_cpu"
# device kind -> module (imported when a target of that kind is compiled)
_DEVICE_BACKENDS: dict[str, str] = {"cuda": "ronn_aot.backends.cuda"}


def register_device_backend(kind: str, module: str) -> None:
    """Make `module` (an importable name) the device backend of targets of `kind`."""
    if kind in _DEVICE_BACKENDS and _DEVICE_BACKENDS[kind] != module:
        raise RonnError(f"a device backend for {kind!r} is already registered ({_DEVICE_BACKENDS[kind]})")
    _DEVICE_BACKENDS[kind] = module


def device_backend(target: Target) -> ModuleType | None:
    """The device backend of `target`, or None for a host-only target."""
    kind = target.device_kind
    if kind is None:
        return None
    if kind not in _DEVICE_BACKENDS:
        raise RonnError(f"target {target.name!r} has a {kind!r} device, for which no backend is registered; "
                        f"known device kinds: {', '.join(sorted(_DEVICE_BACKENDS))}")
    return importlib.import_module(_DEVICE_BACKENDS[kind])
