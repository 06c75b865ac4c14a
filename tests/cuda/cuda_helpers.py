"""Helpers shared by the CUDA tests (a uniquely named module, see tests/runtime/runtime_helpers.py):
compiling models for the CUDA targets, and reading cubins (ELF) and PTX without CUDA tools."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import onnx

REPO = Path(__file__).resolve().parents[2]
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
EFFICIENTNET = REPO / "ronn_aot" / "models" / "efficientnet_lite0.onnx"
CUDA_TARGETS = ("cuda-sm80", "cuda-sm90")
EM_CUDA = 190
SHT_SYMTAB = 2
STT_FUNC = 2


@dataclass(frozen=True)
class Cubin:
    machine: int
    flags: int
    functions: frozenset[str]  # names of the STT_FUNC symbols (the kernels)

    def has_arch(self, sm: int) -> bool:
        """The SM architecture recorded in e_flags: bits 8-15 in the ELF ABI of CUDA 12+, the low
        byte in older cubins."""
        return (self.flags >> 8) & 0xFF == sm or self.flags & 0xFF == sm


def read_cubin(data: bytes) -> Cubin:
    """e_machine, e_flags and the function symbols of an ELF64 cubin."""
    assert data[:4] == b"\x7fELF" and data[4] == 2, "not an ELF64 file"
    (machine,) = struct.unpack_from("<H", data, 18)
    (flags,) = struct.unpack_from("<I", data, 48)
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    functions = set()
    for _name, sh_type, _f, _a, offset, size, link, _i, _al, entsize in sections:
        if sh_type != SHT_SYMTAB:
            continue
        str_off = sections[link][4]
        for k in range(size // entsize):
            st_name, st_info = struct.unpack_from("<IB", data, offset + k * entsize)
            if st_info & 0xF == STT_FUNC:
                end = data.index(b"\0", str_off + st_name)
                functions.add(data[str_off + st_name:end].decode())
    return Cubin(machine, flags, frozenset(functions))


def ptx_entries(ptx: bytes) -> tuple[str, set[str]]:
    """(the `.target` of a PTX image, the names of its `.entry` kernels)."""
    text = ptx.rstrip(b"\0").decode()
    target = next(line.split()[1].rstrip(",") for line in text.splitlines() if line.startswith(".target"))
    entries = set()
    for line in text.splitlines():
        parts = line.replace("(", " ").split()
        if ".entry" in parts:
            entries.add(parts[parts.index(".entry") + 1])
    return target, entries
