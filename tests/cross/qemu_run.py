"""Run an aarch64 artifact with the cross-built ronn-run under qemu-user (see conftest.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def run_under_qemu(prefix: list[str], ronn_run: Path, artifact: Path, feeds: dict[str, np.ndarray],
                   names: list[str], tmp: Path, threads: int = 2) -> list[np.ndarray]:
    """The artifact's outputs for `feeds`, run by ronn-run under qemu with `threads` threads."""
    args = []
    for i, (name, arr) in enumerate(feeds.items()):
        np.save(tmp / f"in_{i}.npy", arr)  # by position: names may hold '/'
        args += ["--input", f"{name}={tmp / f'in_{i}.npy'}"]
    out = tmp / "out"
    proc = subprocess.run([*prefix, str(ronn_run), str(artifact), *args, "--output-dir", str(out),
                           "--threads", str(threads)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return [np.load(out / f"{n.replace('/', '_')}.npy") for n in names]
