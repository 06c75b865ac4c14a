"""The ISA description the CPU rules read: vector width, vector registers, caches and cores.

It comes from the `[isa]` table of the target file (targets/*.toml) whose LLVM target is the one a
rule is given (rules receive a `tvm.target.Target`). A TVM target that no target file describes
(a test's hand-made one) gets a description derived from its LLVM features instead.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ronn_aot.targets import Isa, all_targets

# Feature -> vector register width in bits, widest first. Read from the target's features, not
# from LLVM's CPU model (llvm_get_vector_width reports 512 for haswell with -avx512f).
_VECTOR_BITS = (("avx512f", 512), ("avx2", 256), ("avx", 256), ("sse2", 128), ("neon", 128))
# Architectures with 32 vector registers at every width (AArch64's v0-v31); x86 has 32 with AVX-512.
_WIDE_REGISTER_FILES = ("aarch64",)


def _llvm_key(mtriple: str, mcpu: str, mattr: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    return mtriple, mcpu, tuple(sorted(mattr))


@lru_cache(maxsize=None)
def _described() -> dict[tuple[str, str, tuple[str, ...]], Isa]:
    """The [isa] of every target file by its LLVM target (the first one where several share it)."""
    found: dict[tuple[str, str, tuple[str, ...]], Isa] = {}
    for t in all_targets().values():
        if t.isa is not None and t.cuda is None:
            key = _llvm_key(t.llvm["mtriple"], t.llvm.get("mcpu", ""), tuple(t.llvm.get("mattr", ())))
            found.setdefault(key, t.isa)
    return found


def _feature_bits(target: Any) -> int:
    from tvm.target.codegen import target_has_features

    for feature, bits in _VECTOR_BITS:
        try:
            if target_has_features(feature, target):
                return bits
        except Exception:  # a feature the target's architecture does not know
            continue
    return 128


def isa_of(target: Any) -> Isa:
    """The ISA description of the LLVM target `target` (see the module docstring)."""
    attrs = target.attrs
    mtriple = str(attrs.get("mtriple", ""))
    key = _llvm_key(mtriple, str(attrs.get("mcpu", "") or ""), tuple(str(a) for a in attrs.get("mattr", []) or []))
    isa = _described().get(key)
    if isa is not None:
        return isa
    bits = _feature_bits(target)
    wide = bits >= 512 or mtriple.split("-")[0] in _WIDE_REGISTER_FILES
    return Isa(vector_bits=bits, vector_registers=32 if wide else 16)
