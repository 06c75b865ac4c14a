from __future__ import annotations


class RonnRuntimeError(RuntimeError):
    """An error reported by runtime_min; `code` is the status code name (e.g. 'INVALID_ARGUMENT')."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
