"""aarch64: models cross-compiled for NEON run with a cross-built runtime_min under qemu-user
and match onnxruntime on this machine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers import onnxruntime_outputs
from graphs import CASES
from ronn_aot.errors import ToolchainError
from ronn_aot.runtime_build import build_runtime
from ronn_aot.targets import get_target

pytestmark = pytest.mark.cross
TARGET = get_target("aarch64")


@pytest.fixture(scope="module")
def qemu_runtime() -> tuple[list[str], Path]:
    prefix = TARGET.run.command_prefix(TARGET.arch)
    if prefix is None:
        pytest.skip(f"{TARGET.run.qemu} not found; install it with: apt-get install {TARGET.run.qemu_package}")
    try:
        built = build_runtime(TARGET)
    except ToolchainError as e:
        pytest.skip(str(e))
    return prefix, built.ronn_run


def run_under_qemu(prefix: list[str], ronn_run: Path, artifact: Path, feeds: dict[str, np.ndarray],
                   names: list[str], tmp: Path) -> list[np.ndarray]:
    args = []
    for name, arr in feeds.items():
        np.save(tmp / f"in_{name}.npy", arr)
        args += ["--input", f"{name}={tmp / f'in_{name}.npy'}"]
    out = tmp / "out"
    proc = subprocess.run([*prefix, str(ronn_run), str(artifact), *args, "--output-dir", str(out),
                           "--threads", "2"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return [np.load(out / f"{n.replace('/', '_')}.npy") for n in names]


@pytest.mark.parametrize("case", ["residual_block", "attention_block", "concat_split_reshape_transpose"])
def test_aarch64_matches_onnxruntime(case: str, qemu_runtime, compile_model, tmp_path: Path) -> None:
    model, feeds = CASES[case]()
    art = compile_model(model, target="aarch64")
    assert Path(art.path).read_bytes()[18] == 0xB7  # e_machine = EM_AARCH64
    expected = onnxruntime_outputs(model, feeds)
    actual = run_under_qemu(*qemu_runtime, art.path, feeds, art.output_names, tmp_path)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)
