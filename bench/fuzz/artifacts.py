"""Mutated, re-sealed artifacts for the runtime: edits of the plan blob, the footer, the signature
block and the weights, and truncations, each followed by a fresh footer SHA-256 (as anyone can
compute) so that the runtime's structural checks, not the hash, are what stands in the way.

The code and the ELF image are left alone: an artifact is a shared library, so whoever can change
its code runs code; that is what signatures are for (a trusted key refuses every re-sealed change,
tests/runtime/test_signing.py)."""

from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import dataclass
from pathlib import Path

FOOTER_SIZE = 96
SIGNATURE_SIZE = 128
U32 = [0, 1, 2, 7, 8, 63, 64, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
U64 = [0, 1, 64, 2**31, 2**32 - 1, 2**32, 2**40, 2**62, 2**63, 2**64 - 64, 2**64 - 1]


@dataclass(frozen=True)
class Seed:
    path: Path
    data: bytes
    signed: bool

    @property
    def footer(self) -> tuple[int, ...]:
        """payload_size, plan offset, plan size, weights offset, weights size, code size."""
        return struct.unpack_from("<6Q", self.data, len(self.data) - FOOTER_SIZE + 16)


def _reseal(data: bytearray) -> None:
    data[-32:] = hashlib.sha256(bytes(data[:-FOOTER_SIZE])).digest()


def _set_word(data: bytearray, offset: int, rng: random.Random, region_size: int) -> str:
    if offset % 8 == 0 and rng.random() < 0.4 and offset + 8 <= len(data):
        value = rng.choice(U64 + [region_size, region_size + 8, struct.unpack_from("<Q", data, offset)[0] + 1])
        struct.pack_into("<Q", data, offset, value % 2**64)
        return f"u64@{offset}={value}"
    value = rng.choice(U32 + [region_size, region_size - 1, struct.unpack_from("<I", data, offset)[0] ^ 1,
                              rng.getrandbits(32)])
    struct.pack_into("<I", data, offset, value % 2**32)
    return f"u32@{offset}={value}"


def mutate(seed: Seed, rng: random.Random) -> tuple[bytes, str]:
    """One mutated, re-sealed copy of `seed` and what was done to it."""
    data = bytearray(seed.data)
    payload, plan_off, plan_size, weights_off, weights_size, _code = seed.footer
    kind = rng.choices(["plan_header", "plan_word", "plan_bytes", "footer", "truncate", "weights",
                        "signature"], weights=[25, 30, 15, 10, 8, 4, 8 if seed.signed else 0])[0]
    if kind == "plan_header":
        what = _set_word(data, plan_off + 4 * rng.randrange(18), rng, plan_size)
    elif kind == "plan_word":
        what = _set_word(data, plan_off + 4 * rng.randrange(plan_size // 4), rng, plan_size)
    elif kind == "plan_bytes":
        offsets = [plan_off + rng.randrange(plan_size) for _ in range(rng.randint(1, 8))]
        for o in offsets:
            data[o] = rng.randrange(256)
        what = f"bytes@{offsets}"
    elif kind == "footer":
        field = rng.randrange(9)  # abi_version, footer_size, then the seven u64 fields
        base = len(data) - FOOTER_SIZE
        if field < 2:
            struct.pack_into("<I", data, base + 8 + 4 * field, rng.choice(U32))
        else:
            struct.pack_into("<Q", data, base + 16 + 8 * (field - 2), rng.choice(U64 + [payload - 1, payload + 1]))
        what = f"footer field {field}"
    elif kind == "truncate":
        cut = rng.randrange(payload)
        footer = bytearray(data[-FOOTER_SIZE:])
        struct.pack_into("<Q", footer, 16, cut)
        data = bytearray(data[:cut]) + footer
        what = f"truncated to {cut}"
    elif kind == "weights" and weights_size:
        o = weights_off + rng.randrange(weights_size)
        data[o] ^= 1 + rng.randrange(255)
        what = f"weight byte {o}"
    else:
        o = payload - SIGNATURE_SIZE + rng.randrange(SIGNATURE_SIZE)
        data[o] ^= 1 + rng.randrange(255)
        what = f"signature byte {o}"
    _reseal(data)
    return bytes(data), f"{seed.path.name}: {kind} {what}"
