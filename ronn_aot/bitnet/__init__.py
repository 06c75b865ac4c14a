"""BitNet: ternary and binary weights, bit-packed in the artifact, with bit-serial popcount TIR
kernels on every CPU target, AVX-512 VNNI kernels where the target has VNNI, and Arm byte
dot-product kernels (`arm`: SDOT on aarch64-dotprod, MUL + SADALP on aarch64).

The compile stage is `rewrite.quantize_module` (run by the pipeline right after import when
`CompileOptions.with_bitnet(...)` is set); `quantize` packs weights, `kernels` + `schedule`
build the PrimFuncs, `reference` is the numpy model of the same arithmetic, and `calibrate`
measures fixed activation statistics on calibration inputs.
"""

from . import arm  # noqa: F401  (registers the Arm kernel families with quantize, kernels, schedule)
from .config import BitnetConfig, parse_calibration, parse_layers
from .reference import ActStats

__all__ = ["ActStats", "BitnetConfig", "parse_calibration", "parse_layers"]
