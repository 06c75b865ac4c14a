"""Just enough ELF64 reading to find named sections in a linked artifact (no dependencies)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

SHF_EXECINSTR = 0x4


@dataclass(frozen=True)
class Section:
    name: str
    offset: int
    size: int
    flags: int


def read_sections(path: Path) -> dict[str, Section]:
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not a little-endian ELF64 file")
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    raw = []
    for i in range(e_shnum):
        name, _type, flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, e_shoff + i * e_shentsize)
        raw.append((name, flags, offset, size))
    str_off = raw[e_shstrndx][2]
    sections = {}
    for name, flags, offset, size in raw:
        end = data.index(b"\0", str_off + name)
        n = data[str_off + name:end].decode()
        sections[n] = Section(n, offset, size, flags)
    return sections


def code_size(sections: dict[str, Section]) -> int:
    return sum(s.size for s in sections.values() if s.flags & SHF_EXECINSTR)
