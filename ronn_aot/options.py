"""Compile options: an immutable value with builder-style `with_*` methods."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .errors import RonnError

if TYPE_CHECKING:
    from .bitnet import ActStats, BitnetConfig
    from .dual import DualConfig

# O3 by default: on x86-64 its NHWC layout is what the fastest convolution schedules are written
# for (ronn_aot/passes/layout.py); the levels below exist to bisect a miscompile or a slowdown.
DEFAULT_OPT_LEVEL = 3


@dataclass(frozen=True)
class CompileOptions:
    """What to compile for and how. Every field has a sensible default.

    >>> CompileOptions().with_target("aarch64").with_optimization_level(3)
    """

    target: str = "host"
    opt_level: int = DEFAULT_OPT_LEVEL
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    output_path: Path | None = None
    dump_ir_dir: Path | None = None
    num_threads: int | None = None  # parallelism the kernels are scheduled for (None: target default)
    bitnet: BitnetConfig | None = None  # ternary / binary quantization of Conv, Gemm, MatMul weights
    use_records: bool = True  # apply the target's tuning records (schedules/<target>/) where they won
    frozen_inputs: Mapping[str, Any] = field(default_factory=dict)  # input name -> numpy array (a constant)
    dual: DualConfig | None = None  # System 1 (BitNet) + System 2 (full precision) + router in one artifact

    def with_target(self, name: str) -> CompileOptions:
        return replace(self, target=name)

    def with_optimization_level(self, level: int) -> CompileOptions:
        if level not in (0, 1, 2, 3):
            raise RonnError(f"optimization level must be 0, 1, 2 or 3, got {level!r}")
        return replace(self, opt_level=level)

    def with_input_shape(self, name: str, shape: Sequence[int]) -> CompileOptions:
        dims = tuple(int(d) for d in shape)
        if not dims or any(d <= 0 for d in dims):
            raise RonnError(f"input shape for {name!r} must be positive integers, got {list(shape)}")
        return replace(self, input_shapes={**self.input_shapes, name: dims})

    def with_frozen_input(self, name: str, value: Any) -> CompileOptions:
        """Compile input `name` as the constant `value` (a numpy array): the artifact no longer takes
        it, and shapes that depend on it (a Reshape's target, TopK's k, Slice's ends) are fixed."""
        import numpy as np

        return replace(self, frozen_inputs={**self.frozen_inputs, name: np.asarray(value)})

    def with_output(self, path: str | Path) -> CompileOptions:
        return replace(self, output_path=Path(path))

    def with_records(self, enabled: bool) -> CompileOptions:
        """Whether kernels may come from the target's tuning records (else the rules only)."""
        return replace(self, use_records=bool(enabled))

    def with_dump_ir(self, directory: str | Path) -> CompileOptions:
        return replace(self, dump_ir_dir=Path(directory))

    def with_bitnet(self, weights: str, activation_bits: int = 8, layers: str | Sequence[int] | None = None,
                    calibration: Sequence[ActStats] | Sequence[Mapping[str, Any]] | None = None,
                    kernel: str = "auto", weight_fit: str = "auto") -> CompileOptions:
        """Quantize Conv / Gemm / MatMul weights to "ternary" or "binary", bit-packed, run by
        bit-serial kernels; see `ronn_aot.bitnet.BitnetConfig` for the arguments.

        calibration: fixed activation statistics (one `ActStats` per quantizable layer), or
        calibration inputs (a list of feeds, dicts of model input name -> array) to measure them
        on when compiling; None measures each input's statistics at run time.
        kernel: "auto", "popcount", "vnni", "sdot" or "neon" (see BitnetConfig).
        weight_fit: "auto" (default: fitted to the layers' outputs when calibration inputs are
        given), "absmean" or "output" (see BitnetConfig)."""
        from .bitnet import BitnetConfig, parse_calibration, parse_layers

        stats, feeds = parse_calibration(calibration)
        return replace(self, bitnet=BitnetConfig(weights, activation_bits, parse_layers(layers), stats, feeds,
                                                 kernel=kernel, weight_fit=weight_fit))


    def with_dual(self, weights: str, route: str = "confidence", calibration: Any = None,
                  min_agreement: float = 0.99, *, activation_bits: int = 8, layers: str | Sequence[int] | None = None,
                  kernel: str = "auto", bitnet_calibration: Sequence[Mapping[str, Any]] | None = None,
                  output: str | int | None = None, signal: str | None = None,
                  latency_ms: tuple[float, float] | None = None, weight_fit: str = "auto") -> CompileOptions:
        """One artifact holding System 1 (the model with `weights` "ternary" or "binary" BitNet layers,
        as `with_bitnet` takes them) and System 2 (the model at full precision), and a router that
        picks one per run (`route`: "confidence", "complexity" or "both"; see ronn_aot.dual).

        calibration: inputs only (a list of feeds, or an .npz path); the router's thresholds are set
        on them so that route="auto" answers as System 2 on at least `min_agreement` of them, at
        the least expected latency. output / signal / latency_ms: see `ronn_aot.dual.DualConfig`."""
        from .bitnet import BitnetConfig, parse_calibration, parse_layers
        from .dual import DualConfig
        from .dual.config import parse_signal

        stats, feeds = parse_calibration(bitnet_calibration)
        bitnet = BitnetConfig(weights, activation_bits, parse_layers(layers), stats, feeds, kernel=kernel,
                              weight_fit=weight_fit)
        if calibration is not None and not isinstance(calibration, (str, Path)):
            calibration = tuple(calibration)
        return replace(self, dual=DualConfig(bitnet, route, calibration, float(min_agreement), output,
                                             parse_signal(signal),
                                             None if latency_ms is None else tuple(map(float, latency_ms))))


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse the CLI form NAME=D0,D1,... into (name, dims)."""
    name, sep, dims = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        shape = tuple(int(d) for d in dims.split(","))
    except ValueError:
        raise RonnError(f"--input-shape expects NAME=D0,D1,... (e.g. input=1,3,224,224), got {text!r}") from None
    return name, shape
