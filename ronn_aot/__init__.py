"""ronn-aot: an ahead-of-time compiler from ONNX to one small shared library per model.

    import ronn_aot
    art = ronn_aot.compile("model.onnx", ronn_aot.CompileOptions().with_target("aarch64"))

The heavy parts (TVM) are imported lazily, so `ronn_aot.errors` and `ronn_aot.artifact.format`
stay usable on machines without TVM.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .errors import (ArtifactError, CompilationError, InvalidModelError, RonnError, ShapeError,  # noqa: E402
                     ToolchainError, UnknownTargetError, UnsupportedOperatorError)
from .options import CompileOptions  # noqa: E402


def compile(model: Any, options: CompileOptions | None = None) -> Any:
    """Compile an ONNX model (path or ModelProto) into an artifact; see pipeline.compile."""
    from .pipeline import compile as _compile

    return _compile(model, options)


__all__ = ["compile", "CompileOptions", "RonnError", "InvalidModelError", "UnsupportedOperatorError",
           "ShapeError", "UnknownTargetError", "ToolchainError", "CompilationError", "ArtifactError"]
