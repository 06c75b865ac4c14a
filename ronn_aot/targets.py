"""Target descriptions: data files in the top-level `targets/` folder, one TOML file per target.

Adding a target is adding a file; nothing here branches on a target's name.
"""

from __future__ import annotations

import os
import platform
import shutil
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from . import resources
from .errors import ToolchainError, UnknownTargetError

# $RONN_TARGETS_DIR replaces the bundled descriptions (resources.targets_dir()).
TARGETS_ENV = "RONN_TARGETS_DIR"


def targets_dir() -> Path:
    """The folder the target descriptions are read from."""
    env = os.environ.get(TARGETS_ENV)
    return Path(env) if env else resources.targets_dir()

# "host" picks the portable baseline description of the machine we run on.
_HOST_ALIASES = {"x86_64": "x86_64-avx2", "aarch64": "aarch64", "arm64": "aarch64"}


@dataclass(frozen=True)
class Toolchain:
    cc: str
    strip: str
    package: str  # what to install (Debian package names) when a tool is missing
    ar: str = "ar"

    def require(self) -> tuple[str, str]:
        """Absolute paths of the C compiler and strip, or a ToolchainError naming the package."""
        found = []
        for tool in (self.cc, self.strip):
            path = shutil.which(tool)
            if path is None:
                raise ToolchainError(
                    f"the toolchain program {tool!r} was not found on PATH; "
                    f"install it with: apt-get install {self.package}")
            found.append(path)
        return found[0], found[1]


@dataclass(frozen=True)
class CudaSpec:
    """The `[cuda]` table of a GPU target: what nvcc builds the device kernels for."""

    arch: str  # cubin architecture, e.g. "sm_90"
    ptx: str = ""  # virtual architecture of the embedded PTX, e.g. "compute_90"; "" for none
    nvcc: str = "nvcc"
    package: str = "the CUDA toolkit (nvcc, ptxas)"
    max_threads_per_block: int = 1024
    max_shared_memory_per_block: int = 49152

    @property
    def sm(self) -> int:
        """The architecture as a number: "sm_90" -> 90."""
        return int(self.arch.removeprefix("sm_").rstrip("a"))

    def require(self) -> tuple[str, str]:
        """Absolute paths of nvcc and of the ptxas next to it, or a ToolchainError."""
        nvcc = shutil.which(self.nvcc)
        if nvcc is None:
            raise ToolchainError(f"the CUDA compiler {self.nvcc!r} was not found on PATH; the "
                                 f"{self.arch} target compiles device kernels with it at build "
                                 f"time; install {self.package}")
        ptxas = Path(nvcc).resolve().with_name("ptxas")
        if not ptxas.is_file():
            found = shutil.which("ptxas")
            if found is None:
                raise ToolchainError(f"ptxas was not found next to {nvcc} nor on PATH; install "
                                     f"{self.package}")
            ptxas = Path(found)
        return nvcc, str(ptxas)


@dataclass(frozen=True)
class Isa:
    """The `[isa]` table of a CPU target: what the schedule rules size their tiles by
    (schedules/isa.py). Sizes are per core."""

    vector_bits: int  # width of one vector register (NEON 128, AVX2 256, AVX-512 512)
    vector_registers: int  # architectural vector registers (NEON 32, AVX2 16, AVX-512 32)
    fma: bool = True  # fused multiply-add on vectors
    fma_by_lane: bool = False  # the FMA's multiplier may be one lane of a vector register (NEON fmla by element)
    issue_width: int = 0  # instructions a core issues per cycle where that, not the FMA ports, limits (0: never)
    l1d_kib: int = 32  # level-1 data cache
    l2_kib: int = 1024  # level-2 cache (the part one core can count on)
    cores: int = 0  # cores the kernels are scheduled for when the compile does not say (0: this machine's)

    @property
    def l1d_bytes(self) -> int:
        return self.l1d_kib << 10

    @property
    def l2_bytes(self) -> int:
        return self.l2_kib << 10


