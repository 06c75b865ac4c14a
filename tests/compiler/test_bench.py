"""`ronn-aot bench` times both runtimes on the same inputs and reports matching outputs."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from graphs import CASES
from ronn_aot.bench import run_bench
from ronn_aot.cli import main as cli_main


def test_bench_alternates_and_compares(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    model, _ = CASES["residual_block"]()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    r = run_bench(path, threads=1, repeat=7, warmup=1, output=tmp_path / "m.so")
    assert len(r.ronn_ms) == len(r.ort_ms) == 7
    assert min(r.ronn_ms) > 0 and min(r.ort_ms) > 0
    assert r.ratio == pytest.approx(r.ronn_median / r.ort_median)
    assert r.max_abs_diff < 1e-4
    # The host target is x86_64-avx2: on an AVX-512 host the command reruns itself in a child that
    # hides AVX-512 from onnxruntime (capfd: the child writes to the same stdout).
    assert cli_main(["bench", str(path), "--threads", "1", "--repeat", "3"]) == 0
    out = capfd.readouterr().out
    assert "ratio ronn-aot / onnxruntime" in out
    assert "onnxruntime on: " in out
