"""What to quantize and how: the `CompileOptions.with_bitnet(...)` value (no TVM import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import RonnError
from .quantize import DOTS, WEIGHT_KINDS
from .reference import ActStats

ACTIVATION_BITS = (1, 2, 3, 4, 5, 6, 7, 8)
# On AArch64 without the dot-product extension, int activations of at least this many bits run
# on the "neon" kernels (their work does not grow with the bits), narrower ones bit-serial (one
# AND + CNT per bit-plane and weight plane). Measured on a 1024x1024 dense layer under qemu
# (bench.bitnet.aarch64_dense, cortex-a72, M instructions at batch 1 / 8; its weights too large
# for neon's byte layout, arm.byte_weights): ternary popcount 0.23 / 1.84 at 3 bits, 0.31 / 2.46
# at 4, neon 0.25 / 1.45 at 3-6 bits, 0.30 / 1.80 at 8; binary popcount 0.32 / 2.56 at 6 bits,
# 0.38 / 3.06 at 7, neon 0.33 / 2.18.
NEON_MIN_BITS = {"ternary": 4, "binary": 7}
KERNELS = ("auto", *DOTS)
# how quantized weights are chosen (fit.py): auto = "output" when calibration inputs are given
WEIGHT_FITS = ("auto", "absmean", "output")


@dataclass(frozen=True)
class BitnetConfig:
    """Post-training quantization of Conv / Gemm / MatMul layers with constant weights.

    weights: "ternary" ({-1, 0, +1}, absmean scale per output channel) or "binary" ({-1, +1},
        mean |w| per output channel).
    activation_bits: 8 (default) quantizes each layer's input to int8 with a per-tensor absmax
        scale; 2..7 to narrower ints (fewer bit-planes, faster); 1 binarizes it around its mean
        (sign activations; with binary weights this is the XNOR-popcount mode).
    layers: indices (graph order, negative from the end) of the quantizable layers to quantize,
        or "all"; None keeps the first and the last quantizable layer in float, quantizes the rest.
    calibration: fixed activation statistics, one `ActStats` per quantizable layer (same indexing
        as `layers`, every layer whether selected or not), as `calibrate.calibrate` measures them;
        None computes them at run time, per input.
    calibration_inputs: calibration feeds (dicts of model input name -> array); when the model is
        compiled, `calibrate.calibrate` measures `calibration` on them (in the quantized network).
    kernel: "auto" (default) takes the VNNI kernels where the target has AVX-512 VNNI and the
        activations are ints, the SDOT kernels where it is Arm with the dot-product extension
        (aarch64-dotprod) and the activations are ints, the bit-serial popcount kernels elsewhere;
        "popcount", "vnni", "sdot" or "neon" force one family (vnni or sdot on a target without
        the instructions is an error; neon is SDOT's layout on any AArch64 target, multiplied with
        MUL and pairwise adds: auto takes it on aarch64 for activations of NEON_MIN_BITS or more).
    weight_fit: how the ternary pattern and scales are chosen (fit.py): "absmean" (BitNet's rule,
        no data), "output" (each output channel fitted to the layer's float outputs on the
        calibration inputs), or "auto" (default): "output" when calibration inputs are given.
    """

    weights: str
    activation_bits: int = 8
    layers: tuple[int, ...] | str | None = None  # indices, "all", or None (default)
    calibration: tuple[ActStats, ...] | None = field(default=None, compare=False)
    calibration_inputs: tuple[Mapping[str, np.ndarray], ...] | None = field(default=None, compare=False, repr=False)
    kernel: str = "auto"
    weight_fit: str = "auto"

    def __post_init__(self) -> None:
        if self.weights not in WEIGHT_KINDS:
            raise RonnError(f"bitnet weights must be one of {', '.join(WEIGHT_KINDS)}, got {self.weights!r}")
        if self.activation_bits not in ACTIVATION_BITS:
            raise RonnError(f"bitnet activation bits must be 1..8 (1 = sign, XNOR-popcount), "
                            f"got {self.activation_bits!r}")
        if isinstance(self.layers, str) and self.layers != "all":
            raise RonnError(f"bitnet layers must be indices, 'all' or None, got {self.layers!r}")
        if self.calibration is not None and self.calibration_inputs is not None:
            raise RonnError("bitnet calibration takes either fixed statistics or calibration inputs, not both")
        if self.calibration is not None and not all(isinstance(s, ActStats) for s in self.calibration):
            raise RonnError("bitnet calibration statistics must be ActStats, one per quantizable layer")
        if self.weight_fit not in WEIGHT_FITS:
            raise RonnError(f"bitnet weight fit must be one of {', '.join(WEIGHT_FITS)}, got {self.weight_fit!r}")
        if self.kernel not in KERNELS:
            raise RonnError(f"bitnet kernel must be one of {', '.join(KERNELS)}, got {self.kernel!r}")
        if self.kernel in ("vnni", "sdot", "neon") and self.activation_bits == 1:
            raise RonnError(f"the {self.kernel} kernels take int activations; sign (1-bit) activations run on the "
                            "popcount kernels: use kernel='auto' or 'popcount', or activation_bits >= 2")
        if self.activation_bits == 1 and self.weights == "ternary":
            raise RonnError("sign (1-bit) activations need binary weights (XNOR-popcount); "
                            "use activation_bits >= 2 with ternary weights")

    def selected(self, count: int) -> list[int]:
        """Which of `count` quantizable layers to quantize (sorted indices)."""
        if self.layers is None:
            return list(range(1, count - 1))
        if self.layers == "all":
            return list(range(count))
        chosen = set()
        for i in self.layers:  # type: ignore[union-attr]
            if not -count <= i < count:
                raise RonnError(f"bitnet layer index {i} is out of range: the model has {count} "
                                f"quantizable layers (Conv / Gemm / MatMul with constant weights)")
            chosen.add(i % count)
        return sorted(chosen)

    def dot_for(self, target: Any) -> str:
        """The kernel family (quantize.DOTS) this configuration compiles to on `target`
        (a `ronn_aot.targets.Target`, or None for one without VNNI)."""
        has_vnni = target_has_vnni(target)
        if self.kernel == "vnni" and not has_vnni:
            name = getattr(target, "name", "this target")
            raise RonnError(f"bitnet kernel 'vnni' needs a target with AVX-512 VNNI; {name} has none: "
                            f"use --target x86_64-avx512, or --bitnet-kernel auto|popcount")
        has_dotprod = target_has_dotprod(target)
        if self.kernel == "sdot" and not has_dotprod:
            name = getattr(target, "name", "this target")
            raise RonnError(f"bitnet kernel 'sdot' needs an Arm target with the dot-product extension; {name} "
                            f"has none: use --target aarch64-dotprod, or --bitnet-kernel auto|popcount")
        if self.kernel == "neon" and getattr(target, "arch", None) != "aarch64":
            name = getattr(target, "name", "this target")
            raise RonnError(f"bitnet kernel 'neon' is for AArch64 targets; {name} is not one: "
                            f"use --bitnet-kernel auto|popcount")
        if self.kernel != "auto":
            return self.kernel
        if self.activation_bits == 1:
            return "popcount"
        if has_vnni:
            return "vnni"
        if has_dotprod:
            return "sdot"
        if getattr(target, "arch", None) == "aarch64" and self.activation_bits >= NEON_MIN_BITS[self.weights]:
            return "neon"
        return "popcount"

    def describe(self) -> str:
        acts = "sign" if self.activation_bits == 1 else f"int{self.activation_bits}"
        return f"{self.weights} weights, {acts} activations"


def target_has_vnni(target: Any) -> bool:
    """Whether a `ronn_aot.targets.Target` (None: none) compiles for AVX-512 VNNI."""
    return target is not None and "+avx512vnni" in (target.llvm.get("mattr") or [])


def target_has_dotprod(target: Any) -> bool:
    """Whether a `ronn_aot.targets.Target` (None: none) is AArch64 with the dot-product extension."""
    return target is not None and target.arch == "aarch64" and "+dotprod" in (target.llvm.get("mattr") or [])


def parse_layers(layers: str | Sequence[int] | None) -> tuple[int, ...] | str | None:
    """Normalize a `layers` value: None / "default", "all", indices, or a CLI string like "1,2,-2"."""
    if layers is None or layers == "default":
        return None
    if layers == "all":
        return "all"
    if isinstance(layers, str):
        try:
            return tuple(int(t) for t in layers.split(","))
        except ValueError:
            raise RonnError(f"bitnet layers must be 'default', 'all' or indices like 1,2,-2; got {layers!r}") from None
    return tuple(int(i) for i in layers)


def parse_calibration(calibration: Sequence[Any] | None
                      ) -> tuple[tuple[ActStats, ...] | None, tuple[dict[str, np.ndarray], ...] | None]:
    """Split a `with_bitnet(calibration=...)` value into (fixed statistics, calibration inputs):
    a list of `ActStats` (one per quantizable layer) or a list of feeds (dicts name -> array)."""
    if calibration is None:
        return None, None
    if isinstance(calibration, (str, bytes, Mapping)) or not isinstance(calibration, Sequence):
        raise RonnError(f"bitnet calibration must be a list of ActStats or a list of input feeds "
                        f"(dicts of model input name -> array), got a {type(calibration).__name__}")
    items = list(calibration)
    if not items:
        raise RonnError("bitnet calibration is empty: give at least one input feed (or None for run-time scales)")
    if all(isinstance(i, ActStats) for i in items):
        return tuple(items), None
    if all(isinstance(i, Mapping) for i in items):
        return None, tuple({str(k): np.asarray(v) for k, v in i.items()} for i in items)
    kinds = sorted({type(i).__name__ for i in items})
    raise RonnError(f"bitnet calibration must be all ActStats or all input feeds (dicts of model input "
                    f"name -> array), got {', '.join(kinds)}")