@dataclass(frozen=True)
class RunMethod:
    """How tests execute this target's artifacts on the build machine."""

    mode: str  # "native", "qemu", or "cuda" (needs an NVIDIA GPU: never run by the CPU tests)
    qemu: str = ""
    qemu_package: str = ""
    sysroot: str = ""

    def command_prefix(self, arch: str) -> list[str] | None:
        """argv prefix that runs a program of this target here, or None when it cannot run."""
        if self.mode == "native":
            return [] if platform.machine() in (arch, "arm64" if arch == "aarch64" else arch) else None
        if self.mode == "qemu":
            if shutil.which(self.qemu) is None:
                return None
            return [self.qemu, "-L", self.sysroot]
        return None


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    arch: str
    llvm: dict[str, Any]
    toolchain: Toolchain
    run: RunMethod
    extra: dict[str, Any] = field(default_factory=dict)
    cuda: CudaSpec | None = None  # set for GPU targets: kernels run on the device where they can
    isa: Isa | None = None  # CPU targets: vector width, registers, caches for the schedule rules

    @property
    def device_kind(self) -> str | None:
        """The kind of device this target's kernels may run on ("cuda"), None for a CPU target:
        what picks the device backend (ronn_aot.backends)."""
        return "cuda" if self.cuda is not None else None

    def host_tvm_target(self, num_cores: int | None = None) -> Any:
        """The TVM target of the host code (LLVM for the CPU; a JSON-dict target, as TVM 0.27 wants)."""
        import tvm

        return tvm.target.Target(self._llvm_spec(num_cores))

    def tvm_target(self, num_cores: int | None = None) -> Any:
        """The TVM target the model is lowered for: the host's LLVM target, or for GPU targets
        the CUDA target with that host."""
        import tvm

        if self.cuda is None:
            return self.host_tvm_target(num_cores)
        return tvm.target.Target({
            "kind": "cuda", "arch": self.cuda.arch,
            "max_threads_per_block": self.cuda.max_threads_per_block,
            "max_shared_memory_per_block": self.cuda.max_shared_memory_per_block,
            "host": self._llvm_spec(num_cores)})

    def _llvm_spec(self, num_cores: int | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": "llvm", "mtriple": self.llvm["mtriple"]}
        if self.llvm.get("mcpu"):
            spec["mcpu"] = self.llvm["mcpu"]
        if self.llvm.get("mattr"):
            spec["mattr"] = list(self.llvm["mattr"])
        cores = num_cores or (self.isa.cores if self.isa is not None else 0)
        if cores:
            spec["num-cores"] = cores
        return spec

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "arch": self.arch, "llvm": self.llvm}
        if self.cuda is not None:
            d["cuda"] = {"arch": self.cuda.arch, "ptx": self.cuda.ptx}
        return d


def _load(path: Path) -> Target:
    with open(path, "rb") as f:
        d = tomllib.load(f)
    try:
        return Target(
            name=d["name"], description=d.get("description", ""), arch=d["arch"], llvm=d["llvm"],
            toolchain=Toolchain(**d["toolchain"]), run=RunMethod(**d.get("run", {"mode": "native"})),
            cuda=CudaSpec(**d["cuda"]) if "cuda" in d else None,
            isa=Isa(**d["isa"]) if "isa" in d else None,
            extra={k: v for k, v in d.items()
                   if k not in ("name", "description", "arch", "llvm", "toolchain", "run", "cuda", "isa")})
    except (KeyError, TypeError) as e:
        raise UnknownTargetError(f"target description {path} is malformed: {e}") from e


@cache
def all_targets() -> dict[str, Target]:
    """Every target described in targets/, by name."""
    targets = {}
    for path in sorted(targets_dir().glob("*.toml")):
        t = _load(path)
        targets[t.name] = t
    return targets


def get_target(name: str) -> Target:
    """The target called `name` ("host" = this machine's baseline); lists the known ones if unknown."""
    if name == "host":
        name = _HOST_ALIASES.get(platform.machine(), platform.machine())
    targets = all_targets()
    if name not in targets:
        raise UnknownTargetError(
            f"unknown target {name!r}; known targets: {', '.join(sorted(targets))} "
            f"(descriptions live in {targets_dir()})")
    return targets[name]
