"""aarch64: models cross-compiled for NEON run with a cross-built runtime_min under qemu-user
and match onnxruntime on this machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphs import CASES
from helpers import onnxruntime_outputs
from qemu_run import run_under_qemu

pytestmark = pytest.mark.cross


@pytest.mark.parametrize("case", ["residual_block", "attention_block", "concat_split_reshape_transpose"])
def test_aarch64_matches_onnxruntime(case: str, qemu_runtime, compile_model, tmp_path: Path) -> None:
    model, feeds = CASES[case]()
    art = compile_model(model, target="aarch64")
    assert Path(art.path).read_bytes()[18] == 0xB7  # e_machine = EM_AARCH64
    expected = onnxruntime_outputs(model, feeds)
    actual = run_under_qemu(*qemu_runtime, art.path, feeds, art.output_names, tmp_path)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)
