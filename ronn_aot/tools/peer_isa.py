"""What onnxruntime and numpy may use when they are timed beside a target's artifact.

A benchmark's ratio means "our artifact against onnxruntime on the same CPU". Timing an AVX2
artifact on an AVX-512 host breaks that: onnxruntime (MLAS) and numpy (OpenBLAS) pick their AVX-512
code, which no AVX2 device runs. A target lists what its devices lack in `[bench] peer_cpuid_hide`;
where the host has it, the benchmark runs in a child process with cpuid_mask.c preloaded, so that
every library in it sees the target's CPU (same cores, caches and memory). Peer ISA "host" turns
this off and lets the peers use everything the host has.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import RonnError, ToolchainError
from ..targets import Target, get_target

PEER_ISA_MODES = ("target", "host")
WHOLE_ISA = "this CPU's whole instruction set"  # what describe() says when nothing is hidden
HIDE_ENV = "RONN_CPUID_HIDE"
MASK_SOURCE = Path(__file__).resolve().parent / "cpuid_mask.c"

# /proc/cpuinfo flag that tells whether the host has each group cpuid_mask.c can hide.
_GROUP_FLAG = {"avx512": "avx512f"}


def _host_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def groups_to_hide(target: Target) -> list[str]:
    """The target's `peer_cpuid_hide` groups that this host has (only those need hiding)."""
    wanted = list(target.extra.get("bench", {}).get("peer_cpuid_hide", []))
    unknown = [g for g in wanted if g not in _GROUP_FLAG]
    if unknown:
        raise RonnError(f"target {target.name}: unknown peer_cpuid_hide group(s) {unknown}; "
                        f"known: {sorted(_GROUP_FLAG)}")
    flags = _host_flags()
    return [g for g in wanted if _GROUP_FLAG[g] in flags]


def groups_unhidden(target_name: str) -> list[str]:
    """The groups the target's devices lack that peers in this process still see: none when this
    process already hides them (a masked child)."""
    return [] if os.environ.get(HIDE_ENV) else groups_to_hide(get_target(target_name))


def build_mask(cc: str = "gcc") -> Path:
    """cpuid_mask.c compiled into a shared library (cached by the source's hash)."""
    src = MASK_SOURCE.read_bytes()
    out_dir = Path(tempfile.gettempdir()) / f"ronn-aot-{os.getuid()}"
    out = out_dir / f"cpuid_mask-{hashlib.sha256(src).hexdigest()[:12]}.so"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    proc = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp), str(MASK_SOURCE), "-ldl"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"building {MASK_SOURCE.name} with {cc} failed:\n{proc.stderr.strip()[-2000:]}")
    tmp.replace(out)
    return out


def masked_env(target_name: str, mode: str = "target") -> dict[str, str] | None:
    """The environment of a child process whose peers see the target's ISA; None when this
    process needs no child (mode "host", nothing to hide on this host, or already hiding it)."""
    if mode not in PEER_ISA_MODES:
        raise RonnError(f"peer ISA must be one of {PEER_ISA_MODES}, not {mode!r}")
    groups = [] if mode == "host" else groups_unhidden(target_name)
    if not groups:
        return None
    cc, _ = get_target("host").toolchain.require()
    env = dict(os.environ)
    env[HIDE_ENV] = ",".join(groups)
    env["LD_PRELOAD"] = " ".join(p for p in (str(build_mask(cc)), env.get("LD_PRELOAD", "")) if p)
    return env


def unmasked_env() -> dict[str, str] | None:
    """The environment of a child that must see the host's CPU as it is (our own artifact's
    timing) when this process hides part of it; None when nothing is hidden here."""
    if not os.environ.get(HIDE_ENV):
        return None
    env = dict(os.environ)
    del env[HIDE_ENV]
    preload = [p for p in env.get("LD_PRELOAD", "").split() if "cpuid_mask" not in Path(p).name]
    if preload:
        env["LD_PRELOAD"] = " ".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    return env


def rerun_masked(module_argv: list[str], env: dict[str, str]) -> int:
    """Run `python -m MODULE ARGS...` under `env` (from masked_env); its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.call([sys.executable, "-m", *module_argv], env=env)


def describe() -> str:
    """What the peers in this process see; raises when hiding was asked for but is not in effect."""
    groups = os.environ.get(HIDE_ENV)
    if not groups:
        return WHOLE_ISA
    try:
        active = ctypes.CDLL(None).ronn_cpuid_mask_active()
    except AttributeError:
        active = 0
    if not active:
        raise RonnError(f"{HIDE_ENV}={groups} is set but CPUID is not being filtered in this process "
                        "(cpuid_mask not preloaded, or CPUID faulting unavailable on this machine: see the "
                        "message above); benchmark with --peer-isa host to let onnxruntime and numpy use "
                        "the host's whole instruction set, and say so beside the numbers")
    return f"this CPU without {groups} (hidden by CPUID faulting)"
