"""System 1 / System 2 in one artifact: a BitNet plan (fast), the full-precision plan, and a router
calibrated at compile time that picks one per input (`CompileOptions.with_dual`, `--dual`)."""

from .config import DualConfig
from .format import RouterParams, decode_dual, encode_dual
from .routers import ROUTERS, get_router

__all__ = ["DualConfig", "RouterParams", "decode_dual", "encode_dual", "ROUTERS", "get_router"]
