"""The router's cost model on a target this machine does not run (aarch64 here): each system's work
per run counted on the target's own code, under qemu-user.

Calibration runs host builds of both systems for their answers (the same integer arithmetic on every
CPU target), but their host times say nothing about the target: the BitNet kernels differ by ISA
(x86's VNNI kernels against Arm's SDOT ones; a host without VNNI runs bit-serial popcount), so a
System 1 that is 5x slower than System 2 on this host can be 2x faster on an Arm core. So each plain
target artifact runs under `qemu-<arch> -plugin qemu_icount.so` (tools/qemu_runner.py's counter and
qemu argv), ronn-run cross-built for the target (tools/runtime_build.py), one thread, `repeat` and
2 x `repeat` runs: (count(2N) - count(N)) / N instructions per run, given to the router as
milliseconds at the counter's nominal rate of one instruction per nanosecond. Only the two systems'
ratio decides a route, and instructions are the proxy for a narrow Arm core's time that
bench/aarch64.py reports. Where qemu, the cross compiler or the runtime's sources are missing, the
caller falls back to the host times and says so in the artifact's metadata.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import RonnError
from ..targets import Target

REPEAT = 2  # N of the 2N - N difference: instruction counts are deterministic


def qemu_costs(target: Target, fast: Path, full: Path, feed: Mapping[str, np.ndarray],
               repeat: int = REPEAT) -> tuple[tuple[float, float] | None, str]:
    """(System 1 ms, System 2 ms) at one instruction per ns, or None, and how they were obtained
    (or why not)."""
    from ..tools.qemu_runner import SECONDS_PER_INSTRUCTION, QemuTools, qemu_cpu, uses_qemu
    from ..tools.runtime_build import build_runtime

    if not uses_qemu(target):
        return None, f"{target.name} is not measured under qemu here"
    try:
        tools = QemuTools(target)
        ronn_run = build_runtime(target).ronn_run
    except RonnError as e:  # ToolchainError and a missing source checkout are RonnErrors
        return None, str(e).splitlines()[0]
    with tempfile.TemporaryDirectory(prefix="ronn-dual-costs-") as tmp:
        work = Path(tmp)
        args: list[str] = []
        for i, (name, value) in enumerate(feed.items()):
            np.save(work / f"{i}.npy", np.asarray(value))
            args += ["--input", f"{name}={work / f'{i}.npy'}"]

        def count(artifact: Path, runs: int) -> int:
            out = work / "count.txt"
            cmd = [*tools.qemu, "-plugin", f"{tools.plugin},out={out}", str(ronn_run), str(artifact),
                   "--threads", "1", "--repeat", str(runs), *args]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                raise RonnError(f"{artifact.name} failed under qemu (exit {proc.returncode}): "
                                f"{(proc.stderr or proc.stdout).strip()[-500:]}")
            return int(out.read_text().split()[0])

        per_run = []
        for artifact in (fast, full):
            per_run.append((count(artifact, 2 * repeat) - count(artifact, repeat)) / repeat)
    ms = tuple(n * SECONDS_PER_INSTRUCTION * 1e3 for n in per_run)
    how = (f"instructions under qemu -cpu {qemu_cpu(target)}, one thread, at 1 ns each "
           f"(System 1 {per_run[0] / 1e6:.3f} M, System 2 {per_run[1] / 1e6:.3f} M)")
    return (ms[0], ms[1]), how
