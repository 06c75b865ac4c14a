"""Two compiled systems into one artifact's parts: one kernel table, one weights blob (a weight
both plans use is stored once), and System 1's plan rewritten to point into them."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from ..artifact.format import Plan, PlanTensor, Storage, align_up
from ..backends.llvm_cpu import kernel_symbol
from ..errors import CompilationError, ToolchainError


@dataclass
class SharedWeights:
    blob: bytes  # System 2's blob, then what only System 1 reads
    plan: Plan  # System 1's plan, its WEIGHTS offsets into `blob`
    shared_bytes: int  # bytes of System 1's weights found in System 2's
    own_bytes: int  # bytes appended for System 1 only


def _segments(plan: Plan) -> list[tuple[int, int]]:
    """The weights blob's byte ranges the plan reads: its WEIGHTS tensors, overlapping views merged."""
    spans = sorted((t.offset, t.offset + t.nbytes) for t in plan.tensors if t.storage == Storage.WEIGHTS)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def share_weights(full_plan: Plan, full_blob: bytes, fast_plan: Plan, fast_blob: bytes) -> SharedWeights:
    """Append System 1's weights to System 2's blob, reusing every range with identical bytes."""
    known: dict[bytes, int] = {}
    for start, end in _segments(full_plan):
        known.setdefault(hashlib.sha256(full_blob[start:end]).digest(), start)
    blob = bytearray(full_blob)
    moved: list[tuple[int, int, int]] = []  # (old start, old end, new start)
    shared = own = 0
    for start, end in _segments(fast_plan):
        data = fast_blob[start:end]
        at = known.get(hashlib.sha256(data).digest())
        if at is not None and at % 64 == start % 64:
            shared += len(data)
        else:
            at = align_up(len(blob)) + start % 64
            blob += b"\0" * (at - len(blob))
            blob += data
            own += len(data)
        moved.append((start, end, at))

    def remap(t: PlanTensor) -> PlanTensor:
        if t.storage != Storage.WEIGHTS:
            return t
        for start, end, at in moved:
            if start <= t.offset < end:
                return replace(t, offset=at + (t.offset - start))
        raise CompilationError(f"System 1 tensor {t.name!r} lies outside every weights range")

    tensors = [remap(t) for t in fast_plan.tensors]
    return SharedWeights(bytes(blob), replace(fast_plan, tensors=tensors), shared, own)


def shift_kernels(plan: Plan, first: int) -> Plan:
    """System 1's plan with its kernel indices after System 2's `first` kernels."""
    return replace(plan, steps=[replace(s, kernel=s.kernel + first) for s in plan.steps])


def rename_kernels(obj: Path, names: list[str], first: int, strip_tool: str, out: Path) -> Path:
    """A copy of System 1's kernel object whose exported kernels are numbered from `first`, so they
    link beside System 2's (each codegen numbers its kernels from 0); the machine code is untouched."""
    objcopy = strip_tool.replace("strip", "objcopy")
    args = [f"--redefine-sym=__tvm_ffi_{kernel_symbol(i, n)}=__tvm_ffi_{kernel_symbol(first + i, n)}"
            for i, n in enumerate(names)]
    try:
        proc = subprocess.run([objcopy, *args, str(obj), str(out)], capture_output=True, text=True)
    except FileNotFoundError:
        raise ToolchainError(f"{objcopy} was not found: install binutils for the target") from None
    if proc.returncode != 0:
        raise ToolchainError(f"{objcopy} failed renaming System 1's kernels: {proc.stderr.strip()[-1000:]}")
    return out
