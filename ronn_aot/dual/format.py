"""The dual blob: System 1's plan and the router, mirroring `ronn_dual_header_v1` in
runtime_min/include/ronn/artifact_abi.h. Pure Python (no TVM), for tools and tests.

Layout: the 176-byte header, then System 1's plan blob (an ordinary ABI v1 plan whose WEIGHTS
offsets point into the artifact's one weights blob and whose kernel indices into its one kernel
table) at `plan_offset` (8-aligned). The runtime reads every router number from here; nothing
about routing is compiled into code.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from ..artifact.format import ArtifactFormatError, align_up

DUAL_MAGIC = 0x4C554452  # "RDUL"
DUAL_VERSION = 1
DUAL_SECTION = ".ronn_dual"  # ELF section of the blob in a linked artifact
MAX_FEATURES = 8

# magic, version, header_size, router, plan_offset, plan_size,
# confidence_output, confidence_signal, confidence_flags, complexity_input, confidence_threshold,
# complexity_num_features, reserved, complexity_features[8], complexity_weights[8],
# complexity_bias, complexity_threshold
_HEADER = struct.Struct("<IIIIQQIIIId II 8I 8d dd")
assert _HEADER.size == 176


class RouterKind(IntEnum):
    """Bits of ronn_dual_header_v1.router: which stages `route=auto` runs."""
    COMPLEXITY = 1  # before anything runs: a linear score of input statistics gates System 1
    CONFIDENCE = 2  # after System 1: escalate to System 2 when its output is not confident


class Signal(IntEnum):
    """Confidence signals read from System 1's output (higher = more confident)."""
    MAX_PROB = 1  # the largest class probability
    MARGIN = 2  # top-1 minus top-2 probability
    NEG_ENTROPY = 3  # minus the entropy of the class distribution (nats)


class Feature(IntEnum):
    """Input statistics the complexity score is a linear function of (over the whole input)."""
    MEAN = 1
    STD = 2
    MEAN_ABS_DIFF = 3  # mean |x[i+1] - x[i]| along the last axis: edges, texture
    FRACTION_ABOVE_MEAN = 4


CONFIDENCE_SOFTMAX = 0x1  # confidence_flags: the output holds logits; softmax it first


@dataclass
class RouterParams:
    """Everything `route=auto` needs, plus what calibration measured (kept in the plan metadata)."""

    kind: int  # RouterKind bits
    confidence_output: int = 0
    signal: Signal = Signal.MARGIN
    softmax: bool = True
    confidence_threshold: float = math.inf  # fast when signal >= threshold; +inf: never
    complexity_input: int = 0
    features: list[Feature] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    bias: float = 0.0
    complexity_threshold: float = -math.inf  # System 1 allowed when score <= threshold; -inf: never
    stats: dict[str, Any] = field(default_factory=dict)  # calibration: fast fraction, agreement, ms

    @property
    def name(self) -> str:
        return {1: "complexity", 2: "confidence", 3: "both"}.get(self.kind, f"kind {self.kind}")

    def describe(self) -> str:
        parts = []
        if self.kind & RouterKind.COMPLEXITY:
            terms = " ".join(f"{w:+.4g}*{f.name.lower()}" for f, w in zip(self.features, self.weights))
            parts.append(f"complexity(input {self.complexity_input}): System 1 when {self.bias:+.4g} {terms} "
                         f"<= {self.complexity_threshold:.6g}")
        if self.kind & RouterKind.CONFIDENCE:
            parts.append(f"confidence(output {self.confidence_output}, {self.signal.name.lower()}"
                         f"{' of softmax' if self.softmax else ''}): keep System 1's answer when >= "
                         f"{self.confidence_threshold:.6g}")
        return "; then ".join(parts)


def encode_dual(params: RouterParams, system1_plan: bytes) -> bytes:
    """The dual blob: header, then System 1's plan."""
    if len(params.features) > MAX_FEATURES or len(params.features) != len(params.weights):
        raise ArtifactFormatError(f"a complexity router has at most {MAX_FEATURES} features, one weight each")
    n = len(params.features)
    plan_offset = align_up(_HEADER.size, 8)
    header = _HEADER.pack(
        DUAL_MAGIC, DUAL_VERSION, _HEADER.size, params.kind, plan_offset, len(system1_plan),
        params.confidence_output, int(params.signal), CONFIDENCE_SOFTMAX if params.softmax else 0,
        params.complexity_input, params.confidence_threshold, n, 0,
        *([int(f) for f in params.features] + [0] * (MAX_FEATURES - n)),
        *(list(params.weights) + [0.0] * (MAX_FEATURES - n)), params.bias, params.complexity_threshold)
    return header + b"\0" * (plan_offset - len(header)) + system1_plan


def decode_dual(blob: bytes) -> tuple[RouterParams, bytes]:
    """(router, System 1's plan blob) of a dual blob; ArtifactFormatError when malformed."""
    if len(blob) < _HEADER.size:
        raise ArtifactFormatError("dual blob is shorter than its header")
    v = _HEADER.unpack_from(blob, 0)
    magic, version, size, kind, p_off, p_size, c_out, c_sig, c_flags, x_in, c_thr, n, _r = v[:13]
    feats, weights, bias, x_thr = v[13:21], v[21:29], v[29], v[30]
    if magic != DUAL_MAGIC or size != _HEADER.size:
        raise ArtifactFormatError("dual blob has a bad magic number or header size")
    if version != DUAL_VERSION:
        raise ArtifactFormatError(f"dual blob is version {version}, this tool reads {DUAL_VERSION}")
    if p_off + p_size > len(blob) or n > MAX_FEATURES:
        raise ArtifactFormatError("dual blob: System 1's plan or the feature list lies outside it")
    try:
        params = RouterParams(kind, c_out, Signal(c_sig) if kind & RouterKind.CONFIDENCE else Signal.MARGIN,
                              bool(c_flags & CONFIDENCE_SOFTMAX), c_thr, x_in, [Feature(f) for f in feats[:n]],
                              list(weights[:n]), bias, x_thr)
    except ValueError as e:
        raise ArtifactFormatError(f"dual blob: {e}") from e
    return params, bytes(blob[p_off:p_off + p_size])


def read_dual(path: Path) -> tuple[RouterParams, bytes] | None:
    """The router and System 1's plan of an artifact file, None for a plain artifact."""
    from ..artifact.elf import read_sections

    sec = read_sections(Path(path)).get(DUAL_SECTION)
    if sec is None:
        return None
    with open(path, "rb") as f:
        f.seek(sec.offset)
        return decode_dual(f.read(sec.size))
