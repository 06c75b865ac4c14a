"""The one exception hierarchy of ronn-aot.

Every error a user can cause derives from RonnError and carries a message that says what was
wrong and what to do. The CLI prints the message (no traceback) and exits with `exit_code`.
"""

from __future__ import annotations


class RonnError(Exception):
    """Base class of every ronn-aot error."""

    exit_code = 1


class InvalidModelError(RonnError):
    """The model file is missing, unreadable, or fails onnx's checker."""

    exit_code = 3


class UnsupportedOperatorError(RonnError):
    """An operator (or an attribute of it) has no lowering."""

    exit_code = 4

    def __init__(self, op_type: str, node_name: str, opset: int, detail: str = "") -> None:
        self.op_type, self.node_name, self.opset = op_type, node_name, opset
        msg = (f"unsupported operator {op_type} (node {node_name!r}, opset {opset})"
               + (f": {detail}" if detail else "")
               + ". Replace it in the model, or export at another opset.")
        super().__init__(msg)


class ShapeError(RonnError):
    """A dimension is unknown or inconsistent; static shapes are required."""

    exit_code = 5


class UnknownTargetError(RonnError):
    """The target name has no description in targets/."""

    exit_code = 6


class ToolchainError(RonnError):
    """A compiler, linker or strip tool that the target needs is missing or failed."""

    exit_code = 7


class CompilationError(RonnError):
    """A compiler stage failed on a valid model: a bug in ronn-aot (please report it)."""

    exit_code = 8


class ArtifactError(RonnError):
    """An artifact is corrupted, truncated, or of another ABI version."""

    exit_code = 9


EXIT_CODES: dict[str, int] = {
    cls.__name__: cls.exit_code
    for cls in (RonnError, InvalidModelError, UnsupportedOperatorError, ShapeError,
                UnknownTargetError, ToolchainError, CompilationError, ArtifactError)
}
